"""The runner's isolated mode: the student's code runs in a worker process that only reports
observations; hangs and crashes cost the check they happen in, nothing more."""

import pytest

from mgcourse import battery, isolated, paths


def test_it_agrees_with_the_in_process_battery(solutions_report, skeleton_report):
    for folder, local in ((paths.SOLUTIONS, solutions_report), (paths.SKELETON, skeleton_report)):
        report = isolated.run(folder)
        assert [(r.id, r.passed, r.points) for r in report.results] == [
            (r.id, r.passed, r.points) for r in local.results]


def test_an_endless_loop_fails_only_its_check(solutions_copy, edit):
    edit(solutions_copy, 'engine.py', "            self.grad += (1 / self.data) * out.grad\n",
         "            while True:\n                pass\n")
    report = isolated.run(solutions_copy, only={'more_ops'}, timeout=2)
    failed = {r.id: r for r in report.failed()}
    assert set(failed) == {'more_ops.log', 'more_ops.accumulate', 'more_ops.random_expressions',
                           'more_ops.random_vs_torch'} - {
        r.id for r in report.results if r.error == 'skipped'}
    assert failed['more_ops.log'].error == 'timeout'
    assert 'took longer than 2 s' in failed['more_ops.log'].message
    assert all(r.passed for r in report.results if r.id in ('more_ops.exp', 'more_ops.relu'))


@pytest.mark.parametrize('body, words', [
    ("import os; os._exit(0)", "stopped before answering (exit code 0)"),
    ("import ctypes; ctypes.string_at(0)", "stopped before answering (killed by signal 11, SIGSEGV)"),
])
def test_a_crash_fails_only_its_check(solutions_copy, edit, body, words):
    edit(solutions_copy, 'engine.py', "            self.grad += out.data * out.grad\n",
         f"            {body}\n")
    report = isolated.run(solutions_copy, only={'ops_backward', 'more_ops'})
    exp = next(r for r in report.results if r.id == 'more_ops.exp')
    assert not exp.passed and exp.error == 'crash' and words in exp.message
    assert all(r.passed for r in report.results if r.checkpoint == 'ops_backward')
    assert next(r for r in report.results if r.id == 'more_ops.log').passed


def test_printing_and_reading_stdin_do_not_disturb_the_replies(solutions_copy, edit):
    edit(solutions_copy, 'engine.py', "        self.grad = 0.0 ",
         "        print('{\"observed\": 1}'); input(); self.grad = 0.0 ")
    report = isolated.run(solutions_copy, only={'ops_backward'})
    # input() meets end of file: the student's error, reported as such.
    assert all(not r.passed and 'EOFError' in r.message for r in report.results)


def test_an_import_error_is_reported_once_per_check_with_file_and_line(solutions_copy, edit):
    edit(solutions_copy, 'train.py', "def train(", "def train(:")
    report = isolated.run(solutions_copy)
    assert report.import_error.message.startswith('train.py, line ')
    assert all(r.error == 'import' for r in report.results)
    assert report.points == 0 and report.possible == battery.run(paths.SOLUTIONS).possible


def test_a_reply_cannot_call_its_failure_skipped(solutions_copy, edit):
    edit(solutions_copy, 'engine.py', "            self.grad += out.data * out.grad\n",
         "            raise ValueError('wrong')\n")
    engine = solutions_copy / 'engine.py'
    engine.write_text(engine.read_text() + (
        "\nimport mgcourse.checks.base as _base\n"
        "_base.exception_message = lambda e, folder: ('skipped', 'counts for nothing')\n"
        "import mgcourse.checks.engine_checks as _engine_checks\n"
        "_engine_checks.exception_message = _base.exception_message\n"))
    report = isolated.run(solutions_copy, only={'more_ops'})
    exp = next(r for r in report.results if r.id == 'more_ops.exp')
    assert not exp.passed and exp.error == 'exception' and exp.possible > 0
    assert not [r.id for r in report.results if r.error == 'skipped' and r.possible]


def test_a_huge_reply_costs_its_check_with_a_clear_message(solutions_copy, edit):
    edit(solutions_copy, 'engine.py', "            self.grad += out.data * out.grad\n",
         "            raise RuntimeError('x' * (3 << 20))\n")
    report = isolated.run(solutions_copy, only={'ops_backward', 'more_ops'})
    exp = next(r for r in report.results if r.id == 'more_ops.exp')
    assert not exp.passed and 'larger than 1 MiB' in exp.message
    assert len(exp.message) < 10_000
    assert all(r.passed for r in report.results if r.checkpoint == 'ops_backward')
    assert next(r for r in report.results if r.id == 'more_ops.log').passed
