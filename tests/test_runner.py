"""The checkpoint runner (`mgcourse check`, `hint`, `watch`), on the skeleton, the solutions and
a half-finished copy."""

import json
import os
import queue
import shutil
import subprocess
import sys
import threading

import pytest

from mgcourse import cli, paths
from mgcourse.battery import catalogue
from mgcourse.student import runner, watching

N = len(catalogue.load())
FIRST = catalogue.load()[0]


@pytest.fixture(autouse=True)
def hint_store(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, 'HINTS_SEEN', tmp_path / 'hints.json')
    return tmp_path / 'hints.json'


@pytest.fixture
def half_finished(tmp_path):
    """The skeleton with the engine written (the solutions' engine.py), the network not yet."""
    folder = tmp_path / 'half'
    shutil.copytree(paths.SKELETON, folder, ignore=shutil.ignore_patterns('__pycache__'))
    shutil.copy(paths.SOLUTIONS / 'engine.py', folder / 'engine.py')
    return folder


def check(*args):
    proc = subprocess.run([sys.executable, '-m', 'mgcourse.cli', 'check', *args],
                          capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, COLUMNS='200'))
    return proc.returncode, proc.stdout


def test_on_the_skeleton_it_shows_0_of_n_and_the_first_task_with_its_hint_and_time():
    code, out = check()
    assert code == 1
    assert f"micrograd course: 0 of {N} checkpoints, 0 of " in out
    assert "> current" in out and out.count("not yet reached") == N - 1
    assert f"Next: {FIRST.id}, {FIRST.title}" in out
    assert f"In the lecture: {FIRST.lecture}" in out
    assert f"Hint 1 of {len(FIRST.hints)}: {FIRST.hints[0]}" in out
    assert f"Run this checkpoint alone: mgcourse check {FIRST.id}" in out
    assert "not written yet" in out


def test_on_the_solutions_it_shows_n_of_n_and_exits_0():
    code, out = check('--impl', str(paths.SOLUTIONS))
    assert code == 0
    assert f"micrograd course: {N} of {N} checkpoints" in out
    assert "Every checkpoint passes" in out
    assert "current" not in out and "Next:" not in out


def test_a_half_finished_copy_is_current_at_its_first_unfinished_checkpoint(half_finished):
    code, out = check('--impl', str(half_finished), '--json')
    data = json.loads(out)
    assert code == 1
    statuses = {row['id']: row['status'] for row in data['table']}
    assert statuses == {'ops_backward': 'passed', 'backward': 'passed', 'reuse': 'passed',
                        'more_ops': 'passed', 'mlp': 'current', 'loss': 'not yet reached',
                        'parameters': 'not yet reached', 'training': 'not yet reached'}
    assert data['checkpoints_passed'] == 4 and not data['all_passed']
    assert data['next']['checkpoint'] == 'mlp'
    assert data['next']['failing_check'] == 'mlp.neuron'
    assert 'checkpoint mlp' in data['next']['message']
    assert data['next']['command'] == 'mgcourse check mlp'
    assert data['next']['lecture'].startswith('01:43:55 ')
    assert data['points'] == sum(row['points'] for row in data['table'])


def test_json_on_the_solutions_is_complete_data():
    code, out = check('--impl', str(paths.SOLUTIONS), '--json')
    data = json.loads(out)
    assert code == 0 and data['all_passed'] and data['next'] is None
    assert data['points'] == data['possible'] > 0
    assert [row['id'] for row in data['table']] == [cp.id for cp in catalogue.load()]
    assert all(c['passed'] for row in data['table'] for c in row['checks'])


def test_one_checkpoint_alone():
    code, out = check('reuse', '--impl', str(paths.SOLUTIONS), '--json')
    data = json.loads(out)
    assert code == 0 and [row['id'] for row in data['table']] == ['reuse']


def test_a_syntax_error_is_the_first_thing_to_fix_with_file_line_and_code(half_finished):
    path = half_finished / 'nn.py'
    path.write_text(path.read_text().replace('class Layer(Module):', 'class Layer(Module)'))
    code, out = check('--impl', str(half_finished))
    assert code == 1
    first = out.strip().splitlines()[0]
    assert first.startswith('Fix this first: your package does not import.')
    assert "nn.py, line " in out and "SyntaxError" in out
    assert "| class Layer(Module)" in out


def test_hints_come_one_after_another_and_stay_shown(hint_store, capsys):
    cp = catalogue.by_id()['reuse']
    for n in range(1, len(cp.hints) + 2):
        assert cli.main(['hint', 'reuse']) == 0
        out = capsys.readouterr().out
        shown = min(n, len(cp.hints))
        assert f"Hint {shown} of {len(cp.hints)}: {cp.hints[shown - 1]}" in out
    assert runner.shown_hints('reuse') == list(cp.hints)
    assert runner.shown_hints('backward') == list(catalogue.by_id()['backward'].hints[:1])


