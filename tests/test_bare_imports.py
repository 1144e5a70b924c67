"""A package whose modules import each other by bare name (`from engine import Value`, as code
written for a folder of scripts does) is graded the same in every front-end."""

from mgcourse.battery import harness
from mgcourse.isolation import isolated
from mgcourse.student import runner


def test_from_engine_import_value_scores_full_marks_everywhere(solutions_copy, edit):
    edit(solutions_copy, 'nn.py', 'from .engine import Value', 'from engine import Value')
    in_process = harness.run(solutions_copy)          # pytest and the notebooks' check()
    worker = isolated.run(solutions_copy)              # the batch grader's worker
    check = runner.progress(solutions_copy)            # mgcourse check
    for report in (in_process, worker):
        assert report.import_error is None
        assert [r.id for r in report.results if not r.passed] == []
    assert check.all_passed and check.points == check.possible
    import sys
    assert 'engine' not in sys.modules  # the bare names do not outlive the loading
