"""A student's kernels forked from a warm one (a zygote) in one sandbox, for nbgrader's autograde.

A grading kernel started as a new Python in a new sandbox (sandboxed_kernels.py) makes
ipykernel's imports, then the notebook's own (numpy and pyplot in four of the seven): about
0.9 s of CPU before the student's first line runs, seven times a student. A Zygote is one
sandbox per notebook folder whose Python has made those imports once (PRELOAD); each kernel
of that folder is a child it forks, which runs ipykernel's launcher as KERNEL_MAIN would.

What holds as before (sandboxed_kernels.py says why each matters):
- the zygote is started by sandbox.start with the kernels' limits, environment, library copy
  and system paths; a kernel is a process of that sandbox, as its user id of its own;
- each kernel works in a fresh copy of the notebook's folder, with a home and IPC folder of its
  own, made by the grader in `runs` (root's: the sandbox sees it but cannot write it) and given
  to the kernel's user only then; the zygote empties the sandbox's /tmp before each kernel
  (but for the folders bubblewrap made there for its binds);
- a kernel is over only when every process of the sandbox but the zygote is gone (kill looks
  in /proc, by the user id, until none is left), before the next kernel is forked and before
  its folders are touched; its CPU time is that of those processes;
- the zygote imports no code of the student's and forks only while none of its kernels lives;
  it makes itself undumpable, so its kernels cannot trace it, read its memory or its
  descriptors (they may kill it: the next kernel then has a new zygote).

Only as root with bubblewrap (where the sandbox's own user id finds every process); elsewhere,
with MGCOURSE_KERNEL_FORK=off, when the zygote does not start, or while another kernel of this
process lives, a kernel starts the usual way. A process has one zygote at a time: a kernel of
another folder (the next student) replaces it; it ends with the process, or with stop().
"""

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from mgcourse.isolation import own_users, processes, sandbox
from mgcourse.isolation.isolated import process_cpu_seconds
from mgcourse.isolation.sandboxed import DISK_CHECK_SECONDS, _disk_use

ENV_SWITCH = 'MGCOURSE_KERNEL_FORK'  # 'off': every kernel starts as a Python of its own
PRELOAD = ('ipykernel.kernelapp', 'ipykernel.ipkernel', 'ipykernel.zmqshell', 'numpy',
           'matplotlib.pyplot', 'graphviz')
READY_SECONDS = 120  # far above the zygote's imports (1 to 2 s of CPU)
OUTPUT_BYTES = 64 << 10
MAX_REQUEST = 128 << 10

# The zygote: argv = its socket's descriptor, the modules to import (comma-separated).
ZYGOTE_MAIN = r'''
import ctypes, json, os, shutil, signal, socket, sys
sys.modules['debugpy'] = None  # as kernels.KERNEL_MAIN: no debugger
libc = ctypes.CDLL(None)
libc.prctl(4, 0)  # PR_SET_DUMPABLE 0: its kernels (the same user) cannot trace or read it
# matplotlib reads its backend when imported: the one ipykernel would choose for its kernels
os.environ.setdefault('MPLBACKEND', 'module://matplotlib_inline.backend_inline')
sock = socket.socket(fileno=int(sys.argv[1]))
for name in sys.argv[2].split(','):
    try:
        __import__(name)
    except Exception:
        pass
# imported in the kernel, once its shell exists: that is when it hooks in the inline figures
sys.modules.pop('matplotlib_inline.backend_inline', None)
signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # its children are reaped by the system


def listing(folder):
    try:
        return set(os.listdir(folder))
    except OSError:
        return set()


# what the sandbox's /tmp and /dev/shm hold before any kernel: the folders bubblewrap made for
# the paths it binds there, which stay
KEEP = {folder: listing(folder) for folder in ('/tmp', '/dev/shm')}


def empty(folder):
    for entry in os.scandir(folder):
        if entry.name in KEEP.get(folder, ()):
            continue
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            try:
                os.unlink(entry.path)
            except OSError:
                pass


def kernel(request):
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        libc.prctl(4, 1)
        os.setsid()
        null = os.open(os.devnull, os.O_RDONLY)
        log = os.open(request['log'], os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(null)
        os.close(log)
        os.chdir(request['cwd'])
        os.environ.clear()
        os.environ.update(request['env'])
        import importlib, random, runpy, tempfile
        random.seed()
        tempfile.tempdir = None
        if 'numpy' in sys.modules:
            sys.modules['numpy'].random.seed()
        sys.path_importer_cache.clear()
        importlib.invalidate_caches()
        sys.argv = ['-c', *request['argv']]
        try:
            runpy.run_module('ipykernel_launcher', run_name='__main__', alter_sys=True)
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        finally:
            import atexit
            atexit._run_exitfuncs()
    except BaseException:
        import traceback
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code & 0xFF)


sock.send(b'ready')
while True:
    try:
        request = sock.recv(1 << 17)
    except OSError:
        break
    if not request:
        break
    request = json.loads(request)
    for folder in request['empty']:
        empty(folder)
    pid = os.fork()
    if pid == 0:
        sock.close()
        kernel(request)
    sock.send(str(pid).encode())
'''


