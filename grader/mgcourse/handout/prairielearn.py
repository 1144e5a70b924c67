"""A PrairieLearn question for the course: `mgcourse prairielearn OUT`.

PrairieLearn grades a file-upload question with an external grader: when a student submits,
it starts a container of the question's image with this layout (PrairieLearn's external
grading documentation):

    /grade/tests/           the question's tests/ folder (here: the grader, see below)
    /grade/student/         the files the student uploaded
    /grade/serverFilesCourse/  files of the course's serverFilesCourse (not used here)
    /grade/data/data.json   the question's data (not used here)
    /grade/results/results.json   what the grader writes; PrairieLearn reads it at the end

runs the question's entrypoint (info.json's externalGradingOptions.entrypoint), and records
results.json: `score` from 0 to 1, `gradable` (false: the submission is invalid, no attempt is
used), and `tests`, each with a name, points, max_points, a message and an output.

OUT gets info.json (external grading on, the image, the entrypoint /grade/tests/run.sh, the
time limit, no network), question.html (a pl-file-upload for engine.py, nn.py, train.py and
the grader's results), and tests/: run.sh, the course library (hidden checks included, which
the grader needs and the sandbox keeps from the student's code; never the solutions), the
skeleton (for a module a student leaves out), requirements.txt for the image, and
prairielearn.json with the hidden checks' seed, fixed when the folder is written.

The grader is the batch grader (grading.grade: sandboxed where bubblewrap works, under the
limits always) on the one submission; its results are the Gradescope results' tests
(gradescope_results.gradescope_results), in PrairieLearn's words. `grade(root)` runs it on any folder laid
out as /grade, which is how the tests run it.
"""

import json
import os
import secrets
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

from mgcourse.batch import grading
from mgcourse.batch.reports import gradescope_results, safe_files
from mgcourse.battery import diagnosis

from . import skeleton
from .gradescope import LIBRARY, grade_in_container, requirements

STUDENT = 'student'
CONFIG = 'prairielearn.json'
IMAGE = 'prairielearn/grader-python'
TIMEOUT = 600  # seconds for one grading job: PrairieLearn's largest
FILES = ('engine.py', 'nn.py', 'train.py')
ROOT_VARIABLE = 'MGCOURSE_GRADE_ROOT'  # the /grade folder, for running the grader elsewhere

RUN = """#!/usr/bin/env bash
# PrairieLearn's entrypoint for this question: grade /grade/student, write
# /grade/results/results.json.
set -euo pipefail
root=${MGCOURSE_GRADE_ROOT:-/grade}
python=${MGCOURSE_PYTHON:-python3}
mkdir -p "$root/results"
export PYTHONPATH="$root/tests/grader"
exec "$python" -m mgcourse.handout.prairielearn grade "$root"
"""

DOCKERFILE = """# An image for the question: PrairieLearn's Python grader with the course's requirements.
# Build and push it (docker build -t YOU/micrograd-grader . && docker push ...), then put its
# name in info.json's externalGradingOptions.image; grading jobs have no network to install.
FROM prairielearn/grader-python
COPY requirements.txt /tmp/requirements.txt
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap \\
    && python3 -m pip install --no-cache-dir -r /tmp/requirements.txt
"""

QUESTION = """<pl-question-panel>
  <p>
    Upload your package's three modules, <code>engine.py</code>, <code>nn.py</code> and
    <code>train.py</code> (from <code>micrograd_skeleton/</code>), and any helper module they
    import. The course's battery grades them: {n_public} public checks and {n_hidden} hidden
    checks, whose random expressions and networks are drawn when you submit,
    {possible} points in all.
  </p>
  <pl-file-upload file-names="engine.py, nn.py, train.py" optional-file-patterns="*.py">
  </pl-file-upload>
</pl-question-panel>

<pl-submission-panel>
  <pl-external-grader-results></pl-external-grader-results>
  <pl-file-preview></pl-file-preview>
</pl-submission-panel>
"""


def info(question_uuid, image=IMAGE, timeout=TIMEOUT):
    """The question's info.json, as a dict."""
    return {
        'uuid': question_uuid,
        'title': 'micrograd: the package, graded by the course battery',
        'topic': 'Backpropagation',
        'tags': ['micrograd', 'code'],
        'type': 'v3',
        'singleVariant': True,
        'gradingMethod': 'External',
        'externalGradingOptions': {
            'enabled': True,
            'image': image,
            'entrypoint': '/grade/tests/run.sh',
            'timeout': timeout,
            'enableNetworking': False,
        },
    }


def _question_html():
    checks_ = grading.check_list()
    return QUESTION.format(n_public=sum(not c['hidden'] for c in checks_),
                           n_hidden=sum(c['hidden'] for c in checks_),
                           possible=sum(c['points'] for c in checks_))


