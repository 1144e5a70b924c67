"""Jupyter kernels that start every time, however many start at once.

jupyter_client's default transport is TCP on loopback, and it chooses a kernel's five ports by
binding port 0, reading the number the system gave and closing the socket; the kernel binds
them a moment later. Between the two, another kernel starting at the same time (a thread of
this process, a pytest-xdist worker, a parallel `mgcourse autograde`) can be given the same
number, and one of the two kernels dies before it answers `kernel_info`. Over IPC (Unix domain
sockets) there is nothing to choose: each kernel gets socket files named after its own
connection file, in a folder of its own, and nothing else can take them. Only processes of this
machine can reach them, which is also why ipykernel's warning about unencrypted TCP does not
apply.

`CourseKernelManager` is jupyter_client's kernel manager with that transport and folder;
notebooks.execute and bench/kernel_stress.py use it. `SandboxedKernelManager`, the one
nbgrader's autograde uses (nbgrader_plugins.ExecuteWithinBudget), also starts the kernel in
the sandbox (sandboxed_kernels.py). `CellLimits` (cell_limits.py) is what both notebook runners
add to nbclient: a kernel that died before answering is started once more, and a cell's limit
is CPU time.
"""

import tempfile
import time
from pathlib import Path
from queue import Empty

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.blocking import BlockingKernelClient
from jupyter_client.manager import AsyncKernelManager, KernelManager
from jupyter_core.utils import ensure_async, run_sync
from traitlets import Type, default

from mgcourse.isolation import own_users


TRANSPORT = 'ipc'


class _ReadyAtOnce:
    """A kernel client whose wait_for_ready returns once the kernel has answered kernel_info
    and a message has come over IOPub (so that channel is connected), without idling.

    jupyter_client's (8.x) then reads IOPub until it has been quiet for 0.2 s, at every kernel
    start: 1.4 s of waiting in a student's autograde of seven notebooks, which on the serial
    path of a class adds up. Nothing here needs that quiet: nbclient, and execute_interactive,
    take only the IOPub messages of the request they sent. What is already queued is dropped."""

    async def _async_wait_for_ready(self, timeout=None):
        deadline = time.monotonic() + (timeout if timeout is not None else float('inf'))
        while True:
            self.kernel_info()
            try:
                reply = await ensure_async(self.shell_channel.get_msg(timeout=1))
            except Empty:
                reply = None
            if reply is not None and reply['msg_type'] == 'kernel_info_reply':
                try:
                    await ensure_async(self.iopub_channel.get_msg(timeout=0.2))
                except Empty:  # IOPub not connected yet: ask again
                    pass
                else:
                    self._handle_kernel_info_reply(reply)
                    break
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:g} seconds")
        while await ensure_async(self.iopub_channel.msg_ready()):
            await ensure_async(self.iopub_channel.get_msg(timeout=0))


class CourseKernelClient(_ReadyAtOnce, AsyncKernelClient):
    """The asynchronous client (nbclient's), ready at once."""

    wait_for_ready = _ReadyAtOnce._async_wait_for_ready  # jupyter_client binds its own here


class BlockingCourseKernelClient(_ReadyAtOnce, BlockingKernelClient):
    """The blocking client, ready at once."""

    wait_for_ready = run_sync(_ReadyAtOnce._async_wait_for_ready)


