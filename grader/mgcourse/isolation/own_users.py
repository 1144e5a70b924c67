"""A run as a user id of its own, when the grader is root: the ids, the files such a run may
reach or is given, and removing what it leaves (see sandbox.py).
"""

from __future__ import annotations

import functools
import itertools
import os
import shutil
import stat
import sys
import tempfile
from pathlib import Path


# User ids given to runs as root: far above the ones systems hand out, below 2**31.
_UID_BASE = 1_900_000_000
_run_numbers = itertools.count()


def _others_can_pass(folder):
    """Other users can pass through folder and every folder above it."""
    try:
        return all(os.stat(f).st_mode & stat.S_IXOTH
                   for f in [Path(os.path.realpath(folder)), *Path(os.path.realpath(folder)).parents])
    except OSError:
        return False


def _others_can_reach(path):
    """Every directory on the way to path can be passed by other users, and path can be read
    (and, for a directory, passed; for a file with an x bit, run)."""
    path = Path(os.path.realpath(path))
    if not _others_can_pass(path.parent):
        return False
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    if not mode & stat.S_IROTH:
        return False
    if stat.S_ISDIR(mode) or mode & stat.S_IXUSR:
        return bool(mode & stat.S_IXOTH)
    return True


def _open_temporary_ancestors(path):
    """Let other users pass (not list) our directories in the temporary folder above path."""
    top = Path(os.path.realpath(tempfile.gettempdir()))
    for folder in Path(os.path.realpath(path)).parents:
        if folder == top or top not in folder.parents:
            break
        st = os.stat(folder)
        if st.st_uid == os.geteuid() and not st.st_mode & stat.S_IXOTH:
            os.chmod(folder, stat.S_IMODE(st.st_mode) | stat.S_IXOTH)


def _open_tree(path):
    """Make a tree readable by others: o+r on files, o+rx on directories and executables."""
    def widen(p):
        st = os.lstat(p)
        if stat.S_ISLNK(st.st_mode):
            return
        mode = stat.S_IMODE(st.st_mode)
        wanted = mode | stat.S_IROTH
        if stat.S_ISDIR(st.st_mode) or mode & stat.S_IXUSR:
            wanted |= stat.S_IXOTH
        if wanted != mode:
            os.chmod(p, wanted)
    widen(path)
    if os.path.isdir(path) and not os.path.islink(path):
        for folder, dirs, files in os.walk(path):
            for name in dirs + files:
                widen(os.path.join(folder, name))


def _give_tree(path, uid):
    os.lchown(path, uid, uid)
    for folder, dirs, files in os.walk(path):
        for name in dirs + files:
            os.lchown(os.path.join(folder, name), uid, uid)


@functools.cache
def _pid_max():
    try:
        return int(Path('/proc/sys/kernel/pid_max').read_text())
    except (OSError, ValueError):
        return 1 << 22  # the kernel's largest


def _own_uids():
    """The user ids this process gives its runs, in turn: a block of its own, apart from every
    other process's (a process id is unique while the process lives), below 2**31."""
    size = min(100, (2 ** 31 - _UID_BASE) // (_pid_max() + 1))
    first = _UID_BASE + os.getpid() * size
    return range(first, first + size)


def remove_tree(folder):
    """Remove a run's folder and whatever its code left there, folders it closed with chmod 000
    included; symbolic links are removed, never followed. Only once no process of the run is
    left (kill() and wait() return then), so nothing can swap a folder for a link meanwhile."""
    folder = str(folder)

    def open_up(path):
        if not os.path.islink(path):
            try:
                os.chmod(path, 0o700)
            except OSError:
                pass

    open_up(folder)
    for where, dirs, _ in os.walk(folder):  # top-down: a folder is opened before it is walked
        for d in dirs:
            open_up(os.path.join(where, d))
    shutil.rmtree(folder, ignore_errors=True)


def _new_uid():
    uids = _own_uids()
    return uids[next(_run_numbers) % len(uids)]


def _run_as_own_user(readable, workdir, writable=()):
    """A new user id for a run, which may read `readable` and owns `workdir` and the
    `writable` folders."""
    user = _new_uid()
    for path in readable:
        _open_tree(path)
    for folder in [workdir, *writable]:
        _give_tree(folder, user)
    return user


def _tasks_of(uid):
    """How many processes and threads uid runs now (what RLIMIT_NPROC counts)."""
    total = 0
    for entry in os.scandir('/proc'):
        if not entry.name.isdigit():
            continue
        try:
            fields = dict(line.split(':', 1) for line in
                          Path(entry.path, 'status').read_text().splitlines() if ':' in line)
            if int(fields['Uid'].split()[0]) == uid:
                total += int(fields['Threads'])
        except (OSError, KeyError, ValueError):
            pass
    return total


def _python_roots():
    """The folders the running interpreter needs: its installation and its environment."""
    roots = []
    for p in (sys.base_prefix, sys.base_exec_prefix, sys.prefix, sys.exec_prefix):
        p = Path(os.path.realpath(p))
        if p not in roots:
            roots.append(p)
    return roots


def _interpreter_reachable(program, env):
    """Another user could run program (and, when it is this interpreter, find its library)."""
    found = shutil.which(program, path=env.get('PATH', os.defpath))
    if found is None or not _others_can_reach(found):
        return False
    if os.path.realpath(found) == os.path.realpath(sys.executable):
        return all(_others_can_reach(p) for p in _python_roots())
    return True
