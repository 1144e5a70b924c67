"""The processes of a run, found in /proc, and reaping what runs left behind.
"""

from __future__ import annotations

import os
import signal
import time

from .own_users import _own_uids


REAP_SECONDS = 10.0


def _stat(pid):
    """The fields of /proc/PID/stat after the command's name (state, parent's pid, ...)."""
    with open(f'/proc/{pid}/stat', 'rb') as f:
        return f.read().rsplit(b')', 1)[1].split()


def _status(pid):
    """(state letter, its real, effective, saved and file-system uids), or None once gone.
    One file, /proc/PID/status, whose State line comes before its Uid line: a scan of /proc
    reads it for every process of the machine."""
    try:
        with open(f'/proc/{pid}/status', 'rb') as f:
            text = f.read()
        state = text.split(b'\nState:', 1)[1].split(None, 1)[0]
        uids = text.split(b'\nUid:', 1)[1].split(b'\n', 1)[0].split()
        return state.decode(), {int(u) for u in uids}
    except (OSError, IndexError, ValueError):
        return None


def _program_of(pid):
    """The program process pid runs (its /proc exe link), or None."""
    try:
        return os.path.realpath(f'/proc/{pid}/exe')
    except OSError:
        return None


def _processes():
    me = os.getpid()
    return [int(e.name) for e in os.scandir('/proc') if e.name.isdigit() and int(e.name) != me]


def _running_as(uid):
    """The processes still running (not zombies) with uid as a real, effective or saved id."""
    found = []
    for pid in _processes():
        st = _status(pid)
        if st is not None and st[0] not in 'ZX' and uid in st[1]:
            found.append(pid)
    return found


def _environment(pid, deadline):
    """The environment of process pid, as /proc shows it (b'' once it is gone).

    A process in the middle of execve() shows an empty environment for a moment, or none
    (ESRCH), and a run's first process execs the student's command with the run's marker
    (see _LAUNCHER): a live process's is read again until the deadline (time.monotonic()),
    unless it is a zombie or a kernel thread, which have none. A process may also empty its
    environment for good: a scan of /proc shares one deadline, so such processes cost it
    that long at most, however many there are."""
    while True:
        try:
            with open(f'/proc/{pid}/environ', 'rb') as f:
                data = f.read()
        except ProcessLookupError:
            data = b''
        except OSError:
            return b''
        if data:
            return data
        try:
            state, ppid = _stat(pid)[:2]
        except (OSError, ValueError):
            return b''
        if state in (b'Z', b'X') or ppid == b'2' or pid == 2 or time.monotonic() > deadline:
            return b''
        time.sleep(0.001)


def _running_with(marker):
    """The processes still running (not zombies) whose environment carries marker."""
    needle = marker.encode() + b'\0'
    found = []
    deadline = time.monotonic() + 1.0
    for pid in _processes():
        if needle not in _environment(pid, deadline) + b'\0':
            continue
        st = _status(pid)
        if st is not None and st[0] not in 'ZX':
            found.append(pid)
    return found


def _reap(find):
    """Kill what find() returns until it returns nothing; what is left after REAP_SECONDS."""
    deadline = time.monotonic() + REAP_SECONDS
    pause = 0.001
    while True:
        left = find()
        if not left or time.monotonic() > deadline:
            return left
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


def reap_runs():
    """Kill every process still running as a user id this process gave one of its runs, and
    wait until none is left (what reaped them all left behind, if anything). The runs of other
    graders on the machine, with user ids of their own, are left alone."""
    own = _own_uids()

    def find():
        found = []
        for pid in _processes():
            st = _status(pid)
            if st is not None and st[0] not in 'ZX' and any(u in own for u in st[1]):
                found.append(pid)
        return found
    if os.geteuid() != 0:
        return []
    return _reap(find)


def _kill_marked(marker):
    """Kill every process whose environment carries marker, until none is left."""
    _reap(lambda: _running_with(marker))
