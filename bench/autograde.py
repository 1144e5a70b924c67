"""Grading one class three ways: nbgrader's serial autograde, `mgcourse autograde` (nbgrader,
one student per core) and `mgcourse grade` (the batch grader, on the packages they handed in).

    .venv/bin/python bench/autograde.py [--students N] [--jobs J] [--out bench/results/autograde.json]
    .venv/bin/python bench/autograde.py --cpu-only [--runs 5]

Builds the sample class (nbgrade.SAMPLE_CLASS: correct, partial, empty and endless
submissions, repeated to N students) in two scratch copies of the course, grades one with
`nbgrader autograde` and the other with mgcourse.nbgrading.nbautograde, and reports both wall times, the
speed-up, and whether every student's scores agree notebook by notebook. The endless
submission's loop is stopped at the same cell time limit in both runs. Then the batch grader
grades the package each student submitted (their micrograd_skeleton/ folder), sandboxed, with
the hidden checks. All three are reported as submissions graded per minute.

--cpu-only: the CPU seconds of one correct student's whole nbgrader autograde (the median of
--runs), with a fixed loop's CPU time before and after as the machine's speed, and the
costliest cell of each notebook.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import shutil
import subprocess

from mgcourse.batch import grading
from mgcourse.isolation import sandbox
from mgcourse.nbgrading import nbautograde, nbgrade

CELL_CPU = 10  # CPU seconds a cell may use; the endless student's loop is stopped there


def _spin(n, clock=time.perf_counter):
    start = clock()
    x = 0
    for i in range(n):
        x += i * i
    return clock() - start


def parallel_ceiling(jobs, n=10_000_000):
    """How much faster `jobs` CPU-bound Python processes at once get through their work than
    one after another, on this machine: the most any parallel grading can gain here."""
    import multiprocessing
    with multiprocessing.get_context('spawn').Pool(jobs) as pool:
        pool.map(_spin, [1000] * jobs)  # the processes started and ready
        alone = min(pool.apply(_spin, (n,)) for _ in range(3))  # one at a time
        together = max(pool.map(_spin, [n] * jobs))
    return jobs * alone / together


def cpu_cgroup():
    """(folder, file to write a pid into, reader of the CPU seconds used in it) of a fresh
    cgroup (v1 `cpuacct`, or v2), made here; None where none can be made (not root, say)."""
    try:
        v1 = Path('/sys/fs/cgroup/cpuacct')
        if (v1 / 'cpuacct.usage').exists():
            folder = Path(tempfile.mkdtemp(prefix='mgcourse-cpu-', dir=v1))
            return (folder, folder / 'tasks',
                    lambda: int((folder / 'cpuacct.usage').read_text()) / 1e9)
        v2 = Path('/sys/fs/cgroup')
        if (v2 / 'cgroup.controllers').exists():
            folder = Path(tempfile.mkdtemp(prefix='mgcourse-cpu-', dir=v2))

            def read():
                text = (folder / 'cpu.stat').read_text()
                usage = dict(line.split() for line in text.splitlines())
                return int(usage['usage_usec']) / 1e6
            return folder, folder / 'cgroup.procs', read
    except OSError:
        pass
    return None


def _remove_cgroup(folder):
    for _ in range(50):  # the last processes of the run may take a moment to leave it
        try:
            folder.rmdir()
            return
        except OSError:
            time.sleep(0.1)


def reference_cpu(n=20_000_000):
    """CPU seconds of a fixed Python loop: this machine's speed at the moment (a virtual
    machine's varies with its neighbours, by a third seen here), for reading the totals."""
    return _spin(n, time.process_time)


def costliest_cells():
    """The CPU seconds of the costliest cell of each notebook of a correct hand-in (the cell
    limit's margin is measured against it; 05's PyTorch cell is among them, though the
    autograde does not run it)."""
    from mgcourse.handout import notebooks
    from mgcourse import paths
    costliest = {}
    for path in sorted(notebooks.SOURCE.glob('*.ipynb')):
        cells = notebooks.cell_cpu(path, paths.SOLUTIONS)
        costliest[path.stem] = round(max(cells.values(), default=0.0), 2)
    return costliest


