"""The Gradescope autograder bundle, run in a simulated /autograder layout.

Gradescope unpacks the zip into /autograder/source, runs setup.sh once (apt and pip: not here;
the test uses this environment's Python instead, through MGCOURSE_PYTHON), then for each
submission runs /autograder/run_autograder with the student's files in /autograder/submission.
"""

import json
import os
import shutil
import subprocess
import time
import zipfile

import pytest

from mgcourse import cli, paths
from mgcourse.batch import grading
from mgcourse.batch.reports import gradescope_results
from mgcourse.battery.catalogue import tomllib  # tomli on Python 3.10
from mgcourse.handout import gradescope, skeleton

SEED = 77


@pytest.fixture(scope='module')
def bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp('gradescope') / 'autograder.zip'
    assert cli.main(['gradescope', '--out', str(out), '--seed', str(SEED)]) == 0
    return out


def run_autograder(bundle, tmp, package, **env):
    root = tmp / 'autograder'
    cmd, where = gradescope.container(bundle, root, package)
    done = subprocess.run(cmd, env=dict(os.environ, **where, **env), capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((root / 'results' / 'results.json').read_text())


def test_the_bundle_follows_gradescopes_layout_and_holds_no_solution(bundle):
    with zipfile.ZipFile(bundle) as z:
        names = set(z.namelist())
        modes = {i.filename: i.external_attr >> 16 for i in z.infolist()}
        data = {n: z.read(n) for n in names}
    assert {'setup.sh', 'run_autograder', 'requirements.txt', 'gradescope.json',
            'grader/mgcourse/batch/hidden.py', 'micrograd_skeleton/engine.py'} <= names
    assert modes['run_autograder'] & 0o111 and modes['setup.sh'] & 0o111
    assert not any(n.startswith('solutions/') for n in names)
    # The library's code is the repository's, file for file; what else the bundle holds (the
    # skeleton, the diagnoses' words, the scripts) quotes no line of the solutions.
    library = paths.ROOT / 'grader'
    others = []
    for name, content in data.items():
        if name.startswith('grader/mgcourse/') and name.endswith('.py'):
            assert content == (library / name[len('grader/'):]).read_bytes(), name
        else:
            others += content.decode('utf-8').splitlines()
    solutions = skeleton.solution_lines((paths.SOLUTIONS / n).read_text(encoding='utf-8')
                                        for n in skeleton.generate()
                                        if (paths.SOLUTIONS / n).is_file())
    leaked = solutions & {line.strip() for line in others}
    assert not leaked, sorted(leaked)[:5]
    assert 'mistake' not in tomllib.loads(data['grader/mgcourse/battery/mistakes.toml'].decode())


@pytest.mark.parametrize('package, full', [(paths.SOLUTIONS, True), (paths.SKELETON, False)],
                         ids=['solutions', 'skeleton'])
def test_run_autograder_writes_valid_results(bundle, tmp_path, package, full):
    results = run_autograder(bundle, tmp_path, package)
    assert gradescope_results.validate_gradescope(results) == []
    possible = sum(c['points'] for c in grading.check_list())
    assert sum(t['max_score'] for t in results['tests']) == possible
    assert results['score'] == (possible if full else 0)
    hidden = [t for t in results['tests'] if 'hidden' in t['name']]
    assert len(hidden) == 3 and all(t['visibility'] == 'after_published' for t in hidden)
    assert all(t['visibility'] == 'visible' for t in results['tests'] if t not in hidden)
    assert results['extra_data']['seed'] == SEED
    assert isinstance(results['execution_time'], int) and results['execution_time'] >= 1
    assert_every_field_as_the_spec_says(results)


# Gradescope's autograder specification (gradescope-autograders.readthedocs.io, specs/):
# the fields of results.json and of each test, and the values the enumerated ones take.
SPEC_TOP = {'score': (int, float), 'execution_time': (int, float), 'output': str,
            'output_format': str, 'test_output_format': str, 'test_name_format': str,
            'visibility': str, 'stdout_visibility': str, 'extra_data': dict, 'tests': list,
            'leaderboard': list}
SPEC_TEST = {'score': (int, float), 'max_score': (int, float), 'status': str, 'name': str,
             'name_format': str, 'number': str, 'output': str, 'output_format': str,
             'tags': list, 'visibility': str, 'extra_data': dict}
SPEC_VISIBILITY = {'hidden', 'after_due_date', 'after_published', 'visible'}
SPEC_FORMATS = {'text', 'html', 'simple_format', 'md', 'ansi'}
SPEC_STATUS = {'passed', 'failed'}


def assert_every_field_as_the_spec_says(results):
    assert set(results) <= set(SPEC_TOP), set(results) - set(SPEC_TOP)
    for key, value in results.items():
        assert isinstance(value, SPEC_TOP[key]) and not isinstance(value, bool), key
    for key in ('output_format', 'test_output_format', 'test_name_format'):
        assert results.get(key, 'text') in SPEC_FORMATS, key
    for key in ('visibility', 'stdout_visibility'):
        assert results.get(key, 'visible') in SPEC_VISIBILITY, key
    assert results['execution_time'] >= 0
    for test in results['tests']:
        assert set(test) <= set(SPEC_TEST), set(test) - set(SPEC_TEST)
        for key, value in test.items():
            assert isinstance(value, SPEC_TEST[key]) and not isinstance(value, bool), (key, test)
        assert test.get('visibility', 'visible') in SPEC_VISIBILITY
        assert test.get('status', 'passed') in SPEC_STATUS
        assert test.get('output_format', 'text') in SPEC_FORMATS
        assert 0 <= test['score'] <= test['max_score']
        assert all(isinstance(tag, str) for tag in test.get('tags', []))
    assert results['score'] == sum(t['score'] for t in results['tests'])


def test_a_container_writes_the_gradebook_and_no_report(tmp_path):
    # One hand-in per container: only the gradebook is read, so no feedback page or class
    # chart is drawn (half the cost of a correct hand-in's run_autograder). An empty
    # submission is refused before any code runs, which keeps this test cheap.
    root = tmp_path / 'submissions'
    (root / gradescope.STUDENT).mkdir(parents=True)
    book, _ = gradescope.grade_in_container(root, tmp_path / 'out', SEED)
    assert book['students'][gradescope.STUDENT]['status'] == 'invalid'
    assert sorted(p.name for p in (tmp_path / 'out').iterdir()) == ['grades.csv', 'grades.json']


def test_the_validator_knows_the_specs_fields():
    assert gradescope_results.TOP_KEYS == set(SPEC_TOP) and gradescope_results.TEST_KEYS == set(SPEC_TEST)
    assert set(gradescope_results.VISIBILITIES) == SPEC_VISIBILITY
    assert set(gradescope_results.FORMATS) == SPEC_FORMATS and set(gradescope_results.STATUSES) == SPEC_STATUS


def test_the_zip_has_a_readme_for_the_admin(bundle):
    with zipfile.ZipFile(bundle) as z:
        text = z.read('README.md').decode('utf-8')
        config = json.loads(z.read('gradescope.json'))
    possible = sum(c['points'] for c in grading.check_list())
    hidden = [c for c in grading.check_list() if c['hidden']]
    assert f"Maximum score: {possible} points" in text
    for layout in ('engine.py', 'nn.py', 'train.py', 'micrograd_skeleton/', 'zip'):
        assert layout in text
    assert all(f"`{c['id']}`" in text for c in hidden)
    assert '`after_published`' in text and 'publish the grades' in text
    assert f"Hidden-check seed: **{SEED}**" in text and '--seed N' in text
    assert 'Regrade all submissions' in text
    assert config == {'seed': SEED, 'hidden_visibility': 'after_published'}


def test_hidden_checks_can_stay_hidden(tmp_path):
    out = tmp_path / 'hidden.zip'
    assert cli.main(['gradescope', '--out', str(out), '--seed', str(SEED),
                     '--hidden-visibility', 'hidden']) == 0
    with zipfile.ZipFile(out) as z:
        assert 'Their visibility is `hidden`' in z.read('README.md').decode('utf-8')
    results = run_autograder(out, tmp_path, paths.SKELETON)
    assert gradescope_results.validate_gradescope(results) == []
    assert_every_field_as_the_spec_says(results)
    assert sorted(t['visibility'] for t in results['tests'] if 'hidden' in t['name']) == ['hidden'] * 3


# A hand-in that leaves a daemon of its own session behind, which rewrites results.json once
# the grader has written it, and that marks where it ran as root.
DAEMON = '''
import os as _os, subprocess as _sp, sys as _sys
if _os.geteuid() == 0:
    open({root_mark!r}, 'w').write('ran as root')
_forger = """
import json, time
for _ in range(60):
    time.sleep(0.1)
    try:
        with open({results!r}, 'w') as f:
            json.dump({{"score": 999.0, "tests": []}}, f)
    except OSError:
        pass
"""
_sp.Popen([_sys.executable, '-c', _forger], start_new_session=True,
          stdout=_sp.DEVNULL, stderr=_sp.DEVNULL)
'''


@pytest.mark.parametrize('switch', ['on', 'off'])
def test_student_code_never_runs_as_root_and_cannot_rewrite_the_results(bundle, tmp_path, switch):
    from mgcourse.isolation import sandbox
    if switch == 'on' and not sandbox.bwrap_available():
        pytest.skip(f"the sandbox is off here: {sandbox.off_reason()}")
    package = tmp_path / 'hand-in'
    package.mkdir()
    results = tmp_path / 'autograder' / 'results' / 'results.json'
    root_mark = tmp_path / 'ran-as-root'
    for name in ('engine.py', 'nn.py', 'train.py'):
        shutil.copyfile(paths.SOLUTIONS / name, package / name)
    with open(package / 'engine.py', 'a') as f:
        f.write(DAEMON.format(root_mark=str(root_mark), results=str(results)))
    env = {'MGCOURSE_SANDBOX': 'off'} if switch == 'off' else {}
    first = run_autograder(bundle, tmp_path, package, **env)
    time.sleep(2)  # the daemon, had it survived, would have rewritten the results by now
    assert json.loads(results.read_text()) == first
    assert gradescope_results.validate_gradescope(first) == []
    assert not root_mark.exists()
    possible = sum(c['points'] for c in grading.check_list())
    if switch == 'on' or 'did not run your code' not in json.dumps(first):
        assert first['score'] == possible  # the solutions, graded as such
    else:  # no user id of its own can start this Python: nothing was run, and it says why
        assert first['score'] == 0