def test_hint_without_a_name_is_for_the_current_checkpoint(half_finished, capsys):
    assert cli.main(['hint', '--impl', str(half_finished)]) == 0
    assert capsys.readouterr().out.startswith('mlp, Neuron, Layer and MLP (01:43:55 ')


def test_progress_is_computed_not_stored(half_finished, hint_store):
    # Nothing but the hints is written, and a claim written by hand changes nothing.
    runner.progress(half_finished)
    assert not hint_store.exists()
    hint_store.write_text(json.dumps({'mlp': 3, 'passed': ['mlp', 'loss']}))
    assert runner.progress(half_finished).current.checkpoint.id == 'mlp'


def test_watch_runs_check_again_when_a_file_is_saved(half_finished):
    proc = subprocess.Popen([sys.executable, '-m', 'mgcourse.cli', 'watch', '--impl',
                             str(half_finished)], stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, COLUMNS='200'))
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    try:
        seen = read_until(lines, 'Watching')
        assert 'Next: mlp' in seen
        shutil.copy(paths.SOLUTIONS / 'nn.py', half_finished / 'nn.py')   # the student saves
        seen = read_until(lines, 'Watching')
        assert 'Next: loss' in seen   # the network now passes; the loss is next
    finally:
        proc.kill()
        proc.wait()


def read_until(lines, marker, limit=120):
    """Output lines up to one containing marker; `limit` seconds is only a safety net."""
    got = []
    while True:
        try:
            line = lines.get(timeout=limit)
        except queue.Empty:
            raise AssertionError(f'no "{marker}" in:\n' + ''.join(got)) from None
        got.append(line)
        if marker in line:
            return ''.join(got)


def test_a_save_during_a_run_cancels_it_and_starts_again(half_finished):
    # The network is written, but its neurons stall: the run is still going when the
    # student saves a fixed nn.py.
    started = half_finished / 'started'
    shutil.copy(paths.SOLUTIONS / 'nn.py', half_finished / 'nn.py')
    text = (half_finished / 'nn.py').read_text()
    stall = ("    def __call__(self, x):\n"
             f"        import os, time; open({str(started)!r}, 'w').write(str(os.getpid()))\n"
             "        time.sleep(60)\n")
    assert text.count("    def __call__(self, x):\n") == 3
    (half_finished / 'nn.py').write_text(text.replace("    def __call__(self, x):\n", stall, 1))
    shown = []
    watcher = watching.Watcher(half_finished, lambda p, first: shown.append((p, first)))
    try:
        watcher.start()
        for _ in range(600):
            if started.exists() and started.read_text():
                break
            threading.Event().wait(0.1)
        stalled = int(started.read_text())
        shutil.copy(paths.SOLUTIONS / 'nn.py', half_finished / 'nn.py')  # the student saves
        watcher.start()
        watcher.wait(120)
    finally:
        watcher.stop()
    with pytest.raises(ProcessLookupError):
        os.kill(stalled, 0)  # the first run's worker is gone
    assert watcher.runs == 2 and watcher.finished == 1
    assert [first for _, first in shown] == [False]  # only the second run's table
    p = shown[-1][0]
    assert p.all_passed is False and p.current.checkpoint.id == 'loss'


def test_watch_shows_the_current_checkpoint_first(half_finished):
    shown = []
    watcher = watching.Watcher(half_finished, lambda p, first: shown.append((p, first)))
    watcher.start()
    watcher.wait(120)
    assert watcher.current == 'mlp'
    shutil.copy(paths.SOLUTIONS / 'nn.py', half_finished / 'nn.py')
    watcher.start()
    watcher.wait(120)
    assert [first for _, first in shown] == [False, True, False]
    part = shown[1][0]
    assert [s.checkpoint.id for s in part.states] == ['mlp'] and part.states[0].passed
    assert shown[2][0].current.checkpoint.id == 'loss' and watcher.current == 'loss'


def test_a_run_of_one_checkpoint_says_only_that_it_passes():
    code, out = check('ops_backward', '--impl', str(paths.SOLUTIONS))
    assert code == 0
    assert 'Checkpoint ops_backward passes; run `mgcourse check` for all' in out
    assert 'Every checkpoint' not in out


def test_the_pytorch_comparison_runs_only_when_asked():
    p = runner.progress(paths.SOLUTIONS, only={'more_ops'}, torch=False)
    skipped = [r for r in p.results if r.error == 'skipped']
    assert [r.id for r in skipped] == ['more_ops.random_vs_torch']
    assert '--torch' in skipped[0].message and p.all_passed
    p = runner.progress(paths.SOLUTIONS, only={'more_ops'}, torch=True)
    assert next(r for r in p.results if r.id == 'more_ops.random_vs_torch').possible in (0, 1)
    assert p.all_passed


def test_long_lines_are_broken_between_words():
    text = '    ' + ' '.join(['backpropagation'] * 12)
    lines = runner.wrap(text, 50).splitlines()
    assert all(len(line) <= 50 and line.startswith('    backprop') for line in lines)
    assert runner.wrap(text, 50).split() == text.split()
    code = '        ' + 'x' * 80  # code is left whole
    assert runner.wrap(code, 50) == code
