"""The PrairieLearn question (`mgcourse prairielearn OUT`), its grader run in a simulated /grade.

PrairieLearn's external grading: the question's tests/ folder is copied to /grade/tests, the
student's uploads to /grade/student, the entrypoint of info.json runs, and /grade/results/
results.json is read back (score from 0 to 1, gradable, tests with name, points, max_points,
message and output). Here /grade is a temporary folder (MGCOURSE_GRADE_ROOT), and the grader
runs with this environment's Python (MGCOURSE_PYTHON) instead of the image's.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest

from mgcourse import cli, paths
from mgcourse.batch import grading
from mgcourse.handout import prairielearn, skeleton

SEED = 91


@pytest.fixture(scope='module')
def question(tmp_path_factory):
    out = tmp_path_factory.mktemp('pl') / 'micrograd'
    assert cli.main(['prairielearn', str(out), '--seed', str(SEED)]) == 0
    return out


def run_grader(question, tmp, uploads):
    """PrairieLearn's grading job: /grade/tests, /grade/student, the entrypoint; the results."""
    root = tmp / 'grade'
    shutil.copytree(question / 'tests', root / 'tests')
    (root / 'student').mkdir(parents=True)
    for name, source in uploads.items():
        shutil.copyfile(source, root / 'student' / name)
    (root / 'data').mkdir()
    (root / 'data' / 'data.json').write_text('{}')
    entrypoint = json.loads((question / 'info.json').read_text())['externalGradingOptions']['entrypoint']
    script = root / os.path.relpath(entrypoint, '/grade')
    env = dict(os.environ, MGCOURSE_GRADE_ROOT=str(root), MGCOURSE_PYTHON=sys.executable)
    done = subprocess.run([str(script)], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((root / 'results' / 'results.json').read_text())


def package(folder):
    return {name: folder / name for name in prairielearn.FILES}


def test_the_question_folder_is_what_prairielearn_reads(question):
    info = json.loads((question / 'info.json').read_text())
    assert info['type'] == 'v3' and info['gradingMethod'] == 'External'
    options = info['externalGradingOptions']
    assert options['enabled'] is True and options['image'] == 'prairielearn/grader-python'
    assert options['entrypoint'] == '/grade/tests/run.sh'
    assert 0 < options['timeout'] <= 600 and options['enableNetworking'] is False
    html = (question / 'question.html').read_text()
    assert '<pl-file-upload file-names="engine.py, nn.py, train.py"' in html
    assert '<pl-external-grader-results>' in html
    tests = question / 'tests'
    assert os.access(tests / 'run.sh', os.X_OK)
    assert (tests / 'grader/mgcourse/batch/hidden.py').is_file()
    assert json.loads((tests / 'prairielearn.json').read_text()) == {'seed': SEED}
    assert sorted(p.name for p in (tests / 'micrograd_skeleton').iterdir()) == sorted(skeleton.generate())
    assert not (tests / 'solutions').exists()
    solutions = skeleton.solution_lines((paths.SOLUTIONS / n).read_text(encoding='utf-8')
                                        for n in skeleton.generate() if (paths.SOLUTIONS / n).is_file())
    written = {line.strip() for p in tests.rglob('*') if p.is_file() and p.suffix != '.py'
               for line in p.read_text(encoding='utf-8').splitlines()}
    assert not solutions & written


def test_a_rewrite_keeps_the_questions_uuid(question):
    before = json.loads((question / 'info.json').read_text())['uuid']
    prairielearn.question(question, SEED)
    assert json.loads((question / 'info.json').read_text())['uuid'] == before


@pytest.mark.parametrize('folder, full', [(paths.SOLUTIONS, True), (paths.SKELETON, False)],
                         ids=['solutions', 'skeleton'])
def test_the_grader_writes_prairielearns_results(question, tmp_path, folder, full):
    data = run_grader(question, tmp_path, package(folder))
    assert prairielearn.validate(data) == []
    possible = sum(c['points'] for c in grading.check_list())
    assert data['gradable'] is True
    assert data['max_points'] == possible == sum(t['max_points'] for t in data['tests'])
    assert data['score'] == (1.0 if full else 0.0)
    assert data['points'] == sum(t['points'] for t in data['tests'])
    assert len(data['tests']) == len(grading.check_list())
    for t in data['tests']:
        assert set(t) == {'name', 'points', 'max_points', 'message', 'output'}
        assert t['max_points'] == 0 or (t['message'] == 'passed') == (t['points'] == t['max_points'])
    if not full:
        assert any(t['message'] == 'failed: not written yet' for t in data['tests'])


def test_partial_credit_is_a_fraction(question, tmp_path):
    from mgcourse.nbgrading import nbgrade
    folder = tmp_path / 'mistaken'
    shutil.copytree(paths.SOLUTIONS, folder)
    nbgrade.make_mistakes(folder, ['mul-overwrites'])
    data = run_grader(question, tmp_path, package(folder))
    assert prairielearn.validate(data) == []
    assert 0 < data['score'] < 1
    assert data['score'] == pytest.approx(data['points'] / data['max_points'])
    failed = [t for t in data['tests'] if t['points'] < t['max_points']]
    assert any(t['name'].startswith('reuse.a_times_a') for t in failed)


def test_nothing_uploaded_is_not_gradable(question, tmp_path):
    data = run_grader(question, tmp_path, {})
    assert prairielearn.validate(data) == []
    assert data['gradable'] is False and data['format_errors']


def test_the_validator_catches_what_prairielearn_refuses():
    assert prairielearn.validate({'score': 1.5}) != []
    assert prairielearn.validate({'score': 0.5, 'tests': [{'name': 'x', 'points': 2,
                                                            'max_points': 1}]}) != []
    assert prairielearn.validate({'gradable': False}) == []
