"""The `mgcourse` command: a thin layer over the library, one function per command.

parser() below is the list of commands and their options (`mgcourse --help`, `mgcourse
COMMAND --help`). The student's commands (STUDENT_COMMANDS: check, hint, watch, lab) are the
ones the student release keeps; the others are the instructor's and the maintainer's, and
import what they need when they run, so that `mgcourse check` loads no grader or builder.
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from . import paths
from .battery import catalogue
from .student import runner, watching


def _folder(args):
    return Path(args.impl).resolve() if args.impl else paths.SKELETON


def _console():
    from rich.console import Console
    return Console(highlight=False)


def cmd_check(args):
    only = {args.checkpoint} if args.checkpoint else None
    if args.json:
        p = runner.progress(_folder(args), only, torch=args.torch)
        print(json.dumps(runner.as_data(p), indent=1))
        return 0 if p.all_passed else 1
    console = _console()
    p = _with_progress_bar(console, _folder(args), only, torch=args.torch)
    runner.render(p, console)
    return 0 if p.all_passed else 1


def _with_progress_bar(console, folder, only, **options):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from .battery import harness
    total = len(harness.selected(only))
    columns = (TextColumn('checking {task.description}'), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(str(folder), total=total)
        return runner.progress(folder, only, on_result=lambda r: bar.advance(task), **options)


def cmd_hint(args):
    cp_id = args.checkpoint
    if cp_id is None:
        current = runner.progress(_folder(args)).current
        if current is None:
            print("Every checkpoint passes: no hint needed.")
            return 0
        cp_id = current.checkpoint.id
    number, total, text = runner.next_hint(cp_id)
    cp = catalogue.by_id()[cp_id]
    print(f"{cp_id}, {cp.title} ({cp.lecture})")
    print(f"Hint {number} of {total}: {text}")
    return 0


def cmd_watch(args):
    from watchfiles import PythonFilter, watch

    folder = _folder(args)
    console = _console()

    def show(p, first):
        console.clear()
        if first:
            runner.render_current(p, console)
        else:
            runner.render(p, console)
            console.print(f"\n[dim]Watching {folder} for saved changes; Ctrl-C to stop.[/]")

    watcher = watching.Watcher(folder, show, torch=args.torch)
    watcher.start()
    try:
        # A save during a run cancels it, and the run starts again on the saved code.
        for changes in watch(folder, watch_filter=PythonFilter(), debounce=30, step=20,
                             rust_timeout=0):
            if changes:
                watcher.start()
    except KeyboardInterrupt:
        pass
    finally:
        watcher.stop()
    return 0


def lab_command(folder=None, port=None, browser=True, root=None):
    """The command line that opens the notebooks in JupyterLab: as root, Jupyter refuses to
    start without --allow-root."""
    folder = Path(folder or paths.ROOT / 'exercises')
    cmd = [sys.executable, '-m', 'jupyterlab', f'--notebook-dir={folder}']
    if port is not None:
        cmd.append(f'--port={port}')
    if not browser:
        cmd.append('--no-browser')
    if (os.geteuid() == 0) if root is None else root:
        cmd.append('--allow-root')
    return cmd


def cmd_lab(args):
    cmd = lab_command(port=args.port, browser=not args.no_browser)
    try:
        return subprocess.call(cmd)
    except KeyboardInterrupt:
        return 0


def cmd_skeleton(args):
    from .handout import skeleton
    if args.check:
        stale = skeleton.drift()
        if stale:
            print(f"micrograd_skeleton/ is out of date: {', '.join(stale)}. "
                  "Run `mgcourse skeleton` and commit the result.")
            return 1
        print("micrograd_skeleton/ matches solutions/.")
        return 0
    names = skeleton.write(paths.SKELETON, force=args.force)
    print(f"wrote {len(names)} files to {paths.SKELETON}: {', '.join(names)}")
    from .nbgrading import nbgrade
    nbgrade.sync_package()  # the nbgrader assignment hands out the same skeleton
    return 0


def _needs_nbgrader():  # stop before anything runs where it is missing; main() says how to get it
    import importlib.util
    if importlib.util.find_spec('nbgrader') is None:
        raise ImportError("No module named 'nbgrader'", name='nbgrader')


def cmd_notebooks(args):
    _needs_nbgrader()
    from .nbgrading import nbgrade
    from .handout import notebooks
    missing = [str(p) for p in (notebooks.SOURCE, paths.SOLUTIONS) if not p.is_dir()]
    if missing:  # said before anything is touched
        print(f"mgcourse notebooks: {' and '.join(missing)} not found: the notebooks are made "
              "from them, in the instructor's copy of the course", file=sys.stderr)
        return 2
    if args.check:
        stale = nbgrade.package_drift() + nbgrade.drift()
        if stale:
            print(f"the nbgrader release is out of date: {', '.join(stale)}. "
                  "Run `mgcourse notebooks`.")
            return 1
        print("exercises/ and the assignment's package match their sources.")
        return 0
    if args.execute:
        notebooks.execute_sources()
        print(f"executed the source notebooks in {notebooks.SOURCE} against the solutions")
    nbgrade.sync_package()
    names = nbgrade.release()
    print(f"nbgrader released {len(names)} notebooks into {notebooks.RELEASE}")
    return 0


def cmd_autograde(args):
    _needs_nbgrader()
    from .nbgrading import nbautograde, nbgrade

    def report(graded):
        if graded.skipped:
            print(f"{graded.student}: {graded.message}")
        elif graded.ok:
            again = (f" (graded again alone: a wall-time limit stopped {', '.join(graded.retried)})"
                     if graded.retried else '')
            print(f"{graded.student}: autograded in {graded.seconds:.1f} s{again}")
        else:
            print(f"{graded.student}: FAILED after {graded.seconds:.1f} s: {graded.message}")

    course = Path(args.course or nbgrade.COURSE).resolve()
    try:
        results = nbautograde.autograde(course, args.students or None, args.jobs,
                                        args.cell_timeout, args.notebook_timeout, args.force,
                                        on_done=report, cpu_timeout=args.cell_cpu)
    except nbgrade.NbgraderFailed as e:
        print(f"mgcourse autograde: {e}", file=sys.stderr)
        return 2
    failed = [r.student for r in results if not r.ok]
    skipped = sum(1 for r in results if r.skipped)
    graded = len(results) - len(failed) - skipped
    print(f"{graded} graded, {skipped} already autograded, {len(failed)} failed, into "
          f"{course / 'gradebook.db'}" + (f": {', '.join(failed)}" if failed else ''))
    return 1 if failed else 0


def cmd_grade(args):
    from .batch import grading
    from .isolation import sandbox

    if not sandbox.bwrap_available():
        print(f"note: {sandbox.SANDBOX_OFF_MESSAGE}.", file=sys.stderr)
    limits = sandbox.Limits(cpu_seconds=args.cpu, wall_seconds=args.wall,
                            memory_bytes=args.memory << 20)
    options = grading.Options(jobs=args.jobs, seed=args.seed, limits=limits,
                              unlimited_processes_ok=args.unlimited_processes_ok)

    def report(p):
        e = p.entry
        if p.what == 'kept':
            print(f"{p.student}: kept from the last run ({e['total']:g} / {e['possible']})")
            return
        flags = f" [{', '.join(e['flags'])}]" if e['flags'] else ''
        status = '' if e['status'] == 'graded' else f" ({e['status']})"
        print(f"{p.student}: {e['total']:g} / {e['possible']}{status}{flags} in {p.seconds:.1f} s")

    try:
        book = grading.grade(args.submissions, args.out, options, on_event=report)
    except (ValueError, FileNotFoundError) as e:
        print(f"mgcourse grade: {e}", file=sys.stderr)
        return 2
    out = Path(args.out)
    for line in book.get('skipped', []):
        print(f"skipped: {line}")
    errors = [s for s, e in book['students'].items() if e['status'] == 'error']
    print(f"{len(book['students'])} students, hidden-check seed {book['seed']}, sandbox "
          f"{book['sandbox']}: {out / 'grades.csv'}, {out / 'summary.html'}, "
          f"feedback in {out / 'feedback'}")
    if errors:
        print(f"the grader failed on {', '.join(errors)}: run the same command again to retry",
              file=sys.stderr)
    return 1 if errors else 0


def cmd_prairielearn(args):
    from .handout import prairielearn
    out, seed = prairielearn.question(args.out, args.seed, args.image)
    print(f"wrote {out}: copy it into your course's questions/ (hidden-check seed {seed}); "
          f"grading image {args.image}")
    return 0


def cmd_gradescope(args):
    from .handout import gradescope
    path, seed = gradescope.bundle(args.out, args.seed, args.hidden_visibility)
    print(f"wrote {path}: upload it as the assignment's autograder (hidden-check seed {seed})")
    return 0


def cmd_release(args):
    from .handout import release
    try:
        out = release.build(args.out)
    except FileExistsError as e:
        print(f"mgcourse release: {e}", file=sys.stderr)
        return 2
    print(f"wrote the student release to {out}: skeleton, exercises, public checks, README")
    return 0


def cmd_sample_class(args):
    from .handout import sampleclass
    students = sampleclass.write(args.out)
    print(f"wrote {len(students)} students' hand-ins to {args.out}: {', '.join(students)}")
    print(f"grade them: mgcourse grade {args.out} --out graded/")
    return 0


# The commands of the student release; the others are the instructor's (and their modules
# are left out of the release, see release.py).
STUDENT_COMMANDS = ('check', 'hint', 'watch', 'lab')


def is_release():
    """Whether this is the student release's library (it has no release.py, among others)."""
    return not (paths.LIBRARY / 'handout' / 'release.py').is_file()


