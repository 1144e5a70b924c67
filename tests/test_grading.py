"""The batch grader on the sample class (mgcourse sample-class): the gradebook, its reports,
resuming an interrupted run, reproducible regrades, and the sandbox switched off."""

import csv
import json
import os
import shutil
import stat
import signal
import subprocess
import sys
import time

import pytest

from mgcourse import cli
from mgcourse.batch import grading, hidden, student_library
from mgcourse.batch.reports import gradescope_results
from mgcourse.handout import sampleclass
from mgcourse.isolation import own_users, sandbox

SEED = 5
FULL = sum(c['points'] for c in grading.check_list())


@pytest.fixture(scope='module')
def sample(tmp_path_factory):
    root = tmp_path_factory.mktemp('sample') / 'class'
    assert cli.main(['sample-class', str(root)]) == 0
    return root


@pytest.fixture(scope='module')
def graded(sample, tmp_path_factory):
    out = tmp_path_factory.mktemp('graded') / 'out'
    events = []
    book = grading.grade(sample, out, grading.Options(jobs=2, seed=SEED), on_event=events.append)
    return {'book': book, 'out': out, 'events': events}


def grade_command(sample, out, **env):
    return [sys.executable, '-m', 'mgcourse.cli', 'grade', str(sample), '--out', str(out),
            '--seed', str(SEED), '--jobs', '2'], dict(os.environ, **env)


def test_every_student_has_a_record_with_real_scores(graded):
    students = graded['book']['students']
    assert sorted(students) == sorted(sampleclass.CLASS)
    assert students['ada']['total'] == FULL and students['ada']['status'] == 'graded'
    assert students['ben']['total'] == 0
    assert students['eve']['status'] == 'invalid' and students['eve']['total'] == 0
    assert 'nothing to grade' in ' '.join(students['eve']['notes'])
    for student, (_, what) in sampleclass.CLASS.items():
        record = students[student]
        assert record['seed'] == SEED
        if what not in ('solutions', 'skeleton', 'empty'):
            # a mistake costs points, and the gradebook names it
            assert 0 < record['total'] < FULL, student
            found = {d for r in record['checks'].values() for d in r['diagnoses']}
            mistake = {m.id: m for m in grading.diagnosis.mistakes()}[what]
            assert mistake.diagnosis in found, (student, found)


def test_the_csv_matches_the_json(graded):
    with open(graded['out'] / 'grades.csv', newline='', encoding='utf-8') as f:
        table = list(csv.reader(f))
    header = table[0]
    assert header[:4] == ['student', 'status', 'total', 'possible']
    assert header[-1] == 'notes'
    rows = {row[0]: dict(zip(header, row)) for row in table[1:]}
    for student, record in graded['book']['students'].items():
        assert float(rows[student]['total']) == record['total']
        assert rows[student]['seed'] == str(SEED)
        assert rows[student]['notes'] == ' / '.join(' '.join(n.split()) for n in record['notes'])
    assert any(rows[s]['notes'] for s in rows), "the sample class has notes (an invalid hand-in)"