class _OwnFolder:
    """A connection file in a fresh folder of its own (short, so that the socket paths stay
    far under the system's 108-character limit), removed with the kernel's other files.

    The folder, mgk-XXXXXXXX in the temporary folder, holds ipc/ (the connection file and the
    kernel's sockets) and, for a sandboxed kernel, the run folders of its kernels."""

    _folder = None
    _folder_parent = None  # where the folder is made (None: the temporary folder)

    @default('transport')
    def _transport_default(self):
        return TRANSPORT

    @default('connection_file')
    def _connection_file_default(self):
        self._folder = tempfile.mkdtemp(prefix='mgk-', dir=self._folder_parent)
        ipc = Path(self._folder) / 'ipc'
        ipc.mkdir(mode=0o700)
        return str(ipc / 'kernel.json')

    @property
    def ipc_folder(self):
        return Path(self.connection_file).parent

    def format_kernel_cmd(self, extra_arguments=None):
        return course_kernel_command(super().format_kernel_cmd(extra_arguments))

    async def _async_cleanup_resources(self, restart=False):
        # what shutting a kernel down calls, blocking manager or not
        end = getattr(self.provisioner, 'end_sandbox', None)
        if end is not None:  # every process of the kernel gone before its folders are touched
            end()
        await super()._async_cleanup_resources(restart=restart)
        if not restart and self._folder and not getattr(self.provisioner, 'survivors', None):
            own_users.remove_tree(self._folder)


class CourseKernelManager(_OwnFolder, AsyncKernelManager):
    """The asynchronous manager nbclient uses, over IPC in its own folder."""

    client_factory = Type(klass=CourseKernelClient, config=True)

    async def cleanup_resources(self, restart=False):
        # jupyter_client binds this name to its own _async_cleanup_resources, which nbclient
        # calls for a kernel that died: the folder would stay behind
        await self._async_cleanup_resources(restart=restart)


class BlockingCourseKernelManager(_OwnFolder, KernelManager):
    """The same, blocking: for scripts that drive a kernel directly."""

    client_factory = Type(klass=BlockingCourseKernelClient, config=True)

    def cleanup_resources(self, restart=False):
        run_sync(self._async_cleanup_resources)(restart=restart)


def start_kernel(kernel_name='python3', transport=TRANSPORT, startup_timeout=60,
                 sandboxed=False, **kwargs):
    """(manager, client) of a started kernel that has answered kernel_info; raises when it
    does not answer within startup_timeout seconds. sandboxed: in the sandbox, as nbgrader's
    autograde starts its kernels (BlockingSandboxedKernelManager)."""
    # The sandboxed managers build on this module's, so they are imported only here.
    from .sandboxed_kernels import BlockingSandboxedKernelManager
    manager = BlockingSandboxedKernelManager if sandboxed else BlockingCourseKernelManager
    km = manager(kernel_name=kernel_name, transport=transport)
    km.start_kernel(**kwargs)
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=startup_timeout)
    except BaseException:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        raise
    return km, kc


# What the course's kernels run in place of `python -m ipykernel_launcher`: the same, without
# a debugger. ipykernel imports debugpy and sets up its debugger at every start, 0.2 s of CPU
# of a kernel's 0.7, for a tool nobody uses in a notebook the course runs by itself (grading,
# building the notebooks, the tests); it starts without one when debugpy cannot be imported,
# which a None in sys.modules makes so. The student's own Jupyter is not touched.
KERNEL_MAIN = ("import runpy, sys; sys.modules['debugpy'] = None; "
               "runpy.run_module('ipykernel_launcher', run_name='__main__', alter_sys=True)")
# A grading kernel's (_Sandboxed) tracebacks are in IPython's Plain mode: each frame's file,
# line and code, as Python prints them. Its default mode (Context) formats each traceback with
# stack_data and pygments: 0.3 s of CPU for ten failing cells, which an unfinished hand-in has
# in every notebook. (The notebooks the course builds keep the default: their outputs are
# saved.)
KERNEL_OPTIONS = ('--InteractiveShell.xmode=Plain',)


def course_kernel_command(cmd):
    """The kernel command of a kernel spec, as the course's kernels run it (KERNEL_MAIN); any
    command but ipykernel's as it is."""
    cmd = list(cmd)
    if cmd[1:3] != ['-m', 'ipykernel_launcher']:
        return cmd
    return [cmd[0], '-c', KERNEL_MAIN, *cmd[3:]]