def parser(student_only=None):
    """The command line; in the student release (or with student_only) only its commands."""
    if student_only is None:
        student_only = is_release()
    p = argparse.ArgumentParser(prog='mgcourse', description="The micrograd course's tools.")
    sub = p.add_subparsers(dest='command', required=True)
    ids = [cp.id for cp in catalogue.load()]

    c = sub.add_parser('check', help='the checkpoint table and what to do next')
    c.add_argument('checkpoint', nargs='?', choices=ids, help='run this checkpoint alone')
    c.add_argument('--impl', metavar='PATH', help='the package folder (default: micrograd_skeleton/)')
    c.add_argument('--json', action='store_true', help='print the same as data')
    c.add_argument('--torch', action='store_true',
                   help="also compare your gradients with PyTorch's (a few seconds more)")
    c.set_defaults(func=cmd_check)

    h = sub.add_parser('hint', help='the next hint for the current (or the named) checkpoint')
    h.add_argument('checkpoint', nargs='?', choices=ids)
    h.add_argument('--impl', metavar='PATH', help='the package folder (default: micrograd_skeleton/)')
    h.set_defaults(func=cmd_hint)

    w = sub.add_parser('watch', help='run check again whenever a file of the package is saved')
    w.add_argument('--impl', metavar='PATH', help='the package folder (default: micrograd_skeleton/)')
    w.add_argument('--torch', action='store_true',
                   help="also compare your gradients with PyTorch's (a few seconds more)")
    w.set_defaults(func=cmd_watch)
    lab = sub.add_parser('lab', help='open the notebooks of exercises/ in JupyterLab')
    lab.add_argument('--port', type=int, default=None, help='the port (default: a free one)')
    lab.add_argument('--no-browser', action='store_true', help='do not open a web browser')
    lab.set_defaults(func=cmd_lab)
    if not student_only:
        _instructor_commands(sub)
    return p


