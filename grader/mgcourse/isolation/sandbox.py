"""Run a command isolated: inside bubblewrap where it works here, under resource limits always.

    sb = sandbox.start([sys.executable, '-m', 'mgcourse.isolation.worker', folder, rfd, wfd],
                       workdir=scratch, readable=[library_copy, student_copy],
                       env=env, limits=sandbox.Limits(), pass_fds=(rfd, wfd))
    ...
    code = sb.wait()
    print(sb.output())

Inside bubblewrap the command sees a read-only system (/usr and the /lib and /bin links, a few
files of /etc, the interpreter's prefix and the virtual environment, and each `system` path),
each `readable` path read-only at its own place, `workdir` and each `writable` folder
read-write at its own place, a private /tmp, and nothing else of this machine: no network, no
other process, no home directory, no other folder of the checkout. The limits (CPU seconds,
address space, processes, file size) are applied by a tiny launcher that runs just before the
command; the wall time by a timer in this process, and the disk that files written in
`workdir` and the `writable` folders take by a watchdog thread of this process.

How the process limit is made to hold (RLIMIT_NPROC is never enforced for root, and it counts
every process of a user, not those of one sandbox):
- as root: each run gets a user id of its own, unused by anything else (`Sandboxed.user`); the
  launcher sets the limit and switches to it. Bubblewrap is then used without a user namespace,
  with the one capability it takes to switch, which the switch drops.
- as another user: bubblewrap's user namespace counts the sandbox's processes apart from the
  user's others, and the launcher sets the limit inside it.
- without bubblewrap, as root: the same own user id, when the interpreter, the `readable`
  paths and `workdir` can be reached by other users (directories of ours in the temporary
  folder are opened for passing through, mode o+x, for that); otherwise the command runs as
  root and the process limit cannot apply (`Sandboxed.processes_limited` is False).
- without bubblewrap, as another user: the limit is what the user runs now plus `processes`.
When the command runs as a user id of its own, the `readable` trees are made readable by
others and `workdir` and the `writable` folders are given to that user (all are meant to be
scratch copies); `system` paths are left as they are.

The sandbox ends with its command, and is over only when every process in it is gone: what
the command left running is killed (everything of the run's own user id, as root; else every
process started with this run's marker in its environment), and wait() and kill() return only
once /proc shows none of them running (see Sandboxed._stop_tree). Bubblewrap's process
namespace alone is not enough: its processes outlive the kill of bubblewrap by milliseconds.

The command is killed when this process dies, and also (bubblewrap's --die-with-parent works
that way, and so does the launcher without it) when the *thread* that started it ends: start
sandboxes from a thread that outlives them.

Threads count as processes for the limit: set OMP_NUM_THREADS=1 and the like in `env` on a
machine with many cores, or numerical libraries may fail to start their thread pools.
"""

from __future__ import annotations

import functools
import itertools
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

SANDBOX_OFF_MESSAGE = (
    "the sandbox is off (bubblewrap, `bwrap`, is not installed or does not work here): student "
    "code runs with limits on CPU time, memory, file size, output, wall time and (where the "
    "system allows) processes, but can read the file system and open network connections")

ENV_SWITCH = 'MGCOURSE_SANDBOX'  # 'off' forces the sandbox off
MARKER = 'MGCOURSE_SANDBOX_RUN'  # without bubblewrap: in the environment of every run's process

# Bubblewrap's exit status for a command killed by signal N is 128 + N.
_SIGNALLED = 128

# The /etc files the dynamic loader and Python may read.
_ETC = ('ld.so.cache', 'ld.so.conf', 'ld.so.conf.d', 'localtime', 'nsswitch.conf',
        'passwd', 'group')

# User ids given to runs as root: far above the ones systems hand out, below 2**31.
_UID_BASE = 1_900_000_000
_run_numbers = itertools.count()


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