def _usable_here():
    return (os.environ.get(ENV_SWITCH, '').lower() != 'off' and sandbox.bwrap_available()
            and sandbox._root_of_this_machine())


class Zygote:
    """One started zygote for kernels of `key` (interpreter, notebook folder)."""

    def __init__(self, key, *, readable, system, limits, environment, home_files=()):
        self.key, self.limits = key, limits
        self.base = Path(tempfile.mkdtemp(prefix='mgz-'))
        os.chmod(self.base, 0o711)
        self.runs = self.base / 'runs'  # root's: each kernel's folders, made here by the grader
        self.runs.mkdir(mode=0o711)
        home = self.base / 'home'
        for folder in (self.base / 'zygote', home, home / 'tmp', home / 'matplotlib'):
            folder.mkdir(mode=0o700)
        for path in home_files:  # (source, path in home): matplotlib's font lists, say
            shutil.copyfile(path[0], home / path[1])
        self.busy = False
        self.server_pids = set()
        self._lock = threading.Lock()
        self._socket, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.sandboxed = sandbox.start(
                [key[0], '-c', ZYGOTE_MAIN, str(theirs.fileno()), ','.join(PRELOAD)],
                workdir=self.base / 'zygote', readable=readable, writable=[home],
                shared=[self.runs], system=system, limits=limits,
                env=environment(home), pass_fds=[theirs.fileno()])
        finally:
            theirs.close()
        self.user = self.sandboxed.user
        if self._answer(16) != b'ready' or self.user is None:
            self.stop()
            raise RuntimeError(f"the kernels' zygote did not start: {self.sandboxed.output()}")
        self.server_pids = set(processes._running_as(self.user))

    def _answer(self, size):
        """The zygote's next message; b'' once it is gone or has been silent READY_SECONDS."""
        self._socket.settimeout(READY_SECONDS)
        try:
            return self._socket.recv(size)
        except OSError:
            return b''

    def reserve(self):
        """Whether the caller may fork a kernel now (then the zygote is busy until its kernel
        is killed)."""
        with self._lock:
            if self.busy or self.sandboxed.process.poll() is not None:
                return False
            self.busy = True
            return True

    def release(self):
        with self._lock:
            self.busy = False

    def kernel_processes(self):
        """The sandbox's processes running now, but the zygote's own."""
        return [p for p in processes._running_as(self.user) if p not in self.server_pids]

    def fork(self, argv, cwd, env, run, give):
        """A ForkedKernel running argv (ipykernel's arguments) in cwd with env. Its folders
        are under `runs`: run (root's, which holds its log) and `give` (its current folder,
        home and IPC folder), which become the kernel's user's now."""
        for folder in give:
            own_users._give_tree(folder, self.user)
        log = Path(run) / 'output.log'
        os.close(os.open(log, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))
        os.chown(log, self.user, self.user)
        request = json.dumps({'argv': [str(a) for a in argv], 'cwd': str(cwd), 'env': env,
                              'log': str(log), 'empty': ['/tmp', '/dev/shm']}).encode()
        if len(request) > MAX_REQUEST:
            raise ValueError(f"a kernel's arguments and environment exceed {MAX_REQUEST} bytes")
        try:
            self._socket.send(request)
        except OSError:
            pass
        reply = self._answer(32)
        if not reply.isdigit():  # gone, or out of step: never asked again
            self.sandboxed.kill()
            raise RuntimeError("the kernels' zygote is gone")
        watched = [Path(run)] + [Path(f) for f in give if Path(run) not in Path(f).parents]
        return ForkedKernel(self, int(reply), log, watched)

    def stop(self):
        """End the zygote's sandbox, then remove its folder (unless something survived)."""
        try:
            self._socket.close()
        except OSError:
            pass
        sb = getattr(self, 'sandboxed', None)
        if sb is not None:
            sb.kill()
            if sb.survivors:
                return
        own_users.remove_tree(self.base)


def _host_pid(candidates, nspid):
    """The pid, of candidates, whose innermost namespace pid is nspid."""
    for pid in candidates:
        try:
            with open(f'/proc/{pid}/status', 'rb') as f:
                for line in f:
                    if line.startswith(b'NSpid:') and int(line.split()[-1]) == nspid:
                        return pid
        except (OSError, ValueError):
            continue
    return None


