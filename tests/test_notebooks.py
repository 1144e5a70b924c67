"""The lecture notebooks run, draw their pictures, and reach students without their answers.

Every source notebook (grader/nbgrader/source/micrograd/) runs top to bottom in a real kernel
against the reference solutions, with the real `dot`; every released notebook (exercises/) run
against the untouched skeleton stops at its first exercise, with an error that names it. Each
notebook is executed once for the whole module (two kernels at a time).
"""

import re
from concurrent.futures import ThreadPoolExecutor

import nbformat
import pytest

from mgcourse import paths
from mgcourse.handout import notebooks, skeleton

pytest.importorskip('nbclient')

NAMES = [
    '01_derivatives.ipynb',
    '02_value_and_graph.ipynb',
    '03_backprop_by_hand.ipynb',
    '04_backward.ipynb',
    '05_more_ops_and_pytorch.ipynb',
    '06_mlp_and_training.ipynb',
    '07_challenge.ipynb',
]
SVG, PNG = 'image/svg+xml', 'image/png'
TIME = re.compile(r'\b\d\d:\d\d:\d\d\b')


def read(folder, name):
    return nbformat.read(folder / name, as_version=4)


def code_cells(nb):
    return [(i, cell) for i, cell in enumerate(nb.cells) if cell.cell_type == 'code']


def mime_types(nb):
    return {mime for _, cell in code_cells(nb) for output in cell.outputs
            for mime in output.get('data', {})}


def wanted_pictures(nb):
    """The picture types a notebook must show: graphs where it calls draw_dot, plots where it plots."""
    source = '\n'.join(cell.source for _, cell in code_cells(nb))
    return ({SVG} if 'draw_dot(' in source else set()) | ({PNG} if 'plt.' in source else set())


def _run(path, impl):
    """The executed notebook, or the exception that stopped it (each cell has a time limit)."""
    try:
        return notebooks.execute(path, impl)
    except Exception as e:  # noqa: BLE001 - NotebookFailed is what the release tests expect
        return e


@pytest.fixture(scope='module')
def runs():
    """{('source' or 'release', name): the executed notebook or the exception}.

    The sources run against the solutions, the released notebooks against the skeleton; the
    slowest notebook goes first so that the two kernels finish together.
    """
    jobs = [(('source', name), notebooks.SOURCE / name, paths.SOLUTIONS) for name in reversed(NAMES)]
    jobs += [(('release', name), notebooks.RELEASE / name, paths.SKELETON) for name in NAMES]
    with ThreadPoolExecutor(2) as pool:
        futures = {key: pool.submit(_run, path, impl) for key, path, impl in jobs}
        return {key: future.result() for key, future in futures.items()}


# ---------------------------------------------------------------------------------------------
# The saved notebooks
# ---------------------------------------------------------------------------------------------

def test_one_notebook_per_part_of_the_lecture_in_order():
    assert sorted(p.name for p in notebooks.SOURCE.glob('*.ipynb')) == NAMES
    first_times = []
    for name in NAMES:
        intro = read(notebooks.SOURCE, name).cells[0]
        assert intro.cell_type == 'markdown', name
        times = TIME.findall(intro.source)
        assert times, f"{name} should open by naming its lecture chapters with their times"
        first_times.append(min(times))
    # notebook 7 revisits an earlier chapter for its softmax exercise; 1 to 6 follow the video
    assert first_times[:6] == sorted(first_times[:6])


@pytest.mark.parametrize('name', NAMES)
def test_each_notebook_starts_with_autoreload_and_the_imports(name):
    nb = read(notebooks.SOURCE, name)
    (_, first), (_, second) = code_cells(nb)[:2]
    assert first.source.split('\n') == ['%load_ext autoreload', '%autoreload 2']
    assert 'from micrograd_skeleton import ' in second.source
    assert 'from mgcourse.student.notebook import check' in second.source


@pytest.mark.parametrize('name', NAMES)
def test_the_saved_sources_are_executed_with_their_pictures(name):
    nb = read(notebooks.SOURCE, name)
    counts = [cell.execution_count for _, cell in code_cells(nb)]
    assert counts == list(range(1, len(counts) + 1)), "saved from one run, top to bottom"
    assert not any(output.output_type == 'error' for _, cell in code_cells(nb) for output in cell.outputs)
    pictures = wanted_pictures(nb)
    assert pictures, f"{name} shows neither a graph nor a plot"
    assert pictures <= mime_types(nb), f"{name}: missing {pictures - mime_types(nb)} in the outputs"


