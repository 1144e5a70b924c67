"""Kernels in the sandbox, for nbgrader's autograde: each runs in a copy of the student's
folder, sees nothing else of this machine, imports the public course library, and is over
only when every process of its run is gone (the comment below says how and why).
"""

import asyncio
import atexit
import fnmatch
import os
import shutil
import signal
import stat
import sys
import tempfile
import uuid
from pathlib import Path

from jupyter_client.provisioning import LocalProvisioner

from mgcourse.isolation import own_users, sandbox

from . import forked_kernels
from .kernels import KERNEL_MAIN, KERNEL_OPTIONS, BlockingCourseKernelManager, CourseKernelManager


#
# At autograde, a notebook's kernel runs the student's code: the notebook's cells and the
# package they import. nbgrader runs it in the student's autograded folder, with the rights of
# whoever runs nbgrader, so without more it could rewrite the gradebook, a classmate's
# submission or graded notebooks, or plant a link where nbgrader (root, say) writes next.
# SandboxedKernelManager starts each kernel in the project's sandbox (sandbox.start:
# bubblewrap where it works, a user id of its own as root, limits) instead:
#
# - its current folder is a fresh scratch copy of the notebook's folder (the student's package
#   and any data files, never a notebook, never through or as a symbolic link), so the kernel
#   imports the package and reads its files as before; what it writes there is thrown away
#   (a kernel started without a folder, which nbclient never does, gets an empty one);
# - it may write only that copy, a home folder of its own (matplotlib's and IPython's files)
#   and its IPC folder (the connection file and the sockets it binds); inside bubblewrap it
#   sees the system read-only and nothing else of this machine: not the course folder, the
#   gradebook, a classmate's folder or the autograded folder nbgrader writes the notebook to;
# - it imports mgcourse from a copy of the public course library (student_library.runtime_library);
# - it is interrupted by a message on its control channel (interrupt_mode 'message', which
#   ipykernel handles by sending SIGINT to its own process group): jupyter_client's SIGINT to
#   the provisioner's process would reach bubblewrap, not the kernel;
# - its CPU time is that of every process of its run (Sandboxed.cpu_seconds);
# - it is over only when every process of its run is gone (Sandboxed.kill/wait, which look in
#   /proc), before anything of its folders is touched, and before a new kernel is started.
#
# Where bubblewrap does not work (or MGCOURSE_SANDBOX=off), sandbox.start runs it under the
# limits as a user id of its own when it is root and the interpreter can be reached by other
# users (then it may write only what any user may); otherwise as the grader's own user, as
# before, and the log says so once.

# Backstops only, far above what a notebook may use: a cell's limit is CellLimits.cpu_timeout
# (CPU time) and its wall-clock limits are nbclient's; the kernel ends with its notebook.
KERNEL_LIMITS = sandbox.Limits(cpu_seconds=3600, wall_seconds=None, memory_bytes=4 << 30,
                               processes=256, file_bytes=256 << 20, tmp_bytes=256 << 20,
                               disk_bytes=1 << 30)
# System paths the kernel reads besides the sandbox's own: fontconfig's configuration, which
# graphviz's `dot` reads to draw the expression graphs.
KERNEL_SYSTEM = ('/etc/fonts',)
# What a kernel's folder is not given of the notebook's folder.
NOT_COPIED = ('*.ipynb', '.ipynb_checkpoints', '__pycache__', '*.pyc', '.hypothesis')
# More than this of the notebook's folder is left out, and the log says so.
COPY_LIMIT_BYTES, COPY_LIMIT_ENTRIES = 512 << 20, 20_000
# The variables of the grader's environment a kernel gets (besides those set for it below):
# not the grader's HOME, paths or tokens.
KERNEL_ENV = ('PATH', 'LANG', 'LANGUAGE', 'TZ', 'TERM', 'NBGRADER_EXECUTION', 'PYTHONHASHSEED',
              'PYTHONWARNINGS', 'PYTHONPATH', 'PYDEVD_DISABLE_FILE_VALIDATION',
              'JPY_SESSION_NAME')


