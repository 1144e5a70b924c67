"""nbgrader's kernels can write only their own scratch folder (kernels.SandboxedKernelManager).

A small class of two students, each handing in the first notebook and a package: ada, honest,
graded first; then mallory, whose notebook has one cell more and whose package has code at
import, both written against the grader. At autograde time they try to append to the
gradebook and rewrite its grades, overwrite ada's submitted and autograded files, create files
in the course folder, swap mallory's own autograded notebook for a link to a file outside (so
that nbgrader, writing the notebook, would write through it), and leave a daemon that goes on
trying after the kernel is gone. Every attempt must fail, nothing but what nbgrader itself
writes may change in the course folder, ada's scores must stay, mallory must get what the
honest part of the notebook deserves, and no process of the kernel may outlive the autograde.

The class is graded twice, from one prepared course: with plain nbgrader and the course's
configuration, and with `mgcourse autograde`. Both need bubblewrap: without it, as root, with a
Python under /root (as on the project's machine), the kernels cannot be isolated, and the log
says so (the last test checks that warning).
"""

import hashlib
import json
import logging
import os
import shutil
import sqlite3
import stat
import sys
import time
import uuid
from pathlib import Path

import nbformat
import pytest

from mgcourse import cli, kernels, nbautograde, nbgrade, paths, sandbox
from nbgrader_class import CELL_CPU

pytest.importorskip('nbgrader')
pytest.importorskip('nbclient')

NOTEBOOK = '01_derivatives'  # the assignment's only notebook here: its four self-checks
HONEST = {NOTEBOOK: 4}
MARK = 'written by a student\n'
TOKEN = f'mgcourse-kernel-attack-{uuid.uuid4().hex}'  # in the daemon's command line
DAEMON_SECONDS = 60  # it ends by itself, should it outlive its kernel


def attack_cell(course, canary):
    """The code of mallory's extra cell: each attempt, and a report of how it went."""
    ada_sub = course / 'submitted/ada/micrograd'
    ada_auto = course / 'autograded/ada/micrograd'
    own = course / f'autograded/mallory/micrograd/{NOTEBOOK}.ipynb'
    daemon_targets = [str(ada_sub / 'micrograd_skeleton/engine.py'),
                      str(ada_auto / f'{NOTEBOOK}.ipynb'), str(course / 'daemon-was-here.txt')]
    daemon = (f"import time\nend = time.monotonic() + {DAEMON_SECONDS}\n"
              "while time.monotonic() < end:\n"
              f"    for path in {daemon_targets!r}:\n"
              "        try:\n"
              f"            open(path, 'a').write({MARK!r})\n"
              "        except OSError:\n"
              "            pass\n"
              "    time.sleep(0.1)\n")
    return f"""# written against the grader
import json, os, sqlite3, subprocess, sys
import micrograd_skeleton.engine as _engine
_report = dict(getattr(_engine, 'ATTEMPTS', {{}}))

def _try(name, action):
    try:
        action()
        _report[name] = 'succeeded'
    except Exception as e:
        _report[name] = f'failed: {{type(e).__name__}}: {{e}}'

def _append(path):
    with open(path, 'a') as f:
        f.write({MARK!r})

def _rewrite_grades():
    db = sqlite3.connect('file:{course / 'gradebook.db'}?mode=rw', uri=True, timeout=2)
    db.execute('UPDATE grade SET auto_score = 0')
    db.commit()
    db.close()

def _swap_for_a_link():
    if os.path.lexists({str(own)!r}):
        os.remove({str(own)!r})
    os.symlink({str(canary)!r}, {str(own)!r})

_try('append to the gradebook', lambda: _append({str(course / 'gradebook.db')!r}))
_try("rewrite the gradebook's grades", _rewrite_grades)
_try("overwrite ada's submitted engine.py",
     lambda: open({str(ada_sub / 'micrograd_skeleton/engine.py')!r}, 'w').write({MARK!r}))
_try("overwrite ada's autograded notebook",
     lambda: open({str(ada_auto / f'{NOTEBOOK}.ipynb')!r}, 'w').write({MARK!r}))
_try("overwrite ada's autograded engine.py",
     lambda: open({str(ada_auto / 'micrograd_skeleton/engine.py')!r}, 'w').write({MARK!r}))
_try('create a file in the course folder',
     lambda: open({str(course / 'cell-was-here.txt')!r}, 'x').write({MARK!r}))
_try('swap its own autograded notebook for a link', _swap_for_a_link)
subprocess.Popen([sys.executable, '-c', {daemon!r}, {TOKEN!r}], start_new_session=True,
                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print('ATTEMPTS ' + json.dumps(_report, sort_keys=True))
"""