def _popen(args, *, workdir, env, pass_fds, **how):
    """Start args with a lifeline (see _LAUNCHER) and its output on one pipe."""
    lifeline, keep = os.pipe()
    try:
        process = subprocess.Popen(args(lifeline), env=env, cwd=workdir,
                                   pass_fds=(*pass_fds, lifeline), stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    except BaseException:
        os.close(keep)
        raise
    finally:
        os.close(lifeline)
    return Sandboxed(process, lifeline=keep, workdir=workdir, **how)


# --- where we are -------------------------------------------------------------------------

def _root_of_this_machine():
    """Root in the initial user namespace: may switch to any user id."""
    if os.geteuid() != 0:
        return False
    try:
        return Path('/proc/self/uid_map').read_text().split() == ['0', '0', '4294967295']
    except OSError:
        return False


def _bwrap_path():
    return shutil.which('bwrap')


def _off_by_request():
    return os.environ.get(ENV_SWITCH, '').strip().lower() in ('off', '0', 'no', 'false')


@functools.lru_cache(maxsize=None)
def _probe(bwrap):
    """None when bubblewrap runs a command here the way start() would, else what went wrong."""
    scratch = Path(tempfile.mkdtemp(prefix='mgcourse-probe-'))
    try:
        sb = _start_bwrap(bwrap, [sys.executable, '-I', '-S', '-c', 'print("ok")'],
                          workdir=scratch, readable=(), env={'PATH': os.defpath},
                          limits=Limits(wall_seconds=30), pass_fds=())
        code = sb.wait()
        if code == 0 and sb.output().strip() == 'ok':
            return None
        return f"bwrap failed (exit code {code}): {sb.output().strip()}"
    except OSError as e:
        return f"bwrap could not start: {e}"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def off_reason():
    """Why the sandbox is off ('' when it is on)."""
    if _off_by_request():
        return f"{ENV_SWITCH}=off"
    bwrap = _bwrap_path()
    if bwrap is None:
        return "bwrap is not installed"
    return _probe(bwrap) or ''


def bwrap_available():
    """bwrap is on PATH and works here (tried once), and MGCOURSE_SANDBOX is not 'off'."""
    return off_reason() == ''


# --- file permissions for a run as its own user ---------------------------------------------

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


# --- the run --------------------------------------------------------------------------------

class _Capture(threading.Thread):
    """Reads a pipe to its end, keeping the first `limit` bytes and counting the rest."""

    def __init__(self, stream, limit):
        super().__init__(daemon=True)
        self.stream, self.limit = stream, limit
        self.kept = bytearray()
        self.dropped = 0

    def run(self):
        fd = self.stream.fileno()
        try:
            while True:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    break
                room = max(self.limit - len(self.kept), 0)
                self.kept += chunk[:room]
                self.dropped += len(chunk) - min(room, len(chunk))
        finally:
            self.stream.close()


class Sandboxed:
    """One command started by start(): its process, its output, and the means to stop it."""

    def __init__(self, process, *, sandboxed, limits, workdir, user=None, marker=None,
                 processes_limited=True, lifeline=None, writable=()):
        self.process = process                  # the Popen, of bwrap or of the launcher
        self.sandboxed = sandboxed              # inside bubblewrap
        self.limits = limits
        self.user = user                        # the user id of its own it runs as, if any
        self.processes_limited = processes_limited
        self.timed_out = False                  # killed when wall_seconds ran out
        self.disk_exceeded = False              # killed when it added over disk_bytes to workdir
        self._marker = marker
        self._lifeline = lifeline
        self._lock = threading.Lock()
        self._stopped = False
        self._gone = threading.Event()        # set once every process of the run is gone
        self.survivors = []                   # what was left running after REAP_SECONDS
        self._capture = _Capture(process.stdout, limits.output_bytes)
        self._capture.start()
        self._timer = threading.Timer(limits.wall_seconds or 0, self._out_of_time)
        self._timer.daemon = True
        if limits.wall_seconds is not None:
            self._timer.start()
        # RLIMIT_FSIZE caps each file, not their number: a watchdog adds up workdir.
        self._ended = threading.Event()
        self._folders = [workdir, *writable]
        self._disk_at_start = sum(_disk_use(f) for f in self._folders)
        threading.Thread(target=self._watch_disk, daemon=True).start()

    def cpu_seconds(self):
        """The CPU time the run's processes have used so far (user and system, with the
        children they have waited for), read from /proc; None where they cannot be found.
        isolated.Worker limits a probe by it, so a busy machine does not count against a
        student. The run's processes are found by its user id or marker, looked for again
        every 20 readings (a reading is otherwise a few small files)."""
        from .isolated import process_cpu_seconds
        self._cpu_reads = getattr(self, '_cpu_reads', 0) + 1
        pids = getattr(self, '_cpu_pids', None)
        if not pids or self._cpu_reads % 20 == 0:
            pids = self._cpu_pids = self._processes_of_run()
        used = [process_cpu_seconds(pid) for pid in pids]
        used = [u for u in used if u is not None]
        return sum(used) if used else None

    def process_count(self):
        """How many processes of the run are running now."""
        return len(self._processes_of_run())

    def output(self):
        """What it printed to stdout and stderr, cut at output_bytes with a note saying so."""
        text = bytes(self._capture.kept).decode('utf-8', 'replace')
        if self._capture.dropped:
            if text and not text.endswith('\n'):
                text += '\n'
            text += f"[... {self._capture.dropped} bytes more not kept]"
        return text

    def wait(self, timeout=None):
        """Its exit code once it has ended; -N when a signal N killed it (as with Popen).
        Raises subprocess.TimeoutExpired if it is still running after timeout seconds."""
        self.process.wait(timeout)
        self._timer.cancel()
        self._ended.set()
        self._close_lifeline()
        self._stop_tree()  # what it left behind (a daemon of its own session, say)
        self._capture.join(5)
        if self._capture.is_alive():  # something still holds the pipe open
            self.kill()
            self._capture.join(5)
        return self._code()

    @property
    def killed_by(self):
        """The signal that killed the command, or None (None too while it runs)."""
        code = self._code()
        return -code if code is not None and code < 0 else None

    def _code(self):
        code = self.process.returncode
        if self.sandboxed and code is not None and 0 < code - _SIGNALLED < signal.NSIG:
            return _SIGNALLED - code
        return code

    def _close_lifeline(self):
        with self._lock:
            if self._lifeline is not None:
                os.close(self._lifeline)
                self._lifeline = None

    def kill(self):
        """Kill the command and every process it started, and return only when all of them
        are gone (see _stop_tree). Safe to call more than once, from any thread."""
        self._timer.cancel()
        self._ended.set()
        self._stop_tree()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            pass

    def _stop_tree(self):
        """Kill every process of the run and wait until none is left running.

        Killing bubblewrap is not enough: its namespace's processes die a few milliseconds
        later, and in the meantime they still run (and write). So the run's processes are
        looked for in /proc, by the run's own user id (as root) or by the marker in their
        environment, killed, and looked for again until none is found (zombies, which run
        nothing, do not count), for at most REAP_SECONDS. A caller that comes second waits
        for the first to finish. `survivors` lists what was still running after that bound
        (never seen in practice): the run's folders must then be left alone.
        """
        self._close_lifeline()
        with self._lock:
            first = not self._stopped
            self._stopped = True
        if not first:
            self._gone.wait(REAP_SECONDS + 30)
            return
        try:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            if self.user is not None or self._marker is not None:
                self.survivors = _reap(self._processes_of_run)
        finally:
            self._gone.set()

    def _processes_of_run(self):
        """The run's processes still running: by its own user id, else by its marker, else
        the command's own process."""
        if self.user is not None:
            return _running_as(self.user)
        if self._marker is not None:
            return _running_with(self._marker)
        return [self.process.pid]

    def signal(self, signum):
        """Send signum to the command's processes, as a terminal sends Ctrl-C to a foreground
        job: every process of the run's own user id, or every process with the run's marker
        but bubblewrap's own (a signal that ended bubblewrap would end the sandbox). Returns
        how many processes it was sent to."""
        pids = self._processes_of_run()
        if self.sandboxed:
            bwrap = os.path.realpath(_bwrap_path() or 'bwrap')
            pids = [pid for pid in pids if _program_of(pid) != bwrap]
        sent = 0
        for pid in pids:
            try:
                os.kill(pid, signum)
                sent += 1
            except OSError:
                pass
        return sent

    def _out_of_time(self):
        if self.process.poll() is None:
            self.timed_out = True
            self.kill()

    def _watch_disk(self):
        """Kill the run once what it wrote in workdir and the writable folders passes
        disk_bytes (checked 4 times a second: it can overshoot by what it writes in a quarter
        of a second)."""
        while not self._ended.wait(DISK_CHECK_SECONDS) and self.process.poll() is None:
            used = sum(_disk_use(f) for f in self._folders)
            if used - self._disk_at_start > self.limits.disk_bytes:
                self.disk_exceeded = True
                self.kill()
                return


DISK_CHECK_SECONDS = 0.25
_BLOCK = 4096


def _disk_use(folder):
    """The bytes of disk the files and folders under folder take. Each entry counts at least
    one block, as on most file systems, so that a million empty files count too (and the
    walk that counts them stays short: the run is stopped long before)."""
    total = 0
    stack = [str(folder)]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:  # removed meanwhile, or not ours to read
            continue
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            total += max(st.st_blocks * 512, _BLOCK)
            if entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)
    return total


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


