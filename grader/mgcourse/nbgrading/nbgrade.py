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

from mgcourse import paths
from mgcourse.batch import grading, student_library, submissions
from mgcourse.battery import catalogue, diagnosis
from mgcourse.isolation import sandbox

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
    from mgcourse.handout import skeleton  # a build step: grading never loads the builders
    return [f'{PACKAGE}/{name}' for name in sorted(skeleton.generate())]


def sync_package(course=COURSE):
    """Write the skeleton into the assignment's source folder. Returns the file names."""
    from mgcourse.handout import skeleton
    return skeleton.write(dst=source_folder(course) / PACKAGE)


def package_drift(course=COURSE):
    """The files of the source folder's package that differ from the skeleton (empty: in sync)."""
    from mgcourse.handout import skeleton
    return skeleton.drift(dst=source_folder(course) / PACKAGE)


def nbgrader_environment():
    """This environment, with this Python's folder first on PATH: nbgrader runs `alembic`,
    found on PATH, to set up its gradebook (this environment's, activated or not)."""
    return dict(os.environ, PATH=os.pathsep.join([os.path.dirname(sys.executable),
                                                  os.environ.get('PATH', '')]))


def nbgrader_command(*args):
    """The command line and environment that run `nbgrader ARGS` with this Python."""
    return [sys.executable, '-m', 'nbgrader', *map(str, args)], nbgrader_environment()


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

SAMPLE_CLASS = ('correct', 'partial', 'empty', 'endless', 'hostile')
# partial: every notebook, the first with a slope that is exact for the lecture's parabola
# only, which the visible self-check accepts and a hidden test catches; and a package with two
# of the catalogue's mistakes, `=` in the _backward of * and no zero_grad() in training, which
# cost checks of several checkpoints, some of them only through the first mistake.
PARTIAL_MISTAKES = ('mul-overwrites', 'training-without-zero-grad')
# partial also weakens a locked self-check, which nbgrader restores (and warns about).
LOCKED_CHECK = 'assert L.data == -8.0'
WEAKENED_CHECK = 'assert True or L.data == -8.0'
SLOPE_SOLUTION = '    return (f(x + h) - f(x)) / h'
PARABOLA_ONLY = '    return 6 * x - 4 + 3 * h'
# endless: only the first notebook, whose slope cell starts with an endless loop: the cell is
# stopped at its time limit, slope is never defined, and the self-check that uses it fails;
# the notebooks not handed in score 0 (their check cells too, whatever the package).
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


# hostile: the release's notebooks with every cell tagged autograde-skip (the tag that keeps a
# demonstration from running when grading: a self-check that never runs never fails), and
# the skeleton with code written against the grader: at import it replaces check() in the
# kernel with one that prints full marks, and its Value compares equal to anything. It
# deserves what the skeleton gets: nothing.
HOSTILE_ENGINE = """

# --- written against the grader -------------------------------------------------------------
def _full_marks(checkpoint, package='micrograd_skeleton'):
    print(f"checkpoint {checkpoint} passed: all points.")


try:
    import mgcourse.student.notebook as _notebook
    _notebook.check = _full_marks
    import __main__
    __main__.check = _full_marks
except Exception:
    pass
Value.__eq__ = lambda self, other: True
Value.__ne__ = lambda self, other: False
"""


def make_mistakes(package, ids):
    """Make the catalogue's mistakes (mistakes.toml ids) in the package folder, in place."""
    found = {m.id: m for m in diagnosis.mistakes()}
    for mistake in (found[i] for i in ids):
        _edit(Path(package) / mistake.file, mistake.find, mistake.replace)
    return package


