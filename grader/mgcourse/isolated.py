"""Run the battery with the student's code in a separate process.

The worker (worker.py) imports the student's package and runs probes on request; this
process sends the requests, reads the plain data that comes back, and runs the judges.
A probe that takes longer than the time limit, or a worker that dies (an endless loop, a
crash, os._exit), fails that one check with a clear message; a fresh worker takes the next.
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
from pathlib import Path

from . import battery, checks, paths
from .battery import Report
from .checks.base import ProbeError, run_check, student_kind
from .impl import ImplError

TIMEOUT = 30.0  # seconds for one probe (a driven check sends many; each has this limit)
# The largest reply read from the student's process: the largest a correct run sends (the
# three training runs of training.converges) is about 12 kB. A longer one ends the worker, and
# costs the check it answered.
MAX_REPLY_BYTES = 1 << 20


def _renumbered(fd, low=100):
    """The same file as fd, at a descriptor numbered low or more; fd itself is closed."""
    new = fcntl.fcntl(fd, fcntl.F_DUPFD, low)
    os.close(fd)
    return new


class Worker:
    """One worker process for one implementation folder."""

    def __init__(self, folder, timeout=TIMEOUT, launch=None):
        """launch(argv, pass_fds) starts the worker somewhere else (the batch grader's
        sandbox) and returns an object with .process, .kill() and .output(); by default it
        is a plain child process."""
        self.folder = Path(folder).resolve()
        self.timeout = timeout
        request_read, self._request = os.pipe()
        self._reply, reply_write = os.pipe()
        # The worker's two descriptors are numbered from 100 up, so its command line has the
        # same length however many files this process has open: with the same inputs, the
        # worker then lays its objects out at the same addresses (see sandbox.py), and a
        # student's set of Values iterates in the same order on every run.
        request_read, reply_write = _renumbered(request_read), _renumbered(reply_write)
        argv = [sys.executable, '-m', 'mgcourse.worker', str(self.folder),
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
        first = self._receive(max(self.timeout, 60.0))
        self.import_error = None
        if 'import_error' in first:
            e = first['import_error']
            if not isinstance(e, dict):
                e = {}
            lineno = e.get('lineno')
            self.import_error = ImplError(str(e.get('message', 'the package could not be imported')),
                                          _text(e.get('filename')),
                                          lineno if isinstance(lineno, int) else None)

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

    def _receive(self, timeout):
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as sel:
            sel.register(self._reply, selectors.EVENT_READ)
            while b'\n' not in self._buffer:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    self.close()
                    self._end('timeout', f"your code took longer than {timeout:g} s and was "
                              "stopped: an endless loop, or a graph far too large?")
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


def _text(x):
    return x if isinstance(x, str) else None


def run(folder, only=None, timeout=TIMEOUT, on_result=None):
    """Like battery.run, with the student's code in a worker process. on_result(result) is
    called after each check (for a progress bar)."""
    report = Report(Path(folder))
    worker = None
    try:
        for entry in battery.selected(only):
            if worker is None or not worker.alive:
                worker = Worker(folder, timeout)
            if worker.import_error is not None:
                report.import_error = worker.import_error
                result = battery.import_failure(entry, worker.import_error)
            else:
                c = checks.REGISTRY[entry.id]
                result = run_check(c, entry.points, lambda inputs, c=c: worker.probe(c.id, inputs))
            report.results.append(result)
            if on_result:
                on_result(result)
    finally:
        if worker is not None:
            worker.close()
    return report
