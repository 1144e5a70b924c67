"""Parallel autograding (mgcourse.nbgrading.nbautograde, `mgcourse autograde`) of the sample class.

Each student is graded by nbgrader in a process of its own, against a gradebook of its own;
the results are merged into the course's gradebook by one writer. The scores must be exactly
those nbgrader's serial autograde gives the same class (test_nbgrader.py asserts the same
EXPECTED table), and the gradebook must come out whole. A student who attacks the grader from
the kernel, autograded by `mgcourse autograde` in the graded class, can write nothing outside
the kernel's scratch folder (nbgrader_class.attack).
"""

import csv
import sqlite3
import sys

import pytest

import nbgrader_class
from mgcourse import cli
from mgcourse.isolation import sandbox
from mgcourse.nbgrading import nbautograde, nbgrade
from nbgrader_class import CELL_CPU

pytest.importorskip('nbgrader')
pytest.importorskip('nbclient')


@pytest.fixture(scope='module')
def graded(generated_course, tmp_path_factory):
    course, _ = nbgrader_class.sample_course(generated_course,
                                             tmp_path_factory.mktemp('parallel'))
    finished = []
    results = nbautograde.autograde(course, jobs=2, cpu_timeout=CELL_CPU,
                                    on_done=finished.append)
    return {'dir': course, 'results': results, 'finished': finished}


def test_same_scores_as_nbgraders_serial_autograde(graded):
    nbgrader_class.assert_scores(graded['dir'])


def test_every_student_reported_once(graded):
    assert [r.student for r in graded['results']] == sorted(nbgrade.SAMPLE_CLASS)
    assert sorted(r.student for r in graded['finished']) == sorted(nbgrade.SAMPLE_CLASS)
    assert all(r.ok and not r.skipped and r.message == '' for r in graded['results'])


def test_the_gradebook_is_whole_and_the_notebooks_are_where_nbgrader_puts_them(graded):
    course = graded['dir']
    with sqlite3.connect(course / 'gradebook.db') as db:
        assert db.execute('PRAGMA integrity_check').fetchone() == ('ok',)
    for student in nbgrade.SAMPLE_CLASS:
        folder = course / 'autograded' / student / nbgrade.ASSIGNMENT
        handed_in = course / 'submitted' / student / nbgrade.ASSIGNMENT
        assert sorted(p.name for p in folder.glob('*.ipynb')) == sorted(
            p.name for p in handed_in.glob('*.ipynb'))
    # nbgrader's own commands read the merged gradebook: the export of every student's
    # score, and the feedback of one (the whole class's is test_nbgrader's)
    nbgrade.nbgrader(course, 'export', '--to=grades.csv')
    with open(course / 'grades.csv', newline='', encoding='utf-8') as f:
        rows = {row['student_id']: float(row['score']) for row in csv.DictReader(f)}
    assert rows == {student: sum(scores.values())
                    for student, scores in nbgrader_class.EXPECTED.items()}
    nbgrade.nbgrader(course, 'generate_feedback', nbgrade.ASSIGNMENT, '--student', 'partial')
    assert len(list((course / 'feedback' / 'partial').rglob('*.html'))) == 7


def test_graded_students_are_skipped_unless_forced(graded, capsys):
    code = cli.main(['autograde', '--course', str(graded['dir']), 'correct'])
    out = capsys.readouterr().out
    assert code == 0
    assert 'correct: already autograded' in out
    assert '0 graded, 1 already autograded, 0 failed' in out
    nbgrader_class.assert_scores(graded['dir'])


@pytest.mark.parametrize('student', nbgrader_class.EVERY_NOTEBOOK)
def test_each_check_cell_scores_what_mgcourse_check_gives_the_package(graded, student):
    got = nbgrader_class.assert_check_cells_are_mgcourse_check(graded['dir'], student)
    assert len(got) == len(nbgrader_class.CHECK_CELLS)


def test_a_course_without_the_generated_assignment_is_refused(tmp_path, capsys):
    course = nbgrade.scratch_copy(tmp_path / 'course')
    assert cli.main(['autograde', '--course', str(course)]) == 2
    assert 'nbgrader generate_assignment micrograd' in capsys.readouterr().err


@pytest.mark.parametrize('argv', [['autograde'], ['notebooks', '--check']])
def test_without_nbgrader_the_command_says_how_to_install_it(argv, monkeypatch, capsys):
    # the student setup (`bash grader/course.sh`) installs no nbgrader
    monkeypatch.setitem(sys.modules, 'nbgrader', None)  # as if it were not installed
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert f"mgcourse {argv[0]}: needs nbgrader" in err and "pip install -e '.[instructor]'" in err


def test_a_score_that_differs_is_explained_by_the_autograded_cells(graded):
    # the helper every score assertion uses: a wrong table names the student, and the cells
    # that lost points say why (here partial's reuse cell, graded on the package)
    wrong = {**nbgrader_class.EXPECTED, 'partial': nbgrader_class.MAX_SCORES}
    with pytest.raises(AssertionError) as e:
        nbgrader_class.assert_scores(graded['dir'], wrong)
    message = str(e.value)
    assert message.startswith('partial: got')
    assert '04_backward/check_reuse:' in message
    assert 'FAILED' in message and 'correct:' not in message


# ---------------------------------------------------------------- an attack from the kernel

@pytest.fixture(scope='module')
def attacked(graded):
    """nbgrader_class.attack: autograded by `mgcourse autograde`."""
    if not sandbox.bwrap_available():
        pytest.skip(f"the kernels are isolated only by bubblewrap here: {sandbox.off_reason()}")

    def mgcourse_autograde(where, student):
        assert cli.main(['autograde', '--course', str(where), '--jobs', '1',
                         '--cell-cpu', str(CELL_CPU), student]) == 0
    return nbgrader_class.attack(graded['dir'], mgcourse_autograde)


@pytest.mark.parametrize('check', nbgrader_class.ATTACK_CHECKS, ids=lambda f: f.__name__[7:])
def test_the_attackers_kernel_is_contained(attacked, check):
    check(attacked)
