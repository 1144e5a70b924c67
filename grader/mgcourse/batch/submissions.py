"""Find each student's hand-in in a SUBMISSIONS folder and unpack it, safely, for grading.

What a student may hand in (the entries directly inside SUBMISSIONS, named by the student):

- a folder `STUDENT/`, with `engine.py`, `nn.py`, `train.py` at its top or in a folder inside
  it (`alice/micrograd_skeleton/engine.py`): the shallowest folder that holds any of the three
  is the package. When several folders at that depth hold them, the one with the most of the
  three is graded (ties: the first by name), and a note names the others;
- a zip archive `STUDENT.zip` (`.ZIP` too), laid out the same way inside;
- loose files `STUDENT_engine.py`, `STUDENT_nn.py`, `STUDENT_train.py`. The id is what comes
  before these fixed endings, so it may contain underscores (`jo_ann_nn.py` is jo_ann's).

Student ids use only letters, digits and `. _ @ + -`, and do not start with a dot. An entry
whose id is anything else, and an entry that is none of the three kinds (a README, a PDF), is
not graded: `skipped(root)` lists them, one sentence each, for the instructor. Hidden entries
(names starting with a dot), `__pycache__` and `__MACOSX` are ignored everywhere, silently.

What is graded: the package folder's top-level `.py` files with importable names (the graded
`engine.py`, `nn.py`, `train.py`, and any helper module they may import, `__init__.py` and
`viz.py` included) are copied into a fresh folder, work/STUDENT/package/. Nothing else is
copied: no data files, no subfolders. The copy is byte for byte, with mode 0644.

Limits, against archive bombs and runaway hand-ins:
- a file over 1 MB is not copied (a note says so);
- an archive with more than 1000 entries, or whose entries would unpack to more than 20 MB
  in total, is not unpacked at all: the student's problem says why;
- at most 20 MB is copied for one student, whatever the kind of hand-in.

Safety:
- symbolic links are never followed nor copied, in folders and in archives alike: each one
  met is named in a note (`engine.py is a symbolic link; it was not graded`). A hand-in that
  is itself a symbolic link (`alice -> /home/...`) is not graded;
- archive entries with an absolute path (`/abs.py`, `C:/abs.py`) or a `..` component are
  never extracted, and a note names them. Backslashes in entry names count as separators;
- nothing is unpacked in bulk: only the chosen files are read, each into work/STUDENT/package/
  under its own plain name, so nothing is ever written outside work/STUDENT/.

Missing modules: when one or two of `engine.py`, `nn.py`, `train.py` are absent (or were left
out by a rule above), the skeleton's copy is put in their place so that the student's other
modules can still earn points; the skeleton's module fails its checks, and a note says so.
When none of the three could be used, nothing is graded: `package` is None and `problem`
says why (an empty archive or folder, no package files, a broken zip, the limits).

Text that is not UTF-8: a `.py` file that cannot be decoded (as UTF-8, or as the encoding its
PEP 263 coding line declares) is still copied as it is, with a note naming the first bad byte
and where it is. Python refuses to import such a file, so the grader reports the import error
on that module's checks; the note tells the student the reason in plain words. Only the module
is affected: the rest of the package is graded as usual.

Two or more hand-ins by one student (a folder and a zip, a zip and loose files): the most
recently modified one is graded (for a folder, its newest file; for loose files, the newest
of them); equal times go to the name that sorts last. A note names the one graded and the
ones ignored, with their times.

Fingerprint: a sha256 over everything the student handed in (every hand-in's file names and
bytes; in a folder, hidden files and __pycache__ left out) and the name of the one graded, so
a resumed run can tell whether a hand-in changed since it was graded. Files over 64 MB count
by their size and time instead of their bytes; `fingerprint()` computes it without unpacking.
"""

import contextlib
import hashlib
import os
import shutil
import stat
from datetime import datetime, timezone
from pathlib import Path

from .handin_files import _items, _open_regular
from .handins import HASH_LIMIT, LOOSE_SUFFIXES, SAFE_ID, Submission, _HandIn, _Problem, _hidden
from .unpacking import _unpack


