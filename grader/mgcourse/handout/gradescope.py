"""A Gradescope autograder for the course: `mgcourse gradescope --out autograder.zip`.

Gradescope's autograder specification: the zip's files are unpacked into /autograder/source,
`setup.sh` (at the zip's top) runs once when the image is built, `run_autograder` runs for
every submission, with the student's files in /autograder/submission, and writes
/autograder/results/results.json.

The bundle holds the course library (the hidden checks included: the grader needs them; the
sandbox keeps them from the student's code), the skeleton (for modules a student leaves out),
the Python requirements, and gradescope.json with the hidden checks' seed, fixed when the
bundle is built, so every student of the assignment gets the same hidden inputs and a regrade
gives the same result. It never holds the solutions.

run_autograder grades the one submission with the batch grader (grading.grade: sandboxed
where bubblewrap works in Gradescope's container, under the limits always) and writes its
Gradescope results: the hidden checks with visibility "after_published" (the spec's word for
"shown once the instructor publishes the grades"), or "hidden" if the bundle was built so;
execution_time is the grading's own wall time. README.md, at the zip's top, tells the admin
what to enter in Gradescope (the maximum score), what students upload, what is hidden and
when it shows, and the seed and how to regrade with another.
"""

import json
import os
import secrets
import shutil
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from mgcourse import paths
from mgcourse.batch import grading
from mgcourse.batch.reports import gradescope_results, safe_files
from mgcourse.battery import diagnosis
from mgcourse.battery.catalogue import tomllib  # tomli on Python 3.10
from mgcourse.isolation import processes, sandbox

from . import skeleton

STUDENT = 'student'
CONFIG = 'gradescope.json'
LIBRARY = paths.LIBRARY

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, when it builds the autograder's image (Ubuntu).
set -euo pipefail
cd /autograder/source
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv python3-pip bubblewrap
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -r requirements.txt
"""

RUN = """#!/usr/bin/env bash
# Gradescope runs this for every submission: grade /autograder/submission, write the results.
set -euo pipefail
root=${AUTOGRADER_ROOT:-/autograder}
python=${MGCOURSE_PYTHON:-$root/source/.venv/bin/python}
mkdir -p "$root/results"
export PYTHONPATH="$root/source/grader"
exec "$python" -m mgcourse.handout.gradescope run "$root/submission" "$root/results/results.json"
"""


def requirements():
    """The course's Python requirements, from pyproject.toml."""
    with open(paths.ROOT / 'pyproject.toml', 'rb') as f:
        return tomllib.load(f)['project']['dependencies']


HIDDEN_VISIBILITIES = ('after_published', 'hidden')

README = """# The micrograd course's autograder for Gradescope

Built by `mgcourse gradescope` from the course repository. It grades the student's package
(`engine.py`, `nn.py`, `train.py`) with the course's battery, sandboxed, and never holds the
solutions.

## Setting up the assignment

- Type: programming assignment, autograder uploaded as this zip (Ubuntu base image).
- **Maximum score: {possible} points** (enter this as the assignment's total): {public} for
  the {n_public} public checks, {hidden} for the {n_hidden} hidden checks.

## What students upload

Any of these layouts (the grader finds the package the same way in each):

- the three files `engine.py`, `nn.py`, `train.py` (and any helper module they import);
- the folder that holds them, e.g. `micrograd_skeleton/` (GitHub or a zip of it); the
  shallowest folder with any of the three files is graded.

A module left out is replaced by the skeleton's (which scores nothing), so the others still
earn points; files over 1 MB, symbolic links and files of other kinds are not graded, and a
note on the submission says so.

## What is hidden, and when it shows

The {n_hidden} hidden checks ({hidden_names}) draw random expressions and networks from the
seed below. Their visibility is `{visibility}`: {visibility_words} The public checks, their
messages and the likely mistake behind a failure are visible at once.

## The seed, and regrading

Hidden-check seed: **{seed}**. Every submission of the assignment gets the same hidden
inputs, and a regrade gives the same result. To grade with another seed, build a new zip
(`mgcourse gradescope --out autograder.zip --seed N`, or without `--seed` for a random one),
upload it as the assignment's autograder, and use Gradescope's "Regrade all submissions".
"""

VISIBILITY_WORDS = {
    'after_published': "students see them, with their points and messages, once you "
                       "publish the grades; until then they see the public checks, and the "
                       "feedback says the hidden ones will show.",
    'hidden': "students never see them, nor (Gradescope's rule) their total score; "
              "instructors always do.",
}


def readme(seed, hidden_visibility='after_published'):
    """The README.md of the zip, for the admin who sets up the assignment."""
    checks_ = grading.check_list()
    hidden = [c for c in checks_ if c['hidden']]
    public = [c for c in checks_ if not c['hidden']]
    return README.format(
        possible=sum(c['points'] for c in checks_), public=sum(c['points'] for c in public),
        hidden=sum(c['points'] for c in hidden), n_public=len(public), n_hidden=len(hidden),
        hidden_names=', '.join(f"`{c['id']}`" for c in hidden), seed=seed,
        visibility=hidden_visibility, visibility_words=VISIBILITY_WORDS[hidden_visibility])


