"""The nbgrader course round trip, with the real nbgrader, in a scratch copy of grader/nbgrader/.

generate_assignment; the sample class (nbgrade.SAMPLE_CLASS: correct, partial, empty and
endless submissions, see nbgrader_class.py); nbgrader's own serial autograde; export to CSV;
generate_feedback. Then: the release is exercises/ and carries the skeleton, never a solution or
hidden-test line; the gradebook and the CSV have the exact scores; the endless loop cost its cell
only; feedback names the hidden test, its points and its message, never its source or traceback.
Then a student who attacks the grader from the kernel is autograded in the graded class, and
can write nothing outside the kernel's scratch folder (nbgrader_class.attack).
test_nbautograde.py grades the same class in parallel and must find the same scores.
"""

import csv
import html
import re
import time

import nbformat
import pytest

import nbgrader_class
from mgcourse import paths
from mgcourse.handout import notebooks, skeleton
from mgcourse.isolation import sandbox
from mgcourse.nbgrading import nbautograde, nbgrade
from nbgrader_class import CELL_CPU

pytest.importorskip('nbgrader')
pytest.importorskip('nbclient')

from mgcourse.nbgrading import nbgrader_plugins  # noqa: E402 - after the skip
from nbgrader.api import Gradebook  # noqa: E402

STUDENTS = nbgrade.SAMPLE_CLASS
MAX_SCORES = nbgrader_class.MAX_SCORES
TOTAL = nbgrader_class.TOTAL
SLOPE_HIDDEN_MESSAGE = 'for any function, point and step'


def hidden_lines(nb):
    """The stripped lines of the notebook's hidden-test regions, long enough to be telling, that
    the notebook has nowhere else."""
    found, outside, inside = set(), set(), False
    for cell in nb.cells:
        for line in cell.source.splitlines():
            if 'BEGIN HIDDEN TESTS' in line:
                inside = True
            elif 'END HIDDEN TESTS' in line:
                inside = False
            elif len(line.strip()) >= 12:
                (found if inside else outside).add(line.strip())
    return found - outside


def package_solution_lines():
    """Code lines inside the solution regions of solutions/*.py that appear nowhere outside."""
    return skeleton.solution_lines(p.read_text(encoding='utf-8')
                                   for p in paths.SOLUTIONS.glob('*.py'))


def page_text(path):
    """A feedback page's visible text: tags dropped, entities decoded."""
    return html.unescape(re.sub(r'<[^>]+>', '', path.read_text(encoding='utf-8')))


def shows(line, text):
    """Whether text shows the line, not merely as the end of a longer name (`out._backward()`
    is not `t._backward()`)."""
    return re.search(r'(?<![\w.])' + re.escape(line), text) is not None


@pytest.fixture(scope='module')
def course(generated_course, tmp_path_factory):
    """The course after the whole round trip with nbgrader's own serial autograde:
    {'dir', 'release', 'csv'}."""
    course, release = nbgrader_class.sample_course(generated_course,
                                                   tmp_path_factory.mktemp('nbgrader'))
    timings, logs = {}, {}
    for step in (('autograde', nbgrade.ASSIGNMENT, f'--ExecuteWithinBudget.cpu_timeout={CELL_CPU}'),
                 ('export', '--to=grades.csv'),
                 ('generate_feedback', nbgrade.ASSIGNMENT)):
        t = time.perf_counter()
        done = nbgrade.nbgrader(course, *step)
        timings[step[0]] = time.perf_counter() - t
        logs[step[0]] = done.stdout + done.stderr
    print('\nnbgrader round trip:', ', '.join(f'{k} {v:.1f} s' for k, v in timings.items()))
    return {'dir': course, 'release': release, 'csv': course / 'grades.csv', 'logs': logs}


def test_the_source_package_is_the_skeleton():
    assert nbgrade.package_drift() == [], (
        "grader/nbgrader/source/micrograd/micrograd_skeleton/ is out of date: run "
        "`python -m mgcourse.nbgrading.nbgrade` and commit the result")


