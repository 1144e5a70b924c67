"""nbgrader's autograde, one student per core, with one writer for the gradebook.

`nbgrader autograde ASSIGNMENT` grades the class one student after another, and nbgrader's
gradebook is an SQLite file that two nbgrader processes must not write at the same time. Here
each student is graded by nbgrader itself (`nbgrader autograde ASSIGNMENT --student S`, the
same converter and preprocessors, so the same scores), in a process of its own (forked from
one that imported nbgrader once: forked.py), writing to a gradebook of its own: a copy of the
course's gradebook taken before grading starts. The autograded notebooks land where nbgrader
puts them (autograded/S/ASSIGNMENT/), since no two students share a folder. When a student is
done, this process, the only one that writes the course's gradebook, copies that student's
submission (grades, comments, flags, timestamps) into it, in one transaction.

Each notebook's kernel runs in the sandbox, in a scratch copy of the student's folder
(sandboxed_kernels.SandboxedKernelManager): it can write neither the gradebook, nor the course folder,
nor another student's files, so each student's autograde writes only that student's own
folder, and only nbgrader itself writes there.

The package: before any student's notebook runs, this process grades every student's
submitted package (nbgrade.grade_package: the public battery, sandboxed) and hands the
verdicts to the nbgrader processes (GradePackage.results), which score the check cells with
them (nbgrader_plugins.ScorePackageChecks).

Time limits: the course's configuration stops a cell that uses more than
ExecuteWithinBudget.cpu_timeout seconds of CPU time (an endless loop); wall time is a backstop
far above it: Execute.timeout a cell, and a notebook's remaining cells are cut short once its
budget (ExecuteWithinBudget.notebook_timeout) is spent; each can be set per run. A student
whose nbgrader process outlives every notebook's budget plus a margin is stopped; what it
graded by then is kept, the rest scores 0.

A busy machine must not cost a correct student points: the parallel processes do not retry a
notebook that a wall-time limit stopped (they mark it, `mgcourse.wall_stopped` in the
autograded notebook's metadata); once every parallel process is done, each such student is
graded again alone, with nothing else running. That second run is the one kept; its notebooks
say so under the cells that were stopped (which the feedback shows), and the gradebook flags
those notebooks (nbgrader's `flagged`, shown in the formgrader) so the instructor can see it.
"""

import json
import os
import shutil
import sqlite3
import tempfile
import time
import warnings
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from mgcourse.batch import grading

from . import forked, nbgrade

COURSE_ID = nbgrade.COURSE_ID
MARGIN = 120.0  # seconds on top of the notebooks' budgets: kernels starting, files copied


@dataclass
class Graded:
    """How one student's autograde went."""
    student: str
    ok: bool
    seconds: float
    message: str = ''  # why it failed, with the end of nbgrader's log
    skipped: bool = False  # already autograded (nbgrader's rule: --force to grade again)
    retried: tuple = ()  # notebooks graded again alone after a wall-time limit stopped them


def sqlite_url(db_file):
    return 'sqlite:///' + str(db_file)


def db_url(course):
    return sqlite_url(Path(course) / 'gradebook.db')


def submitted(course=nbgrade.COURSE, assignment=nbgrade.ASSIGNMENT):
    """The students with a submission of the assignment, sorted."""
    return sorted(p.parent.name for p in (Path(course) / 'submitted').glob(f'*/{assignment}')
                  if p.is_dir())


def notebook_names(course, assignment=nbgrade.ASSIGNMENT):
    """The assignment's notebooks, from the course's gradebook (generate_assignment puts them
    there); NbgraderFailed, saying what to run, when they are not."""
    from nbgrader.api import Gradebook, MissingEntry
    missing = nbgrade.NbgraderFailed(
        f"the gradebook of {course} has no assignment '{assignment}': run "
        f"`nbgrader generate_assignment {assignment}` there first")
    if not (Path(course) / 'gradebook.db').is_file():
        raise missing
    with Gradebook(db_url(course), COURSE_ID) as gb:
        try:
            return [nb.name for nb in gb.find_assignment(assignment).notebooks]
        except MissingEntry:
            raise missing from None


def _snapshot(src, dst):
    """A consistent copy of an SQLite file (sqlite's backup API, not a byte copy)."""
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)
    a.close()
    b.close()


