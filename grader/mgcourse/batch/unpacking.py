"""Unpacking a hand-in's files into the grader's own copy of the package: only the package's
modules, each checked to be text Python can read.
"""

import io
import os
import tokenize

from mgcourse import paths

from .handin_files import _listed, _size
from .handins import CODING_LINE, GRADED, MAX_FILE, MAX_TOTAL, MB, MODULE_NAME, _Problem


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