def question(out, seed=None, image=IMAGE):
    """Write the question folder out; returns (out, seed). An info.json already there keeps
    its uuid (PrairieLearn knows a question by it)."""
    seed = secrets.randbits(32) if seed is None else seed
    out = Path(out)
    old = out / 'info.json'
    question_uuid = str(uuid.uuid4())
    if old.is_file():
        question_uuid = json.loads(old.read_text(encoding='utf-8')).get('uuid', question_uuid)
    files = {
        'info.json': json.dumps(info(question_uuid, image), indent=2) + '\n',
        'question.html': _question_html(),
        'tests/run.sh': RUN,
        'tests/Dockerfile': DOCKERFILE,
        'tests/requirements.txt': '\n'.join(requirements()) + '\n',
        f'tests/{CONFIG}': json.dumps({'seed': seed}) + '\n',
    }
    for path in sorted(LIBRARY.rglob('*')):
        if path.is_file() and '__pycache__' not in path.parts and path.suffix != '.pyc':
            files[f"tests/grader/mgcourse/{path.relative_to(LIBRARY).as_posix()}"] = path.read_bytes()
    files['tests/grader/mgcourse/battery/mistakes.toml'] = diagnosis.public_text()  # no solution text
    for name, text in sorted(skeleton.generate().items()):
        files[f"tests/micrograd_skeleton/{name}"] = text
    if (out / 'tests').is_dir():  # the grader's files are written whole: none left over
        shutil.rmtree(out / 'tests')
    for name, data in files.items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        safe_files.write_atomic(path, data)
    os.chmod(out / 'tests' / 'run.sh', 0o755)
    return out, seed


def results(book, student=STUDENT, seconds=0.0):
    """PrairieLearn's results.json for one graded student, from the gradebook."""
    record = book['students'][student]
    gs = gradescope_results.gradescope_results(book, student, hidden_visibility='visible')
    tests = []
    for t in gs['tests']:
        message, _, output = t['output'].partition('\n')
        tests.append({'name': t['name'], 'points': t['score'], 'max_points': t['max_score'],
                      'message': message or 'passed', 'output': output})
    possible = sum(t['max_points'] for t in tests)
    points = sum(t['points'] for t in tests)
    notes = [' '.join(str(n).split()) for n in record.get('notes') or []]
    data = {
        'gradable': record.get('status') == 'graded',
        'score': points / possible if possible else 0.0,
        'points': points, 'max_points': possible,
        'message': f"{points:g} of {possible:g} points.",
        'output': '\n'.join(f"Note: {n}" for n in notes),
        'tests': tests,
    }
    if not data['gradable']:
        # not graded: PrairieLearn marks it invalid and counts no attempt
        data['format_errors'] = notes or ['nothing that could be graded was uploaded']
        data['message'] = 'Not graded: ' + '; '.join(data['format_errors'])
    data['execution_time'] = round(seconds, 1)
    return data


def validate(data):
    """The problems of a PrairieLearn results.json (the fields its external grading reads);
    [] when there is none."""
    problems = []
    if not isinstance(data, dict):
        return ['results.json must hold a JSON object']
    gradable = data.get('gradable', True)
    if not isinstance(gradable, bool):
        problems.append('gradable must be true or false')
    score = data.get('score')
    if gradable is not False:
        if not isinstance(score, (int, float)) or isinstance(score, bool) or not 0 <= score <= 1:
            problems.append(f"score must be a number from 0 to 1, not {score!r}")
    for key in ('message', 'output'):
        if key in data and not isinstance(data[key], str):
            problems.append(f"{key} must be a string")
    errors = data.get('format_errors')
    if errors is not None and not (isinstance(errors, str) or (
            isinstance(errors, list) and all(isinstance(e, str) for e in errors))):
        problems.append('format_errors must be a string or a list of strings')
    for i, t in enumerate(data.get('tests', []), 1):
        if not isinstance(t, dict) or not isinstance(t.get('name'), str):
            problems.append(f"test {i} needs a name")
            continue
        numbers = [key for key in ('points', 'max_points')
                   if isinstance(t.get(key), (int, float)) and not isinstance(t.get(key), bool)]
        for key in sorted({'points', 'max_points'} - set(numbers)):
            problems.append(f"test {i} ({t['name']}): {key} must be a number")
        if len(numbers) == 2 and not 0 <= t['points'] <= t['max_points']:
            problems.append(f"test {i} ({t['name']}): points outside 0..max_points")
        for key in ('message', 'output', 'description'):
            if key in t and not isinstance(t[key], str):
                problems.append(f"test {i} ({t['name']}): {key} must be a string")
    try:
        size = len(json.dumps(data, allow_nan=False).encode('utf-8'))
    except (TypeError, ValueError) as e:
        problems.append(f"not representable as JSON: {e}")
    else:
        if size > 1 << 20:
            problems.append(f"{size} bytes: PrairieLearn takes at most 1 MB")
    return problems


def grade(root):
    """Grade root/student (root laid out as /grade); write root/results/results.json."""
    root = Path(root)
    config = json.loads((root / 'tests' / CONFIG).read_text(encoding='utf-8'))
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix='mgcourse-prairielearn-') as tmp:
        hand_in = Path(tmp) / 'submissions'
        hand_in.mkdir()
        student = root / 'student'
        if student.is_dir():
            shutil.copytree(student, hand_in / STUDENT, symlinks=True)
        else:
            (hand_in / STUDENT).mkdir()
        # The same rules as Gradescope's: never as root without the process limit, and every
        # process of the student gone before results.json is written.
        book, _ = grade_in_container(hand_in, Path(tmp) / 'out', config['seed'])
    data = results(book, STUDENT, time.perf_counter() - start)
    safe_files.write_atomic(root / 'results' / 'results.json', json.dumps(data, indent=1) + '\n')
    return data


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2 or argv[0] != 'grade':
        print("usage: python -m mgcourse.handout.prairielearn grade GRADE_ROOT", file=sys.stderr)
        return 2
    data = grade(argv[1])
    print(f"score {data['score']:.3f} ({data.get('points', 0):g} of {data.get('max_points', 0):g})")
    return 0


if __name__ == '__main__':
    sys.exit(main())
