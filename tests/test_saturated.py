"""A correct student gets full marks on a machine that is busy with other work.

Two busy processes (each ends itself after BUSY_SECONDS, and the test stops them as soon as it
is done) compete with the grader for one core while it grades one correct student: with the
batch grader (`mgcourse grade`, sandboxed, hidden checks included) and with nbgrader's own
autograde under the course's configuration, every limit as the course ships it. The limits
meant for endless loops count CPU time, which the busy processes do not stretch; the
wall-time limits sit far above a correct hand-in's cost.

The grader and the busy processes are held to one core (the grader gets a third of it, as on a
machine with two busy processes on every core), so that the rest of the machine, where the
suite's other worker runs, is not slowed down with it.
"""

import contextlib
import os
import shutil
import subprocess
import sys

import pytest

import nbgrader_class
from mgcourse import paths
from mgcourse.batch import grading
from mgcourse.nbgrading import nbautograde, nbgrade

BUSY_SECONDS = 300
FULL = sum(c['points'] for c in grading.check_list())


@contextlib.contextmanager
def saturated(per_core=2):
    """One core kept busy by per_core CPU-bound processes, bounded in time, with this thread
    (and so everything it starts: the grader's workers, nbgrader and its kernels) held to it."""
    loop = (f"import time\nend = time.monotonic() + {BUSY_SECONDS}\n"
            "while time.monotonic() < end:\n    pass\n")
    cores = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {max(cores)})
    busy = []
    try:
        busy += [subprocess.Popen([sys.executable, '-c', loop]) for _ in range(per_core)]
        yield busy
    finally:
        for p in busy:
            p.kill()
        for p in busy:
            p.wait()
        os.sched_setaffinity(0, cores)
    assert all(p.returncode is not None for p in busy)


def test_the_batch_grader_gives_a_correct_student_full_marks(tmp_path):
    root = tmp_path / 'class'
    shutil.copytree(paths.SOLUTIONS, root / 'ada', ignore=shutil.ignore_patterns('__pycache__'))
    with saturated() as busy:
        book = grading.grade(root, tmp_path / 'graded', grading.Options(jobs=1, seed=11))
        assert all(p.poll() is None for p in busy), "the machine stayed busy throughout"
    record = book['students']['ada']
    failed = {k: v['message'] for k, v in record['checks'].items() if not v['passed']}
    assert failed == {}
    assert record['status'] == 'graded' and record['total'] == record['possible'] == FULL


@pytest.mark.skipif(not shutil.which('dot'), reason="the notebooks draw graphs with dot")
def test_nbgrader_gives_a_correct_student_full_marks(generated_course, tmp_path):
    pytest.importorskip('nbgrader')
    course, _ = nbgrader_class.copy_of_generated(generated_course, tmp_path)
    nbgrade.submit_sample(course, 'correct', 'correct')
    with saturated() as busy:
        nbgrade.nbgrader(course, 'autograde', nbgrade.ASSIGNMENT)  # the course's own limits
        assert all(p.poll() is None for p in busy), "the machine stayed busy throughout"
    assert nbautograde.scores(course) == {'correct': nbgrader_class.MAX_SCORES}
