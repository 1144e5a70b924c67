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
import os
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

from .limits import Limits, _launcher
from .own_users import (_interpreter_reachable, _open_temporary_ancestors, _others_can_pass,
                        _python_roots, _run_as_own_user, _tasks_of)
from .sandboxed import _bwrap_path, _popen


SANDBOX_OFF_MESSAGE = (
    "the sandbox is off (bubblewrap, `bwrap`, is not installed or does not work here): student "
    "code runs with limits on CPU time, memory, file size, output, wall time and (where the "
    "system allows) processes, but can read the file system and open network connections")

ENV_SWITCH = 'MGCOURSE_SANDBOX'  # 'off' forces the sandbox off
MARKER = 'MGCOURSE_SANDBOX_RUN'  # without bubblewrap: in the environment of every run's process


# The /etc files the dynamic loader and Python may read.
_ETC = ('ld.so.cache', 'ld.so.conf', 'ld.so.conf.d', 'localtime', 'nsswitch.conf',
        'passwd', 'group')


# --- where we are -------------------------------------------------------------------------

def _root_of_this_machine():
    """Root in the initial user namespace: may switch to any user id."""
    if os.geteuid() != 0:
        return False
    try:
        return Path('/proc/self/uid_map').read_text().split() == ['0', '0', '4294967295']
    except OSError:
        return False


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


def _bwrap_mounts(workdir, readable, limits, writable=(), system=(), shared=()):
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
    binds += [(p, '--bind') for p in [workdir, *writable, *shared]]
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
                 system=(), shared=()):
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
    args += _bwrap_mounts(workdir, readable, limits, writable, system, shared)
    args += ['--chdir', str(workdir), '--']
    return _popen(lambda lifeline: args + _launcher(limits, nproc, user, lifeline) + argv,
                  workdir=workdir, env=env, pass_fds=pass_fds,
                  sandboxed=True, limits=limits, user=user, marker=marker, writable=writable)


def _start_plain(argv, *, workdir, readable, env, limits, pass_fds, writable=(), system=(),
                 shared=()):
    user, marker, limited = None, None, True
    if _root_of_this_machine() and _interpreter_reachable(argv[0], env):
        for path in [*readable, workdir, *writable, *shared]:
            _open_temporary_ancestors(path)
        if all(_others_can_pass(p.parent) for p in [*readable, workdir, *writable, *shared]):
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
          system=(), shared=()):
    """Start argv in the sandbox (or, when it is off, under the limits alone), in workdir.

    readable: files and folders it may read, seen at their own (resolved) paths.
    writable: folders besides workdir it may write, seen at their own (resolved) paths; like
      workdir, scratch folders of the caller's, given to the run's own user when there is one.
    system: paths of this machine it may read as they are (no permission is changed), such
      as /etc/fonts; those that do not exist are left out.
    shared: folders of the caller's it sees read-write at their own paths with their
      permissions as they are (not given to its user): what it may write there is what the
      caller later gives it, such as a folder made for each kernel a zygote forks.
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
    shared = [Path(os.path.realpath(p)) for p in shared]
    for p in shared:
        if not p.is_dir():
            raise FileNotFoundError(f"no folder {p}")
    env = {'PATH': os.defpath} if env is None else dict(env)
    options = dict(workdir=workdir, readable=readable, env=env, limits=limits,
                   pass_fds=tuple(pass_fds), writable=writable, system=system, shared=shared)
    if bwrap_available():
        return _start_bwrap(_bwrap_path(), list(argv), **options)
    return _start_plain(list(argv), **options)