def test_feedback_summary_and_gradescope_results_for_every_student(graded):
    out = graded['out']
    for student in sampleclass.CLASS:
        assert (out / 'feedback' / f'{student}.md').is_file()
        assert (out / 'feedback' / f'{student}.html').is_file()
        results = json.loads((out / 'gradescope' / student / 'results.json').read_text())
        assert gradescope_results.validate_gradescope(results) == []
        assert results['score'] == graded['book']['students'][student]['total']
    assert (out / 'summary.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert 'summary.png' in (out / 'summary.html').read_text()


def test_an_interrupted_run_resumes_with_identical_results(sample, graded, tmp_path):
    out = tmp_path / 'out'
    cmd, env = grade_command(sample, out)
    first = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # stop it once some students are recorded, not all
        book = json.loads((out / 'grades.json').read_text()) if (out / 'grades.json').exists() else {}
        if len(book.get('students', {})) >= 3:
            break
        time.sleep(0.05)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    interrupted = json.loads((out / 'grades.json').read_text())  # whole: written atomically
    assert 3 <= len(interrupted['students']) < len(sampleclass.CLASS)
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    kept = [line for line in done.stdout.splitlines() if 'kept from the last run' in line]
    assert len(kept) == len(interrupted['students'])
    for name in ('grades.json', 'grades.csv'):
        assert (out / name).read_bytes() == (graded['out'] / name).read_bytes(), name


def test_hidden_inputs_come_from_the_seed():
    h = hidden.by_id()['loss.hidden_network']
    assert hidden._spec(hidden._rng(1, h)) == hidden._spec(hidden._rng(1, h))
    assert hidden._spec(hidden._rng(1, h)) != hidden._spec(hidden._rng(2, h))


def test_without_the_sandbox_it_still_grades_and_says_so_once(sample, tmp_path, monkeypatch):
    one = tmp_path / 'one'
    one.mkdir()
    (one / 'ada').symlink_to(sample / 'ada')  # the hand-in itself is a link: not graded
    (one / 'ben.zip').write_bytes((sample / 'ben.zip').read_bytes())
    cmd, env = grade_command(one, tmp_path / 'out', MGCOURSE_SANDBOX='off')
    monkeypatch.setenv(sandbox.ENV_SWITCH, 'off')
    if sandbox.process_limit_problem():
        # As root with a Python other users cannot start (as here: pyenv under /root), the
        # grader would refuse (tested below); these two hand-ins are harmless.
        cmd.append('--unlimited-processes-ok')
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count(sandbox.SANDBOX_OFF_MESSAGE) == 1
    book = json.loads((tmp_path / 'out' / 'grades.json').read_text())
    assert book['sandbox'] == 'off'
    assert book['students']['ben']['status'] == 'graded'
    assert book['students']['ada']['status'] == 'invalid'
    assert 'symbolic link' in ' '.join(book['students']['ada']['notes'])


def root_without_a_process_limit(monkeypatch):
    """This process as root without bubblewrap, with an interpreter no other user can start."""
    monkeypatch.setattr(sandbox, 'bwrap_available', lambda: False)
    monkeypatch.setattr(sandbox, 'off_reason', lambda: 'bwrap is not installed')
    monkeypatch.setattr(sandbox.os, 'geteuid', lambda: 0)
    monkeypatch.setattr(sandbox, '_root_of_this_machine', lambda: True)
    monkeypatch.setattr(sandbox, '_interpreter_reachable', lambda program, env: False)


def test_where_no_process_limit_can_hold_it_refuses_to_grade(sample, tmp_path, monkeypatch, capsys):
    # As root without bubblewrap, a Python under /root cannot run as a user of its own, so a
    # fork bomb would be unbounded: the grader says so, and what to do, and grades nothing.
    root_without_a_process_limit(monkeypatch)
    out = tmp_path / 'out'
    assert cli.main(['grade', str(sample), '--out', str(out)]) == 2
    err = capsys.readouterr().err
    assert 'mgcourse grade: not grading: this runs as root without the sandbox' in err
    assert sys.executable in err and 'fork bomb' in err
    assert "apt-get install bubblewrap" in err and '--unlimited-processes-ok' in err
    assert not (out / 'grades.json').exists()


def test_the_process_limit_is_a_problem_only_for_root_without_bubblewrap(monkeypatch):
    root_without_a_process_limit(monkeypatch)
    assert 'fork bomb' in sandbox.process_limit_problem()
    monkeypatch.setattr(sandbox, '_interpreter_reachable', lambda program, env: True)
    assert sandbox.process_limit_problem() is None   # runs as a user id of its own
    monkeypatch.setattr(sandbox, '_interpreter_reachable', lambda program, env: False)
    monkeypatch.setattr(sandbox.os, 'geteuid', lambda: 1000)
    assert sandbox.process_limit_problem() is None   # RLIMIT_NPROC binds other users
    monkeypatch.setattr(sandbox.os, 'geteuid', lambda: 0)
    monkeypatch.setattr(sandbox, 'bwrap_available', lambda: True)
    assert sandbox.process_limit_problem() is None   # bubblewrap's own limit


def test_each_worker_starts_from_a_fresh_copy_of_the_hand_in(tmp_path):
    source = tmp_path / 'handed-in'
    source.mkdir()
    (source / 'engine.py').write_text('# as handed in\n')
    outside = tmp_path / 'outside'
    outside.mkdir()
    (outside / 'keep.txt').write_text('not the grader\'s to remove\n')
    mode = outside.stat().st_mode
    scratch = tmp_path / 'scratch'
    scratch.mkdir()
    package = grading._fresh_copy(source, scratch)
    run = package.parent
    # what a previous worker left in its run folder: changed code, junk, a folder it locked,
    # a link out, and the package folder itself swapped for a link to a folder outside
    (package / 'engine.py').write_text('# changed by the student\'s code\n')
    (run / 'junk').write_bytes(bytes(1000))
    locked = run / 'locked'
    (locked / 'inside').mkdir(parents=True)
    (locked / 'inside' / 'file').write_text('x')
    locked.chmod(0)
    (run / 'link-out').symlink_to(outside)
    shutil.rmtree(package)
    package.symlink_to(outside)
    fresh = grading._fresh_copy(source, scratch)
    # a folder of its own, made by the grader, that no earlier worker ever had
    assert fresh.parent != run and fresh.parent.parent == scratch
    assert sorted(p.name for p in fresh.parent.iterdir()) == ['package', 'tmp']
    assert stat.S_IMODE(fresh.parent.stat().st_mode) == 0o700
    assert fresh.parent.stat().st_uid == os.geteuid()
    assert (fresh / 'engine.py').read_text() == '# as handed in\n'
    assert sorted(p.name for p in outside.iterdir()) == ['keep.txt']
    assert outside.stat().st_mode == mode
    own_users.remove_tree(scratch)
    assert not scratch.exists() and (outside / 'keep.txt').exists()


def test_the_library_the_worker_imports_computes_no_expected_value(tmp_path):
    runtime = student_library.runtime_library(tmp_path / 'runtime')
    done = subprocess.run([sys.executable, '-I', '-c', (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "import mgcourse.isolation.worker\n"
        "from mgcourse.battery import checks, oracle, randexpr\n"
        "from mgcourse.battery.checks.base import PROBES, REGISTRY\n"
        "found = [n for n in ('neuron_forward', 'mlp_forward', 'sse_loss', 'loss_gradient',\n"
        "                     'descend', 'F') if hasattr(oracle, n)]\n"
        "found += [n for n in ('gradients', 'forward', 'shares', 'uses')\n"
        "          if hasattr(oracle.Expression, n)]\n"
        "found += [n for n in ('torch_gradients', 'programs', '_try') if hasattr(randexpr, n)]\n"
        "import json; print(json.dumps([len(REGISTRY), found]))\n"), str(runtime)],
        capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    count, found = json.loads(done.stdout)
    assert count == len(grading.checks.REGISTRY)  # every probe is there to run
    assert found == []                            # and nothing that computes what to expect
    assert not (runtime / 'mgcourse' / 'batch' / 'hidden.py').exists()
    # Compiled files (the student's processes write none): the editions' own, and none of a
    # module that was left out.
    library = runtime / 'mgcourse'
    compiled = {p.name.split('.')[0] for p in library.rglob('__pycache__/*.pyc')}
    assert set(student_library.WORKER_EDITIONS) <= {f'{name}.py' for name in compiled}
    assert compiled <= {p.stem for p in library.rglob('*.py')}


def test_grading_writes_nothing_in_the_current_folder(sample, tmp_path, monkeypatch):
    here = tmp_path / 'here'
    here.mkdir()
    monkeypatch.chdir(here)
    root = tmp_path / 'one'
    root.mkdir()
    shutil.copytree(sample / 'ada', root / 'ada')
    book = grading.grade(root, tmp_path / 'out', grading.Options(jobs=1, seed=SEED))
    assert book['students']['ada']['total'] == FULL
    assert list(here.iterdir()) == []


def test_packages_graded_at_once_in_threads_share_one_hypothesis_home_that_outlives_them():
    # nbautograde grades its students' packages in threads at once. Hypothesis's home folder is
    # one setting for the process: when each student's grading set it to a folder of its own
    # scratch space, one student's search wrote into another's folder while it was removed
    # ("OSError: Directory not empty" in the middle of an autograde).
    import threading

    import hypothesis.configuration

    from mgcourse.nbgrading import nbgrade
    from mgcourse import paths
    options = grading.Options(unlimited_processes_ok=bool(sandbox.process_limit_problem()))
    entries, homes = [], []

    def one():
        entries.append(nbgrade.grade_package(paths.SKELETON, options))
        homes.append(hypothesis.configuration.storage_directory().home_directory)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [e['status'] for e in entries] == ['graded', 'graded']
    assert len(set(homes)) == 1 and homes[0].is_dir()
    assert homes[0].name.startswith('mgcourse-hypothesis-')
