"""Plain `pytest` at the repository root is the student's battery; tried as a student would."""

import subprocess
import sys

import pytest

from mgcourse import paths
from mgcourse.battery import catalogue

POSSIBLE = sum(e.points for e in catalogue.all_checks())
N = len(catalogue.all_checks())


def pytest_at_root(*args):
    proc = subprocess.run([sys.executable, '-m', 'pytest', '-p', 'no:cacheprovider', *args],
                          cwd=paths.ROOT, capture_output=True, text=True, timeout=120)
    return proc.returncode, proc.stdout


def test_plain_pytest_grades_the_skeleton_and_ends_with_the_score():
    code, out = pytest_at_root()
    assert code == 1
    assert f"grading {paths.SKELETON}" in out
    assert f"{N} failed" in out
    assert out.rstrip().splitlines()[-1] == f"Score: 0 of {POSSIBLE} points (0%)"
    # Every checkpoint has its line in the table, with its lecture time.
    for cp in catalogue.load():
        assert f"  {cp.id:<13}  0 / {cp.points:<2}" in out
        assert cp.lecture in out
    assert "not written yet" in out


def test_impl_grades_another_copy():
    code, out = pytest_at_root('--impl', 'solutions')
    assert code == 0, out
    assert f"{N} passed" in out
    assert out.rstrip().splitlines()[-1] == f"Score: {POSSIBLE} of {POSSIBLE} points (100%)"


@pytest.mark.parametrize('how', [['-m', 'reuse'], ['-k', 'reuse']])
def test_one_checkpoint_runs_alone(how):
    code, out = pytest_at_root('--impl', 'solutions', *how)
    reuse = catalogue.by_id()['reuse']
    assert code == 0, out
    assert f"{len(reuse.checks)} passed, {N - len(reuse.checks)} deselected" in out
    assert out.rstrip().splitlines()[-1] == f"Score: {reuse.points} of {reuse.points} points (100%)"


def test_a_check_runs_alone_by_its_id():
    code, out = pytest_at_root('--impl', 'solutions',
                               'grader/mgcourse/battery/checkpoints.toml::reuse::diamond')
    assert code == 0, out
    assert "1 passed" in out


def test_a_syntax_error_is_shown_first_with_file_and_line(tmp_path):
    broken = tmp_path / 'broken'
    broken.mkdir()
    for f in paths.SOLUTIONS.glob('*.py'):
        (broken / f.name).write_text(f.read_text())
    (broken / 'engine.py').write_text((broken / 'engine.py').read_text().replace(
        'def tanh(self):', 'def tanh(self)'))
    code, out = pytest_at_root(f'--impl={broken}')
    assert code == 1
    assert "Fix this first, the package does not import: engine.py, line " in out
    assert "SyntaxError" in out


def test_the_space_form_with_a_folder_outside_the_checkout_is_a_clear_usage_error(tmp_path):
    code, out = pytest_at_root('--impl', str(tmp_path))
    assert code == 4


def test_an_endless_loop_costs_its_check_in_cpu_time_only(solutions_copy):
    engine = solutions_copy / 'engine.py'
    text = engine.read_text()
    marker = '    def tanh(self):\n'
    assert text.count(marker) == 1
    # for tanh(0) only: one check of ops_backward (at_zero) loops, not the three that take a tanh
    engine.write_text(text.replace(marker, marker + '        while self.data == 0.0:\n            pass\n'))
    code, out = pytest_at_root(f'--impl={solutions_copy}', '--check-cpu=2', '-m', 'ops_backward')
    assert code == 1
    assert 'used more than 2 s of CPU time and was stopped' in out
    assert 'Timeout' not in out, "the CPU limit stopped it, not the wall-clock backstop"
