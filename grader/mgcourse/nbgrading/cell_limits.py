"""Running cells: a kernel that died at start is started again, and a cell's limit is CPU
time, with the wall clock as a backstop far above it.
"""

import asyncio

import nbformat
from jupyter_core.utils import ensure_async, run_sync
from nbclient.exceptions import CellExecutionError
from traitlets import default

from mgcourse.isolation.isolated import process_cpu_seconds as cpu_seconds


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
    - Once the notebook has run, its kernel is killed, not asked to shut down (see
      _shutdown_kernel_default).
    """

    cpu_timeout = None
    cpu_poll_seconds = 0.2

    @default('shutdown_kernel')
    def _shutdown_kernel_default(self):
        # Once the last cell has answered, the kernel holds nothing the run keeps: it is killed
        # (its whole sandbox, sandboxed) instead of asked to shut down, which took ipykernel
        # 0.1 to 0.2 s at the end of every notebook.
        return 'immediate'

    def _kernel_cpu(self):
        """A function that reads the CPU time the kernel has used, or None: in the sandbox,
        that of every process of its run (the provisioner's pid is bubblewrap's); else that
        of the kernel's process, with the children it has waited for."""
        provisioner = getattr(self.km, 'provisioner', None)
        reader = getattr(provisioner, 'cpu_seconds', None)
        if reader is not None:
            return reader
        pid = getattr(provisioner, 'pid', None)
        return (lambda: cpu_seconds(pid)) if pid else None

    async def async_start_new_kernel(self, **kwargs):
        self._start_kwargs = kwargs
        return await super().async_start_new_kernel(**kwargs)

    async def async_start_new_kernel_client(self):
        try:
            return await super().async_start_new_kernel_client()
        except RuntimeError as e:
            if 'died before replying' not in str(e):
                raise
            said = getattr(getattr(self.km, 'provisioner', None), 'output', lambda: '')()
            self.log.warning("The kernel died before it answered (%s); starting it once more.%s",
                             e, f" It printed: {said.strip()[-2000:]}" if said.strip() else '')
            self.restarted_kernels = getattr(self, 'restarted_kernels', 0) + 1
            if self.km is None:
                self.km = self.create_kernel_manager()
            await super().async_start_new_kernel(**getattr(self, '_start_kwargs', {}))
            return await super().async_start_new_kernel_client()

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        read = self._kernel_cpu()
        start = read() if read is not None else None
        if start is None or cell.cell_type != 'code':
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        stopped = []

        async def watch():
            while self.cpu_timeout:
                await asyncio.sleep(self.cpu_poll_seconds)
                used = read()
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
            used = read()
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
