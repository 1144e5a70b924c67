"""`nbgrader ARGS` in a process forked from one that has imported nbgrader already.

`mgcourse autograde` runs nbgrader once per student. Importing nbgrader and the course's
plugins cost each of those processes about 1.3 s of its 3 s of CPU (nbgrader's package
imports its server extensions, and with them jupyter_server and tornado): nearly a tenth of a
correct student's whole autograde. A Server is a process that makes that import once (PRELOAD), then
forks one child per run.

Each child is what `python -m nbgrader ARGS` would have been: a session of its own (so that
one killpg stops the whole run, kernels included), the course folder as its current folder,
the environment it is given, no input, its output appended to a log file, nbgrader's own
main() with ARGS, and the exit handlers a Python process runs when it ends (a forked child
would skip them; the kernels' copy of the course library is removed by one). It writes its
exit code on a pipe only the client holds the other end of: the client learns that the run is
over when the pipe closes, and the server need not wait for its children.

The server is single-threaded and only imports before it forks; it ends when the client
closes its socket (or exits). multiprocessing's fork server is not used: it runs the caller's
main script again in every child, which a script without a `__main__` guard does not survive.
"""

import atexit
import importlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading

PRELOAD = ('nbgrader.apps.nbgraderapp', 'nbgrader.converters.autograde',
           'mgcourse.nbgrading.nbgrader_plugins')
NBGRADER_MAIN = 'nbgrader.apps.nbgraderapp:main'
MAX_REQUEST = 128 << 10  # bytes: one run's arguments and environment, in one message


class Server:
    """The fork server, started at once; `with Server() as server:` closes it."""

    def __init__(self, preload=PRELOAD):
        self._socket, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        code = (f"from mgcourse.nbgrading import forked; "
                f"forked.serve({theirs.fileno()}, {list(preload)!r})")
        self.process = subprocess.Popen([sys.executable, '-c', code], pass_fds=[theirs.fileno()],
                                         stdin=subprocess.DEVNULL)
        theirs.close()
        self._lock = threading.Lock()

    def run(self, args, cwd, env, log_path, main=NBGRADER_MAIN):
        """Start main (a 'module:function' that reads sys.argv, as a console script's does)
        with ARGS in a forked child; returns its Run."""
        request = json.dumps({'args': [str(a) for a in args], 'cwd': str(cwd), 'env': dict(env),
                              'log': str(log_path), 'main': main}).encode()
        if len(request) > MAX_REQUEST:
            raise ValueError(f"a run's arguments and environment exceed {MAX_REQUEST} bytes")
        status_r, status_w = os.pipe()
        try:
            with self._lock:
                socket.send_fds(self._socket, [request], [status_w])
                reply = self._socket.recv(64)
        except OSError as e:
            os.close(status_r)
            raise RuntimeError(f"the nbgrader fork server is gone: {e}") from e
        finally:
            os.close(status_w)
        if not reply:
            os.close(status_r)
            raise RuntimeError(f"the nbgrader fork server ended (exit code "
                               f"{self.process.poll()})")
        return Run(int(reply), status_r)

    def close(self):
        self._socket.close()
        self.process.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Run:
    """One forked run: wait(timeout) returns its exit code (-9 when it ended without writing
    one: killed) or raises TimeoutError; kill() stops every process of its session."""

    def __init__(self, pid, status_fd):
        self.pid = pid
        self._status = os.fdopen(status_fd, 'rb', buffering=0)
        self._written = b''
        self.code = None

    def wait(self, timeout=None):
        while self.code is None:
            ready, _, _ = select.select([self._status], [], [], timeout)
            if not ready:
                raise TimeoutError(f"the run took longer than {timeout} s")
            chunk = self._status.read(64)
            if chunk:
                self._written += chunk
                continue
            self._status.close()
            written = self._written.strip()
            self.code = int(written) if written.lstrip(b'-').isdigit() else -signal.SIGKILL
        return self.code

    def kill(self):
        """SIGKILL to the run's session, then wait for the run to end."""
        if self.code is None:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except ProcessLookupError:  # gone already
                pass
            self.wait()


# -------------------------------------------------------------------- the server's side

def serve(fd, preload):
    """The server's loop: fork a child for each request, until the client closes fd."""
    for name in preload:
        importlib.import_module(name)
    sock = socket.socket(fileno=fd)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # its children are reaped by the system
    while True:
        try:
            request, fds, _, _ = socket.recv_fds(sock, MAX_REQUEST, 1)
        except OSError:
            break
        if not request:
            break
        pid = os.fork()
        if pid == 0:
            sock.close()
            _child(json.loads(request), fds[0])
        for f in fds:
            os.close(f)
        sock.send(str(pid).encode())


def _child(request, status_fd):
    """A forked child: request's main(args) as a process of its own; never returns."""
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()
        os.chdir(request['cwd'])
        os.environ.clear()
        os.environ.update(request['env'])
        log = os.open(request['log'], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        os.close(null)
        module, _, function = request['main'].partition(':')
        main = getattr(importlib.import_module(module), function)
        sys.argv = [module, *request['args']]  # main() reads them, as a console script does
        try:
            result = main()
            code = result if isinstance(result, int) else 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            if not isinstance(e.code, (int, type(None))):
                print(e.code, file=sys.stderr)
        finally:
            atexit._run_exitfuncs()
    except BaseException:  # noqa: BLE001 - the run's failure, in its log
        import traceback
        traceback.print_exc()
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
            os.write(status_fd, f"{code}\n".encode())
        finally:
            os._exit(code & 0xFF)