def _instructor_commands(sub):
    s = sub.add_parser('skeleton', help='generate micrograd_skeleton/ from solutions/')
    s.add_argument('--check', action='store_true',
                   help='only compare: exit 1 when the skeleton is out of date')
    s.add_argument('--force', action='store_true',
                   help='overwrite the package even where it holds changes of its own')
    s.set_defaults(func=cmd_skeleton)

    n = sub.add_parser('notebooks', help='generate exercises/ from the source notebooks')
    n.add_argument('--execute', action='store_true',
                   help='first run the source notebooks against the solutions and save them')
    n.add_argument('--check', action='store_true',
                   help='only compare: exit 1 when exercises/ is out of date')
    n.set_defaults(func=cmd_notebooks)

    a = sub.add_parser('autograde', help="nbgrader's autograde of every submission, in parallel")
    a.add_argument('students', nargs='*', metavar='STUDENT',
                   help='grade these students only (default: every submission)')
    a.add_argument('--course', default=None, metavar='DIR',
                   help='the nbgrader course directory (default: grader/nbgrader)')
    a.add_argument('--jobs', type=int, default=None, metavar='N',
                   help='students graded at the same time (default: one per core)')
    a.add_argument('--cell-cpu', type=float, default=None, metavar='S',
                   help="the CPU seconds a cell may use (default: the course's "
                        "ExecuteWithinBudget.cpu_timeout, 60)")
    a.add_argument('--cell-timeout', type=float, default=None, metavar='S',
                   help="a cell's wall-time backstop (default: the course's Execute.timeout, 300)")
    a.add_argument('--notebook-timeout', type=float, default=None, metavar='S',
                   help="a notebook's time limit, all cells together (default: the course's)")
    a.add_argument('--force', action='store_true', help='grade again students already graded')
    a.set_defaults(func=cmd_autograde)

    g = sub.add_parser('grade', help="grade a class's package submissions (sandboxed, parallel)")
    g.add_argument('submissions', metavar='SUBMISSIONS',
                   help='a folder with, per student: STUDENT/, STUDENT.zip or STUDENT_engine.py ...')
    g.add_argument('--out', required=True, metavar='DIR',
                   help='where the gradebook, feedback and summary go (run again to resume)')
    g.add_argument('--jobs', type=int, default=0, metavar='N',
                   help='students graded at the same time (default: one per core)')
    g.add_argument('--seed', type=int, default=None, metavar='N',
                   help="the hidden checks' seed (default: the gradebook's, else a new one)")
    g.add_argument('--wall', type=float, default=300.0, metavar='S',
                   help="one student's wall-time limit in seconds (default: 300)")
    g.add_argument('--cpu', type=int, default=120, metavar='S',
                   help="CPU seconds for each of a student's processes (default: 120)")
    g.add_argument('--memory', type=int, default=2048, metavar='MB',
                   help="memory (address space) of each of a student's processes (default: 2048)")
    g.add_argument('--unlimited-processes-ok', action='store_true',
                   help="grade even where student code cannot be held to a process limit (root "
                        "without bubblewrap, a Python under /root): only on a disposable machine")
    g.set_defaults(func=cmd_grade)

    gs = sub.add_parser('gradescope', help='build a Gradescope autograder zip')
    gs.add_argument('--out', default='autograder.zip', metavar='ZIP')
    gs.add_argument('--seed', type=int, default=None, metavar='N',
                    help="the hidden checks' seed (default: a new one)")
    gs.add_argument('--hidden-visibility', choices=('after_published', 'hidden'),
                    default='after_published',
                    help="when students see the hidden checks: once the grades are published "
                         "(default), or never")
    gs.set_defaults(func=cmd_gradescope)

    pl = sub.add_parser('prairielearn', help='write a PrairieLearn question folder')
    pl.add_argument('out', metavar='OUT', help='the question folder to write')
    pl.add_argument('--seed', type=int, default=None, metavar='N',
                    help="the hidden checks' seed (default: a new one)")
    pl.add_argument('--image', default='prairielearn/grader-python',
                    help="the grading image (default: PrairieLearn's Python grader; see "
                         "tests/Dockerfile for one with the course's requirements)")
    pl.set_defaults(func=cmd_prairielearn)

    r = sub.add_parser('release', help="write the students' hand-out into a new folder")
    r.add_argument('out', metavar='OUT')
    r.set_defaults(func=cmd_release)

    sc = sub.add_parser('sample-class', help='write a sample class of hand-ins to try `grade` on')
    sc.add_argument('out', metavar='DIR')
    sc.set_defaults(func=cmd_sample_class)