def _bwrap_mounts(workdir, readable, limits, writable=(), system=()):
    """The file system the command sees, as bwrap arguments."""
    args = ['--ro-bind', '/usr', '/usr']
    for name in ('bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32'):
        p = Path('/', name)
        if p.is_symlink():
            args += ['--symlink', os.readlink(p), str(p)]
        elif p.is_dir():
            args += ['--ro-bind', str(p), str(p)]
    # /etc is made, as bubblewrap would, but open to every user: a run as a user id of its own
    # must reach the files bound in it (bubblewrap's own /etc is closed, 0700).
    args += ['--perms', '0755', '--dir', '/etc']
    for name in _ETC:
        if Path('/etc', name).exists():
            args += ['--ro-bind', f'/etc/{name}', f'/etc/{name}']
    args += ['--proc', '/proc', '--dev', '/dev',
             '--perms', '1777', '--size', str(limits.tmp_bytes), '--tmpfs', '/tmp',
             '--perms', '1777', '--size', str(limits.tmp_bytes), '--tmpfs', '/dev/shm']
    bound = [Path('/usr')]  # trees of this machine's: what is below them is there
    made = {Path(p) for p in ('/', '/etc', '/proc', '/dev', '/tmp', '/dev/shm')}  # empty ones

    def exists(path):
        return path in made or any(path == b or b in path.parents for b in bound)

    binds = [(p, '--ro-bind') for p in [*_python_roots(), *system]]
    binds += [(p, '--ro-bind') for p in readable]
    binds += [(p, '--bind') for p in [workdir, *writable]]
    for path, how in sorted(binds, key=lambda b: (len(b[0].parts), str(b[0]))):
        if how == '--ro-bind' and path not in readable and exists(path):
            continue  # already visible, e.g. an interpreter under /usr
        for folder in reversed(path.parents):
            if not exists(folder):
                args += ['--perms', '0755', '--dir', str(folder)]
                made.add(folder)
        args += [how, str(path), str(path)]
        bound.append(path)
    return args


