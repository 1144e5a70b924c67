"""The course's benchmark: one command, from the root of the checkout.

    .venv/bin/python bench/run.py                 # everything: the engines, then the battery
    .venv/bin/python bench/run.py engines         # micrograd 0.1.0 and the reference, side by side
    .venv/bin/python bench/run.py battery         # the public battery's wall time
    .venv/bin/python bench/run.py table FILE      # the Markdown table of a saved result
    options: --reps N (repetitions of each timing, 3), --steps N (two-moons steps, 100)

`engines` first makes bench/.venv-micrograd (git ignores it): a virtual environment of this
Python with micrograd==0.1.0 installed from PyPI by pip, its only package. It then runs
bench/engines.py there. `battery` times `mgcourse check --impl FOLDER --json`, the command a
student runs, on solutions/, on micrograd_skeleton/ and on bench/lecture_style/ (a plain,
correct implementation written as in the lecture), in turns.

The raw numbers, with the date and the machine, go to bench/results/DATE_TIME.json; the
table printed at the end is the one in README.md. Timings are reported, never asserted: the
tests check correctness, this measures speed.
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
VENV = BENCH / '.venv-micrograd'
RESULTS = BENCH / 'results'
MICROGRAD = 'micrograd==0.1.0'
IMPLEMENTATIONS = {  # what the battery is timed on, as paths from the root
    'solutions': ROOT / 'solutions',
    'micrograd_skeleton': ROOT / 'micrograd_skeleton',
    'bench/lecture_style': BENCH / 'lecture_style',
}


def say(*args):
    print(*args, file=sys.stderr, flush=True)


def machine():
    """What the numbers were measured on."""
    info = {'platform': platform.platform(), 'python': platform.python_version(),
            'cores': os.cpu_count(), 'cpu': platform.processor() or platform.machine()}
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                info['cpu'] = line.split(':', 1)[1].strip()
                break
        for line in Path('/proc/meminfo').read_text().splitlines():
            if line.startswith('MemTotal'):
                info['memory_gib'] = round(int(line.split()[1]) / 2 ** 20, 1)
                break
    except OSError:
        pass
    return info


def load_average():
    try:
        return list(os.getloadavg())
    except OSError:
        return None


# --------------------------------------------------------------------------------
# The engines, in micrograd's own environment
# --------------------------------------------------------------------------------

def venv_python():
    return VENV / ('Scripts/python.exe' if os.name == 'nt' else 'bin/python')


def ensure_venv():
    """bench/.venv-micrograd with micrograd 0.1.0, made (once) with this Python's venv and pip."""
    python = venv_python()
    check = [str(python), '-c', 'import importlib.metadata as m; print(m.version("micrograd"))']
    if python.exists():
        found = subprocess.run(check, capture_output=True, text=True)
        if found.returncode == 0 and found.stdout.strip() == '0.1.0':
            return python
    say(f"making {VENV.relative_to(ROOT)} with {MICROGRAD} from PyPI")
    subprocess.run([sys.executable, '-m', 'venv', '--clear', str(VENV)], check=True)
    subprocess.run([str(python), '-m', 'pip', 'install', '--quiet', '--disable-pip-version-check',
                    MICROGRAD], check=True)
    subprocess.run(check, check=True, capture_output=True)
    return python


def engines(reps, steps):
    python = ensure_venv()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / 'engines.json'
        subprocess.run([str(python), str(BENCH / 'engines.py'), '--reps', str(reps),
                        '--steps', str(steps), '--json', str(out)], check=True, cwd=ROOT)
        return json.loads(out.read_text())


# --------------------------------------------------------------------------------
# The battery, as a student runs it
# --------------------------------------------------------------------------------

def mgcourse_command():
    script = Path(sys.executable).with_name('mgcourse')
    if script.exists():
        return [str(script)]
    return [sys.executable, '-c', 'import sys; from mgcourse.cli import main; sys.exit(main())']


def battery(reps):
    say("the public battery: mgcourse check --impl FOLDER --json")
    runs = {name: [] for name in IMPLEMENTATIONS}
    for rep in range(reps):
        names = list(IMPLEMENTATIONS) if rep % 2 == 0 else list(reversed(IMPLEMENTATIONS))
        for name in names:
            command = mgcourse_command() + ['check', '--impl', str(IMPLEMENTATIONS[name]), '--json']
            start = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
            seconds = time.perf_counter() - start
            report = json.loads(done.stdout)
            runs[name].append({'seconds': seconds, 'points': report['points'],
                               'possible': report['possible']})
            say(f"  rep {rep + 1}/{reps}  {name:<22} {seconds:6.2f} s  "
                f"{report['points']} of {report['possible']} points")
    return {name: {'median_s': statistics.median(r['seconds'] for r in rs),
                   'seconds': [r['seconds'] for r in rs],
                   'points': rs[0]['points'], 'possible': rs[0]['possible']}
            for name, rs in runs.items()}


