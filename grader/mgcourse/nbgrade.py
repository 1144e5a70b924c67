"""The nbgrader course: grader/nbgrader/, its assignment 'micrograd', and the release in exercises/.

grader/nbgrader/ is an nbgrader course directory (nbgrader_config.py says how it is set up).
Its one assignment, source/micrograd/, holds

- the lecture notebooks with their solutions and nbgrader's cell metadata: solution cells for
  the exercises, autograded test cells (with points, some with hidden tests) for the
  self-checks and the `check('CHECKPOINT')` cells, read-only cells for the setup the tests rely
  on; and
- micrograd_skeleton/, a generated copy of the student's package, the skeleton. nbgrader
  releases every non-notebook file of the source folder as it is, so this copy must never hold
  the solutions: `sync_package()` writes it from solutions/ exactly as micrograd_skeleton/ is
  written, and `package_drift()` (tested) says when it is out of date.

exercises/ is exactly the notebooks of `nbgrader generate_assignment micrograd`: `release()`
runs nbgrader in a scratch copy of the course directory and copies the released notebooks
there; `drift()` (tested) says which differ. The released package is not copied into
exercises/: students edit micrograd_skeleton/ at the top of the repository, which the released
package equals (drift() checks that too); a second copy next to the notebooks would shadow it.
"""

import filecmp
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from . import paths, skeleton

COURSE = paths.ROOT / 'grader/nbgrader'
COURSE_ID = 'micrograd-course'
ASSIGNMENT = 'micrograd'
PACKAGE = 'micrograd_skeleton'
RELEASE = paths.ROOT / 'exercises'
# What a scratch copy of the course leaves out: nbgrader's working folders and the gradebook.
WORK = ('gradebook.db', 'release', 'submitted', 'autograded', 'feedback', 'exchange',
        'downloaded', '__pycache__', '.ipynb_checkpoints')


class NbgraderFailed(RuntimeError):
    pass


def source_folder(course=COURSE):
    return Path(course) / 'source' / ASSIGNMENT


def package_files():
    """The package's files, relative to the assignment folder (nbgrader's exclude_overwriting)."""
    return [f'{PACKAGE}/{name}' for name in sorted(skeleton.generate())]


def sync_package(course=COURSE):
    """Write the skeleton into the assignment's source folder. Returns the file names."""
    return skeleton.write(dst=source_folder(course) / PACKAGE)


def package_drift(course=COURSE):
    """The files of the source folder's package that differ from the skeleton (empty: in sync)."""
    return skeleton.drift(dst=source_folder(course) / PACKAGE)


def nbgrader_command(*args):
    """The command line and environment that run `nbgrader ARGS` with this Python."""
    cmd = [sys.executable, '-m', 'nbgrader', *map(str, args)]
    env = dict(os.environ)
    # nbgrader runs the `alembic` command to set up its gradebook, found on PATH: the one of
    # this environment, activated or not.
    env['PATH'] = os.pathsep.join([os.path.dirname(sys.executable), env.get('PATH', '')])
    return cmd, env


