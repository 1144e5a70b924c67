"""The lecture notebooks: the source versions with solutions, and the students' versions.

grader/nbgrader/source/micrograd/*.ipynb are the source notebooks: one per part of the
lecture, with every answer written in, executed against the reference solutions, outputs
saved. A student's exercise is a code cell holding a solution region, as in the package:

    ### BEGIN SOLUTION
    # exercise ID (hh:mm:ss): what to compute
    # a paragraph explaining it, kept in the student's version
    ...the answer...
    ### END SOLUTION

or a cell calling `check('CHECKPOINT')`, which grades a part of the package the student
writes in micrograd_skeleton/. The students' versions in exercises/ are nbgrader's release of
these sources (see nbgrade.py and nbgrader_plugins.py).

`execute()` runs a notebook in a real kernel in which `import micrograd_skeleton` finds any
implementation folder (the solutions, the skeleton, a student's copy); `execute_sources()`
re-runs the source notebooks against the solutions and saves them, which is how their
outputs are made.
"""

import copy
import os
import re
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat

from mgcourse import paths

from . import skeleton

SOURCE = paths.ROOT / 'grader/nbgrader/source/micrograd'
RELEASE = paths.ROOT / 'exercises'
KERNEL = 'python3'
PACKAGE = 'micrograd_skeleton'

# The notebook metadata every saved notebook gets: nothing that depends on the machine or on
# the run (the kernel reports its Python version; that is dropped).
METADATA = {
    'kernelspec': {'display_name': 'Python 3 (ipykernel)', 'language': 'python', 'name': KERNEL},
    'language_info': {
        'codemirror_mode': {'name': 'ipython', 'version': 3},
        'file_extension': '.py',
        'mimetype': 'text/x-python',
        'name': 'python',
        'nbconvert_exporter': 'python',
        'pygments_lexer': 'ipython3',
    },
}
# The cell metadata that is kept; the rest (timings, scroll state) is dropped.
CELL_METADATA = ('tags', 'nbgrader')

CHECK_CALL = re.compile(r"""^\s*check\(\s*['"](\w+)['"]""", re.M)
ADDRESS = re.compile(r' at 0x[0-9a-fA-F]+')
GRAPH_ID = re.compile(r'(?<![\d.])\d{9,}(?![\d.])')  # draw_dot names nodes by id()


class NotebookFailed(RuntimeError):
    """A cell raised. `nb` is the notebook as far as it ran, `index` the failing cell."""

    def __init__(self, name, nb, index, ename, evalue, traceback):
        self.name, self.nb, self.index = name, nb, index
        self.ename, self.evalue, self.traceback = ename, evalue, traceback
        super().__init__(f"{name}: cell {index} raised {ename}: {evalue}")


# ---------------------------------------------------------------------------------------------
# Reading the exercises out of a notebook
# ---------------------------------------------------------------------------------------------

def has_solution(cell):
    """Whether a cell holds a solution region."""
    return cell.cell_type == 'code' and any(
        line.strip() == skeleton.BEGIN for line in cell.source.splitlines())


def exercises(nb):
    """[(cell index, kind, id)] of every exercise: kind 'exercise' (a solution region in the
    notebook) or 'checkpoint' (a check() of the package), in notebook order."""
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != 'code':
            continue
        lines = cell.source.splitlines()
        for j, line in enumerate(lines[:-1]):
            if line.strip() == skeleton.BEGIN:
                first = lines[j + 1].strip()
                m = skeleton.EXERCISE_LINE.match(first) or skeleton.CHECKPOINT_LINE.match(first)
                kind = 'exercise' if first.lstrip('# ').startswith('exercise') else 'checkpoint'
                found.append((i, kind, m.group(1) if m else None))
        for cp in CHECK_CALL.findall(cell.source):
            found.append((i, 'checkpoint', cp))
    return found


def first_exercise(nb):
    """The index of the first exercise cell, or None when the notebook has none."""
    found = exercises(nb)
    return found[0][0] if found else None


def solution_lines(nb):
    """The code lines of the notebook's solution regions that the notebook gives nowhere else."""
    return skeleton.solution_lines(cell.source for cell in nb.cells if cell.cell_type == 'code')


def _tidy(nb):
    """The same notebook with stable metadata (in place)."""
    nb.metadata = copy.deepcopy(METADATA)
    for cell in nb.cells:
        cell.metadata = {k: v for k, v in cell.metadata.items() if k in CELL_METADATA}
    return nb


def _text(nb):
    return nbformat.writes(nb) + '\n'


# ---------------------------------------------------------------------------------------------
# Running notebooks
# ---------------------------------------------------------------------------------------------