def test_exercises_are_the_nbgrader_release(course):
    assert nbgrade.compare_release(course['release']) == [], (
        "exercises/ differs from `nbgrader generate_assignment`: run `python -m mgcourse.nbgrading.nbgrade` "
        "and commit the result")


def test_the_release_carries_the_skeleton_and_no_answer(course):
    release = course['release']
    package = release / nbgrade.PACKAGE
    assert sorted(p.name for p in package.glob('*.py')) == sorted(skeleton.generate())
    package_lines = {line.strip() for p in package.glob('*.py')
                     for line in p.read_text(encoding='utf-8').splitlines()}
    assert not package_solution_lines() & package_lines
    for path in sorted(nbgrade.source_folder(course['dir']).glob('*.ipynb')):
        source = nbformat.read(path, as_version=4)
        text = (release / path.name).read_text(encoding='utf-8')
        released = nbformat.read(release / path.name, as_version=4)
        lines = {line.strip() for cell in released.cells for line in cell.source.splitlines()}
        assert not notebooks.solution_lines(source) & lines, path.name
        assert not hidden_lines(source) & lines, path.name
        for marker in ('BEGIN SOLUTION', 'END SOLUTION', 'HIDDEN TESTS', '_hidden_'):
            assert marker not in text, f"{path.name} contains {marker!r}"


def test_exact_scores_in_the_gradebook(course):
    nbgrader_class.assert_scores(course['dir'])
    with Gradebook(nbautograde.db_url(course['dir']), nbgrade.COURSE_ID) as gb:
        assert gb.find_submission(nbgrade.ASSIGNMENT, 'correct').max_score == TOTAL
        slope = gb.find_grade('slope_test', '01_derivatives', nbgrade.ASSIGNMENT, 'partial')
        assert slope.score == 0, "the hidden test catches the parabola-only slope"
        slope = gb.find_grade('slope_test', '01_derivatives', nbgrade.ASSIGNMENT, 'endless')
        assert slope.score == 0, "slope was never defined: its cell was stopped"


def test_an_endless_loop_costs_its_cell_only(course):
    graded = course['dir'] / 'autograded' / 'endless' / nbgrade.ASSIGNMENT
    cells = nbformat.read(graded / '01_derivatives.ipynb', as_version=4).cells
    stopped = [c for c in cells if any(o.get('ename') == 'CellCPUTimeExceeded'
                                       for o in c.get('outputs', []))]
    assert [c.metadata.nbgrader['grade_id'] for c in stopped] == ['slope']
    error = next(o for o in stopped[0].outputs if o.get('output_type') == 'error')
    assert f'more than {CELL_CPU:g} s of CPU time' in error.evalue
    later = cells[cells.index(stopped[0]) + 1:]
    assert any(c.get('outputs') and not any(o.output_type == 'error' for o in c.outputs)
               for c in later if c.cell_type == 'code'), "the cells after it still ran"


def test_exported_csv_has_every_student_and_score(course):
    with open(course['csv'], newline='', encoding='utf-8') as f:
        rows = {row['student_id']: row for row in csv.DictReader(f)}
    assert set(rows) == set(STUDENTS)
    for student, scores in nbgrader_class.EXPECTED.items():
        assert float(rows[student]['score']) == sum(scores.values()), student
        assert float(rows[student]['max_score']) == TOTAL


