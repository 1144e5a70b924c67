"""The runner's isolated mode: the student's code runs in a worker process that only reports
observations; hangs and crashes cost the check they happen in, nothing more."""

import re

import pytest

from mgcourse import paths
from mgcourse.battery import harness
from mgcourse.isolation import isolated


def test_it_agrees_with_the_in_process_battery(solutions_report, skeleton_report):
    for folder, local in ((paths.SOLUTIONS, solutions_report), (paths.SKELETON, skeleton_report)):
        report = isolated.run(folder)
        assert [(r.id, r.passed, r.points) for r in report.results] == [
            (r.id, r.passed, r.points) for r in local.results]


def test_an_endless_loop_fails_only_its_check(solutions_copy, edit):
    # log's _backward loops for a = 2.5 only, the input of the log and accumulate checks:
    # the other checks that take a log (boundaries, the random expressions) still pass.
    edit(solutions_copy, 'engine.py', "            self.grad += (1 / self.data) * out.grad\n",
         "            while self.data == 2.5:\n                pass\n"
         "            self.grad += (1 / self.data) * out.grad\n")
    report = isolated.run(solutions_copy, only={'more_ops'}, timeout=2)
    failed = {r.id: r for r in report.failed()}
    assert set(failed) == {'more_ops.log', 'more_ops.accumulate'}
    assert failed['more_ops.log'].error == 'timeout'
    assert 'computed for more than 2 s' in failed['more_ops.log'].message
    passed = {r.id for r in report.results if r.passed}
    assert {'more_ops.exp', 'more_ops.relu', 'more_ops.boundaries',
            'more_ops.random_expressions'} <= passed


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
    assert report.points == 0 and report.possible == harness.run(paths.SOLUTIONS).possible


def _broken_at(folder, filename, pattern, body):
    """Put body (a statement) first in the function whose def line matches pattern."""
    path = folder / filename
    out = []
    for line in path.read_text().splitlines(keepends=True):
        out.append(line)
        if re.match(pattern, line):
            out.append(re.match(r'\s*', line).group(0) + '    ' + body + '\n')
    path.write_text(''.join(out))


STEP_FUNCTIONS = {  # where each shared step of checkpoints.toml lives in the solutions
    'backward': ('engine.py', r'\s+def backward\(self\):'),
    'forward': ('nn.py', r'\s+def __call__\(self, x\):'),
    'loss': ('train.py', r'def mse_loss\('),
    'training': ('train.py', r'def train\('),
}


@pytest.mark.parametrize('step', sorted(STEP_FUNCTIONS))
def test_a_step_is_needed_by_exactly_the_checks_the_catalogue_names(step, solutions_copy):
    assert {s.id for s in isolated.steps()} == set(STEP_FUNCTIONS)
    _broken_at(solutions_copy, *STEP_FUNCTIONS[step], "raise RuntimeError('this step is broken')")
    failing = {r.id for r in harness.run(solutions_copy).results if not r.passed}
    assert failing == {e.id for e in harness.selected()
                       if step in {s.id for s in isolated.needs(e.id)}}


def test_an_endless_loop_in_backward_costs_one_check(solutions_copy):
    _broken_at(solutions_copy, *STEP_FUNCTIONS['backward'], "while True: pass")
    report = isolated.run(solutions_copy, timeout=1)
    by_id = {r.id: r for r in report.results}
    assert by_id['backward.expression'].error == 'timeout'
    assert 'computed for more than 1 s' in by_id['backward.expression'].message
    not_run = [r for r in report.results if r.message.startswith('not run:')]
    assert {r.id for r in not_run} == {e.id for e in harness.selected()
                                       if 'backward' in {s.id for s in isolated.needs(e.id)}
                                       } - {'backward.expression'}
    assert all('\n' not in r.message and 'backward()' in r.message and r.points == 0
               for r in not_run)
    # the checks that need no backward() still run, and pass
    assert all(by_id[i].passed for i in ('ops_backward.add', 'more_ops.exp', 'mlp.mlp',
                                          'loss.value', 'parameters.count', 'training.zero_grad'))


def test_the_limit_counts_cpu_time_not_the_clock(solutions_copy, edit):
    # 1.5 s asleep in the worker's first backward(): more than the 1 s CPU limit on the clock,
    # but almost no CPU time.
    edit(solutions_copy, 'engine.py', "    def backward(self):\n",
         "    def backward(self, _slept=[]):\n        import time\n"
         "        if not _slept:\n            _slept.append(1.5)\n            time.sleep(1.5)\n")
    report = isolated.run(solutions_copy, only={'backward'}, timeout=1)
    assert all(r.passed for r in report.results)


def test_a_check_stopped_by_the_clock_alone_is_run_again_alone(solutions_copy, edit):
    # The first call sleeps past the wall limit (a stall), the second, in a fresh worker, not.
    marker = solutions_copy / 'stalled'
    edit(solutions_copy, 'engine.py', "    def backward(self):\n", (
        "    def backward(self):\n"
        f"        import os, time\n"
        f"        if not os.path.exists({str(marker)!r}):\n"
        f"            open({str(marker)!r}, 'w').close(); time.sleep(30)\n"))
    report = isolated.run(solutions_copy, only={'backward'}, timeout=0.5, wall=1.5)
    first = report.results[0]
    assert first.passed and 'stopped by the clock once' in first.message
    assert all(r.passed for r in report.results)
    # stopped by the clock twice: it fails, and says it was tried twice
    edit(solutions_copy, 'engine.py', "if not os.path.exists", "if True or os.path.exists")
    report = isolated.run(solutions_copy, only={'backward'}, timeout=0.5, wall=1.5)
    first = report.results[0]
    assert first.error == 'timeout' and 'on the clock' in first.message
    assert 'run again alone' in first.message


def test_a_reply_cannot_call_its_failure_skipped(solutions_copy, edit):
    edit(solutions_copy, 'engine.py', "            self.grad += out.data * out.grad\n",
         "            raise ValueError('wrong')\n")
    engine = solutions_copy / 'engine.py'
    engine.write_text(engine.read_text() + (
        "\nimport mgcourse.battery.checks.base as _base\n"
        "_base.exception_message = lambda e, folder: ('skipped', 'counts for nothing')\n"
        "import mgcourse.battery.checks.expressions as _expressions\n"
        "_expressions.exception_message = _base.exception_message\n"))
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


def test_a_worker_knows_when_a_check_left_processes_behind(solutions_copy, edit, tmp_path):
    # A probe that starts a process and leaves it running (a fork bomb's copies of the worker
    # would read the next requests): the batch grader then goes on with a fresh worker.
    from mgcourse.batch import grading, student_library
    from mgcourse.isolation import sandbox
    edit(solutions_copy, 'engine.py', "    def exp(self):\n",
         "    def exp(self):\n        import subprocess; subprocess.Popen(['sleep', '60'])\n")
    launch = grading._launcher(student_library.runtime_library(tmp_path / 'runtime'),
                               sandbox.Limits(cpu_seconds=30, wall_seconds=120))
    scratch = tmp_path / 'scratch'
    scratch.mkdir()
    worker = isolated.Worker(grading._fresh_copy(solutions_copy, scratch), launch=launch)
    try:
        worker.probe('ops_backward.add')
        assert not worker.left_processes_behind()
        worker.probe('more_ops.exp')
        assert worker.left_processes_behind()
    finally:
        grading._retire(worker)