def copy_folder(source, dst, log=None):
    """A copy of the folder source at dst (new), for a kernel: folders and regular files only,
    without NOT_COPIED, never following a symbolic link (links are left out, and so is all
    past COPY_LIMIT_BYTES or COPY_LIMIT_ENTRIES, and the folder that holds dst). Returns the
    relative paths left out."""
    source, dst = os.path.realpath(source), Path(dst)
    dst.mkdir(mode=0o700)
    inside = os.path.realpath(dst) + os.sep
    left_out, total, entries = [], 0, 0
    for where, dirs, files in os.walk(source):
        rel = os.path.relpath(where, source)
        target = dst if rel == '.' else dst / rel
        for name in sorted(dirs):
            path = os.path.join(where, name)
            if any(fnmatch.fnmatch(name, p) for p in NOT_COPIED):
                dirs.remove(name)
            elif os.path.islink(path) or inside.startswith(path + os.sep):
                dirs.remove(name)
                left_out.append(os.path.join(rel, name))
            elif entries >= COPY_LIMIT_ENTRIES:
                dirs.remove(name)
                left_out.append(os.path.join(rel, name))
            else:
                entries += 1
                (target / name).mkdir(mode=0o700)
        for name in sorted(files):
            if any(fnmatch.fnmatch(name, p) for p in NOT_COPIED):
                continue
            path = os.path.join(where, name)
            try:
                if not stat.S_ISREG(os.lstat(path).st_mode):
                    raise OSError(f"not a regular file: {path}")
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            except OSError:  # a link, a pipe, or gone
                left_out.append(os.path.join(rel, name))
                continue
            with os.fdopen(fd, 'rb') as f:
                st = os.fstat(f.fileno())
                if (not stat.S_ISREG(st.st_mode) or total + st.st_size > COPY_LIMIT_BYTES
                        or entries >= COPY_LIMIT_ENTRIES):
                    left_out.append(os.path.join(rel, name))
                    continue
                total += st.st_size
                entries += 1
                with open(target / name, 'xb') as out:
                    shutil.copyfileobj(f, out)
                os.chmod(target / name, stat.S_IMODE(st.st_mode) & 0o755 | 0o600)
    if left_out and log is not None:
        log.warning("The kernel's copy of %s leaves out %s%s (symbolic links, what is not a "
                    "file or folder, or what is past %d MiB or %d entries).", source,
                    ', '.join(sorted(left_out)[:10]), ' and more' if len(left_out) > 10 else '',
                    COPY_LIMIT_BYTES >> 20, COPY_LIMIT_ENTRIES)
    return left_out


_RUNTIME = []  # [folder]: the public course library copy of this process's kernels


def runtime_library():
    """The folder whose mgcourse/ the kernels import: a copy of the public course library
    (student_library.runtime_library), made once per process and removed when it exits."""
    if not _RUNTIME:
        from mgcourse.batch import student_library
        folder = Path(tempfile.mkdtemp(prefix='mgk-lib-'))
        student_library.runtime_library(folder)
        atexit.register(shutil.rmtree, folder, True)
        _RUNTIME.append(folder)
    return _RUNTIME[0]


def _matplotlib_font_lists(env):
    """matplotlib's font lists of the grader's own cache (what today's kernel would read), to
    start a kernel's cache with: it then does not search the system's fonts again (0.2 s of
    CPU a notebook that plots)."""
    if env.get('MPLCONFIGDIR'):
        cache = Path(env['MPLCONFIGDIR'])
    else:
        cache = Path(env.get('XDG_CACHE_HOME') or Path.home() / '.cache') / 'matplotlib'
    try:
        return [p for p in cache.glob('fontlist-v*.json')
                if p.is_file() and not p.is_symlink() and p.stat().st_size < 16 << 20]
    except OSError:
        return []


def kernel_environment(env, home, tmp):
    """A sandboxed kernel's environment: KERNEL_ENV of env, a home of its own, matplotlib's
    configuration and cache there, the public course library first on PYTHONPATH, one
    thread per numerical library (threads count as processes for the sandbox's limit)."""
    out = {k: v for k, v in env.items() if k in KERNEL_ENV or k.startswith('LC_')}
    out['PATH'] = out.get('PATH') or os.defpath
    out['PYTHONPATH'] = os.pathsep.join([str(runtime_library())] + (
        [out['PYTHONPATH']] if out.get('PYTHONPATH') else []))
    out.update(HOME=str(home), TMPDIR=str(tmp), MPLCONFIGDIR=str(Path(home) / 'matplotlib'),
               OMP_NUM_THREADS='1', MKL_NUM_THREADS='1', OPENBLAS_NUM_THREADS='1',
               PYDEVD_DISABLE_FILE_VALIDATION='1')
    return out