def test_feedback_shows_hidden_tests_by_name_points_and_message_only(course):
    feedback = course['dir'] / 'feedback'
    pages = sorted(feedback.rglob('*.html'))
    # endless handed in one notebook: nbgrader writes feedback for that one only
    assert len(pages) == 4 * len(MAX_SCORES) + 1
    assert (feedback / 'endless' / nbgrade.ASSIGNMENT / '01_derivatives.html').is_file()
    hidden = {path.stem: hidden_lines(nbformat.read(path, as_version=4))
              for path in nbgrade.source_folder(course['dir']).glob('*.ipynb')}
    assert sum(len(lines) for lines in hidden.values()) > 5
    for page in pages:
        text = page_text(page)
        leaks = sorted(line for line in hidden[page.stem] if shows(line, text))
        assert not leaks, f"{page.relative_to(feedback)} shows hidden-test lines: {leaks[:3]}"
        assert '_hidden_' not in text and 'HIDDEN TESTS' not in text, page
    # the check above can see a leak: the autograded notebooks, which feedback is made from,
    # do hold the hidden tests (and the tracebacks quoting them)
    graded = course['dir'] / 'autograded' / 'partial' / nbgrade.ASSIGNMENT / '01_derivatives.ipynb'
    graded_text = '\n'.join(cell.source for cell in nbformat.read(graded, as_version=4).cells)
    assert all(shows(line, graded_text) for line in hidden['01_derivatives'])
    partial = page_text(feedback / 'partial' / nbgrade.ASSIGNMENT / '01_derivatives.html')
    assert 'slope_test' in partial
    assert SLOPE_HIDDEN_MESSAGE in partial, "the hidden test's message reaches the student"
    assert 'AssertionError' in partial
    assert 'hidden tests: graded, not shown' in partial


# ---------------------------------------------------------------- the package, graded outside

@pytest.mark.parametrize('student', nbgrader_class.EVERY_NOTEBOOK)
def test_each_check_cell_scores_what_mgcourse_check_gives_the_package(course, student):
    got = nbgrader_class.assert_check_cells_are_mgcourse_check(course['dir'], student)
    assert len(got) == len(nbgrader_class.CHECK_CELLS)
    if student == 'partial':  # partial credit, check by check
        assert got['reuse'][0] == 5 and got['training'][0] == 1
        assert got['reuse'][1]['reuse.a_times_a'] == 0 and got['reuse'][1]['reuse.a_plus_a'] == 1
    if student in ('empty', 'hostile'):
        assert all(score == 0 for score, _ in got.values())


def test_a_package_that_patches_check_prints_nothing_that_counts(course):
    graded = course['dir'] / 'autograded' / 'hostile' / nbgrade.ASSIGNMENT
    cells = nbformat.read(graded / '04_backward.ipynb', as_version=4).cells
    reuse = next(c for c in cells if c.metadata.get('nbgrader', {}).get('grade_id') == 'check_reuse')
    text = ''.join(o.get('text', '') for o in reuse.outputs)
    assert 'all points' not in text, "what the kernel printed is dropped"
    assert 'FAILED  reuse.a_plus_a (0/1)' in text
    assert reuse.outputs[-1].data['text/plain'] == '0'


def test_self_checks_tagged_to_be_skipped_run_all_the_same(course):
    # hostile tagged every cell autograde-skip: its unanswered self-checks must still fail
    graded = course['dir'] / 'autograded' / 'hostile' / nbgrade.ASSIGNMENT
    cells = nbformat.read(graded / '01_derivatives.ipynb', as_version=4).cells
    checks = [c for c in cells if c.metadata.get('nbgrader', {}).get('grade')]
    assert len(checks) == 4
    assert all(o.output_type == 'error' for c in checks for o in c.outputs[:1]), "they ran"
    assert all(c.outputs and c.metadata.get('tags') == [] for c in checks), "tag dropped"
    free = [c for c in cells if c.cell_type == 'code' and not c.metadata.get('nbgrader')]
    assert free and all(c.outputs == [] for c in free), "a cell of its own is skipped, as tagged"
    assert 'is ignored on a cell nbgrader grades or locks' in course['logs']['autograde']


def test_the_feedback_score_matches_its_lines_and_names_the_earlier_cause(course):
    feedback = course['dir'] / 'feedback' / 'partial' / nbgrade.ASSIGNMENT
    backward = page_text(feedback / '04_backward.html')
    assert 'passed  reuse.a_plus_a (1/1)' in backward
    assert 'FAILED  reuse.a_times_a (0/1)' in backward
    assert 'checkpoint reuse: 2 of 6 checks failed, 5 of 8 points' in backward
    assert re.search(r'Score:\s*5(\.0)?\s*/\s*8', backward), "the cell's score is its lines' sum"
    more = page_text(feedback / '05_more_ops_and_pytorch.html')
    assert 'fix reuse first' in more
    assert 'fix reuse first' not in backward, "reuse itself has nothing earlier to blame"