# --------------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------------

def seconds(x):
    if not isinstance(x, (int, float)):
        return str(x)
    return f"{x:.2f} s" if x >= 0.1 else f"{x * 1000:.1f} ms"


def table(results):
    """The results as the Markdown table of README.md's Performance section."""
    lines = []
    e = results.get('engines')
    if e:
        mg, ref = e['micrograd'], 'reference'
        lines += [f"| what (median of {e['reps']} runs; tiny data set: of {max(e['reps'], 5)}) | "
                  f"{mg} | reference | "
                  f"{mg} / reference | same numbers |", "| --- | --- | --- | --- | --- |"]
        for key, title in (('two_moons', f"two-moons demo, {e['two_moons']['steps']} steps"),
                           ('tiny_dataset', f"lecture's tiny data set, "
                            f"{e['tiny_dataset'].get('trainings_per_timing', 1)} x 100 steps")):
            t = e[key]
            v = t['variants']
            agree = f"losses within {t['losses_max_relative_difference']:.0e}"
            for mode, how in (('default', "collector left alone"),
                              ('collect', "collector off, gc.collect(0) per step"),
                              ('graph freed', "collector off, free_graph(loss) per step")):
                a, b = v[f"{mg}, gc {mode}"]['median_s'], v[f"{ref}, gc {mode}"]['median_s']
                lines.append(f"| {title}, {how} | {seconds(a)} | {seconds(b)} | {a / b:.1f}x | "
                             f"{agree} |")
            a = v[f"{mg}, gc default"]['median_s']
            b = v[f"{ref}, gc graph freed"]['median_s']
            lines.append(f"| {title}: {mg} as it comes, reference as its train() does | "
                         f"{seconds(a)} | {seconds(b)} | **{a / b:.1f}x** | |")
        for depth, r in e['chains'].items():
            a, b = r[mg], r[ref]
            ta = a['result'] if a['result'] == 'RecursionError' else seconds(a['median_s'])
            tb = b['result'] if b['result'] == 'RecursionError' else seconds(b['median_s'])
            right = b['result'].get('right') if isinstance(b['result'], dict) else None
            lines.append(f"| chain of depth {int(depth):,}: build and backward() | {ta} | {tb} | "
                         f"| {'x.grad = 1.001**depth' if right else ''} |")
        p = e['sum_of_products']
        a, b = p[mg], p[ref]
        lines.append(f"| sum of 100,000 products: build the graph | {seconds(a['build_median_s'])} | "
                     f"{seconds(b['build_median_s'])} | "
                     f"{a['build_median_s'] / b['build_median_s']:.1f}x | |")
        lines.append(f"| sum of 100,000 products: backward() | {seconds(a['backward_median_s'])} | "
                     f"{seconds(b['backward_median_s'])} | | "
                     f"{'a.grad = b, b.grad = a' if b['gradients_right'] else ''} |")
        ma, mb = a['memory']['graph_bytes_per_node'], b['memory']['graph_bytes_per_node']
        lines.append(f"| sum of 100,000 products: memory per node | {ma:.0f} bytes | {mb:.0f} bytes "
                     f"| reference uses {mb / ma:.1%} | |")
    b = results.get('battery')
    if b:
        lines += ([""] if lines else []) + ["| the public battery, `mgcourse check --json` | wall time (median) | points |",
                  "| --- | --- | --- |"]
        for name, r in b.items():
            lines.append(f"| {name}/ | {seconds(r['median_s'])} | {r['points']} of {r['possible']} |")
    return '\n'.join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('what', nargs='?', default='all', choices=('all', 'engines', 'battery', 'table'))
    parser.add_argument('file', nargs='?', type=Path, help='with table: a saved result')
    parser.add_argument('--reps', type=int, default=3)
    parser.add_argument('--steps', type=int, default=100)
    args = parser.parse_args(argv)
    if args.what == 'table':
        print(table(json.loads(args.file.read_text())))
        return 0
    now = datetime.datetime.now(datetime.timezone.utc)
    results = {'date': now.isoformat(timespec='seconds'), 'machine': machine(),
               'command': ' '.join(['.venv/bin/python', 'bench/run.py'] + (argv or sys.argv[1:])),
               'load_average_before': load_average()}
    if args.what in ('all', 'engines'):
        results['engines'] = engines(args.reps, args.steps)
    if args.what in ('all', 'battery'):
        results['battery'] = battery(args.reps)
    results['load_average_after'] = load_average()
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{now:%Y-%m-%d_%H%M}.json"
    path.write_text(json.dumps(results, indent=1) + '\n')
    say(f"raw numbers: {path.relative_to(ROOT)}")
    print(table(results))
    return 0


if __name__ == '__main__':
    sys.exit(main())
