"""The student release (`mgcourse release OUT`): what a course hands its students.

It must hold the skeleton, the notebooks, the public checks, a README and the checkpoint
runner; never a line of the solutions, of the hidden checks or of the notebooks' hidden tests,
nor an instructor's file; and its own battery, run from the release alone, must fail every
graded check until the skeleton is filled in, and pass them all once it is.
"""

import json
import os
import shutil
import subprocess
import sys

import nbformat
import pytest

from mgcourse import cli, paths
from mgcourse.battery import catalogue
from mgcourse.handout import release, skeleton
from mgcourse.nbgrading import nbgrade

import test_nbgrader  # noqa: E402 - hidden_lines(), the notebooks' hidden-test lines


@pytest.fixture(scope='module')
def out(tmp_path_factory):
    folder = tmp_path_factory.mktemp('release') / 'handout'
    assert cli.main(['release', str(folder)]) == 0
    return folder


def files(folder):
    return sorted(p for p in folder.rglob('*') if p.is_file() and '__pycache__' not in p.parts)


def run_in(folder, code, package):
    """Run code with the release's own library (never this checkout's) on the path."""
    env = dict(os.environ, PYTHONPATH=str(folder / 'grader'), PYTHONDONTWRITEBYTECODE='1')
    done = subprocess.run([sys.executable, '-c', code, str(package)], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


# This checkout is installed in editable mode, and setuptools' editable finder would supply any
# mgcourse module missing from the release: it is taken out first, as a student's environment
# has only the release.
ALONE = """
import sys
sys.meta_path = [f for f in sys.meta_path if 'editable' not in getattr(f, '__module__', '')]
"""

BATTERY = ALONE + """
import json, mgcourse
from pathlib import Path
assert Path(mgcourse.__file__).resolve().is_relative_to(Path.cwd().resolve()), mgcourse.__file__
from mgcourse.battery import harness
print(json.dumps({r.id: r.passed for r in harness.run(sys.argv[1]).results}))
"""


def test_the_release_has_what_students_need_and_no_instructor_file(out):
    names = {p.relative_to(out).as_posix() for p in files(out)}
    assert {'README.md', 'pyproject.toml', 'grader/course.sh', 'grader/mgcourse/cli.py',
            'grader/mgcourse/battery/checkpoints.toml', 'micrograd_skeleton/engine.py'} <= names
    assert sorted(n for n in names if n.startswith('exercises/')) == sorted(
        f'exercises/{p.name}' for p in (paths.ROOT / 'exercises').glob('*.ipynb'))
    for gone in release.INSTRUCTOR_ONLY:
        assert f'grader/mgcourse/{gone}' not in names
    assert not any(n.split('/')[0] in ('solutions', 'tests', 'bench', '.ci') for n in names)
    assert not any(n.startswith('grader/nbgrader') for n in names)
    readme = (out / 'README.md').read_text()
    assert all(f'`{cp.id}`' in readme for cp in catalogue.load())


def test_no_solution_or_hidden_text_is_inside(out):
    text = {p: p.read_bytes().decode('utf-8', 'replace') for p in files(out)}
    library = paths.ROOT / 'grader'
    others = set()
    for path, content in text.items():
        rel = path.relative_to(out).as_posix()
        if rel.startswith('grader/mgcourse/') and rel.endswith('.py'):
            # the public library is the repository's own, file for file
            assert path.read_bytes() == (library / rel[len('grader/'):]).read_bytes(), rel
        else:
            others |= {line.strip() for line in content.splitlines()}
    solutions = skeleton.solution_lines(p.read_text(encoding='utf-8')
                                        for p in paths.SOLUTIONS.glob('*.py'))
    assert not solutions & others, sorted(solutions & others)[:5]
    everything = '\n'.join(text.values())
    public = {line.strip() for p in (out / 'grader/mgcourse').rglob('*.py')
              for line in p.read_text().splitlines()}
    hidden_source = (library / 'mgcourse' / 'batch' / 'hidden.py').read_text().splitlines()
    telling = {line.strip() for line in hidden_source if len(line.strip()) > 20} - public
    assert len(telling) > 40
    assert not [line for line in telling if line in everything]
    for nb in nbgrade.source_folder().glob('*.ipynb'):
        hidden_tests = test_nbgrader.hidden_lines(nbformat.read(nb, as_version=4)) - public
        assert not [line for line in hidden_tests if line in everything], nb.name


def test_its_battery_fails_every_check_until_filled_in(out, tmp_path):
    blank = run_in(out, BATTERY, out / 'micrograd_skeleton')
    assert len(blank) == len(catalogue.all_checks()) and not any(blank.values())
    filled = tmp_path / 'filled'
    shutil.copytree(paths.SOLUTIONS, filled)
    assert all(run_in(out, BATTERY, filled).values())


def test_instructor_commands_say_they_are_not_in_the_release(out):
    env = dict(os.environ, PYTHONPATH=str(out / 'grader'))
    code = ALONE + "from mgcourse.cli import main\nsys.exit(main(['grade', 'x', '--out', 'y']))"
    done = subprocess.run([sys.executable, '-c', code], cwd=out, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert 'not part of the student release' in done.stderr


def test_its_setup_script_says_the_test_suite_is_not_in_the_release(out):
    done = subprocess.run(['bash', str(out / 'grader' / 'course.sh'), 'test'], cwd=out,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert 'not part of this copy' in done.stderr
    assert 'bash grader/course.sh' in done.stderr
    assert not (out / '.venv').exists()  # said before installing anything


def test_its_command_line_has_only_the_students_commands(out):
    env = dict(os.environ, PYTHONPATH=str(out / 'grader'), COLUMNS='200')
    code = ALONE + "from mgcourse.cli import main\nsys.exit(main(sys.argv[1:]))"
    done = subprocess.run([sys.executable, '-c', code, '--help'], cwd=out, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    commands = done.stdout.split('{', 1)[1].split('}', 1)[0].split(',')
    assert commands == list(cli.STUDENT_COMMANDS) == ['check', 'hint', 'watch', 'lab']


def test_no_command_of_the_release_touches_the_students_package(out, tmp_path):
    student = tmp_path / 'student'
    shutil.copytree(out, student, ignore=shutil.ignore_patterns('__pycache__'))
    package = student / 'micrograd_skeleton'
    shutil.copy(paths.SOLUTIONS / 'engine.py', package / 'engine.py')  # the student's work
    before = {p.name: p.read_bytes() for p in package.iterdir()}
    env = dict(os.environ, PYTHONPATH=str(student / 'grader'))
    code = ALONE + "from mgcourse.cli import main\nsys.exit(main(sys.argv[1:]))"
    for args in (['skeleton'], ['skeleton', '--force'], ['notebooks', '--execute'], ['release', 'x']):
        done = subprocess.run([sys.executable, '-c', code, *args], cwd=student, env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 2 and 'not part of the student release' in done.stderr, args
    # and the library itself refuses, before touching anything: the release has no solutions
    done = subprocess.run([sys.executable, '-c', ALONE + (
        "from mgcourse.handout import skeleton\n"
        "try:\n    skeleton.write(sys.argv[1], force=True)\n"
        "except skeleton.SkeletonError as e:\n    print(e)\n"), str(package)],
        cwd=student, env=env, capture_output=True, text=True, timeout=60)
    assert 'no solutions' in done.stdout, done.stderr
    assert {p.name: p.read_bytes() for p in package.iterdir()} == before
