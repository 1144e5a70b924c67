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

import ast
import contextlib
import errno
import hashlib
import io
import os
import re
import shutil
import stat
import threading
import tokenize
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from mgcourse import paths

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


# ---------------------------------------------------------------- finding the hand-ins

def _hidden(name):
    return name.startswith('.') or name in IGNORED_NAMES


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


# ---------------------------------------------------------------- what a hand-in holds

def _open_regular(path):
    """A regular file opened for reading, never through a symbolic link, never a pipe."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    f = os.fdopen(fd, 'rb')
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        f.close()
        raise OSError(errno.EINVAL, 'not a regular file', str(path))
    return f


def _read_capped(path):
    """Up to MAX_FILE + 1 bytes of a regular file."""
    with _open_regular(path) as f:
        return f.read(MAX_FILE + 1)


def _items(handin, notes, opened):
    """What the hand-in holds, as _Items; _Problem when it cannot be opened or is refused."""
    if handin.kind == 'folder':
        return [_Item(parts, _kind(st.st_mode), st.st_size, '/'.join(parts),
                      lambda path=path: _read_capped(path))
                for parts, path, st in handin.walk if _kind(st.st_mode)]
    if handin.kind == 'files':
        items = []
        for path in handin.paths:
            st = path.lstat()
            module = next(g for g in GRADED if path.name.endswith('_' + g))
            items.append(_Item((module,), _kind(st.st_mode), st.st_size, path.name,
                               lambda path=path: _read_capped(path)))
        return items
    return _zip_items(handin.paths[0], notes, opened)


def _kind(mode):
    if stat.S_ISLNK(mode):
        return 'link'
    if stat.S_ISDIR(mode):
        return 'dir'
    if stat.S_ISREG(mode):
        return 'file'
    return None


def _listed(names, limit=5):
    shown = ', '.join(repr(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else '')


def _size(n):
    return f"{n / MB:.2f} MB" if n < 10 * MB else f"{n / MB:.1f} MB"


def _zip_items(path, notes, opened):
    try:
        archive = opened.enter_context(zipfile.ZipFile(path))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError,
            NotImplementedError) as e:
        raise _Problem(f"not a valid zip file: {e}") from None
    if len(infos) > MAX_ENTRIES:
        raise _Problem(f"the archive has {len(infos)} entries, more than the {MAX_ENTRIES} "
                       f"allowed; it was not unpacked")
    declared = sum(info.file_size for info in infos)
    if declared > MAX_TOTAL:
        raise _Problem(f"the archive would unpack to {_size(declared)}, more than the "
                       f"{MAX_TOTAL // MB} MB allowed; it was not unpacked")
    items, outside, twice = {}, [], []
    for info in infos:
        name = info.filename.replace('\\', '/')
        parts = name.split('/')
        if name.startswith('/') or re.match(r'[A-Za-z]:', name) or '..' in parts:
            outside.append(info.filename)
            continue
        parts = tuple(p for p in parts if p not in ('', '.'))
        if not parts or any(_hidden(p) for p in parts):
            continue
        if stat.S_ISLNK(info.external_attr >> 16):
            kind = 'link'
        elif name.endswith('/'):
            kind = 'dir'
        else:
            kind = 'file'
        if parts in items and kind != 'dir':
            twice.append('/'.join(parts))
        items[parts] = _Item(parts, kind, info.file_size, '/'.join(parts),
                             lambda info=info: _zip_read(archive, info))
    if outside:
        notes.append(f"the archive entries {_listed(outside)} point outside the archive; "
                     f"they were not extracted")
    if twice:
        notes.append(f"the archive holds {_listed(sorted(set(twice)))} more than once; "
                     f"the last copy was used")
    # Folders an archive implies without listing them.
    for parts in list(items):
        for depth in range(1, len(parts)):
            items.setdefault(parts[:depth], _Item(parts[:depth], 'dir', 0, '/'.join(parts[:depth])))
    return [items[p] for p in sorted(items)]


def _zip_read(archive, info):
    with archive.open(info) as f:
        return f.read(MAX_FILE + 1)


# ---------------------------------------------------------------- unpacking

def _unpack(items, handin, package, notes):
    """Copy the package folder's .py files into `package`; the skeleton fills graded gaps."""
    try:
        folder, problem = _package_folder(items, handin, notes), None
    except _Problem as e:
        folder, problem = None, e
    inside = [i for i in items if i.parts[:-1] == folder and i.kind in ('file', 'link')
              and MODULE_NAME.fullmatch(i.name)]
    in_package = {i.parts for i in inside}
    for item in items:  # links elsewhere are named here; those of the package folder below
        if item.kind == 'link' and item.parts not in in_package:
            notes.append(f"{item.shown} is a symbolic link; it was not followed")
    if problem:
        raise problem
    inside.sort(key=lambda i: (GRADED.index(i.name) if i.name in GRADED else len(GRADED), i.name))
    copied, refused, total = set(), {}, 0
    for item in inside:
        verdict = 'graded' if item.name in GRADED else 'copied'
        why = None
        if item.kind == 'link':
            why = f"{item.shown} is a symbolic link; it was not {verdict}"
        elif item.size > MAX_FILE:
            why = (f"{item.shown} is {_size(item.size)}, more than the {MAX_FILE // MB} MB "
                   f"allowed for one file; it was not {verdict}")
        elif total + item.size > MAX_TOTAL:
            why = (f"{item.shown} would take the package's files over {MAX_TOTAL // MB} MB; "
                   f"it was not {verdict}")
        else:
            try:
                data = item.read()
            except Exception as e:  # noqa: BLE001 - a hostile archive may make anything raise
                why = f"{item.shown} could not be read ({e}); it was not {verdict}"
            else:
                if len(data) > MAX_FILE:
                    why = (f"{item.shown} is more than the {MAX_FILE // MB} MB allowed for one "
                           f"file; it was not {verdict}")
        if why:
            notes.append(why)
            refused[item.name] = why
            continue
        total += len(data)
        bad = _encoding_problem(item.shown, data)
        if bad:
            notes.append(bad)
        _write(package / item.name, data)
        copied.add(item.name)
    if not copied & set(GRADED):
        reasons = [refused[m] for m in GRADED if m in refused]
        raise _Problem("no usable engine.py, nn.py or train.py: " + '; '.join(reasons))
    for module in GRADED:
        if module not in copied:
            how = 'was left out' if module in refused else 'was missing'
            _write(package / module, (paths.SKELETON / module).read_bytes())
            notes.append(f"{module} {how}: the skeleton's {module} was used, so its checks score 0")