_SAID = set()  # what this process has said of how its kernels run (each thing once)


def _say_how(log, sb):
    """Once per process: a warning when a kernel is not isolated, and why."""
    if sb.sandboxed:
        return
    reason = sandbox.off_reason()
    if sb.user is not None:
        key = ('own-user', reason)
        text = (f"nbgrader's kernels run without the sandbox ({reason}), each as a user id "
                "of its own: student code can write only what any user may, but can read "
                "what any user may and open network connections.")
    else:
        key = ('unisolated', reason)
        who = 'root' if os.geteuid() == 0 else f'user id {os.geteuid()}'
        why = ''
        if os.geteuid() == 0:
            closed = sorted({str(p) for p in sandbox._python_roots()
                             if not own_users._others_can_reach(p)})
            why = ("; no user id of its own can run it, since this Python's "
                   f"{' and '.join(closed)} cannot be reached by other users" if closed else
                   "; a user id of its own cannot reach its folders")
        text = (f"nbgrader's kernels are NOT isolated: the sandbox is off ({reason}){why}. "
                f"Each kernel runs the student's code as {who}, which can write whatever "
                f"{who} can (the gradebook, other students' folders). Install bubblewrap, or "
                "use a Python other users can reach, to isolate them.")
    if key not in _SAID:
        _SAID.add(key)
        log.warning(text)


