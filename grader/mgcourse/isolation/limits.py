"""The limits a sandboxed run is held to (Limits), and the launcher that applies them to the
command just before it starts (see sandbox.py for how the process limit is made to hold).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass


# Bubblewrap's exit status for a command killed by signal N is 128 + N.
_SIGNALLED = 128


@dataclass(frozen=True)
class Limits:
    cpu_seconds: int = 60           # CPU time of each process (RLIMIT_CPU), then SIGXCPU
    wall_seconds: float = 300       # the whole run, then everything is killed (None: no limit)
    memory_bytes: int = 2 << 30     # address space of each process (RLIMIT_AS); torch needs ~0.7 GB
    processes: int = 64             # processes and threads of the run (RLIMIT_NPROC, see above)
    file_bytes: int = 16 << 20      # the largest file it may write (RLIMIT_FSIZE)
    output_bytes: int = 1 << 20     # what is kept of stdout and stderr; the rest is read and dropped
    tmp_bytes: int = 64 << 20       # the size of its private /tmp and /dev/shm (bubblewrap only)
    disk_bytes: int = 256 << 20     # what it may add to workdir in all, then everything is killed


# The launcher: applies the limits, then switches user when asked, then becomes the command.
# It also turns off address-space randomisation for the command. A student's Value hashes by
# its address, so the order in which a set of Values is walked (the lecture keeps `_prev` in a
# set, and a student may too, though the skeleton gives a tuple) depends on where the objects
# lie in memory; with a fixed layout, the same code given the same inputs
# walks its graphs in the same order on every run, and a regrade gives the same results and
# messages even for a bug that depends on that order. (The process is sandboxed and decides
# nothing, so the lost hardening costs little.)
# It runs with -I -S: no site, no environment variable of Python's, so nothing can interfere.
# `lifeline` is the reading end of a pipe whose other end only the process that started it
# holds: at its end of file, that process is gone, and the command is not started. After the
# check, the death signal does the same (it would have missed a death before it was set, and
# so would bwrap --die-with-parent, which has that gap between its fork and its prctl).
_LAUNCHER = r'''
import ctypes, os, resource, select, sys
cpu, memory, fsize, nproc, uid, lifeline = map(int, sys.argv[1:7])
libc = ctypes.CDLL(None)  # loaded now: the user switched to may not reach this library
def limit(kind, soft, hard):
    top = resource.getrlimit(kind)[1]
    if top != resource.RLIM_INFINITY:
        soft, hard = min(soft, top), min(hard, top)
    resource.setrlimit(kind, (soft, hard))
limit(resource.RLIMIT_CORE, 0, 0)
limit(resource.RLIMIT_CPU, cpu, cpu + 1)
limit(resource.RLIMIT_AS, memory, memory)
limit(resource.RLIMIT_FSIZE, fsize, fsize)
if nproc > 0:
    limit(resource.RLIMIT_NPROC, nproc, nproc)
try:  # the same memory addresses every run (personality ADDR_NO_RANDOMIZE): see below
    libc.personality(0x0040000)
except Exception:
    pass
if uid >= 0:
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
libc.prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL (after the switch, which clears it)
if select.select([lifeline], [], [], 0)[0]:
    sys.exit('the process that started this sandbox is gone')
os.close(lifeline)
os.execvp(sys.argv[7], sys.argv[7:])
'''

def _launcher(limits, nproc, uid, lifeline):
    return [sys.executable, '-I', '-S', '-c', _LAUNCHER, str(limits.cpu_seconds),
            str(limits.memory_bytes), str(limits.file_bytes), str(nproc),
            str(-1 if uid is None else uid), str(lifeline)]