def nbgrader(course, *args, timeout=1800):
    """Run `nbgrader ARGS` in the course directory; returns the completed process, raises
    NbgraderFailed with its output when it fails."""
    cmd, env = nbgrader_command(*args)
    done = subprocess.run(cmd, cwd=course, env=env, capture_output=True, text=True,
                          timeout=timeout)
    if done.returncode != 0:
        raise NbgraderFailed(f"`nbgrader {' '.join(map(str, args))}` in {course} failed "
                             f"({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


def scratch_copy(dst, course=COURSE):
    """Copy the course directory to dst without its working folders and gradebook."""
    shutil.copytree(course, dst, ignore=shutil.ignore_patterns(*WORK))
    return Path(dst)


def generate(course):
    """Run `nbgrader generate_assignment` in the course directory; returns the release folder."""
    nbgrader(course, 'generate_assignment', ASSIGNMENT, '--force')
    return Path(course) / 'release' / ASSIGNMENT


def _released_notebooks(release_folder):
    return sorted(p.name for p in Path(release_folder).glob('*.ipynb'))


def release(dst=RELEASE, course=COURSE):
    """Generate the assignment (in a scratch copy of the course, so the real one gets no
    gradebook) and copy its notebooks to dst, removing notebooks that are no longer released.
    Returns the names written."""
    dst = Path(dst)
    with tempfile.TemporaryDirectory(prefix='mgcourse-nbgrader-') as tmp:
        released = generate(scratch_copy(Path(tmp) / 'course', course))
        names = _released_notebooks(released)
        dst.mkdir(parents=True, exist_ok=True)
        for name in names:
            shutil.copyfile(released / name, dst / name)
    for stale in dst.glob('*.ipynb'):
        if stale.name not in names:
            stale.unlink()
    return names


def compare_release(released, dst=RELEASE, package=paths.SKELETON):
    """What differs between a release folder and exercises/ (its notebooks, byte for byte) and
    micrograd_skeleton/ (its package's .py files): a sorted list of paths, empty when equal."""
    released, dst, package = Path(released), Path(dst), Path(package)
    changed = []
    names = _released_notebooks(released)
    for name in names:
        if not (dst / name).is_file() or not filecmp.cmp(released / name, dst / name, shallow=False):
            changed.append(f'{dst.name}/{name}')
    changed += [f'{dst.name}/{p.name}' for p in dst.glob('*.ipynb') if p.name not in names]
    ours = sorted(p.name for p in package.glob('*.py'))
    theirs = sorted(p.name for p in (released / PACKAGE).glob('*.py'))
    for name in sorted(set(ours) | set(theirs)):
        a, b = package / name, released / PACKAGE / name
        if not (a.is_file() and b.is_file() and filecmp.cmp(a, b, shallow=False)):
            changed.append(f'{PACKAGE}/{name}')
    return sorted(changed)


def drift(dst=RELEASE, course=COURSE, package=paths.SKELETON):
    """What release() would change: the notebooks of dst that differ from a fresh
    `nbgrader generate_assignment`, and the package files where the released package differs
    from micrograd_skeleton/. Empty: up to date."""
    with tempfile.TemporaryDirectory(prefix='mgcourse-nbgrader-') as tmp:
        released = generate(scratch_copy(Path(tmp) / 'course', course))
        return compare_release(released, dst, package)


# --------------------------------------------------------------------------------
# A sample class, for trying the workflow (the round-trip test and bench/ use it)
# --------------------------------------------------------------------------------

SAMPLE_CLASS = ('correct', 'partial', 'empty', 'endless')
# partial: the first notebook only, with a slope that is exact for the lecture's parabola only,
# which the visible self-check accepts and a hidden test catches.
SLOPE_SOLUTION = '    return (f(x + h) - f(x)) / h'
PARABOLA_ONLY = '    return 6 * x - 4 + 3 * h'
# endless: only the first notebook, whose slope cell starts with an endless loop: the cell is
# stopped at its time limit, slope is never defined, and the self-check that uses it fails;
# the notebooks not handed in score 0.
ENDLESS = 'def slope(f, x, h):\n'
ENDLESS_LOOP = 'while True:  # an endless loop\n    pass\n\n'


def submit(course, student, notebook_folder, package_folder):
    """Put the notebooks of notebook_folder and the package folder where nbgrader collects a
    submission: submitted/STUDENT/ASSIGNMENT/."""
    folder = Path(course) / 'submitted' / student / ASSIGNMENT
    folder.mkdir(parents=True)
    for path in sorted(Path(notebook_folder).glob('*.ipynb')):
        shutil.copyfile(path, folder / path.name)
    shutil.copytree(package_folder, folder / PACKAGE,
                    ignore=shutil.ignore_patterns('__pycache__'))
    return folder


def _edit(path, old, new):
    text = path.read_text(encoding='utf-8')
    if text.count(old) != 1:
        raise ValueError(f"{path.name}: expected {old!r} once")
    path.write_text(text.replace(old, new), encoding='utf-8')


def submit_sample(course, student, kind):
    """Submit one of SAMPLE_CLASS's kinds of work under the name student, in a course where
    the assignment was generated: 'correct' (the source notebooks and the solutions),
    'partial', 'endless' (see above) or 'empty' (the release as handed out)."""
    course = Path(course)
    if kind == 'empty':
        release = course / 'release' / ASSIGNMENT
        return submit(course, student, release, release / PACKAGE)
    folder = submit(course, student, source_folder(course), paths.SOLUTIONS)
    first = folder / '01_derivatives.ipynb'
    if kind == 'partial':
        _edit(first, SLOPE_SOLUTION, PARABOLA_ONLY)
    elif kind == 'endless':
        _edit(first, json.dumps(ENDLESS)[1:-1], json.dumps(ENDLESS_LOOP + ENDLESS)[1:-1])
    if kind in ('partial', 'endless'):
        for later in folder.glob('*.ipynb'):  # handed in the first notebook only
            if later != first:
                later.unlink()
    elif kind != 'correct':
        raise ValueError(f"unknown kind of sample submission: {kind!r}")
    return folder


def main(argv=None):
    """python -m mgcourse.nbgrade [--check]: sync the package copy and write exercises/."""
    argv = sys.argv[1:] if argv is None else argv
    if '--check' in argv:
        stale = [f'source/{ASSIGNMENT}/{PACKAGE}/{n}' for n in package_drift()] + drift()
        if stale:
            print('out of date: ' + ', '.join(stale))
            return 1
        print('exercises/ and the source package match the nbgrader release.')
        return 0
    sync_package()
    names = release()
    print(f"wrote {len(names)} notebooks to {os.path.relpath(RELEASE)}")
    return 0


if __name__ == '__main__':
    sys.exit(main())


def sample_course(dst, students=None):
    """A scratch copy of the course at dst, with the assignment generated and sample work
    submitted: one student per kind of SAMPLE_CLASS, named after it; or, with students=N, N
    students taking the kinds in turn (correct-1, partial-1, ..., correct-2, ...).
    Returns (course folder, release folder)."""
    course = scratch_copy(dst)
    release = generate(course)
    if students is None:
        names = [(kind, kind) for kind in SAMPLE_CLASS]
    else:
        n = len(SAMPLE_CLASS)
        names = [(f'{SAMPLE_CLASS[i % n]}-{i // n + 1}', SAMPLE_CLASS[i % n]) for i in range(students)]
    for student, kind in names:
        submit_sample(course, student, kind)
    return course, release