# ---------------------------------------------------------------- a clean log

def test_the_checksum_warning_is_for_the_student_who_edited_a_locked_cell_only(course):
    warned = nbgrader_class.checksum_warnings(course['logs']['autograde'])
    assert set(warned) == set(STUDENTS)
    assert warned.pop('partial') == ['expression_test'], "partial weakened that self-check"
    assert all(cells == [] for cells in warned.values()), warned


def test_no_unknown_option_or_plain_tcp_warning(course):
    for step, log in course['logs'].items():
        assert 'not recognized' not in log, (step, [l for l in log.splitlines()
                                                   if 'not recognized' in l][:3])
        assert 'without encryption' not in log, step


def test_a_cell_tagged_autograde_skip_a_check_cell_and_autoreload_are_not_run_when_grading(course):
    # notebook 05's comparison with PyTorch scores nothing; its import alone is 1.7 s of CPU
    path = course['dir'] / 'autograded' / 'correct' / nbgrade.ASSIGNMENT / '05_more_ops_and_pytorch.ipynb'
    cells = nbformat.read(path, as_version=4).cells
    skipped = [c for c in cells if 'autograde-skip' in c.metadata.get('tags', [])]
    assert len(skipped) == 1 and 'import torch' in skipped[0].source
    assert skipped[0].outputs == []
    # A check cell is not run in the kernel either: its output and points are the grader's.
    checks = [c for c in cells if c.source.strip() == "check('more_ops');"]
    assert len(checks) == 1 and checks[0].execution_count is None
    assert "graded by the course's grader" in checks[0].outputs[0]['text']
    # Nor the autoreload magics: nothing changes on disk while the notebook is graded.
    reload = [c for c in cells if c.source == '%load_ext autoreload\n%autoreload 2']
    assert len(reload) == 1 and reload[0].execution_count is None and reload[0].outputs == []
    ran = [c for c in cells if c.cell_type == 'code' and c not in skipped + checks + reload]
    assert ran and all(c.execution_count for c in ran)


@pytest.mark.parametrize('source, alone', [
    ('%load_ext autoreload\n%autoreload 2', True),
    ('# reload the package when it changes\n%load_ext autoreload\n\n  %autoreload\n', True),
    ('%autoreload 2\nimport os', False),  # the rest must run
    ('%load_ext autoreload; x = 1', False),
    ('%autoreloadx', False),
    ('# %load_ext autoreload', False),  # nothing to skip
    ('', False),
])
def test_only_a_cell_of_autoreload_magics_alone_is_left_out(source, alone):
    assert nbgrader_plugins.only_autoreload(nbformat.v4.new_code_cell(source)) is alone
    assert not nbgrader_plugins.only_autoreload(nbformat.v4.new_markdown_cell(source))


# ---------------------------------------------------------------- an attack from the kernel

@pytest.fixture(scope='module')
def attacked(course):
    """nbgrader_class.attack: autograded by plain nbgrader with the course's configuration."""
    if not sandbox.bwrap_available():
        pytest.skip(f"the kernels are isolated only by bubblewrap here: {sandbox.off_reason()}")
    return nbgrader_class.attack(course['dir'], lambda where, student: nbgrade.nbgrader(
        where, 'autograde', nbgrade.ASSIGNMENT, '--student', student,
        f'--ExecuteWithinBudget.cpu_timeout={CELL_CPU}'))


@pytest.mark.parametrize('check', nbgrader_class.ATTACK_CHECKS, ids=lambda f: f.__name__[7:])
def test_the_attackers_kernel_is_contained(attacked, check):
    check(attacked)