def package_attack(course):
    """What mallory's engine.py does when it is imported."""
    targets = {'package: create a file in the course folder': str(course / 'package-was-here.txt'),
               "package: append to ada's submitted nn.py":
                   str(course / 'submitted/ada/micrograd/micrograd_skeleton/nn.py')}
    return f"""

# --- written against the grader -------------------------------------------------------------
ATTEMPTS = {{}}
for _name, _path in {targets!r}.items():
    try:
        with open(_path, 'a') as _f:
            _f.write({MARK!r})
        ATTEMPTS[_name] = 'succeeded'
    except Exception as _e:
        ATTEMPTS[_name] = f'failed: {{type(_e).__name__}}'
"""


def tree(folder):
    """{path relative to folder: ('dir',) | ('link', target) | ('file', digest)}."""
    out = {}
    for where, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = os.path.join(where, name)
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode):
                what = ('link', os.readlink(path))
            elif stat.S_ISDIR(mode):
                what = ('dir',)
            else:
                what = ('file', hashlib.sha256(Path(path).read_bytes()).hexdigest())
            out[os.path.relpath(path, folder)] = what
    return out


def attackers_left():
    """The pids of processes whose command line carries TOKEN (the daemon, if it survived)."""
    found = []
    for entry in os.scandir('/proc'):
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if TOKEN.encode() in Path(entry.path, 'cmdline').read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def kill_attackers():
    for pid in attackers_left():
        try:
            os.kill(pid, 9)
        except OSError:
            pass


def plain_nbgrader(course, student):
    nbgrade.nbgrader(course, 'autograde', nbgrade.ASSIGNMENT, '--student', student,
                     f'--ExecuteWithinBudget.cpu_timeout={CELL_CPU}')


def mgcourse_autograde(course, student):
    code = cli.main(['autograde', '--course', str(course), '--jobs', '1',
                     '--cell-cpu', str(CELL_CPU), student])
    assert code == 0


@pytest.fixture(scope='module')
def prepared(tmp_path_factory):
    """The course, its assignment cut down to the first notebook (generated in a third of the
    time), with ada submitted and graded (by plain nbgrader), before mallory's autograde:
    copied for each way of grading."""
    if not sandbox.bwrap_available():
        pytest.skip(f"needs bubblewrap to isolate the kernels: {sandbox.off_reason()}")
    base = tmp_path_factory.mktemp('nbsandbox')
    course = Path(os.path.realpath(nbgrade.scratch_copy(base / 'course')))
    for other in nbgrade.source_folder(course).glob('*.ipynb'):
        if other.stem != NOTEBOOK:
            other.unlink()
    nbgrade.generate(course)
    first = base / 'first'
    first.mkdir()
    source = nbgrade.source_folder(course) / f'{NOTEBOOK}.ipynb'
    shutil.copyfile(source, first / source.name)
    nbgrade.submit(course, 'ada', first, paths.SOLUTIONS)
    plain_nbgrader(course, 'ada')
    return {'course': course, 'first': first}


@pytest.fixture(scope='module', params=['nbgrader', 'mgcourse'])
def graded(request, prepared, tmp_path_factory):
    """mallory autograded (by plain nbgrader, or by `mgcourse autograde`) in a copy of the
    prepared course, after ada: what was there before and after."""
    top = Path(os.path.realpath(tmp_path_factory.mktemp(f'nbsandbox-{request.param}')))
    course = top / 'course'
    shutil.copytree(prepared['course'], course, symlinks=True)
    outside = top / 'outside'  # where mallory's link points: a file nbgrader must never write
    outside.mkdir()
    canary = outside / 'canary.txt'
    canary.write_text('the grader owns this file\n')
    nb = nbformat.read(prepared['first'] / f'{NOTEBOOK}.ipynb', as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(attack_cell(course, canary)))
    hostile = top / 'mallory'
    hostile.mkdir()
    nbformat.write(nb, hostile / f'{NOTEBOOK}.ipynb')
    folder = nbgrade.submit(course, 'mallory', hostile, paths.SOLUTIONS)
    with open(folder / nbgrade.PACKAGE / 'engine.py', 'a', encoding='utf-8') as f:
        f.write(package_attack(course))
    before = tree(course)
    scores_before = nbautograde.scores(course)
    start = time.perf_counter()
    try:
        (plain_nbgrader if request.param == 'nbgrader' else mgcourse_autograde)(course, 'mallory')
        seconds = time.perf_counter() - start
        left = attackers_left()
    finally:
        kill_attackers()  # should the daemon have outlived its kernel (it must not)
    print(f"\n{request.param}: mallory autograded in {seconds:.1f} s")
    return {'how': request.param, 'course': course, 'before': before, 'after': tree(course),
            'scores_before': scores_before, 'left': left, 'canary': canary, 'outside': outside}