def _is_skeleton_error(e):
    """Whether e is the skeleton builder's SkeletonError. The student's commands never load the
    hand-out builders, so the class is looked up only where it was raised: then it is loaded."""
    skeleton = sys.modules.get('mgcourse.handout.skeleton')
    return skeleton is not None and isinstance(e, skeleton.SkeletonError)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if is_release() and argv and not argv[0].startswith('-') and argv[0] not in STUDENT_COMMANDS:
        print(f"mgcourse {argv[0]}: this command is for instructors; it is not part of the "
              f"student release (its commands: {', '.join(STUDENT_COMMANDS)})", file=sys.stderr)
        return 2
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except ImportError as e:  # `from . import grading` where the release left it out
        if e.name == 'nbgrader':
            print(f"mgcourse {args.command}: needs nbgrader, which this environment does not "
                  "have (the student setup leaves it out): `bash grader/course.sh test` "
                  "installs it, or `pip install -e '.[instructor]'`", file=sys.stderr)
            return 2
        if e.name != 'mgcourse' and not (e.name or '').startswith('mgcourse.'):
            raise
        print(f"mgcourse {args.command}: this command is for instructors; it is not part of "
              "the student release", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 - only the skeleton builder's error is reported here
        if not _is_skeleton_error(e):
            raise
        print(f"mgcourse: {e}", file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
