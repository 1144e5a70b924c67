"""A worker forked from this process, which has the course's library imported already: it
answers a second or so sooner than a fresh Python (progress uses it where it can fork).
"""

import os
import signal
import sys
import tempfile

from mgcourse.isolation import isolated


class _Forked:
    """A worker started by forking this process, which has the course's library imported
    already: it answers a second or so sooner than a fresh Python (watch uses it). The object
    isolated.Worker expects of a launcher: .process (poll, wait, pid), kill(), cpu_seconds()."""

    def __init__(self, argv, pass_fds):
        from mgcourse.isolation import worker  # imported here, before the fork, so the child has it already
        folder, request_fd, reply_fd = argv[-3], int(argv[-2]), int(argv[-1])
        self.output = tempfile.TemporaryFile()
        pid = os.fork()
        if pid == 0:  # the child: nothing of the parent's threads runs here
            code = 0
            try:
                os.chdir(folder)
                null = os.open(os.devnull, os.O_RDONLY)
                os.dup2(null, 0)
                os.dup2(self.output.fileno(), 1)
                os.dup2(self.output.fileno(), 2)
                keep = {0, 1, 2, request_fd, reply_fd}
                for fd in map(int, os.listdir('/proc/self/fd')):
                    if fd not in keep:
                        try:
                            os.close(fd)
                        except OSError:
                            pass
                sys.stdin = open(0, 'r', closefd=False)
                sys.stdout = open(1, 'w', closefd=False)
                sys.stderr = open(2, 'w', closefd=False)
                sys.path.insert(0, folder)  # as `python -m` run in the folder has it
                with os.fdopen(request_fd, 'r') as requests, os.fdopen(reply_fd, 'w') as replies:
                    worker.serve(folder, requests, replies)
            except BaseException:  # noqa: BLE001 - the child never returns into the parent's code
                code = 1
            finally:
                os._exit(code)
        self.process = _Child(pid)

    def kill(self):
        self.process.kill()
        self.process.wait()

    def wait(self):
        return self.process.wait()

    def cpu_seconds(self):
        return isolated.process_cpu_seconds(self.process.pid)


class _Child:
    """The parts of subprocess.Popen that isolated.Worker uses, for a forked child."""

    def __init__(self, pid):
        self.pid = pid
        self.returncode = None

    def poll(self):
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self):
        if self.returncode is None:
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def kill(self):
        if self.returncode is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def can_fork():
    return hasattr(os, 'fork') and os.path.isdir('/proc/self/fd')


def forked_launch(argv, pass_fds):
    return _Forked(argv, pass_fds)
