"""How fast a student hears back: `mgcourse check`, and `mgcourse watch` from a save to a result.

    .venv/bin/python bench/feedback.py                   # this checkout
    .venv/bin/python bench/feedback.py --baseline d8b2568  # and the same figures for a commit
    options: --reps N (5), --torch (time `check --torch` too), --out FILE (a JSON of the numbers)

check: the wall time of `mgcourse check --impl solutions --json`, the whole battery on a correct
package, as a student runs it (a fresh process each time; torch installed or not, as it is here).

watch: `mgcourse watch --impl COPY` on a half-finished copy (the skeleton with the solutions'
engine: the current checkpoint is mlp); the clock runs from the save of nn.py (the solutions'
network, or the skeleton's again, in turns) to the first line of a result on the screen, and to
the full table. The commit's code (--baseline) is run from a `git archive` of it, with this
checkout's Python and packages, and never this checkout's library.

Timings are reported, never asserted: the tests check behaviour, this measures speed.
"""

import argparse
import json
import os
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# This checkout is installed in editable mode, and setuptools' editable finder would supply the
# library of this checkout to a baseline's run: it is taken out first.
ALONE = ("import sys\n"
         "sys.meta_path = [f for f in sys.meta_path if 'editable' not in getattr(f, '__module__', '')]\n"
         "from mgcourse.cli import main\n"
         "sys.exit(main(sys.argv[1:]))\n")


def command(root, *args):
    env = dict(os.environ, PYTHONPATH=str(Path(root) / 'grader'), PYTHONDONTWRITEBYTECODE='1',
               COLUMNS='120')
    return [sys.executable, '-c', ALONE, *map(str, args)], env


def time_check(root, reps, *extra):
    times = []
    for _ in range(reps):
        cmd, env = command(root, 'check', '--impl', Path(root) / 'solutions', '--json', *extra)
        start = time.perf_counter()
        done = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        data = json.loads(done.stdout)
        assert data['all_passed'], done.stdout[-2000:]
    return times


def time_watch(root, reps):
    """[(seconds to the first result, seconds to the full table)] for reps saves."""
    work = Path(tempfile.mkdtemp(prefix='mgcourse-bench-watch-'))
    folder = work / 'half'
    shutil.copytree(Path(root) / 'micrograd_skeleton', folder,
                    ignore=shutil.ignore_patterns('__pycache__'))
    shutil.copy(Path(root) / 'solutions' / 'engine.py', folder / 'engine.py')
    versions = [(Path(root) / 'solutions' / 'nn.py').read_text(),
                (Path(root) / 'micrograd_skeleton' / 'nn.py').read_text()]
    cmd, env = command(root, 'watch', '--impl', folder)
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.PIPE, text=True)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put((time.perf_counter(), line))
                                     for line in proc.stdout], daemon=True).start()

    def until(marker):
        while True:
            at, line = lines.get(timeout=120)
            if marker in line:
                return at

    out = []
    try:
        until('Watching')
        for i in range(reps):
            time.sleep(0.5)
            saved = time.perf_counter()
            (folder / 'nn.py').write_text(versions[i % 2])
            first = until('micrograd course')
            table = until('Watching')
            out.append((first - saved, table - saved))
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(work, ignore_errors=True)
    return out


def measure(root, reps, torch):
    figures = {'check': time_check(root, reps)}
    if torch:
        figures['check --torch'] = time_check(root, reps, '--torch')
    watch = time_watch(root, reps)
    figures['watch: save to first result'] = [w[0] for w in watch]
    figures['watch: save to full table'] = [w[1] for w in watch]
    return figures


def export(commit):
    folder = Path(tempfile.mkdtemp(prefix=f'mgcourse-bench-{commit[:8]}-'))
    archive = subprocess.run(['git', 'archive', commit], cwd=ROOT, capture_output=True, check=True)
    subprocess.run(['tar', '-x', '-C', str(folder)], input=archive.stdout, check=True)
    return folder


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--baseline', metavar='COMMIT', help='also time the code of this commit')
    p.add_argument('--reps', type=int, default=5)
    p.add_argument('--torch', action='store_true', help='time `check --torch` too')
    p.add_argument('--out', metavar='FILE', help='write the numbers as JSON')
    args = p.parse_args(argv)
    runs = {}
    if args.baseline:
        old = export(args.baseline)
        try:
            runs[f'commit {args.baseline}'] = measure(old, args.reps, False)
        finally:
            shutil.rmtree(old, ignore_errors=True)
    runs['this checkout'] = measure(ROOT, args.reps, args.torch)
    load = os.getloadavg()
    print(f"{os.cpu_count()} cores, load average {load[0]:.1f}; seconds, median (min to max) "
          f"of {args.reps}")
    for name, figures in runs.items():
        print(f"\n{name}")
        for what, times in figures.items():
            print(f"  {what:<30} {statistics.median(times):6.2f}  ({min(times):.2f} to "
                  f"{max(times):.2f})")
    if args.out:
        Path(args.out).write_text(json.dumps({'load': load, 'runs': runs}, indent=1))


if __name__ == '__main__':
    main()