def merge(src_url, dst_url, student, assignment=nbgrade.ASSIGNMENT, package=None,
          handed_in=()):
    """Copy one student's submission from the gradebook at src_url into the one at dst_url.
    With package (the student's entry from grade_packages), the check cells of the notebooks
    handed_in score this process's own verdicts, whatever the student's nbgrader process
    recorded. Returns False when src_url has no submission of theirs (nothing was graded)."""
    from nbgrader.api import Gradebook, MissingEntry
    from sqlalchemy.exc import SAWarning
    with warnings.catch_warnings(), Gradebook(src_url, COURSE_ID) as src, \
            Gradebook(dst_url, COURSE_ID) as dst:
        # nbgrader's add_submission builds its rows in an order that makes SQLAlchemy warn
        # (it does in nbgrader's own autograde too); the rows are written all the same.
        warnings.simplefilter('ignore', SAWarning)
        try:
            sub = src.find_submission(assignment, student)
        except MissingEntry:
            return False
        who = src.find_student(student)
        dst.update_or_create_student(student, first_name=who.first_name,
                                     last_name=who.last_name, email=who.email,
                                     lms_user_id=who.lms_user_id)
        if sub.timestamp is not None:
            out = dst.update_or_create_submission(assignment, student, timestamp=sub.timestamp)
        else:
            out = dst.update_or_create_submission(assignment, student)
        out.extension = sub.extension
        for nb in sub.notebooks:
            onb = dst.find_submission_notebook(nb.name, assignment, student)
            onb.flagged = nb.flagged
            onb.late_submission_penalty = nb.late_submission_penalty
            for g in nb.grades:
                og = dst.find_grade(g.name, nb.name, assignment, student)
                og.auto_score, og.manual_score = g.auto_score, g.manual_score
                checkpoint = nbgrade.checkpoint_of(g.name)
                if package is not None and checkpoint is not None and nb.name in handed_in:
                    og.auto_score = nbgrade.checkpoint_report(package, checkpoint)[0]
                og.extra_credit, og.needs_manual_grade = g.extra_credit, g.needs_manual_grade
            for c in nb.comments:
                oc = dst.find_comment(c.name, nb.name, assignment, student)
                oc.auto_comment, oc.manual_comment = c.auto_comment, c.manual_comment
        dst.db.commit()
    return True


def scores(course, assignment=nbgrade.ASSIGNMENT):
    """{student: {notebook: score}} from the course's gradebook, for comparing runs."""
    from nbgrader.api import Gradebook
    with Gradebook(db_url(course), COURSE_ID) as gb:
        return {sub.student.id: {nb.name: nb.score for nb in sub.notebooks}
                for sub in gb.assignment_submissions(assignment)}


def _limit_args(cell_timeout, notebook_timeout, cpu_timeout=None):
    args = []
    if cell_timeout is not None:
        args.append(f'--Execute.timeout={int(cell_timeout)}')
    if notebook_timeout is not None:
        args.append(f'--ExecuteWithinBudget.notebook_timeout={float(notebook_timeout)}')
    if cpu_timeout is not None:
        args.append(f'--ExecuteWithinBudget.cpu_timeout={float(cpu_timeout)}')
    return args


NO_RETRY = '--ExecuteWithinBudget.retry_wall_timeouts=False'


def wall_stopped(course, student, assignment=nbgrade.ASSIGNMENT):
    """{notebook: [cell indices]} of the student's autograded notebooks that a wall-time limit
    stopped in a run without retries (ExecuteWithinBudget marks them)."""
    out = {}
    for path in sorted((Path(course) / 'autograded' / student / assignment).glob('*.ipynb')):
        try:
            meta = json.loads(path.read_text(encoding='utf-8')).get('metadata', {})
        except (OSError, ValueError):
            continue
        cells = meta.get('mgcourse', {}).get('wall_stopped')
        if cells:
            out[path.stem] = cells
    return out


def _flag(db_file, student, notebooks, assignment):
    """Flag the notebooks of the student's submission in the gradebook at db_file."""
    from nbgrader.api import Gradebook
    with Gradebook(sqlite_url(db_file), COURSE_ID) as gb:
        for name in notebooks:
            gb.find_submission_notebook(name, assignment, student).flagged = True
        gb.db.commit()


def grade_packages(course, students, jobs, assignment=nbgrade.ASSIGNMENT):
    """{student: the battery's verdicts on their submitted package} (nbgrade.grade_package),
    `jobs` at a time. autograde() calls it before any student's kernel starts, so no
    student's code can change a package, theirs or a classmate's, before it is graded."""
    def one(student):
        return nbgrade.grade_package(nbgrade.submitted_package(course, student, assignment),
                                     grading.Options(jobs=1))
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return dict(zip(students, pool.map(one, students)))


