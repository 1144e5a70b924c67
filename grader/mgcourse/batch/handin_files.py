"""What a hand-in holds: its files read without following a link and within the limits, from
a folder or a zip archive.
"""

import errno
import os
import re
import stat
import zipfile

from .handins import GRADED, MAX_ENTRIES, MAX_FILE, MAX_TOTAL, MB, _Item, _Problem, _hidden


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