def attempts(graded):
    """What mallory's cell reported of each attempt, from its autograded notebook."""
    path = graded['course'] / f'autograded/mallory/micrograd/{NOTEBOOK}.ipynb'
    cell = nbformat.read(path, as_version=4).cells[-1]
    text = ''.join(o.get('text', '') for o in cell.outputs if o.output_type == 'stream')
    line = next(line for line in text.splitlines() if line.startswith('ATTEMPTS '))
    return json.loads(line[len('ATTEMPTS '):])


def test_every_attempt_to_write_outside_failed(graded):
    report = attempts(graded)
    assert len(report) == 9, report  # 7 from the cell, 2 from the package
    assert {k: v for k, v in report.items() if not v.startswith('failed')} == {}


def test_nothing_changed_in_the_course_folder_but_what_nbgrader_writes(graded):
    before, after = graded['before'], graded['after']
    # nbgrader's own writes: the gradebook, its log, and mallory's autograded folder
    theirs = {'gradebook.db', '.nbgrader.log'}
    changed = sorted(p for p in before if p not in theirs and after.get(p) != before[p])
    assert changed == [], "changed or removed: these must be byte for byte as they were"
    new = sorted(p for p in set(after) - set(before) if p not in theirs)
    assert [p for p in new if p.split(os.sep)[:2] != ['autograded', 'mallory']] == []
    assert [p for p in new if after[p][0] == 'link'] == []
    assert MARK.encode() not in (graded['course'] / 'gradebook.db').read_bytes()
    with sqlite3.connect(graded['course'] / 'gradebook.db') as db:
        assert db.execute('PRAGMA integrity_check').fetchone() == ('ok',)


def test_nbgrader_wrote_nothing_through_a_link(graded):
    assert graded['canary'].read_text() == 'the grader owns this file\n'
    assert sorted(p.name for p in graded['outside'].iterdir()) == ['canary.txt']
    own = graded['course'] / f'autograded/mallory/micrograd/{NOTEBOOK}.ipynb'
    assert own.is_file() and not own.is_symlink()


def test_the_classmate_keeps_her_scores_and_the_attacker_gets_what_its_honest_part_deserves(graded):
    got = nbautograde.scores(graded['course'])
    assert got['ada'] == graded['scores_before']['ada'] == HONEST
    assert got['mallory'] == HONEST


def test_no_process_of_the_kernel_outlived_the_autograde(graded):
    assert graded['left'] == [], "a process the kernel started outlived the autograde"


def test_without_bubblewrap_the_log_says_plainly_that_kernels_are_not_isolated(tmp_path,
                                                                                 monkeypatch,
                                                                                 caplog):
    # One kernel, started with the sandbox forced off, as nbgrader's autograde starts it:
    # here (root, a Python under /root) it cannot run as a user of its own, and the log says
    # so once, naming why; where it can, it says that instead. Either way the kernel runs.
    monkeypatch.setenv(sandbox.ENV_SWITCH, 'off')
    monkeypatch.setattr(kernels, '_SAID', set())
    (tmp_path / 'data.txt').write_text('read me\n')
    with caplog.at_level(logging.WARNING):
        for _ in range(2):
            km, kc = kernels.start_kernel(sandboxed=True, cwd=str(tmp_path))
            try:
                reply = kc.execute_interactive("print(open('data.txt').read())", timeout=60)
                assert reply['content']['status'] == 'ok'
                runs_as = km.provisioner.sandboxed.user
            finally:
                kc.stop_channels()
                km.shutdown_kernel(now=True)
    said = [r.getMessage() for r in caplog.records if 'kernels' in r.getMessage()]
    assert len(said) == 1, said
    if runs_as is None:
        assert 'NOT isolated' in said[0] and f'{sandbox.ENV_SWITCH}=off' in said[0]
        if os.geteuid() == 0:
            assert 'cannot be reached by other users' in said[0]
            assert sys.base_prefix in said[0] or sys.prefix in said[0]
    else:
        assert 'a user id of its own' in said[0]
