"""Run the battery with the student's code in a separate process.

The worker (worker.py) imports the student's package and runs probes on request; this
process sends the requests, reads the plain data that comes back, and runs the judges.
A probe that takes longer than the time limit, or a worker that dies (an endless loop, a
crash, os._exit), fails that one check with a clear message; a fresh worker takes the next.

The limit counts the CPU time the worker spends on a probe (TIMEOUT), so a busy machine
does not make correct code lose points; a wall-clock limit far above it (WALL_FACTOR times)
catches code that sleeps or waits. A check stopped only by the wall clock is run once more,
alone, in a fresh worker before it costs anything. Once a shared step (backward(), the
forward pass, training: the [[step]]s of checkpoints.toml) has run out of time, the checks
that need it are reported at once as not run, and why, instead of each waiting for it again.
"""

import fcntl
import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from mgcourse import paths
from mgcourse.battery import catalogue, checks, harness
from mgcourse.battery.checks.base import ProbeError, Result, run_check, student_kind
from mgcourse.battery.harness import Report
from mgcourse.battery.impl import ImplError

TIMEOUT = 10.0  # CPU seconds for one probe (a driven check sends many; each has this limit)
WALL_FACTOR = 10  # the wall-clock limit of a probe, as a multiple of its CPU limit
POLL = 0.05  # seconds between two readings of the worker's CPU time
_TICKS = os.sysconf('SC_CLK_TCK')
# The largest reply read from the student's process: the largest a correct run sends (the
# three training runs of training.converges) is about 12 kB. A longer one ends the worker, and
# costs the check it answered.
MAX_REPLY_BYTES = 1 << 20


def process_cpu_seconds(pid):
    """The CPU time process pid has used (user and system, its own and its waited-for
    children's), from /proc; None where that cannot be read."""
    try:
        with open(f'/proc/{pid}/stat', 'rb') as f:
            fields = f.read().rsplit(b')', 1)[1].split()
    except (OSError, IndexError):
        return None
    # After the command's name: state is field 3; utime, stime, cutime, cstime 14 to 17.
    return sum(int(x) for x in fields[11:15]) / _TICKS


def _renumbered(fd, low=100):
    """The same file as fd, at a descriptor numbered low or more; fd itself is closed."""
    new = fcntl.fcntl(fd, fcntl.F_DUPFD, low)
    os.close(fd)
    return new


