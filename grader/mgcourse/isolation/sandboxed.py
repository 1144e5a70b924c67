"""A started run (Sandboxed): its output, wall time and disk watchdogs, and its end, which comes
only once every process of the run is gone (see sandbox.py).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading

from .limits import _SIGNALLED
from .processes import REAP_SECONDS, _program_of, _reap, _running_as, _running_with


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


def _bwrap_path():
    return shutil.which('bwrap')


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