def correct_student_cpu(tmp):
    """CPU seconds (user and system) of one correct student's whole `nbgrader autograde`.
    Returns (total, how it was counted).

    The total is counted in a cgroup of its own where one can be made (as root): every process
    of the autograde, nbgrader, its kernels and the package's graders, sandboxed or not.
    Elsewhere it is nbgrader's children as getrusage sees them, which misses the sandboxed
    processes (bubblewrap does not wait for its own, so their time never reaches us)."""
    import resource

    course = nbgrade.scratch_copy(Path(tmp) / 'cpu' / 'course')
    nbgrade.generate(course)
    nbgrade.submit_sample(course, 'correct', 'correct')
    cmd, env = nbgrade.nbgrader_command('autograde', nbgrade.ASSIGNMENT, '--student', 'correct')
    group = cpu_cgroup()
    if group is not None:
        folder, tasks, read = group
        try:
            start = read()
            subprocess.run(cmd, cwd=course, env=env, check=True, capture_output=True,
                           preexec_fn=lambda: tasks.write_text(str(os.getpid())))
            total, how = read() - start, 'cgroup: every process of the autograde'
        finally:
            _remove_cgroup(folder)
    else:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(cmd, cwd=course, env=env, check=True, capture_output=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        total = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        how = 'getrusage: nbgrader and the processes it waited for, not the sandboxed ones'
    return round(total, 1), how


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--students', type=int, default=8)
    p.add_argument('--jobs', type=int, default=os.cpu_count())
    p.add_argument('--out', default=str(Path(__file__).parent / 'results' / 'autograde.json'))
    p.add_argument('--cpu-only', action='store_true',
                   help="only the CPU time of one correct student's autograde and its costliest cells")
    p.add_argument('--runs', type=int, default=5, help="--cpu-only: autogrades to take the median of")
    args = p.parse_args(argv)
    if args.cpu_only:
        totals, speed = [], [reference_cpu()]
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory(prefix='bench-autograde-') as tmp:
                total, how = correct_student_cpu(tmp)
            totals.append(total)
        speed.append(reference_cpu())
        print(f"one correct student's nbgrader autograde: {statistics.median(totals)} s of CPU, "
              f"the median of {', '.join(map(str, totals))} ({how})")
        print(f"the machine's speed: a fixed loop took {speed[0]:.2f} s of CPU before, "
              f"{speed[1]:.2f} s after")
        print("costliest cell of each notebook (CPU s): " + json.dumps(costliest_cells()))
        return 0
    ceiling = parallel_ceiling(args.jobs)
    with tempfile.TemporaryDirectory(prefix='bench-autograde-') as tmp:
        tmp = Path(tmp)
        serial, _ = nbgrade.sample_course(tmp / 'serial' / 'course', args.students)
        parallel, _ = nbgrade.sample_course(tmp / 'parallel' / 'course', args.students)
        start = time.perf_counter()
        nbgrade.nbgrader(serial, 'autograde', nbgrade.ASSIGNMENT, f'--ExecuteWithinBudget.cpu_timeout={CELL_CPU}')
        serial_s = time.perf_counter() - start
        start = time.perf_counter()
        results = nbautograde.autograde(parallel, jobs=args.jobs, cpu_timeout=CELL_CPU)
        parallel_s = time.perf_counter() - start
        same = nbautograde.scores(serial) == nbautograde.scores(parallel)
        failed = [r.student for r in results if not r.ok]
        packages = tmp / 'packages'
        packages.mkdir()
        for folder in sorted((serial / 'submitted').iterdir()):
            shutil.copytree(folder / nbgrade.ASSIGNMENT / nbgrade.PACKAGE, packages / folder.name)
        start = time.perf_counter()
        book = grading.grade(packages, tmp / 'graded', grading.Options(jobs=args.jobs, seed=1))
        batch_s = time.perf_counter() - start
        batch_failed = [s for s, e in book['students'].items() if e['status'] == 'error']
    found = {
        'date': date.today().isoformat(),
        'machine': f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
                   f"Python {platform.python_version()}",
        'students': args.students, 'jobs': args.jobs, 'cell_cpu_s': CELL_CPU,
        'nbgrader_serial_s': round(serial_s, 1), 'mgcourse_parallel_s': round(parallel_s, 1),
        'speedup': round(serial_s / parallel_s, 2),
        'machine_ceiling': round(ceiling, 2),
        'batch_grader_s': round(batch_s, 1),
        'batch_grader_sandbox': 'bubblewrap' if sandbox.bwrap_available() else 'off',
        'students_per_minute': {'nbgrader_serial': round(60 * args.students / serial_s, 1),
                                'mgcourse_autograde_parallel': round(60 * args.students / parallel_s, 1),
                                'mgcourse_grade_packages': round(60 * args.students / batch_s, 1)},
        'identical_scores': same, 'failed': failed + batch_failed,
    }
    print(f"{args.students} students: nbgrader autograde {serial_s:.1f} s, "
          f"mgcourse autograde --jobs {args.jobs} {parallel_s:.1f} s "
          f"({serial_s / parallel_s:.2f}x); scores identical: {same}")
    print(f"this machine runs {args.jobs} CPU-bound Python processes at once {ceiling:.2f}x as fast "
          "as one after another: the most parallel grading can gain here")
    print(f"mgcourse grade (their packages, sandboxed, hidden checks): {batch_s:.1f} s; per minute: "
          + ', '.join(f"{k} {v}" for k, v in found['students_per_minute'].items()))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(found, indent=1) + '\n', encoding='utf-8')
    print(f"wrote {args.out}")
    return 0 if same and not found['failed'] else 1


if __name__ == '__main__':  # the batch grader's process pool re-imports this file
    sys.exit(main())