def submit_sample(course, student, kind):
    """Submit one of SAMPLE_CLASS's kinds of work under the name student, in a course where
    the assignment was generated: 'correct' (the source notebooks and the solutions),
    'partial', 'endless', 'hostile' (see above) or 'empty' (the release as handed out)."""
    course = Path(course)
    if kind in ('empty', 'hostile'):
        release = course / 'release' / ASSIGNMENT
        folder = submit(course, student, release, release / PACKAGE)
        if kind == 'hostile':
            with open(folder / PACKAGE / 'engine.py', 'a', encoding='utf-8') as f:
                f.write(HOSTILE_ENGINE)
            import nbformat

            from .nbgrader_plugins import SKIP_TAG
            for path in sorted(folder.glob('*.ipynb')):
                nb = nbformat.read(path, as_version=4)
                for cell in nb.cells:
                    tags = cell.metadata.setdefault('tags', [])
                    if SKIP_TAG not in tags:  # notebook 05's PyTorch cell has it already
                        tags.append(SKIP_TAG)
                nbformat.write(nb, path)
        return folder
    folder = submit(course, student, source_folder(course), paths.SOLUTIONS)
    first = folder / '01_derivatives.ipynb'
    if kind == 'partial':
        _edit(first, SLOPE_SOLUTION, PARABOLA_ONLY)
        _edit(folder / '02_value_and_graph.ipynb', LOCKED_CHECK, WEAKENED_CHECK)
        make_mistakes(folder / PACKAGE, PARTIAL_MISTAKES)
    elif kind == 'endless':
        _edit(first, json.dumps(ENDLESS)[1:-1], json.dumps(ENDLESS_LOOP + ENDLESS)[1:-1])
        for later in folder.glob('*.ipynb'):  # handed in the first notebook only
            if later != first:
                later.unlink()
    elif kind != 'correct':
        raise ValueError(f"unknown kind of sample submission: {kind!r}")
    return folder


def main(argv=None):
    """python -m mgcourse.nbgrading.nbgrade [--check]: sync the package copy and write exercises/."""
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
    submit_sample_class(course, students)
    return course, release


def submit_sample_class(course, students=None):
    """Submit sample work in a course where the assignment was generated: one student per
    kind of SAMPLE_CLASS, named after it, or N students taking the kinds in turn."""
    if students is None:
        names = [(kind, kind) for kind in SAMPLE_CLASS]
    else:
        n = len(SAMPLE_CLASS)
        names = [(f'{SAMPLE_CLASS[i % n]}-{i // n + 1}', SAMPLE_CLASS[i % n]) for i in range(students)]
    for student, kind in names:
        submit_sample(course, student, kind)


# --------------------------------------------------------------------------------
# The package's checks, graded outside the kernel
# --------------------------------------------------------------------------------
#
# A grade cell whose grade_id is `check_CHECKPOINT` (CHECKPOINT a checkpoint of
# checkpoints.toml) grades the student's package, not code of the notebook. Its points do not
# come from what the cell printed in nbgrader's kernel (which runs the student's code beside
# the cell, sandboxed but where a package can patch check()): at autograde, the grader runs the
# public battery on the package files the student submitted, before any of the student's code
# has run, in the batch grader's sandbox (grading.grade_one), and the cell's output becomes
# the battery's lines and its points (nbgrader's partial credit), so nbgrader and
# `mgcourse check` give the same points for the same package.

CHECK_CELL_PREFIX = 'check_'


def checkpoint_of(grade_id):
    """The checkpoint a grade cell grades the package for, or None (a cell of notebook code)."""
    if not grade_id or not grade_id.startswith(CHECK_CELL_PREFIX):
        return None
    cp = grade_id[len(CHECK_CELL_PREFIX):]
    return cp if cp in catalogue.by_id() else None


def package_checks():
    """The checks a notebook's check cells grade: the public battery, as `mgcourse check`."""
    return [c for c in grading.check_list() if not c['hidden']]


def submitted_package(course, student, assignment=ASSIGNMENT):
    """Where nbgrader keeps the package a student submitted."""
    return Path(course) / 'submitted' / student / assignment / PACKAGE