def kernel_env(folder):
    """The kernel's environment: this one, with `folder` first on PYTHONPATH."""
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join([str(folder)] + (
        [env['PYTHONPATH']] if env.get('PYTHONPATH') else []))
    env.pop('MPLBACKEND', None)                 # the kernel's inline backend draws the plots
    env['PYDEVD_DISABLE_FILE_VALIDATION'] = '1'  # quiets the debugger's frozen-modules warning
    # hypothesis (the more_ops check) caches in ./.hypothesis: keep it out of the notebook's folder
    env.setdefault('HYPOTHESIS_STORAGE_DIRECTORY', str(Path(folder) / '.hypothesis'))
    return env


def _client_class():
    from nbclient import NotebookClient

    from mgcourse.nbgrading.cell_limits import CellLimits

    class Client(CellLimits, NotebookClient):
        """nbclient's runner with the course's kernels and limits (see kernels.py)."""

    return Client


def execute(path_or_nb, impl_folder, timeout=600, cwd=None, cpu_timeout=60, on_client=None):
    """Run a notebook top to bottom in a fresh kernel where `import micrograd_skeleton` imports
    the package in impl_folder. Returns the executed notebook (a new object); raises
    NotebookFailed, with the notebook as far as it ran, when a cell raises.

    A cell may use cpu_timeout seconds of CPU time; `timeout` is a wall-time backstop, far
    above it, so a busy machine does not fail a correct notebook. The kernel runs in the
    notebook's own folder (cwd, for a notebook object; by default a scratch folder).
    """
    from nbclient.exceptions import CellExecutionError

    from mgcourse.nbgrading.kernels import CourseKernelManager

    if isinstance(path_or_nb, (str, os.PathLike)):
        path = Path(path_or_nb)
        nb, name = nbformat.read(path, as_version=4), path.name
        cwd = cwd or path.parent
    else:
        nb, name = copy.deepcopy(path_or_nb), '<notebook>'
    impl_folder = Path(impl_folder).resolve()
    with tempfile.TemporaryDirectory(prefix='mgcourse-kernel-') as tmp:
        # The package is found as `micrograd_skeleton` whatever the folder is called.
        (Path(tmp) / PACKAGE).symlink_to(impl_folder, target_is_directory=True)
        client = _client_class()(nb, timeout=timeout, kernel_name=KERNEL, record_timing=False,
                                 kernel_manager_class=CourseKernelManager,
                                 resources={'metadata': {'path': str(cwd or tmp)}})
        client.cpu_timeout = cpu_timeout
        if on_client:
            on_client(client)
        try:
            client.execute(env=kernel_env(tmp))
        except CellExecutionError as e:
            index = next((i for i, cell in enumerate(nb.cells) if cell.cell_type == 'code' and
                          any(o.output_type == 'error' for o in cell.outputs)), None)
            raise NotebookFailed(name, nb, index, e.ename, e.evalue, e.traceback) from None
    return nb


def cell_cpu(path, impl_folder):
    """{cell index: CPU seconds its kernel used} of a run of the notebook at path."""
    clients = []
    execute(path, impl_folder, on_client=clients.append)
    return dict(getattr(clients[0], 'cell_cpu', {}))


def stabilise(nb):
    """Make a run's outputs repeatable (in place): graphviz node names and object addresses are
    run-dependent numbers (draw_dot names nodes by id()), so number the names in order of
    appearance and drop the addresses; a cell's consecutive prints, which arrive in as many
    pieces as the timing makes, become one output."""
    for cell in nb.cells:
        outputs = []
        for output in cell.get('outputs', []):
            data = output.get('data', {})
            if 'image/svg+xml' in data:
                names = {}
                data['image/svg+xml'] = GRAPH_ID.sub(
                    lambda m: names.setdefault(m.group(0), f'v{len(names) + 1}'),
                    data['image/svg+xml'])
            if 'text/plain' in data:
                data['text/plain'] = ADDRESS.sub('', data['text/plain'])
            if (output.output_type == 'stream' and outputs and outputs[-1].output_type == 'stream'
                    and outputs[-1].name == output.name):
                outputs[-1].text += output.text
            else:
                outputs.append(output)
        if cell.cell_type == 'code':
            cell.outputs = outputs
    return _tidy(nb)


def execute_sources(src=SOURCE, impl=paths.SOLUTIONS, workers=2, timeout=600):
    """Re-run every source notebook against the reference and save it with its outputs.
    Returns {name: seconds it took}. Where either folder is missing (the student release has
    neither) it raises FileNotFoundError before anything is run or written."""
    for folder in (Path(src), Path(impl)):
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder} not found: the notebooks are made from it")

    def run(path):
        start = time.perf_counter()
        nb = stabilise(execute(path, impl, timeout=timeout))
        skeleton.write_atomic(path, _text(nb))
        return path.name, time.perf_counter() - start

    with ThreadPoolExecutor(workers) as pool:
        return dict(pool.map(run, sorted(Path(src).glob('*.ipynb'))))
