"""The nbgrader course round trip, with the real nbgrader, in a scratch copy of grader/nbgrader/.

generate_assignment; three submissions (correct: the source notebooks with the solutions as the
student's package; partial: the same with a slope that only works on the lecture's parabola,
which the visible self-check accepts and a hidden test catches; empty: the release as it is);
autograde; generate_feedback. Then: the release is exercises/ and carries the skeleton, never a
solution or hidden-test line; the gradebook has the exact scores; feedback names the hidden test,
its points and its message, never its source or traceback.
"""

import html
import re
import shutil
import time

import nbformat
import pytest

from mgcourse import nbgrade, notebooks, paths, skeleton

pytest.importorskip('nbgrader')
pytest.importorskip('nbclient')

from nbgrader.api import Gradebook  # noqa: E402 - after the skip

STUDENTS = ('correct', 'partial', 'empty')
# The points of each notebook's test cells (see their nbgrader metadata).
MAX_SCORES = {
    '01_derivatives': 4, '02_value_and_graph': 1, '03_backprop_by_hand': 4, '04_backward': 20,
    '05_more_ops_and_pytorch': 15, '06_mlp_and_training': 17, '07_challenge': 4,
}
TOTAL = sum(MAX_SCORES.values())
# The partial submission's slope: exact for f(x) = 3x² - 4x + 5 only.
PARABOLA_ONLY = '    return 6 * x - 4 + 3 * h'
SLOPE_SOLUTION = '    return (f(x + h) - f(x)) / h'
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


def submit(course, student, notebook_folder, package_folder):
    folder = course / 'submitted' / student / nbgrade.ASSIGNMENT
    folder.mkdir(parents=True)
    for path in sorted(notebook_folder.glob('*.ipynb')):
        shutil.copyfile(path, folder / path.name)
    shutil.copytree(package_folder, folder / nbgrade.PACKAGE,
                    ignore=shutil.ignore_patterns('__pycache__'))
    return folder


@pytest.fixture(scope='module')
def course(tmp_path_factory):
    """The course after the whole round trip: {'dir', 'release', 'seconds'}."""
    start = time.perf_counter()
    course = nbgrade.scratch_copy(tmp_path_factory.mktemp('nbgrader') / 'course')
    release = nbgrade.generate(course)
    timings = {'generate_assignment': time.perf_counter() - start}

    source = nbgrade.source_folder(course)
    submit(course, 'correct', source, paths.SOLUTIONS)
    partial = submit(course, 'partial', source, paths.SOLUTIONS)
    first = partial / '01_derivatives.ipynb'
    text = first.read_text(encoding='utf-8')
    assert text.count(SLOPE_SOLUTION) == 1
    first.write_text(text.replace(SLOPE_SOLUTION, PARABOLA_ONLY), encoding='utf-8')
    submit(course, 'empty', release, release / nbgrade.PACKAGE)

    for step in (('autograde', nbgrade.ASSIGNMENT), ('generate_feedback', nbgrade.ASSIGNMENT)):
        t = time.perf_counter()
        nbgrade.nbgrader(course, *step)
        timings[step[0]] = time.perf_counter() - t
    print('\nnbgrader round trip:', ', '.join(f'{k} {v:.1f} s' for k, v in timings.items()))
    return {'dir': course, 'release': release, 'seconds': timings}


def test_the_source_package_is_the_skeleton():
    assert nbgrade.package_drift() == [], (
        "grader/nbgrader/source/micrograd/micrograd_skeleton/ is out of date: run "
        "`python -m mgcourse.nbgrade` and commit the result")


def test_exercises_are_the_nbgrader_release(course):
    assert nbgrade.compare_release(course['release']) == [], (
        "exercises/ differs from `nbgrader generate_assignment`: run `python -m mgcourse.nbgrade` "
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
    found = {}
    db_url = f"sqlite:///{course['dir'] / 'gradebook.db'}"
    with Gradebook(db_url, 'micrograd-course') as gb:
        for student in STUDENTS:
            submission = gb.find_submission(nbgrade.ASSIGNMENT, student)
            found[student] = ({nb.name: nb.score for nb in submission.notebooks},
                               submission.score, submission.max_score)
        slope = gb.find_grade('slope_test', '01_derivatives', nbgrade.ASSIGNMENT, 'partial')
        slope_score = slope.score
    scores, total, possible = found['correct']
    assert possible == TOTAL
    assert scores == MAX_SCORES and total == TOTAL
    scores, total, _ = found['partial']
    assert slope_score == 0, "the hidden test catches the parabola-only slope"
    assert scores == {**MAX_SCORES, '01_derivatives': MAX_SCORES['01_derivatives'] - 1}
    assert total == TOTAL - 1
    scores, total, _ = found['empty']
    assert scores == {name: 0 for name in MAX_SCORES} and total == 0


def test_feedback_shows_hidden_tests_by_name_points_and_message_only(course):
    feedback = course['dir'] / 'feedback'
    pages = sorted(feedback.rglob('*.html'))
    assert len(pages) == len(STUDENTS) * len(MAX_SCORES)
    hidden = {path.stem: hidden_lines(nbformat.read(path, as_version=4))
              for path in nbgrade.source_folder(course['dir']).glob('*.ipynb')}
    assert sum(len(lines) for lines in hidden.values()) > 20
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