class SandboxedProvisioner(LocalProvisioner):
    """jupyter_client's local provisioner, with the kernel started by sandbox.start (see the
    section's comment above). `sandboxed` is the running kernel's Sandboxed."""

    sandboxed = None
    run_folder = None
    survivors = ()

    zygote = None  # the forked_kernels.Zygote reserved for the next kernel, if any

    async def pre_launch(self, **kwargs):
        km = self.parent
        if km._folder is None and km.kernel_spec is not None:  # its folders not made yet
            python = km.kernel_spec.argv[0]
            if python in ('python', f'python{sys.version_info[0]}',
                          'python%d.%d' % sys.version_info[:2]):  # as jupyter_client reads it
                python = sys.executable
            self.zygote = forked_kernels.zygote_for(
                python, kwargs.get('cwd'), readable=[runtime_library()],
                system=KERNEL_SYSTEM, limits=KERNEL_LIMITS,
                environment=lambda home: kernel_environment(dict(os.environ), home, '/tmp'),
                home_files=[(p, Path('matplotlib') / p.name)
                            for p in _matplotlib_font_lists(dict(os.environ))])
            if self.zygote is not None:  # the kernel's folders where the zygote sees them
                km._folder_parent = self.zygote.runs
            elif forked_kernels.FAILED and 'zygote' not in _SAID:
                _SAID.add('zygote')
                self.log.warning("Kernels start each as a Python of its own (slower): the "
                                 "zygote did not start (%s).", forked_kernels.FAILED[0])
        return await super().pre_launch(**kwargs)

    async def launch_kernel(self, cmd, **kwargs):
        self.end_sandbox()  # the one before, if any: over and its folder gone first
        km = self.parent
        zygote, self.zygote = self.zygote, None
        forked = (zygote is not None and cmd[:3] == [zygote.key[0], '-c', KERNEL_MAIN]
                  and Path(km._folder).parent == zygote.runs)
        if zygote is not None and not forked:
            zygote.release()
        if forked:  # folders the zygote's kernels can pass through, but not write
            os.chmod(km._folder, 0o711)
        run, work, home, env = self._run_folder(km, kwargs, mode=0o711 if forked else 0o700)
        self.run_folder = run
        if forked:
            try:
                self.sandboxed = zygote.fork(cmd[3:], work, kernel_environment(env, home, '/tmp'),
                                             run, give=[work, home, km.ipc_folder])
            except (OSError, RuntimeError, ValueError) as e:
                self.log.warning("A kernel could not be forked (%s): it starts by itself.", e)
                zygote.release()
                forked = False
        if not forked:
            in_bwrap = sandbox.bwrap_available()
            self.sandboxed = sandbox.start(
                cmd, workdir=work, readable=[runtime_library()],
                writable=[km.ipc_folder, home], system=KERNEL_SYSTEM, limits=KERNEL_LIMITS,
                env=kernel_environment(env, home, '/tmp' if in_bwrap else home / 'tmp'))
        _say_how(self.log, self.sandboxed)
        self.process = self.sandboxed.process
        self.pid = self.process.pid
        self.pgid = None  # signals go to the kernel's processes, not bubblewrap's group
        self.cwd = str(work)
        return self.connection_info

    def _run_folder(self, km, kwargs, mode):
        """A kernel's run folder in the manager's: (run, work, home, env), work a copy of the
        notebook's folder, home with matplotlib's font lists."""
        run = Path(tempfile.mkdtemp(prefix='run-', dir=km._folder))
        os.chmod(run, mode)
        work, home = run / 'work', run / 'home'
        if kwargs.get('cwd'):  # nbclient's: the notebook's folder
            copy_folder(kwargs['cwd'], work, self.log)
        else:  # not a copy of whatever folder the grader happens to be in
            work.mkdir(mode=0o700)
        home.mkdir(mode=0o700)
        (home / 'tmp').mkdir(mode=0o700)
        (home / 'matplotlib').mkdir(mode=0o700)
        env = kwargs.get('env') or dict(os.environ)
        for lists in _matplotlib_font_lists(env):
            shutil.copyfile(lists, home / 'matplotlib' / lists.name)
        return run, work, home, env

    def cpu_seconds(self):
        """The CPU time of every process of the kernel's run, or None."""
        return self.sandboxed.cpu_seconds() if self.sandboxed is not None else None

    def output(self):
        """What the kernel printed outside the notebook (its stdout and stderr)."""
        return self.sandboxed.output() if self.sandboxed is not None else ''

    async def poll(self):
        if self.process is None:
            return 0
        if self.process.poll() is None:
            return None
        return self.sandboxed.wait()  # ended: what it left running is killed first

    async def wait(self):
        code = 0
        if self.process is not None:
            while await self.poll() is None:
                await asyncio.sleep(0.1)
            code = self.sandboxed.wait()
            self.process = None
        return code

    async def send_signal(self, signum):
        if self.sandboxed is None:
            return
        if signum in (signal.SIGKILL, signal.SIGTERM):
            self.sandboxed.kill()  # the whole run, and only once it is all gone
        elif signum:
            self.sandboxed.signal(signum)

    async def cleanup(self, restart=False):
        await super().cleanup(restart=restart)
        self.end_sandbox()

    def end_sandbox(self):
        """Kill every process of the kernel's run, wait until /proc shows none, then remove
        its run folder (unless something survived the kill, when it is left alone)."""
        if self.sandboxed is None:
            return
        self.sandboxed.kill()
        self.survivors = list(self.sandboxed.survivors)
        if self.survivors:
            self.log.error("Processes %s of a kernel's sandbox outlived its kill: its folder "
                           "%s is left alone.", self.survivors, self.run_folder)
        elif self.run_folder is not None:
            own_users.remove_tree(self.run_folder)
            self.run_folder = None


class _Sandboxed:
    """A manager whose kernels run in the sandbox (SandboxedProvisioner), interrupted by a
    message."""

    @property
    def kernel_spec(self):
        spec = super().kernel_spec
        if spec is not None:
            spec.interrupt_mode = 'message'
        return spec

    def format_kernel_cmd(self, extra_arguments=None):
        cmd = super().format_kernel_cmd(extra_arguments)  # course_kernel_command's
        return cmd + list(KERNEL_OPTIONS) if cmd[1:3] == ['-c', KERNEL_MAIN] else cmd

    async def _async_pre_start_kernel(self, **kw):
        self.kernel_id = self.kernel_id or kw.pop('kernel_id', str(uuid.uuid4()))
        if self.provisioner is None:
            self.provisioner = SandboxedProvisioner(kernel_id=self.kernel_id,
                                                    kernel_spec=self.kernel_spec, parent=self)
        return await super()._async_pre_start_kernel(**kw)


class SandboxedKernelManager(_Sandboxed, CourseKernelManager):
    """CourseKernelManager with its kernels in the sandbox: what nbgrader's autograde uses."""


class BlockingSandboxedKernelManager(_Sandboxed, BlockingCourseKernelManager):
    """The same, blocking."""