# ---------------------------------------------------------------- finding the hand-ins


def _classify(name, mode):
    """(student id, kind) an entry of SUBMISSIONS stands for, or (None, None).

    A symbolic link is classified by its name alone (never followed): a folder unless it is
    named like a zip or a loose file.
    """
    if stat.S_ISDIR(mode):
        return name, 'folder'
    if name.lower().endswith('.zip'):
        return name[:-4], 'zip'
    for suffix in LOOSE_SUFFIXES:
        if name.endswith(suffix):
            return name[:-len(suffix)], 'files'
    if stat.S_ISLNK(mode):
        return name, 'folder'
    return None, None


def scan(root):
    """(student -> entries, sentences about the entries that belong to no student)."""
    root = Path(root)
    students, skipped = {}, []
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        name = entry.name
        if _hidden(name):
            continue
        mode = entry.stat(follow_symlinks=False).st_mode
        if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
            skipped.append(f"{name!r} was not graded: it is neither a regular file nor a folder")
            continue
        student, kind = _classify(name, mode)
        if kind is None:
            skipped.append(f"{name!r} was not graded: it is not a folder, a .zip, or a file named "
                           f"STUDENT_engine.py, STUDENT_nn.py or STUDENT_train.py")
        elif not SAFE_ID.fullmatch(student):
            skipped.append(f"{name!r} was not graded: {_id_rule(student)}")
        else:
            students.setdefault(student, []).append(root / name)
    return students, skipped


def _id_rule(student):
    if not student:
        return 'its name does not start with a student id'
    return (f"the student id {student!r} may only use letters, digits and . _ @ + - "
            f"(at most 100 of them), and may not start with a dot")


def find(root):
    """student -> the entries of SUBMISSIONS that are theirs, sorted by name. Reads no file."""
    return scan(root)[0]


def skipped(root):
    """One sentence for each entry of SUBMISSIONS that was not graded, and why."""
    return scan(root)[1]


def collect(root, work):
    """One Submission per student, sorted by student; each unpacked into work/STUDENT/package/."""
    root, work = Path(root), Path(work)
    return [prepare(student, entries, root, work)
            for student, entries in sorted(find(root).items())]


# ---------------------------------------------------------------- one student

def prepare(student, entries, root, work):
    """Choose, check and unpack one student's hand-in into work/STUDENT/package/."""
    if not SAFE_ID.fullmatch(student):
        raise ValueError(f"not a safe student id: {student!r}")
    root, work = Path(root), Path(work)
    notes = []
    handins, kind, strays = _handins(entries, root, notes)
    chosen = _choose(handins, notes)
    digest = _fingerprint(handins, strays, chosen)
    package = _fresh_package(work, student)
    if chosen is None:  # every entry was a symbolic link
        shutil.rmtree(package)
        source = Path(entries[0]).name if entries else ''
        return Submission(student, source, kind, digest, None, notes,
                          notes[-1] if notes else 'nothing was handed in')
    try:
        with contextlib.ExitStack() as opened:
            _unpack(_items(chosen, notes, opened), chosen, package, notes)
    except _Problem as e:
        shutil.rmtree(package)
        return Submission(student, chosen.source, chosen.kind, digest, None, notes, str(e))
    return Submission(student, chosen.source, chosen.kind, digest, package, notes)


def fingerprint(student, entries, root):
    """The sha256 prepare() would record, without unpacking anything (for resuming)."""
    handins, _, strays = _handins(entries, Path(root), [])
    return _fingerprint(handins, strays, _choose(handins, []))


def _fresh_package(work, student):
    """An empty work/STUDENT/package/, whatever was there before."""
    home = work / student
    work.mkdir(parents=True, exist_ok=True)
    if home.is_symlink():
        home.unlink()
    home.mkdir(exist_ok=True)
    package = home / 'package'
    if package.is_symlink() or package.is_file():
        package.unlink()
    elif package.exists():
        shutil.rmtree(package)
    package.mkdir()
    return package