def bundle(out, seed=None, hidden_visibility='after_published'):
    """Write the autograder zip to out; returns (path, seed). hidden_visibility is the
    Gradescope visibility of the hidden checks: 'after_published' or 'hidden'."""
    if hidden_visibility not in HIDDEN_VISIBILITIES:
        raise ValueError(f"hidden_visibility must be one of {', '.join(HIDDEN_VISIBILITIES)}")
    seed = secrets.randbits(32) if seed is None else seed
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    files = {
        'README.md': readme(seed, hidden_visibility),
        'setup.sh': SETUP,
        'run_autograder': RUN,
        'requirements.txt': '\n'.join(requirements()) + '\n',
        CONFIG: json.dumps({'seed': seed, 'hidden_visibility': hidden_visibility}) + '\n',
    }
    for path in sorted(LIBRARY.rglob('*')):
        if path.is_file() and '__pycache__' not in path.parts and path.suffix != '.pyc':
            files[f"grader/mgcourse/{path.relative_to(LIBRARY).as_posix()}"] = path.read_bytes()
    files['grader/mgcourse/battery/mistakes.toml'] = diagnosis.public_text()  # no solution text
    for name, text in sorted(skeleton.generate().items()):
        files[f"micrograd_skeleton/{name}"] = text
    tmp = out.with_name(f".{out.name}.tmp")
    with zipfile.ZipFile(tmp, 'w', zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if name in ('setup.sh', 'run_autograder') else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    os.replace(tmp, out)
    return out, seed


def container(bundle_zip, root, submission):
    """Lay out under root what Gradescope gives run_autograder (the zip in source/, the
    student's files in submission/, run_autograder copied to the top, as its base image does),
    to run a bundle outside Gradescope, as the tests and bench/slow_machine.py do. Returns the
    command and the environment variables that point run_autograder there."""
    root = Path(root)
    with zipfile.ZipFile(bundle_zip) as z:
        z.extractall(root / 'source')
    shutil.copyfile(root / 'source' / 'run_autograder', root / 'run_autograder')
    shutil.copytree(submission, root / 'submission', ignore=shutil.ignore_patterns('__pycache__'))
    return (['bash', str(root / 'run_autograder')],
            {'AUTOGRADER_ROOT': str(root), 'MGCOURSE_PYTHON': sys.executable})


def run(submission, results):
    """Grade the submission folder; write Gradescope's results.json to results.

    The student's code never runs as root: inside bubblewrap where it works, else as a user id
    of its own (sandbox.py), which needs a Python other users can run (setup.sh's, from apt).
    Where neither can be had, nothing of the student's is run, and results.json says why.
    results.json is written by this process, once every process of the student is gone (the
    batch grader waits for that, and what a run's user id still runs is killed here first),
    into the results folder, which no run's user id may write.
    """
    config = json.loads((paths.ROOT / CONFIG).read_text(encoding='utf-8'))
    with tempfile.TemporaryDirectory(prefix='mgcourse-gradescope-') as tmp:
        root = Path(tmp) / 'submissions'
        root.mkdir()
        shutil.copytree(submission, root / STUDENT, symlinks=True)
        book, seconds = grade_in_container(root, Path(tmp) / 'out', config['seed'])
    data = gradescope_results.gradescope_results(
        book, STUDENT, hidden_visibility=config.get('hidden_visibility', 'after_published'))
    data['execution_time'] = max(1, round(seconds))
    safe_files.write_atomic(results, json.dumps(data, indent=1) + '\n')
    return data


def grade_in_container(root, out, seed):
    """(gradebook, seconds) of the one hand-in under root, graded as a platform's container
    for one hand-in must (Gradescope's, PrairieLearn's): the student's code never runs as root
    without its process limit (where no sandbox can hold it, nothing of it runs and the
    gradebook says why), and when this returns, no process of any run is left to rewrite what
    the caller writes next. out gets the gradebook only: no report, which nothing reads here."""
    problem = sandbox.process_limit_problem()
    start = time.perf_counter()
    if problem is None:
        book = grading.grade(root, out, grading.Options(jobs=1, seed=seed), reports=False)
    else:
        book = _refused(seed, problem)
    seconds = time.perf_counter() - start
    processes.reap_runs()
    return book, seconds


def _refused(seed, problem):
    """The gradebook of a submission not run: the autograder could not keep it from root."""
    book = grading.new_book(seed)
    book['students'][STUDENT] = grading._error_entry(STUDENT, seed, book['checks'], (
        f"the autograder did not run your code: {problem}. Your instructor must fix the "
        "autograder (its setup.sh installs bubblewrap and a Python other users can run)"))
    return book


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 3 or argv[0] != 'run':
        print("usage: python -m mgcourse.handout.gradescope run SUBMISSION RESULTS_JSON", file=sys.stderr)
        return 2
    data = run(argv[1], argv[2])
    print(f"score {data['score']:g} of {sum(t['max_score'] for t in data['tests']):g}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