@pytest.mark.parametrize('name', NAMES)
def test_every_notebook_has_exercises_with_known_ids(name):
    found = notebooks.exercises(read(notebooks.SOURCE, name))
    assert found, f"{name} has no exercise"
    for index, kind, ex_id in found:
        assert ex_id, f"{name}, cell {index}: a solution region must name its exercise"
        if kind == 'exercise':
            region = read(notebooks.SOURCE, name).cells[index].source
            assert re.search(rf'# exercise {ex_id} \(\d\d:\d\d:\d\d\): ', region)


@pytest.mark.parametrize('name', NAMES)
def test_the_release_has_no_solution_text(name):
    source = read(notebooks.SOURCE, name)
    released = read(notebooks.RELEASE, name)
    answers = notebooks.solution_lines(source)
    if any(kind == 'exercise' for _, kind, _ in notebooks.exercises(source)):
        assert answers, f"{name}: no solution lines found"
    text = nbformat.writes(released)
    assert skeleton.BEGIN not in text and skeleton.END not in text
    lines = {line.strip() for _, cell in code_cells(released) for line in cell.source.splitlines()}
    assert not answers & lines, f"{name} gives away: {sorted(answers & lines)}"
    for _, kind, ex_id in notebooks.exercises(source):
        if kind == 'exercise':
            assert f'# TODO (exercise {ex_id}): ' in text
            assert f"'exercise {ex_id} (" in text


# ---------------------------------------------------------------------------------------------
# Running them
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize('name', NAMES)
def test_the_source_runs_against_the_solutions(runs, name):
    result = runs['source', name]
    if isinstance(result, notebooks.NotebookFailed):
        pytest.fail(f"{result}\n{result.traceback}")
    assert not isinstance(result, Exception), repr(result)
    pictures = wanted_pictures(result)
    assert pictures <= mime_types(result), f"{name}: no {pictures - mime_types(result)} in the outputs"


@pytest.mark.parametrize('name', NAMES)
def test_the_release_stops_at_its_first_exercise_on_the_skeleton(runs, name):
    released = read(notebooks.RELEASE, name)
    result = runs['release', name]
    assert isinstance(result, notebooks.NotebookFailed), (
        f"{name} should fail on the untouched skeleton; got {result!r}")
    imports = next(i for i, cell in code_cells(released)
                   if 'from mgcourse.student.notebook import check' in cell.source)
    # the stubs have no solution region left: the exercises are read from the source notebook
    first, kind, ex_id = notebooks.exercises(read(notebooks.SOURCE, name))[0]
    assert result.index > imports, f"{name} failed at cell {result.index}, an import cell"
    assert result.index == first, (
        f"{name} should fail at its first exercise (cell {first}), not at cell {result.index}: "
        f"{result.ename}: {result.evalue}")
    assert f'{kind} {ex_id}' in result.evalue, (
        f"the error should name {kind} {ex_id}: {result.ename}: {result.evalue}")


# ---------------------------------------------------------------------------------------------
# The library, on small made-up notebooks
# ---------------------------------------------------------------------------------------------

def tiny_notebook():
    nb = nbformat.v4.new_notebook()
    cells = [
        nbformat.v4.new_code_cell('x = 1'),
        nbformat.v4.new_code_cell(
            "y = 2\n### BEGIN SOLUTION\n# exercise double (00:08:08): double y.\n"
            "# Multiply it by two.\nz = 2 * y\n### END SOLUTION\nprint(z)"),
        nbformat.v4.new_code_cell("check('mlp')"),
        nbformat.v4.new_markdown_cell('text'),
    ]
    for i, cell in enumerate(cells):
        cell['id'] = f'c{i}'
        if cell.cell_type == 'code':
            cell.execution_count = i + 1
            cell.outputs = [nbformat.v4.new_output('stream', text=f'out {i}\n')]
            cell.metadata['execution'] = {'shell.execute_reply': '2026-01-01T00:00:00Z'}
    nb.cells = cells
    nb.metadata['language_info'] = {'name': 'python', 'version': '3.11.7'}
    return nb