class Worker:
    """One worker process for one implementation folder."""

    def __init__(self, folder, timeout=TIMEOUT, launch=None, wall=None):
        """launch(argv, pass_fds) starts the worker somewhere else (the batch grader's
        sandbox) and returns an object with .process, .kill() and .output(); by default it
        is a plain child process.

        timeout is a probe's limit in CPU seconds, wall its limit on the clock (by default
        WALL_FACTOR times timeout). Where the worker's CPU time cannot be read (a launcher
        without a cpu_seconds() of its own), timeout is a limit on the clock, as wall is."""
        self.folder = Path(folder).resolve()
        self.timeout = timeout
        self.wall = wall if wall is not None else timeout * WALL_FACTOR
        self.timed_out = None  # 'cpu', 'wall' or 'clock' once a probe ran out of time
        self.cancelled = None  # a callable: when it returns True, the probe waited for is given up
        request_read, self._request = os.pipe()
        self._reply, reply_write = os.pipe()
        # The worker's two descriptors are numbered from 100 up, so its command line has the
        # same length however many files this process has open: with the same inputs, the
        # worker then lays its objects out at the same addresses (see sandbox.py), and a
        # student's set of Values iterates in the same order on every run.
        request_read, reply_write = _renumbered(request_read), _renumbered(reply_write)
        argv = [sys.executable, '-m', 'mgcourse.isolation.worker', str(self.folder),
                str(request_read), str(reply_write)]
        self.launched = None
        self.output = None
        if launch is None:
            self.output = tempfile.TemporaryFile()  # what the student's code prints
            env = dict(os.environ, PYTHONPATH=str(paths.ROOT / 'grader'),
                       PYTHONDONTWRITEBYTECODE='1')
            self.process = subprocess.Popen(
                argv, pass_fds=(request_read, reply_write), stdin=subprocess.DEVNULL,
                stdout=self.output, stderr=subprocess.STDOUT, env=env, cwd=self.folder)
        else:
            self.launched = launch(argv, (request_read, reply_write))
            self.process = self.launched.process
        os.close(request_read)
        os.close(reply_write)
        self._buffer = b''
        self.ended = None
        first = self._receive(max(self.timeout, 60.0), max(self.wall, 60.0))
        self._processes_at_start = self._process_count()
        self.import_error = None
        if 'import_error' in first:
            e = first['import_error']
            if not isinstance(e, dict):
                e = {}
            lineno = e.get('lineno')
            self.import_error = ImplError(str(e.get('message', 'the package could not be imported')),
                                          _text(e.get('filename')),
                                          lineno if isinstance(lineno, int) else None)

    def _process_count(self):
        counter = getattr(self.launched, 'process_count', None)
        return counter() if counter is not None else None

    def left_processes_behind(self):
        """Whether the worker's run has more processes than once it had started: the student's
        code forked and left them running. Copies of the worker read the requests meant for it
        and share its CPU time, so the next check should have a fresh worker. (Known only for a
        launcher that counts its processes, as the sandbox does.)"""
        now = self._process_count()
        return now is not None and self._processes_at_start is not None and (
            now > self._processes_at_start)

    def probe(self, check_id, inputs=None):
        """The observed data of one probe; ProbeError when it raised, hung or crashed."""
        return self._ask({'check': check_id, 'inputs': inputs})

    def probe_named(self, name, inputs):
        """The observed data of a probe of checks.base.PROBES, on the grader's inputs."""
        return self._ask({'probe': name, 'inputs': inputs})

    def _ask(self, request):
        if self.ended is not None:  # a worker that hung or crashed answers nothing more
            raise self.ended
        message = json.dumps(request) + '\n'
        try:
            os.write(self._request, message.encode())
        except BrokenPipeError:
            self._end('crash', self._death())
        reply = self._receive(self.timeout)
        if 'error' in reply:
            error = reply['error']
            kind, message = (error + [None, None])[:2] if isinstance(error, list) else (None, error)
            # The student's process may name only the failures its own code had.
            raise ProbeError(student_kind(kind), str(message))
        if 'observed' not in reply:
            raise ProbeError('exception', "the process running your code answered something "
                             "that is not an answer to the grader's request")
        return reply['observed']

    def cpu_seconds(self):
        """The CPU time the worker process has used so far (user and system, its own and its
        waited-for children's), or None when it cannot be read. A launcher may supply its own
        (launched.cpu_seconds()), say for a worker inside a sandbox."""
        if self.launched is not None:
            reader = getattr(self.launched, 'cpu_seconds', None)
            return reader() if reader is not None else None
        return process_cpu_seconds(self.process.pid)

    def _receive(self, timeout, wall=None):
        """The next reply; ProbeError('timeout') once the worker has spent `timeout` CPU
        seconds on it, or `wall` seconds have passed on the clock."""
        wall = self.wall if wall is None else wall
        start = time.monotonic()
        cpu_start = self.cpu_seconds()
        if cpu_start is None:  # no CPU clock to read: the CPU limit is kept on the wall clock
            wall = timeout
        with selectors.DefaultSelector() as sel:
            sel.register(self._reply, selectors.EVENT_READ)
            while b'\n' not in self._buffer:
                left = start + wall - time.monotonic()
                if left <= 0:
                    self._stop('wall' if cpu_start is not None else 'clock', timeout, wall)
                polled = cpu_start is not None or self.cancelled is not None
                if not sel.select(min(left, POLL) if polled else left):
                    if self.cancelled is not None and self.cancelled():
                        self.close()
                        self.timed_out = 'cancelled'
                        self._end('cancelled', "the run was cancelled")
                    if cpu_start is not None:
                        used = self.cpu_seconds()
                        if used is not None and used - cpu_start > timeout:
                            self._stop('cpu', timeout, wall)
                    continue
                chunk = os.read(self._reply, 1 << 16)
                if not chunk:
                    self._end('crash', self._death())
                self._buffer += chunk
                if len(self._buffer.split(b'\n', 1)[0]) > MAX_REPLY_BYTES:
                    self.close()
                    self._end('exception', (
                        f"your code's answer to this check was larger than "
                        f"{MAX_REPLY_BYTES >> 20} MiB, more than the grader reads: it was "
                        "stopped (a correct answer is a few kilobytes)"))
        line, self._buffer = self._buffer.split(b'\n', 1)
        if len(line) > MAX_REPLY_BYTES:
            self.close()
            self._end('exception', f"your code's answer to this check was larger than "
                      f"{MAX_REPLY_BYTES >> 20} MiB, more than the grader reads")
        try:
            reply = json.loads(line)
        except ValueError:
            reply = None
        if not isinstance(reply, dict):
            self.close()
            self._end('exception', "the process running your code wrote something that is not "
                      "a reply on the grader's pipe, and was stopped")
        return reply

    def _stop(self, how, timeout, wall):
        self.close()
        self.timed_out = how
        if how == 'cpu':
            self._end('timeout', f"your code computed for more than {timeout:g} s and was "
                      "stopped: an endless loop, or a graph far too large?")
        if how == 'clock':
            self._end('timeout', f"your code took longer than {wall:g} s and was stopped: an "
                      "endless loop, or a graph far too large?")
        self._end('timeout', f"your code took longer than {wall:g} s on the clock (while "
                  f"computing for less than {timeout:g} s) and was stopped: is it waiting "
                  "for something, or sleeping?")

    def _end(self, kind, message):
        self.ended = ProbeError(kind, message)
        raise self.ended

    def _death(self):
        code = self.launched.wait() if self.launched is not None else self.process.wait()
        self.close()
        if getattr(self.launched, 'disk_exceeded', False):
            return (f"your code wrote more than {self.launched.limits.disk_bytes >> 20} MiB of "
                    "files and was stopped")
        if code >= 0:
            how = f"exit code {code}"
        else:
            try:
                how = f"killed by signal {-code}, {signal.Signals(-code).name}"
            except ValueError:
                how = f"killed by signal {-code}"
        return (f"the process running your code stopped before answering ({how}): "
                "a crash, or a call to exit()?")

    @property
    def alive(self):
        return self.process.poll() is None

    def close(self):
        if self.launched is not None:
            self.launched.kill()  # the worker and everything it started
        elif self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for fd in (self._request, self._reply):
            try:
                os.close(fd)
            except OSError:
                pass
        self._request = self._reply = -1


