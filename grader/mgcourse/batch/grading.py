"""The batch grader: a whole class's package submissions, isolated, in parallel, resumable.

    book = grade('submissions/', 'out/')            # what `mgcourse grade` runs

For each student (submissions.py finds and unpacks the hand-in, safely, in this process):

1. the student's package is copied into a scratch folder of its own, beside a copy of the
   public course library (without the hidden checks and the mistake catalogue);
2. a worker process imports the package there and answers probe requests, inside the sandbox
   (sandbox.py: bubblewrap where it works, with limits on CPU, memory, processes, file size,
   output and wall time; the limits alone where it does not);
3. this side sends each public check's probe, then the hidden checks' inputs, drawn from the
   run's seed, and judges the plain data that comes back: the verdict is never taken in the
   process that runs the student's code. A probe that hangs or crashes costs its check; a
   package that cannot even start costs every check, with the reason.

Students are graded by a pool of processes (one per core by default). This process is the
only writer of the gradebook: after each student it rewrites grades.json and grades.csv
atomically (safe_files.write_atomic), so an interrupted run loses at most the students in
progress. Run again, it keeps every student whose hand-in (its fingerprint) and seed are
unchanged and grades the rest; the files come out the same as an uninterrupted run's.
Grades never depend on timing, so a regrade with the recorded seed reproduces them.
"""

import atexit
import csv
import io
import json
import multiprocessing
import os
import secrets
import shutil
import tempfile
import threading
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
import hypothesis.configuration

from mgcourse.battery import catalogue, checks, diagnosis
from mgcourse.battery.checks.base import ProbeError, Result, run_check
from mgcourse.isolation import own_users, sandbox
from mgcourse.isolation.isolated import Worker, with_retry_note

from . import flags, hidden, submissions
from .reports import layout, safe_files
from .student_library import runtime_library


ASSIGNMENT = 'micrograd'
COURSE = 'micrograd-course'


PROBE_TIMEOUT = 20.0  # seconds for one probe


@dataclass(frozen=True)
class Options:
    jobs: int = 0                       # grading processes (0: one per core)
    seed: int = None                    # the hidden checks' seed (None: the gradebook's, or new)
    limits: sandbox.Limits = field(default_factory=sandbox.Limits)
    probe_timeout: float = PROBE_TIMEOUT  # CPU seconds for one probe
    probe_wall: float = None            # its wall-clock backstop (None: isolated's 10x)
    # Grade even where the process limit cannot hold (sandbox.process_limit_problem): only
    # for a machine that is itself disposable, such as Gradescope's container for one hand-in.
    unlimited_processes_ok: bool = False


# --------------------------------------------------------------------------------
# The gradebook's shape
# --------------------------------------------------------------------------------

def check_list():
    """Every graded check, public then hidden, as the gradebook lists them."""
    out = []
    for cp in catalogue.load():
        for entry in cp.checks:
            c = checks.REGISTRY[entry.id]
            out.append({'id': entry.id, 'checkpoint': cp.id, 'title': c.title,
                        'points': entry.points, 'hidden': False, 'lecture': cp.lecture})
    return out + [{'id': h.id, 'checkpoint': h.checkpoint, 'title': h.title, 'points': h.points,
                   'hidden': True, 'lecture': h.lecture} for h in hidden.HIDDEN]


def new_book(seed):
    return {'course': COURSE, 'assignment': ASSIGNMENT,
            'sandbox': 'bubblewrap' if sandbox.bwrap_available() else 'off',
            'seed': seed, 'checks': check_list(),
            'diagnoses': dict(diagnosis.texts()),
            'students': {}}


def _entry(sub, seed, status, results, notes=(), flags=(), problem=''):
    return {
        'student': sub.student, 'status': status, 'submission': sub.source,
        'fingerprint': sub.fingerprint, 'seed': seed,
        'total': float(sum(r.points for r in results)),
        'possible': sum(r.possible for r in results),
        'notes': list(notes) + ([problem] if problem else []),
        'flags': sorted(flags),
        'checks': {r.id: {'points': r.points, 'possible': r.possible, 'passed': r.passed,
                          'error': r.error, 'message': r.message, 'diagnoses': r.diagnoses}
                   for r in results},
    }