def _start_bwrap(bwrap, argv, *, workdir, readable, env, limits, pass_fds, writable=(),
                 system=()):
    args = [bwrap, '--die-with-parent', '--new-session']
    if _root_of_this_machine():
        user = _run_as_own_user(readable, workdir, writable)
        nproc = limits.processes
        args += ['--unshare-ipc', '--unshare-pid', '--unshare-net', '--unshare-uts',
                 '--unshare-cgroup-try', '--cap-add', 'CAP_SETUID', '--cap-add', 'CAP_SETGID']
    else:
        user = None
        # +1: bubblewrap's own init process lives in the namespace too.
        nproc = limits.processes + 1
        args += ['--unshare-all']
    marker = None
    if user is None:  # the run's processes share our user id: they are found by this marker
        marker = f'{MARKER}={uuid.uuid4().hex}'
        env = dict(env, **{MARKER: marker.split('=', 1)[1]})
    args += _bwrap_mounts(workdir, readable, limits, writable, system)
    args += ['--chdir', str(workdir), '--']
    return _popen(lambda lifeline: args + _launcher(limits, nproc, user, lifeline) + argv,
                  workdir=workdir, env=env, pass_fds=pass_fds,
                  sandboxed=True, limits=limits, user=user, marker=marker, writable=writable)