@dataclass(frozen=True)
class Step:
    """A step of the student's code that many checks go through (checkpoints.toml's [[step]])."""
    id: str
    what: str       # as the student knows it: 'backward()'
    checks: tuple   # the ids of the checks that run it: checkpoint ids or checkpoint.check

    def needed_by(self, check_id):
        return any(check_id == c or check_id.startswith(c + '.') for c in self.checks)


@lru_cache(maxsize=None)
def steps(path=paths.CATALOGUE):
    with open(path, 'rb') as f:
        raw = catalogue.tomllib.load(f)
    return tuple(Step(s['id'], s['what'], tuple(s['checks'])) for s in raw.get('step', ()))


def needs(check_id):
    """The shared steps a check goes through."""
    return [s for s in steps() if s.needed_by(check_id)]


def _not_run(entry, step, where):
    c = checks.REGISTRY[entry.id]
    return Result(c.id, c.checkpoint, c.name, c.title, 0, entry.points, False,
                  f"not run: {step.what} ran out of time in {where}, and this check needs it "
                  "too (fix that first)", 'timeout')


def _text(x):
    return x if isinstance(x, str) else None


def run(folder, only=None, timeout=TIMEOUT, on_result=None, cancelled=None, wall=None,
        entries=None, launch=None):
    """Like harness.run, with the student's code in a worker process. on_result(result) is
    called after each check (for a progress bar). entries: the catalogue entries to run, in
    this order (by default those of `only`, in course order). cancelled(), when given, is
    asked before each check and while a probe runs; once it says True the run stops, and the
    report (with .cancelled True) has the checks finished so far.

    A check that ran out of time blames the shared steps it needs that no check has come
    through yet; every later check that needs a blamed step is not run. A check stopped
    only by the wall clock is run once more, alone, in a fresh worker. launch: see Worker."""
    report = Report(Path(folder))
    worker = None
    through = set()   # ids of steps a check has come through in time
    blamed = {}       # step id -> the check in which it ran out of time
    clock_confirmed = False  # a check was stopped by the clock on its second run too
    report.cancelled = False
    try:
        for entry in (harness.selected(only) if entries is None else entries):
            if cancelled is not None and cancelled():
                report.cancelled = True
                break
            stuck = [s for s in needs(entry.id) if s.id in blamed]
            if stuck:
                result = _not_run(entry, stuck[0], blamed[stuck[0].id])
            else:
                if worker is None or not worker.alive:
                    worker = Worker(folder, timeout, launch=launch, wall=wall)
                    worker.cancelled = cancelled
                if worker.import_error is not None:
                    report.import_error = worker.import_error
                    result = harness.import_failure(entry, worker.import_error)
                else:
                    result = _run_one(entry, worker)
                    if worker.timed_out == 'cancelled':
                        report.cancelled = True
                        break
                    if (result.error == 'timeout' and worker.timed_out == 'wall'
                            and not clock_confirmed):
                        worker.close()
                        worker = Worker(folder, timeout, launch=launch, wall=wall)  # alone, on a fresh one
                        worker.cancelled = cancelled
                        again = _run_one(entry, worker)
                        if worker.timed_out == 'cancelled':
                            report.cancelled = True
                            break
                        # stopped by the clock twice: the code waits, the machine is not to
                        # blame, and later clock stops in this run are not run again
                        clock_confirmed = worker.timed_out == 'wall'
                        result = with_retry_note(again)
                    if result.error == 'timeout':
                        for s in needs(entry.id):
                            if s.id not in through:
                                blamed[s.id] = entry.id
                    else:
                        through.update(s.id for s in needs(entry.id))
            report.results.append(result)
            if on_result:
                on_result(result)
    finally:
        if worker is not None:
            worker.close()
    return report


RETRY_NOTE = "it was stopped by the clock once (a busy machine?) and run again alone"


def with_retry_note(result):
    """The result of a check's second run, saying that it is one (in its message, which the
    gradebook and the feedback keep)."""
    result.message = (f"{result.message}\n({RETRY_NOTE})" if result.message
                      else f"passed ({RETRY_NOTE})")
    return result


def _run_one(entry, worker):
    c = checks.REGISTRY[entry.id]
    return run_check(c, entry.points, lambda inputs: worker.probe(c.id, inputs))
