"""A sample class of package submissions, for trying the batch grader: `mgcourse sample-class DIR`.

Every kind of hand-in the grader takes (a folder, a folder nested one level, a zip, loose
files), made from the solutions, the skeleton and the mistake catalogue, so that the class
shows real diagnoses, a spread of scores and one hand-in with nothing to grade:

    mgcourse sample-class class/ && mgcourse grade class/ --out graded/
"""

import tempfile
import zipfile
from pathlib import Path

from mgcourse import paths
from mgcourse.battery import diagnosis

MODULES = ('engine.py', 'nn.py', 'train.py')
# student: (how it is handed in, what is in it: 'solutions', 'skeleton', 'empty' or a mistake id)
CLASS = {
    'ada': ('folder', 'solutions'),
    'ben': ('zip', 'skeleton'),
    'cleo': ('folder', 'mul-own-data'),
    'dev': ('files', 'topo-no-visited-set'),
    'eve': ('zip', 'empty'),
    'fay': ('nested', 'training-without-zero-grad'),
    'gus': ('zip', 'pow-forgets-n-minus-1'),
    'hal': ('folder', 'layers-not-chained'),
}


def _package(what, tmp):
    if what == 'solutions':
        return paths.SOLUTIONS
    if what == 'skeleton':
        return paths.SKELETON
    mistake = {m.id: m for m in diagnosis.mistakes()}[what]
    return diagnosis.make(mistake, Path(tmp) / what)


def write(dst):
    """Write the class into the folder dst. Returns the students."""
    dst = Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix='mgcourse-sample-') as tmp:
        for student, (how, what) in CLASS.items():
            _hand_in(dst, student, how, what, tmp)
    return list(CLASS)


def _hand_in(dst, student, how, what, tmp):
    package = None if what == 'empty' else _package(what, tmp)
    files = {m: (package / m).read_bytes() for m in MODULES} if package else {}
    if how == 'zip':
        with zipfile.ZipFile(dst / f'{student}.zip', 'w') as z:
            for name, data in files.items():
                z.writestr(f'{student}/{name}', data)
    elif how == 'files':
        for name, data in files.items():
            (dst / f'{student}_{name}').write_bytes(data)
    else:
        folder = dst / student / ('micrograd_skeleton' if how == 'nested' else '')
        folder.mkdir(parents=True)
        for name, data in files.items():
            (folder / name).write_bytes(data)
