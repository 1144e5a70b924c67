"""What a hand-in may be: its size limits, the names it may use, and the records the grader
keeps of one (see submissions.py for what a student may hand in).
"""

import re
from dataclasses import dataclass, field
from pathlib import Path



GRADED = ('engine.py', 'nn.py', 'train.py')
MB = 1 << 20
MAX_FILE = 1 * MB            # one file
MAX_TOTAL = 20 * MB          # an archive's uncompressed total; what is copied for one student
MAX_ENTRIES = 1000           # an archive's entries
HASH_LIMIT = 64 * MB         # bigger files enter the fingerprint by size and time
IGNORED_NAMES = {'__pycache__', '__MACOSX'}
SAFE_ID = re.compile(r'[A-Za-z0-9_@+-][A-Za-z0-9._@+-]{0,99}')
MODULE_NAME = re.compile(r'[A-Za-z_][A-Za-z0-9_]*\.py')
LOOSE_SUFFIXES = tuple('_' + name for name in GRADED)
CODING_LINE = re.compile(rb'[ \t\f]*#.*?coding[:=]')  # PEP 263


@dataclass
class Submission:
    student: str            # the student id, from the entry's name
    source: str             # what was graded, relative to SUBMISSIONS ('alice.zip', 'bob/', ...)
    kind: str               # 'folder' | 'zip' | 'files'
    fingerprint: str        # sha256 of all the student handed in, and of which one was graded
    package: Path | None    # work/STUDENT/package, ready to import; None when nothing gradable
    notes: list[str] = field(default_factory=list)  # sentences for the student and instructor
    problem: str = ''       # when package is None: why


class _Problem(Exception):
    """Nothing in this hand-in can be graded; the message says why."""


@dataclass
class _Item:
    """One file, folder or link inside a hand-in, by its path relative to the hand-in."""
    parts: tuple            # path components, e.g. ('micrograd_skeleton', 'engine.py')
    kind: str               # 'file' | 'dir' | 'link'
    size: int = 0
    shown: str = ''         # how notes name it
    read: object = None     # () -> bytes, at most MAX_FILE + 1 of them

    @property
    def name(self):
        return self.parts[-1]


@dataclass
class _HandIn:
    source: str             # relative to SUBMISSIONS: 'bob/', 'bob.zip', 'bob_nn.py, bob_train.py'
    kind: str
    paths: list             # the entries it is made of
    mtime_ns: int = 0
    walk: list = None       # for a folder: (relative parts, path, lstat) of everything in it


def _hidden(name):
    return name.startswith('.') or name in IGNORED_NAMES
