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
notebooks.execute, nbgrader's autograde (nbgrader_plugins.ExecuteWithinBudget) and
bench/kernel_stress.py use it. `CellLimits` is what both notebook runners add to nbclient: a
kernel that died before answering is started once more, and a cell's limit is CPU time.
"""

import asyncio
import shutil
import tempfile
from pathlib import Path

import nbformat
from jupyter_client.manager import AsyncKernelManager, KernelManager
from jupyter_core.utils import ensure_async, run_sync
from nbclient.exceptions import CellExecutionError
from traitlets import default

from .isolated import process_cpu_seconds as cpu_seconds  # the kernel's CPU time, from /proc

TRANSPORT = 'ipc'


class _OwnFolder:
    """A connection file in a fresh folder of its own (short, so that the socket paths stay
    far under the system's 108-character limit), removed with the kernel's other files."""

    _folder = None

    @default('transport')
    def _transport_default(self):
        return TRANSPORT

    @default('connection_file')
    def _connection_file_default(self):
        self._folder = tempfile.mkdtemp(prefix='mgk-')
        return str(Path(self._folder) / 'kernel.json')

    async def _async_cleanup_resources(self, restart=False):
        # what shutting a kernel down calls, blocking manager or not
        await super()._async_cleanup_resources(restart=restart)
        if not restart and self._folder:
            shutil.rmtree(self._folder, ignore_errors=True)


class CourseKernelManager(_OwnFolder, AsyncKernelManager):
    """The asynchronous manager nbclient (and so nbgrader) uses, over IPC in its own folder."""


class BlockingCourseKernelManager(_OwnFolder, KernelManager):
    """The same, blocking: for scripts that drive a kernel directly."""


def start_kernel(kernel_name='python3', transport=TRANSPORT, startup_timeout=60, **kwargs):
    """(manager, client) of a started kernel that has answered kernel_info; raises when it
    does not answer within startup_timeout seconds."""
    km = BlockingCourseKernelManager(kernel_name=kernel_name, transport=transport)
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


# ---------------------------------------------------------------------------------------------
# Running cells: a kernel that died at start is started again; a cell's limit is CPU time
# ---------------------------------------------------------------------------------------------

CPU_LIMIT_ENAME = 'CellCPUTimeExceeded'
WALL_LIMIT_ENAME = 'CellTimeoutError'  # nbgrader's error_on_timeout, and nbclient's exception


def cpu_limit_message(limit):
    return (f"this cell used more than {limit:g} s of CPU time and was stopped: an endless "
            "loop, or far more work than the exercise needs?")


class CellLimits:
    """A mixin for nbclient's NotebookClient (and so nbconvert's and nbgrader's Execute).

    - A kernel that dies before it answers kernel_info has run nothing of the notebook; it is
      started once more before the run fails (`restarted_kernels` counts it).
    - `cpu_timeout` (seconds, None for none): a cell whose kernel uses more CPU time than this
      is interrupted, and its error says so (ename CellCPUTimeExceeded). CPU time does not grow
      when the machine is busy, so this is the limit meant for endless loops; the wall-time
      `timeout` is only a backstop, set far above it.
    """

    cpu_timeout = None
    cpu_poll_seconds = 0.2

    def _kernel_pid(self):
        provisioner = getattr(self.km, 'provisioner', None)
        return getattr(provisioner, 'pid', None)

    async def async_start_new_kernel(self, **kwargs):
        self._start_kwargs = kwargs
        return await super().async_start_new_kernel(**kwargs)

    async def async_start_new_kernel_client(self):
        try:
            return await super().async_start_new_kernel_client()
        except RuntimeError as e:
            if 'died before replying' not in str(e):
                raise
            self.log.warning("The kernel died before it answered (%s); starting it once more.", e)
            self.restarted_kernels = getattr(self, 'restarted_kernels', 0) + 1
            if self.km is None:
                self.km = self.create_kernel_manager()
            await super().async_start_new_kernel(**getattr(self, '_start_kwargs', {}))
            return await super().async_start_new_kernel_client()

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        pid = self._kernel_pid()
        start = cpu_seconds(pid) if pid else None
        if start is None or cell.cell_type != 'code':
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        stopped = []

        async def watch():
            while self.cpu_timeout:
                await asyncio.sleep(self.cpu_poll_seconds)
                used = cpu_seconds(pid)
                if used is not None and used - start > self.cpu_timeout:
                    stopped.append(used - start)
                    await ensure_async(self.km.interrupt_kernel())
                    return

        watcher = asyncio.ensure_future(watch())
        try:
            result = await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        except CellExecutionError:  # a runner that stops at the first error (allow_errors off)
            if not stopped:
                raise
            self._mark_cpu_stop(cell)
            message = cpu_limit_message(self.cpu_timeout)
            raise CellExecutionError(f"{CPU_LIMIT_ENAME}: {message}", CPU_LIMIT_ENAME,
                                     message) from None
        finally:
            watcher.cancel()
            used = cpu_seconds(pid)
            if used is not None:  # what each cell cost: bench/autograde.py reports it
                self.cell_cpu = {**getattr(self, 'cell_cpu', {}), cell_index: used - start}
        if stopped:
            self._mark_cpu_stop(cell)
        return result

    def _mark_cpu_stop(self, cell):
        """The interrupted cell's error says why it was stopped (instead of KeyboardInterrupt)."""
        message = cpu_limit_message(self.cpu_timeout)
        errors = [o for o in cell.get('outputs', []) if o.get('output_type') == 'error']
        if not errors:
            errors = [nbformat.v4.new_output('error', ename='', evalue='', traceback=[])]
            cell.outputs.append(errors[0])
        for o in errors:
            o.ename, o.evalue, o.traceback = CPU_LIMIT_ENAME, message, [f"{CPU_LIMIT_ENAME}: {message}"]

    start_new_kernel = run_sync(async_start_new_kernel)
    start_new_kernel_client = run_sync(async_start_new_kernel_client)
    execute_cell = run_sync(async_execute_cell)


def wall_stopped_cells(nb):
    """Indices of the cells that a wall-time limit stopped."""
    return [i for i, cell in enumerate(nb.cells) if cell.cell_type == 'code' and any(
        o.get('output_type') == 'error' and o.get('ename') == WALL_LIMIT_ENAME
        for o in cell.get('outputs', []))]