def _package_folder(items, handin, notes):
    """The parts of the shallowest folder holding engine.py, nn.py or train.py."""
    where = handin.source.rstrip('/') if handin.kind == 'folder' else handin.source
    if not any(i.kind in ('file', 'link') for i in items):
        what = 'folder' if handin.kind == 'folder' else 'archive'
        raise _Problem(f"nothing to grade: the {what} is empty")
    holders = {}
    for i in items:
        if i.name in GRADED and i.kind in ('file', 'link'):
            holders.setdefault(i.parts[:-1], set()).add(i.name)
    if not holders:
        archives = [i.shown for i in items if i.kind == 'file' and i.name.lower().endswith('.zip')]
        extra = (f" (archives inside {where} are not unpacked: {_listed(archives)})"
                 if archives else '')
        raise _Problem(f"no engine.py, nn.py or train.py found{extra}")
    depth = min(len(p) for p in holders)
    level = sorted((p for p in holders if len(p) == depth), key=lambda p: (-len(holders[p]), p))
    if len(level) > 1:
        names = ', '.join('/'.join(p) + '/' for p in level[1:])
        verb = 'was' if len(level) == 2 else 'were'
        notes.append(f"several folders hold package files: {'/'.join(level[0])}/ was graded, "
                     f"{names} {verb} ignored")
    return level[0]


def _write(path, data):
    """A new file with `data`; refuses to replace anything (the package folder starts empty)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, 'wb') as f:
        f.write(data)


def _encoding_problem(shown, data):
    """A sentence when Python could not read this source as text, else None."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as e:
        if any(CODING_LINE.match(line) for line in data.splitlines()[:2]):
            return (f"{shown} declares an encoding Python cannot use ({e.msg}): it was copied "
                    f"as it is, and fails to import if Python cannot read it")
        encoding = 'utf-8'  # no coding line: the first lines are simply not UTF-8
    if encoding in ('utf-8', 'utf-8-sig'):
        encoding, label = 'utf-8', 'UTF-8'
    else:
        label = f"{encoding} text, as its coding line declares"
    try:
        data.decode(encoding)
    except UnicodeDecodeError as e:
        line = data.count(b'\n', 0, e.start) + 1
        return (f"{shown} is not {label} (invalid byte 0x{data[e.start]:02x} at offset "
                f"{e.start}, line {line}): it was copied as it is, and fails to import if "
                "Python cannot read it")
    return None


# --------------------------------------------------------------------------------
# Flags: what the grader reads in the files it grades
# --------------------------------------------------------------------------------

# Modules of note: a package that asks one of them for its gradients has not computed them
# itself. Marked in the gradebook (graded all the same).
NOTED_MODULES = ('torch', 'numpy', 'jax', 'tensorflow')


def _noted(name):
    top = name.split('.', 1)[0] if isinstance(name, str) else None
    return top if top in NOTED_MODULES else None


# CPython 3.11's parser keeps its recursion depth in state that threads share: two ast.parse
# calls at once can fail with "SystemError: AST constructor recursion depth mismatch" (seen
# when mgcourse autograde grades two packages at once, in threads, on a busy machine). Every
# ast.parse of the grader's holds this lock.
PARSE_LOCK = threading.Lock()


def parse(source):
    """ast.parse, one call at a time across threads (see PARSE_LOCK)."""
    with PARSE_LOCK:
        return ast.parse(source)


def noted_imports(package):
    """The modules of note that the package's .py files import, found by the grader itself:
    import statements, and strings naming such a module (`__import__('torch')`,
    `importlib.import_module('numpy')`). Never what the student's process says of itself.
    A file that does not parse is searched for `import torch` and the like as text."""
    found = set()
    for path in sorted(Path(package).glob('*.py')):
        if path.is_symlink() or not path.is_file():
            continue
        data = path.read_bytes()
        try:
            tree = parse(data)
        except (SyntaxError, ValueError):
            found.update(m.decode() for m in re.findall(
                rb'(?:^|[\s;])(?:import|from)\s+(' + b'|'.join(m.encode() for m in NOTED_MODULES)
                + rb')\b', data))
            continue
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module]
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                names = [node.value]
            found.update(filter(None, map(_noted, names)))
    return sorted(found)