def _handins(entries, root, notes):
    """The student's hand-ins (loose files together make one), the kind of the first entry,
    and the entries that cannot be graded (links, pipes) as (name, what they are)."""
    handins, loose, kind, strays = [], [], None, []
    for entry in sorted(Path(e).name for e in entries):
        path = root / entry
        st = path.lstat()
        entry_kind = _classify(entry, st.st_mode)[1]
        kind = kind or entry_kind
        if stat.S_ISLNK(st.st_mode):
            notes.append(f"{entry} is a symbolic link; it was not graded")
            strays.append((entry, os.readlink(path)))
        elif not (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)):
            notes.append(f"{entry} is neither a regular file nor a folder; it was not graded")
            strays.append((entry, stat.S_IFMT(st.st_mode)))
        elif entry_kind == 'folder':
            walk = _walk(path)
            newest = max([st.st_mtime_ns] + [s.st_mtime_ns for _, _, s in walk])
            handins.append(_HandIn(entry + '/', 'folder', [path], newest, walk))
        elif entry_kind == 'zip':
            handins.append(_HandIn(entry, 'zip', [path], st.st_mtime_ns))
        else:
            loose.append((path, st))
    if loose:
        handins.append(_HandIn(', '.join(p.name for p, _ in loose), 'files', [p for p, _ in loose],
                               max(s.st_mtime_ns for _, s in loose)))
    return handins, kind or 'folder', strays


def _walk(folder):
    """(parts, path, lstat) of all below `folder`, sorted; links and hidden names not entered."""
    found = []

    def visit(path, parts):
        for entry in sorted(os.scandir(path), key=lambda e: e.name):
            if _hidden(entry.name):
                continue
            st = entry.stat(follow_symlinks=False)
            here = parts + (entry.name,)
            found.append((here, Path(entry.path), st))
            if stat.S_ISDIR(st.st_mode):
                visit(entry.path, here)

    visit(folder, ())
    return found


def _when(ns):
    return datetime.fromtimestamp(ns / 1e9, timezone.utc).strftime('%Y-%m-%d %H:%M:%S UTC')


def _choose(handins, notes):
    """The most recently modified hand-in (ties: the name that sorts last); notes the others."""
    if not handins:
        return None
    ordered = sorted(handins, key=lambda h: (h.mtime_ns, h.source), reverse=True)
    chosen, ignored = ordered[0], ordered[1:]
    if ignored:
        others = '; '.join(f"{h.source} (modified {_when(h.mtime_ns)})" for h in ignored)
        verb = 'was' if len(ignored) == 1 else 'were'
        notes.append(f"{len(handins)} submissions were handed in: {chosen.source} (modified "
                     f"{_when(chosen.mtime_ns)}) was graded, being the most recently modified; "
                     f"{others} {verb} ignored")
    return chosen


def _fingerprint(handins, strays, chosen):
    total = hashlib.sha256()

    def add(*fields):
        for f in fields:
            data = f if isinstance(f, bytes) else str(f).encode('utf-8', 'surrogateescape')
            total.update(len(data).to_bytes(8, 'big') + data)

    def add_file(label, path, st):
        if st.st_size > HASH_LIMIT:
            add('big', label, st.st_size, st.st_mtime_ns)
            return
        digest = hashlib.sha256()
        with _open_regular(path) as f:
            for block in iter(lambda: f.read(1 << 16), b''):
                digest.update(block)
        add('file', label, st.st_size, digest.digest())

    for h in sorted(handins, key=lambda h: h.source):
        add('handin', h.source, h.kind)
        if h.kind == 'folder':
            for parts, path, st in h.walk:
                label = '/'.join(parts)
                if stat.S_ISREG(st.st_mode):
                    add_file(label, path, st)
                elif stat.S_ISLNK(st.st_mode):
                    add('link', label, os.readlink(path))
                elif stat.S_ISDIR(st.st_mode):
                    add('dir', label)
        else:
            for path in h.paths:
                add_file(path.name, path, path.lstat())
    for name, what in strays:
        add('stray', name, what)
    add('graded', chosen.source if chosen else '')
    return total.hexdigest()