class ForkedKernel:
    """One kernel forked by a Zygote, with what SandboxedProvisioner uses of a Sandboxed."""

    sandboxed = True
    timed_out = False

    def __init__(self, zygote, nspid, log, folders):
        self._zygote = zygote
        self.user = zygote.user
        self.survivors = []
        self.disk_exceeded = False
        self.killed = False
        self._log = log
        deadline = time.monotonic() + 5
        pid = None
        while pid is None and time.monotonic() < deadline:  # gone already: found not at all
            pid = _host_pid(zygote.kernel_processes(), nspid)
            if pid is None:
                time.sleep(0.005)
        self.pid = pid or -1
        self._start = self._start_time()
        self.process = _Process(self)
        self._ended = threading.Event()
        self._folders = folders
        self._at_start = sum(map(_disk_use, folders))
        threading.Thread(target=self._watch_disk, daemon=True).start()

    def _start_time(self):  # the kernel's start time, which tells its pid from a reuse
        try:
            return processes._stat(self.pid)[19]
        except (OSError, IndexError):
            return None

    def running(self):
        """Whether the kernel's own process still runs."""
        state = processes._status(self.pid)
        return state is not None and state[0] not in 'ZX' and self._start_time() == self._start

    def cpu_seconds(self):
        """The CPU time the kernel's processes have used (see Sandboxed.cpu_seconds)."""
        self._reads = getattr(self, '_reads', 0) + 1
        if not getattr(self, '_pids', None) or self._reads % 20 == 0:
            self._pids = self._zygote.kernel_processes()
        used = [u for u in map(process_cpu_seconds, self._pids) if u is not None]
        return sum(used) if used else None

    def output(self):
        """The first OUTPUT_BYTES of what the kernel printed outside the notebook."""
        try:
            fd = os.open(self._log, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return ''
        with os.fdopen(fd, 'rb') as f:
            return f.read(OUTPUT_BYTES).decode('utf-8', 'replace')

    def signal(self, signum):
        for pid in self._zygote.kernel_processes():
            try:
                os.kill(pid, signum)
            except OSError:
                pass

    def kill(self):
        """Kill every process of the kernel and return once none runs; the zygote is then
        free to fork the next (unless something outlived the kill: `survivors`)."""
        self._ended.set()
        if not self.killed:
            self.killed = True
            self.survivors = processes._reap(self._zygote.kernel_processes)
            if not self.survivors:
                self._zygote.release()

    def wait(self, timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.running():
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired('kernel', timeout)
            time.sleep(0.05)
        ended_by_itself = not self.killed
        self.kill()  # what it left running
        return 0 if ended_by_itself else -signal.SIGKILL

    def _watch_disk(self):
        """Kill the kernel once what it wrote in its folders passes the disk limit (as
        Sandboxed does; its /tmp is the zygote's, a tmpfs with a size of its own)."""
        while not self._ended.wait(DISK_CHECK_SECONDS):
            used = sum(map(_disk_use, self._folders))
            if used - self._at_start > self._zygote.limits.disk_bytes:
                self.disk_exceeded = True
                self.kill()
                return


class _Process:
    """What jupyter_client reads of a kernel's Popen."""

    stdin = stdout = stderr = None

    def __init__(self, kernel):
        self._kernel = kernel
        self.pid = kernel.pid
        self.returncode = None

    def poll(self):
        if self.returncode is None and not self._kernel.running():
            self.returncode = -signal.SIGKILL if self._kernel.killed else 0
        return self.returncode

    def wait(self, timeout=None):
        self.returncode = self._kernel.wait(timeout)
        return self.returncode

    def kill(self):
        self._kernel.kill()

    terminate = kill


_CURRENT = []  # [Zygote]: this process's, if any
FAILED = []  # [why]: once a zygote failed to start, this process's kernels start by themselves
_LOCK = threading.Lock()


def zygote_for(python, folder, **start):
    """The zygote for kernels of python in a copy of folder, started if need be (`start`: the
    Zygote's other arguments), reserved for one kernel; or None (see the module docstring)."""
    if not folder or not _usable_here():
        return None
    key = (python, os.path.realpath(folder))
    with _LOCK:
        zygote = _CURRENT[0] if _CURRENT else None
        if zygote is not None and not zygote.busy and (
                zygote.key != key or zygote.sandboxed.process.poll() is not None):
            _CURRENT.clear()
            zygote.stop()
            zygote = None
        if zygote is None:
            if FAILED:
                return None
            try:
                zygote = Zygote(key, **start)
            except (OSError, RuntimeError) as e:  # not tried again by this process
                FAILED.append(e)
                return None
            _CURRENT.append(zygote)
        if zygote.key != key or not zygote.reserve():
            return None
        return zygote


def stop():
    """Stop this process's zygote, if any."""
    with _LOCK:
        while _CURRENT:
            _CURRENT.pop().stop()


atexit.register(stop)
os.register_at_fork(after_in_child=_CURRENT.clear)  # a forked child has no zygote of its own