def _failed_all(checks_, kind, message):
    """Every check failed for one reason (nothing to grade, a package that cannot start)."""
    return [Result(c['id'], c['checkpoint'], c['id'].split('.', 1)[1], c['title'], 0,
                   c['points'], False, message, kind) for c in checks_]


# --------------------------------------------------------------------------------
# One student
# --------------------------------------------------------------------------------


def _fresh_copy(source, scratch):
    """A new run folder in scratch, with the hand-in copied to its package/; the package's path.

    Each worker starts this way, from the hand-in as it was handed in, in a folder no earlier
    worker ever had: whatever an earlier one wrote or changed is not there. The folder is
    made by this process (mode 0700, inside scratch, which is this process's too), filled
    without following a link (the source is the grader's own copy, see submissions.py), and
    handed to the run's user by the sandbox only once it is complete; this process never
    writes in a folder that a student's process could write, rename or replace.
    """
    run = Path(tempfile.mkdtemp(prefix='run-', dir=scratch))
    (run / 'tmp').mkdir()
    return Path(shutil.copytree(source, run / 'package', symlinks=True))


def _launcher(runtime, limits):
    def launch(argv, pass_fds):
        # argv[3] is the package folder (isolated.Worker); its run folder is the workdir.
        run = Path(argv[3]).parent
        # Inside bubblewrap, /tmp is the run's own; without it, temporary files go to the
        # run folder, where the disk watchdog counts them and they are removed with it.
        tmp = '/tmp' if sandbox.bwrap_available() else str(run / 'tmp')
        env = {'PATH': os.defpath, 'PYTHONPATH': str(runtime), 'PYTHONDONTWRITEBYTECODE': '1',
               'PYTHONHASHSEED': '0', 'HOME': str(run), 'TMPDIR': tmp,
               'OMP_NUM_THREADS': '1', 'MKL_NUM_THREADS': '1', 'LANG': 'C.UTF-8'}
        return sandbox.start(argv, workdir=run, readable=[runtime], env=env,
                             limits=limits, pass_fds=pass_fds)
    return launch


def _retire(worker):
    """Stop a worker (every process of its run) and remove its run folder."""
    worker.close()
    launched = worker.launched
    if launched is not None and not launched.survivors:
        own_users.remove_tree(worker.folder.parent)


def _run_battery(source, scratch, runtime, seed, options, checks_):
    """The results of every check of checks_ against the hand-in's package (source), the
    student's code in sandboxed worker processes (a fresh one, on a fresh copy in scratch,
    after a crash or a timeout)."""
    launch = _launcher(runtime, options.limits)
    results = []
    worker = None
    start = time.monotonic()
    budget = options.limits.wall_seconds
    hidden_checks = hidden.by_id()
    clock_confirmed = False  # a check was stopped by the clock on its second run too
    try:
        for i, c in enumerate(checks_):
            if budget is not None and time.monotonic() - start > budget:
                results += _failed_all(checks_[i:], 'timeout', (
                    f"not run: grading this submission took longer than {budget:g} s in all"))
                break
            if worker is None or worker.ended is not None or not worker.alive:
                if worker is not None:
                    _retire(worker)
                try:
                    worker = Worker(_fresh_copy(source, scratch), options.probe_timeout,
                                    launch=launch, wall=options.probe_wall)
                except ProbeError as e:
                    results += _failed_all(checks_[i:], 'import', (
                        f"your package could not be started: {e.message}"))
                    worker = None
                    break
            if worker.import_error is not None:
                results += _failed_all(checks_[i:], 'import', (
                    f"the package could not be imported: {worker.import_error.message}"))
                break
            result = _judge(c, worker, seed, hidden_checks)
            if result.error == 'timeout' and worker.timed_out == 'wall' and not clock_confirmed:
                # stopped by the clock alone (a busy machine?): run again once, on a fresh
                # worker, before it costs points; the message says so
                _retire(worker)
                worker = None
                try:
                    worker = Worker(_fresh_copy(source, scratch), options.probe_timeout,
                                    launch=launch, wall=options.probe_wall)
                    result = with_retry_note(_judge(c, worker, seed, hidden_checks))
                    clock_confirmed = worker.timed_out == 'wall'
                except ProbeError:
                    pass  # it did not even start again: the first run's verdict stands
            results.append(result)
            if (not result.passed and worker is not None and worker.ended is None
                    and worker.left_processes_behind()):
                # what a failed check forked (a fork bomb's copies of the worker) is not left
                # to answer the next check's requests: a fresh worker does. (Counted after a
                # failure only: a scan of /proc after each of a class's checks costs more.)
                _retire(worker)
                worker = None
    finally:
        if worker is not None:
            _retire(worker)
    return results