def grade_package(folder, options=None):
    """The public battery on the package files in folder, graded as `mgcourse grade` grades a
    hand-in (submissions' rules, a sandboxed worker, the verdicts taken in this process).
    Returns the gradebook entry (grading.py's shape: status, total, notes, checks). A failure
    of the grader's own (status 'error') is graded once more before it is returned."""
    entry = _grade_package_once(folder, options)
    if entry['status'] == 'error':
        entry = _grade_package_once(folder, options)
    return entry


def _grade_package_once(folder, options):
    options = options or grading.Options()
    problem = sandbox.process_limit_problem()
    if problem and not options.unlimited_processes_ok:
        raise NbgraderFailed(f"not grading the package: {problem}")
    folder = Path(folder)
    with tempfile.TemporaryDirectory(prefix='mgcourse-nbpackage-') as tmp:
        tmp = Path(tmp)
        root = tmp / 'handin'
        root.mkdir()
        handin = root / 'student'
        if folder.is_dir() and not folder.is_symlink():
            # links are copied as links: submissions.prepare names them and grades none
            shutil.copytree(folder, handin, symlinks=True,
                            ignore=shutil.ignore_patterns('__pycache__', '.*'))
        else:
            handin.mkdir()
        work = tmp / 'work'
        work.mkdir()
        runtime = student_library.runtime_library(tmp / 'runtime')
        entries = submissions.find(root).get('student', [handin])
        entry, _ = grading.grade_one('student', entries, root, work, runtime, 0, options,
                                     package_checks())
    entry.pop('student', None)
    entry.pop('submission', None)
    return entry


def _first_failure_diagnosis(entry, checkpoint):
    for c in package_checks():
        if c['checkpoint'] == checkpoint:
            got = entry['checks'].get(c['id'])
            if got and not got['passed'] and got.get('diagnoses'):
                return diagnosis.texts().get(got['diagnoses'][0], '')
    return ''


def checkpoint_report(entry, checkpoint):
    """(points, possible, text) of one checkpoint of a graded package: one line per check, as
    check() prints them, the first failure's message, and, when an earlier checkpoint failed
    too, that it may be the cause ("fix reuse first")."""
    ids = [c for c in package_checks() if c['checkpoint'] == checkpoint]
    lines, points, possible, failed = [], 0.0, 0, []
    for c in ids:
        got = entry['checks'].get(c['id'])
        if got is None:
            got = {'points': 0, 'possible': c['points'], 'passed': False,
                   'message': 'not graded', 'error': 'missing'}
        mark = 'skipped' if got['error'] == 'skipped' else ('passed' if got['passed'] else 'FAILED')
        lines.append(f"  {mark:<7} {c['id']} ({got['points']:g}/{got['possible']})")
        points += got['points']
        possible += got['possible']
        if not got['passed']:
            failed.append(got)
    order = [cp.id for cp in catalogue.load()]
    if failed:
        lines.append(f"checkpoint {checkpoint}: {len(failed)} of {len(ids)} checks failed, "
                     f"{points:g} of {possible} points. The first:")
        lines += ['', failed[0]['message']]
        earlier = [cp for cp in order[:order.index(checkpoint)]
                   if any(not entry['checks'].get(c['id'], {}).get('passed', False)
                          for c in ids_of(cp))]
        if earlier:
            why = _first_failure_diagnosis(entry, earlier[0])
            lines += ['', f"fix {earlier[0]} first: these checks build on it, and its mistake "
                      "may be why they fail." + (f" Its likely mistake: {why}" if why else '')]
    else:
        lines.append(f"checkpoint {checkpoint} passed: {points:g} of {possible} points.")
    for note in entry.get('notes', []):
        lines.append(f"note: {note}")
    return points, possible, '\n'.join(lines) + '\n'


def ids_of(checkpoint):
    return [c for c in package_checks() if c['checkpoint'] == checkpoint]