def _start_plain(argv, *, workdir, readable, env, limits, pass_fds, writable=(), system=()):
    user, marker, limited = None, None, True
    if _root_of_this_machine() and _interpreter_reachable(argv[0], env):
        for path in [*readable, workdir, *writable]:
            _open_temporary_ancestors(path)
        if all(_others_can_pass(p.parent) for p in [*readable, workdir, *writable]):
            user = _run_as_own_user(readable, workdir, writable)
    if user is not None:
        nproc = limits.processes
    elif os.geteuid() == 0:
        nproc, limited = 0, False  # root ignores RLIMIT_NPROC
    else:
        nproc = _tasks_of(os.getuid()) + limits.processes
    if user is None:
        marker = f'{MARKER}={uuid.uuid4().hex}'
        env = dict(env, **{MARKER: marker.split('=', 1)[1]})
    return _popen(lambda lifeline: _launcher(limits, nproc, user, lifeline) + argv,
                  workdir=workdir, env=env, pass_fds=pass_fds, sandboxed=False, limits=limits,
                  user=user, marker=marker, processes_limited=limited, writable=writable)


def process_limit_problem(program=None):
    """Why start() could not hold this interpreter's commands to Limits.processes here, or None.

    It can, inside bubblewrap and as any user but root. As root without bubblewrap it can only
    when a run's own user id can start the interpreter (see the module docstring): not when it
    lies in a folder other users cannot enter, such as a virtual environment under /root.
    `readable` paths and `workdir` are assumed to be in the temporary folder, as the batch
    grader's are.
    """
    program = program or sys.executable
    if bwrap_available() or os.geteuid() != 0:
        return None
    env = {'PATH': os.defpath}
    if _root_of_this_machine() and _interpreter_reachable(program, env):
        return None
    where = ' or '.join(sorted({str(p) for p in _python_roots()}))
    return (f"this runs as root without the sandbox ({off_reason()}), and a user id of its own "
            f"cannot start this Python ({program}, in {where}): student code would run as root "
            f"with no limit on its processes, and a fork bomb in one submission could take the "
            f"machine down. Install bubblewrap ('apt-get install bubblewrap'), or run as a user "
            f"other than root, or use a Python and virtual environment that other users can "
            f"read (not under /root)")


def start(argv, *, workdir, readable=(), env=None, limits=Limits(), pass_fds=(), writable=(),
          system=()):
    """Start argv in the sandbox (or, when it is off, under the limits alone), in workdir.

    readable: files and folders it may read, seen at their own (resolved) paths.
    writable: folders besides workdir it may write, seen at their own (resolved) paths; like
      workdir, scratch folders of the caller's, given to the run's own user when there is one.
    system: paths of this machine it may read as they are (no permission is changed), such
      as /etc/fonts; those that do not exist are left out.
    env: its whole environment (default: PATH only).
    pass_fds: file descriptors it inherits, at the same numbers, as with Popen.
    """
    workdir = Path(os.path.realpath(workdir))
    if not workdir.is_dir():
        raise FileNotFoundError(f"no folder {workdir}")
    readable = [Path(os.path.realpath(p)) for p in readable]
    for p in readable:
        if not p.exists():
            raise FileNotFoundError(f"no file or folder {p}")
    writable = [Path(os.path.realpath(p)) for p in writable]
    for p in writable:
        if not p.is_dir():
            raise FileNotFoundError(f"no folder {p}")
    system = [Path(os.path.realpath(p)) for p in system if os.path.exists(p)]
    env = {'PATH': os.defpath} if env is None else dict(env)
    options = dict(workdir=workdir, readable=readable, env=env, limits=limits,
                   pass_fds=tuple(pass_fds), writable=writable, system=system)
    if bwrap_available():
        return _start_bwrap(_bwrap_path(), list(argv), **options)
    return _start_plain(list(argv), **options)