def _grade_one(server, course, student, db_file, assignment, limit_args, wall):
    """Run nbgrader autograde for one student against its own gradebook file, in a process
    forked by server (a forked.Server, which imported nbgrader already)."""
    args = ['autograde', assignment, '--student', student, '--force',
            f'--CourseDirectory.db_url={sqlite_url(db_file)}', *limit_args]
    start = time.perf_counter()
    log = Path(db_file).with_suffix('.log')
    run = server.run(args, course, nbgrade.nbgrader_environment(), log)
    try:
        code = run.wait(timeout=wall)
        message = ''
    except TimeoutError:
        run.kill()
        code = None
        message = (f"stopped after {wall:g} s, more than all its notebooks' time limits "
                   "together: what was graded by then is kept, the rest scores 0")
    seconds = time.perf_counter() - start
    if code not in (0, None):
        tail = log.read_text(encoding='utf-8', errors='replace').strip().splitlines()[-15:]
        message = f"nbgrader autograde failed ({code}):\n" + '\n'.join(tail)
    log.unlink(missing_ok=True)
    return Graded(student, code == 0, seconds, message)


def autograde(course=nbgrade.COURSE, students=None, jobs=None, cell_timeout=None,
              notebook_timeout=None, force=False, assignment=nbgrade.ASSIGNMENT,
              on_done=None, cpu_timeout=None):
    """Autograde the students' submissions (default: all) with `jobs` nbgrader processes at a
    time (default: one per core). Like `nbgrader autograde`, a student already autograded is
    skipped unless force. A student whose notebook a wall-time limit stopped is graded again
    alone at the end (see above). on_done(Graded) is called as each one is finally graded.
    Returns the Graded list in student order."""
    course = Path(course).resolve()
    students = submitted(course, assignment) if students is None else list(students)
    jobs = jobs or os.cpu_count() or 1
    from .nbgrader_plugins import notebook_budget
    per_notebook = notebook_budget() if notebook_timeout is None else float(notebook_timeout)
    wall = len(notebook_names(course, assignment)) * per_notebook + MARGIN
    limit_args = _limit_args(cell_timeout, notebook_timeout, cpu_timeout) + [NO_RETRY]
    done = {}
    todo = []
    for student in students:
        if not force and (course / 'autograded' / student / assignment).exists():
            done[student] = Graded(student, True, 0.0, 'already autograded (use --force)', True)
            if on_done:
                on_done(done[student])
        else:
            todo.append(student)
    scratch = Path(tempfile.mkdtemp(prefix='mgcourse-autograde-'))
    server = forked.Server() if todo else None  # it imports nbgrader while packages are graded
    try:
        template = scratch / 'template.db'
        _snapshot(course / 'gradebook.db', template)
        verdicts = scratch / 'packages.json'
        # What each student handed in, and their package's verdicts, before any kernel runs.
        handed_in = {s: {p.stem for p in (course / 'submitted' / s / assignment).glob('*.ipynb')}
                     for s in todo}
        packages = grade_packages(course, todo, jobs, assignment)
        verdicts.write_text(json.dumps(packages), encoding='utf-8')
        limit_args = [*limit_args, f'--GradePackage.results={verdicts}']
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = {}
            for student in todo:
                db_file = scratch / f'{len(futures)}.db'
                shutil.copyfile(template, db_file)
                futures[pool.submit(_grade_one, server, course, student, db_file, assignment,
                                    limit_args, wall)] = (student, db_file)
            again = []
            for future in as_completed(futures):
                student, db_file = futures[future]
                graded = future.result()
                stopped = wall_stopped(course, student, assignment)
                if stopped:  # graded again alone, below; nothing of this run is kept
                    again.append((student, db_file, stopped))
                    continue
                _finish(course, student, db_file, assignment, graded, done, on_done,
                        packages.get(student), handed_in[student])
        for student, db_file, stopped in again:  # one at a time, with nothing else running
            shutil.copyfile(template, db_file)
            first = json.dumps(stopped, separators=(',', ':'))
            graded = _grade_one(server, course, student, db_file, assignment, limit_args + [
                f"--ExecuteWithinBudget.first_run_stopped={first}"], wall)
            graded.retried = tuple(stopped)
            _flag(db_file, student, stopped, assignment)
            _finish(course, student, db_file, assignment, graded, done, on_done,
                        packages.get(student), handed_in[student])
    finally:
        if server is not None:
            server.close()
        shutil.rmtree(scratch, ignore_errors=True)
    return [done[s] for s in students]


def _finish(course, student, db_file, assignment, graded, done, on_done, package, handed_in):
    """Merge a graded student into the course's gradebook (this process is its one writer)."""
    if not merge(sqlite_url(db_file), db_url(course), student, assignment, package, handed_in):
        graded.ok = False
        graded.message = graded.message or "nbgrader recorded no submission"
    elif package is not None and package.get('status') == 'error':
        # its check cells were scored 0 by a failure of the grader's, not of the student's
        graded.ok = False
        graded.message = graded.message or (
            "the package could not be graded, so its check cells score 0; autograde this "
            "student again with --force: " + '; '.join(package.get('notes', [])))
    done[student] = graded
    if on_done:
        on_done(graded)