def _judge(c, worker, seed, hidden_checks):
    """One check's Result; an error of the grader's own is a failed check, never a crash."""
    try:
        if c['hidden']:
            return hidden.run(hidden_checks[c['id']], seed, worker.probe_named)
        check = checks.REGISTRY[c['id']]
        return run_check(check, c['points'], lambda inputs: worker.probe(check.id, inputs))
    except Exception as e:  # noqa: BLE001 - what the student returned broke a judge
        detail = ''.join(traceback.format_exception_only(type(e), e)).strip()
        return _failed_all([c], 'exception',
                           f"the grader could not judge what your code returned ({detail})")[0]


_hypothesis_home = []
_hypothesis_lock = threading.Lock()


def _hypothesis_in_scratch():
    """Hypothesis keeps what it learns (its example database, the constants it collects from
    the grader's modules) in a folder of its own: here one scratch folder for the whole process,
    removed at its exit, never the current folder. One for the process, not one per student:
    the setting is global, and students graded at once in threads (nbautograde's packages)
    wrote in each other's, which was then removed under them ("Directory not empty")."""
    with _hypothesis_lock:
        if not _hypothesis_home:
            _hypothesis_home.append(tempfile.mkdtemp(prefix='mgcourse-hypothesis-'))
            atexit.register(shutil.rmtree, _hypothesis_home[0], True)
            hypothesis.configuration.set_hypothesis_home_dir(_hypothesis_home[0])


def grade_one(student, entries, root, work, runtime, seed, options, checks_):
    """The gradebook entry of one student. Never raises for anything in the hand-in."""
    started = time.perf_counter()
    _hypothesis_in_scratch()
    try:
        sub = submissions.prepare(student, entries, root, work)
        if sub.package is None:
            entry = _entry(sub, seed, 'invalid', _failed_all(checks_, 'invalid', sub.problem),
                           sub.notes, problem=sub.problem)
        else:
            scratch = Path(tempfile.mkdtemp(prefix=f'{student}-', dir=work))
            try:
                results = _run_battery(sub.package, scratch, runtime, seed, options,
                                              checks_)
            finally:
                own_users.remove_tree(scratch)
            # The flags come from the grader's own reading of the files graded, never from
            # what the student's process says of itself.
            entry = _entry(sub, seed, 'graded', results, sub.notes,
                           {f'imports-{m}' for m in flags.noted_imports(sub.package)})
    except Exception as e:  # noqa: BLE001 - a grader failure is recorded, and retried on resume
        entry = _error_entry(student, seed, checks_, (
            f"the grader failed on this submission; it will be graded again on the next run: "
            f"{type(e).__name__}: {e}"))
        entry['traceback'] = ''.join(traceback.format_exception(type(e), e, e.__traceback__))
    return entry, time.perf_counter() - started


# --------------------------------------------------------------------------------
# The class
# --------------------------------------------------------------------------------

def load_book(out):
    path = Path(out) / 'grades.json'
    if path.is_file():
        return json.loads(path.read_text(encoding='utf-8'))
    return None


def csv_text(book):
    ids = [c['id'] for c in book['checks']]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator='\n')
    w.writerow(['student', 'status', 'total', 'possible', *ids, 'flags', 'seed', 'notes'])
    for student in sorted(book['students']):
        e = book['students'][student]
        w.writerow([student, e['status'], f"{e['total']:g}", e['possible'],
                    *[f"{e['checks'][i]['points']:g}" if i in e['checks'] else '' for i in ids],
                    ' '.join(e['flags']), e['seed'],
                    ' / '.join(' '.join(str(n).split()) for n in e.get('notes') or [])])
    return buf.getvalue()


