"""Correct code never loses a point, whatever its style: the solutions, the lecture-style
engine of bench/, and the implementations beside this test (correct_styles/: an operation
class per op with its own backward; parameters() lists built with append, extend and chain,
a frozenset for _prev, an iterative sort)."""

from pathlib import Path

import pytest

from mgcourse import paths
from mgcourse.battery import harness

HERE = Path(__file__).resolve().parent
CORRECT = {
    'solutions': paths.SOLUTIONS,
    'lecture_style': paths.ROOT / 'bench' / 'lecture_style',
    'op_classes': HERE / 'correct_styles' / 'op_classes',
    'built_lists': HERE / 'correct_styles' / 'built_lists',
}


@pytest.mark.parametrize('name', CORRECT)
def test_a_correct_implementation_scores_full_marks(name):
    report = harness.run(CORRECT[name])
    failed = [f"{r.id}: {r.message}" for r in report.failed() if r.error != 'skipped']
    assert not failed, '\n\n'.join(failed)
    assert report.points == report.possible == sum(
        e.points for e in harness.selected())
