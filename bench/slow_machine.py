"""Grade a correct student on a machine four times slower than this one, and check full marks.

    sudo .venv/bin/python bench/slow_machine.py [--share 0.25]

Runs each front-end in a CPU cgroup (cgroup v1 `cpu` or v2, made here and removed after)
whose quota is `share` of one core: 0.25 makes everything inside at least four times slower
than one core of this machine, and slower still than this machine with both cores. Every
limit stays as the course ships it. The front-ends: `mgcourse check`, plain `pytest` (the
student's battery), `mgcourse grade`, Gradescope's run_autograder (the bundle is built
outside, as an instructor would), nbgrader's own autograde with the course's configuration,
and `mgcourse autograde`. It reports, per front-end, the wall time, the points, and whether
they are full marks. Needs root (to make the cgroup) and Linux.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'grader'))

from mgcourse import paths  # noqa: E402 - after the path
from mgcourse.handout import gradescope  # noqa: E402
from mgcourse.nbgrading import nbautograde, nbgrade  # noqa: E402


def make_cgroup(share):
    """(folder, file to write a pid into) of a fresh cgroup with `share` of one core."""
    period = 100_000
    v1 = Path('/sys/fs/cgroup/cpu')
    if (v1 / 'cpu.cfs_quota_us').exists():
        folder = Path(tempfile.mkdtemp(prefix='mgcourse-slow-', dir=v1))
        (folder / 'cpu.cfs_period_us').write_text(str(period))
        (folder / 'cpu.cfs_quota_us').write_text(str(int(share * period)))
        return folder, folder / 'tasks'
    v2 = Path('/sys/fs/cgroup')
    folder = Path(tempfile.mkdtemp(prefix='mgcourse-slow-', dir=v2))
    (folder / 'cpu.max').write_text(f"{int(share * period)} {period}")
    return folder, folder / 'cgroup.procs'


def run_in(tasks, argv, **kw):
    """Run argv with its process (and so its children) in the cgroup."""
    def enter():
        tasks.write_text(str(os.getpid()))
    return subprocess.run(argv, preexec_fn=enter, capture_output=True, text=True, **kw)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--share', type=float, default=0.25, help='of one core (default 0.25)')
    args = p.parse_args(argv)
    folder, tasks = make_cgroup(args.share)
    found = {}
    try:
        with tempfile.TemporaryDirectory(prefix='bench-slow-') as tmp:
            tmp = Path(tmp)
            py = sys.executable
            # mgcourse check
            t = time.perf_counter()
            done = run_in(tasks, [py, '-m', 'mgcourse.cli', 'check', '--impl', str(paths.SOLUTIONS),
                                  '--json'], cwd=ROOT)
            report = json.loads(done.stdout)
            found['mgcourse check'] = (time.perf_counter() - t, report.get('points'),
                                       report.get('possible'))
            # plain pytest at the root: the student's battery on the solutions
            t = time.perf_counter()
            done = run_in(tasks, [py, '-m', 'pytest', '-p', 'no:cacheprovider',
                                  f'--impl={paths.SOLUTIONS}'], cwd=ROOT)
            score = re.search(r'^Score: (\d+) of (\d+) points', done.stdout, re.M)
            found['pytest'] = (time.perf_counter() - t, *(map(int, score.groups()) if score
                                                          else (None, None)))
            # mgcourse grade (sandboxed, hidden checks)
            root = tmp / 'class'
            shutil.copytree(paths.SOLUTIONS, root / 'ada', ignore=shutil.ignore_patterns('__pycache__'))
            t = time.perf_counter()
            run_in(tasks, [py, '-m', 'mgcourse.cli', 'grade', str(root), '--out', str(tmp / 'out'),
                           '--jobs', '1', '--seed', '3'], cwd=tmp)
            book = json.loads((tmp / 'out' / 'grades.json').read_text())
            ada = book['students']['ada']
            found['mgcourse grade'] = (time.perf_counter() - t, ada['total'], ada['possible'])
            # Gradescope: run_autograder with the solutions handed in
            bundle = tmp / 'autograder.zip'
            subprocess.run([py, '-m', 'mgcourse.cli', 'gradescope', '--out', str(bundle),
                            '--seed', '3'], cwd=ROOT, check=True, capture_output=True)
            gs = tmp / 'autograder'
            cmd, where = gradescope.container(bundle, gs, paths.SOLUTIONS)
            t = time.perf_counter()
            run_in(tasks, cmd, env=dict(os.environ, **where))
            results = json.loads((gs / 'results' / 'results.json').read_text())
            found['Gradescope'] = (time.perf_counter() - t, results['score'],
                                   sum(test['max_score'] for test in results['tests']))
            # nbgrader's own autograde with the course's configuration
            course = nbgrade.scratch_copy(tmp / 'course')
            nbgrade.generate(course)
            nbgrade.submit_sample(course, 'correct', 'correct')
            cmd, env = nbgrade.nbgrader_command('autograde', nbgrade.ASSIGNMENT)
            t = time.perf_counter()
            run_in(tasks, cmd, cwd=course, env=env)
            scores = nbautograde.scores(course).get('correct', {})
            from nbgrader.api import Gradebook
            with Gradebook(nbautograde.db_url(course), nbgrade.COURSE_ID) as gb:
                possible = gb.find_submission(nbgrade.ASSIGNMENT, 'correct').max_score
            found['nbgrader autograde'] = (time.perf_counter() - t, sum(scores.values()), possible)
            # mgcourse autograde, on a second copy of the course
            course = nbgrade.scratch_copy(tmp / 'course2')
            nbgrade.generate(course)
            nbgrade.submit_sample(course, 'correct', 'correct')
            t = time.perf_counter()
            run_in(tasks, [py, '-m', 'mgcourse.cli', 'autograde', '--course', str(course)], cwd=tmp)
            scores = nbautograde.scores(course).get('correct', {})
            found['mgcourse autograde'] = (time.perf_counter() - t, sum(scores.values()), possible)
    finally:
        folder.rmdir()
    print(f"inside a cgroup with {args.share:g} of one core:")
    ok = True
    for name, (seconds, points, possible) in found.items():
        full = points == possible and points is not None
        ok &= full
        print(f"  {name:<20} {seconds:6.1f} s   {points} of {possible}   "
              f"{'full marks' if full else 'POINTS LOST'}")
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
