"""The sample class of the nbgrader round trip, shared by the serial (nbgrader's own autograde)
and the parallel (mgcourse autograde) tests, which must agree on EXPECTED exactly."""

from mgcourse import nbgrade

# The points of each notebook's test cells (see their nbgrader metadata).
MAX_SCORES = {
    '01_derivatives': 4, '02_value_and_graph': 1, '03_backprop_by_hand': 4, '04_backward': 20,
    '05_more_ops_and_pytorch': 15, '06_mlp_and_training': 17, '07_challenge': 4,
}
TOTAL = sum(MAX_SCORES.values())
# What each sample submission scores, notebook by notebook. partial and endless handed in the
# first notebook only (the others score 0), and lose its slope self-check's point: a hidden
# test catches the first, the second never defines slope. empty scores nothing.
EXPECTED = {
    'correct': MAX_SCORES,
    'partial': {**{name: 0 for name in MAX_SCORES}, '01_derivatives': 3},
    'endless': {**{name: 0 for name in MAX_SCORES}, '01_derivatives': 3},
    'empty': {name: 0 for name in MAX_SCORES},
}
# The CPU seconds a cell may use in the tests: the costliest cell of a correct hand-in uses
# about 1.5 s (bench/autograde.py --cpu-only), and CPU time does not grow on a busy machine;
# short enough that the endless loop costs seconds. Wall time keeps the course's backstop.
CELL_CPU = 10


def sample_course(tmp):
    """nbgrade.sample_course in tmp/course: (course folder, release folder)."""
    return nbgrade.sample_course(tmp / 'course')