def save(book, out):
    """grades.json and grades.csv, each written whole or not at all."""
    book['students'] = dict(sorted(book['students'].items()))
    safe_files.write_atomic(Path(out) / 'grades.json', json.dumps(book, indent=1) + '\n')
    safe_files.write_atomic(Path(out) / 'grades.csv', csv_text(book))


@dataclass
class Progress:
    """What grade() tells on_event as it goes."""
    student: str
    what: str            # 'kept' (resumed), 'graded'
    entry: dict
    seconds: float = 0.0


def grade(root, out, options=Options(), on_event=None, reports=True):
    """Grade every student in root into out; returns the gradebook (the dict of grades.json).
    With reports (the default), out also gets every report of the gradebook (layout.write_all:
    the feedback pages, the class summary and its chart); a platform's container for one
    hand-in, which reads the gradebook alone, passes False and is spared their 2 s of CPU."""
    root, out = Path(root).resolve(), Path(out).resolve()
    if out == root or root in out.parents:
        raise ValueError(f"the output folder {out} must not be inside the submissions {root}")
    problem = sandbox.process_limit_problem()
    if problem and not options.unlimited_processes_ok:
        raise ValueError(f"not grading: {problem}; or, on a machine you can afford to lose, "
                         f"pass --unlimited-processes-ok")
    out.mkdir(parents=True, exist_ok=True)
    old = load_book(out)
    seed = options.seed
    if seed is None:
        seed = old['seed'] if old else secrets.randbits(32)
    book = new_book(seed)
    checks_ = book['checks']
    found, skipped = submissions.scan(root)
    same_checks = old is not None and old['checks'] == checks_
    todo = []
    for student, entries in sorted(found.items()):
        before = (old or {}).get('students', {}).get(student)
        same = (same_checks and before is not None and before['status'] in ('graded', 'invalid')
                and before['seed'] == seed
                and before['fingerprint'] == submissions.fingerprint(student, entries, root))
        if same:
            book['students'][student] = before
            if on_event:
                on_event(Progress(student, 'kept', before))
        else:
            todo.append((student, entries))
    book['skipped'] = skipped
    save(book, out)
    jobs = options.jobs or os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix='mgcourse-grade-') as tmp:
        runtime = runtime_library(Path(tmp) / 'runtime')
        work = Path(tmp) / 'work'
        work.mkdir()
        for student, entry, seconds in _graded(todo, jobs, root, work, runtime, seed, options,
                                               checks_):
            book['students'][student] = entry
            save(book, out)
            if on_event:
                on_event(Progress(student, 'graded', entry, seconds))
    if reports:
        layout.write_all(book, out)
    return book


def _graded(todo, jobs, root, work, runtime, seed, options, checks_):
    """(student, entry, seconds) of each (student, entries) of todo, as each is graded: by a
    pool of `jobs` processes, or, for one hand-in with one job (a platform's container),
    in this process, as nbgrade.grade_package grades a package; a process spawned for it
    would import the grader once more (0.5 s of CPU)."""
    if not todo:
        return
    if len(todo) == 1 and jobs == 1:
        student, entries = todo[0]
        yield (student, *grade_one(student, entries, root, work, runtime, seed, options, checks_))
        return
    # spawn: each grading process starts clean, with no thread or lock of this one.
    context = multiprocessing.get_context('spawn')
    with ProcessPoolExecutor(max_workers=min(jobs, len(todo)), mp_context=context) as pool:
        futures = {pool.submit(grade_one, student, entries, root, work, runtime, seed,
                               options, checks_): student for student, entries in todo}
        for future in as_completed(futures):
            student = futures[future]
            try:
                entry, seconds = future.result()
            except Exception as e:  # noqa: BLE001 - the grading process itself died
                entry, seconds = _error_entry(student, seed, checks_, (
                    f"the grading process stopped ({type(e).__name__}: {e}); this "
                    "submission will be graded again on the next run")), 0.0
            yield student, entry, seconds


def _error_entry(student, seed, checks_, note):
    """The record of a student the grader itself failed on: status 'error', retried next run."""
    return {'student': student, 'status': 'error', 'submission': '', 'fingerprint': '',
            'seed': seed, 'total': 0.0, 'possible': sum(c['points'] for c in checks_),
            'notes': [note], 'flags': ['grader-error'], 'checks': {}}
