"""Start many Jupyter kernels at once, many times, and count the ones that died before answering.

    .venv/bin/python bench/kernel_stress.py                      # 200 starts, 4 at a time, the course's way
    .venv/bin/python bench/kernel_stress.py --transport tcp      # jupyter_client's default, for comparison
    .venv/bin/python bench/kernel_stress.py --sandboxed          # in the sandbox, as autograde starts them
    .venv/bin/python bench/kernel_stress.py --forked             # the same, in a notebook's folder
    .venv/bin/python bench/kernel_stress.py --starts 400 --at-once 8 --processes 2

Each start is what a notebook run does: a kernel manager and client started in a thread, a
`kernel_info` request, one cell executed, the kernel shut down. `--processes N` runs N such
pools side by side as separate processes, as pytest-xdist workers and `mgcourse autograde` do.
`--forked` starts each sandboxed kernel in one folder per process, as nbgrader does a student's
notebooks: the kernel forked by the folder's zygote (nbgrading/forked_kernels.py) where one is
free, the others the usual way, so the zygote is taken and given back under contention.
It prints one line per round and a summary with the number of deaths; the exit status is 1
when any kernel died. Kernels start as mgcourse.nbgrading.kernels starts them.
"""

import argparse
import atexit
import json
import multiprocessing
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'grader'))

from mgcourse.nbgrading import kernels  # noqa: E402 - after the path


def one_start(transport, sandboxed=False, folder=None):
    """'ok', or the error that stopped the kernel from answering."""
    try:
        km, kc = kernels.start_kernel(transport=transport, startup_timeout=120,
                                      sandboxed=sandboxed, **({'cwd': folder} if folder else {}))
    except Exception as e:  # noqa: BLE001 - every way of dying is counted
        return f'{type(e).__name__}: {e}'
    try:
        reply = kc.execute_interactive('x = 6 * 7', timeout=120)
        forked = type(getattr(km.provisioner, 'sandboxed', None)).__name__ == 'ForkedKernel'
        if reply['content']['status'] != 'ok':
            return f"cell: {reply['content']}"
        return 'ok, forked' if forked else 'ok'
    except Exception as e:  # noqa: BLE001
        return f'{type(e).__name__}: {e}'
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


_FOLDER = []  # the notebook folder of this process's --forked kernels


def pool(args):
    transport, starts, at_once, sandboxed, forked = args
    if forked and not _FOLDER:
        _FOLDER.append(tempfile.mkdtemp(prefix='stress-'))
        atexit.register(shutil.rmtree, _FOLDER[0], True)
    folder = _FOLDER[0] if forked else None
    with ThreadPoolExecutor(at_once) as threads:
        return list(threads.map(lambda _: one_start(transport, sandboxed, folder), range(starts)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--starts', type=int, default=200, help='kernel starts in all (default 200)')
    parser.add_argument('--at-once', type=int, default=4, help='kernels starting at once per process')
    parser.add_argument('--processes', type=int, default=1, help='processes side by side')
    parser.add_argument('--transport', choices=('ipc', 'tcp'), default=kernels.TRANSPORT)
    parser.add_argument('--sandboxed', action='store_true',
                        help="each kernel in the sandbox, as nbgrader's autograde starts them")
    parser.add_argument('--forked', action='store_true',
                        help="sandboxed, in a notebook folder: forked by its zygote where it can be")
    parser.add_argument('--json', help='write the summary to this file')
    args = parser.parse_args(argv)
    args.sandboxed = args.sandboxed or args.forked

    rounds = max(1, args.starts // (args.at_once * args.processes))
    outcomes, t0 = [], time.perf_counter()
    ctx = multiprocessing.get_context('spawn')
    procs = ctx.Pool(args.processes)
    try:
        for r in range(rounds):
            got = [o for part in procs.map(pool, [(args.transport, args.at_once, args.at_once,
                                                                args.sandboxed, args.forked)]
                                           * args.processes) for o in part]
            outcomes += got
            died = [o for o in got if not o.startswith('ok')]
            print(f"round {r + 1}/{rounds}: {len(got) - len(died)} answered, {len(died)} died"
                  + (f"  ({died[0]})" if died else ''), flush=True)
    finally:  # workers that end by themselves run their exit handlers (zygote, library copy)
        procs.close()
        procs.join()
    deaths = [o for o in outcomes if not o.startswith('ok')]
    summary = {'transport': args.transport, 'sandboxed': args.sandboxed, 'starts': len(outcomes), 'at_once': args.at_once,
               'processes': args.processes, 'deaths': len(deaths),
               'forked': outcomes.count('ok, forked'), 'errors': sorted(set(deaths)),
               'seconds': round(time.perf_counter() - t0, 1)}
    print(f"{summary['starts']} kernel starts over {args.transport}"
          f"{', sandboxed' if args.sandboxed else ''}{', forked' if args.forked else ''}, "
          f"{args.at_once} at a time in "
          f"{args.processes} process(es): {summary['deaths']} died ({summary['seconds']} s)"
          + (f"; {summary['forked']} forked by a zygote" if args.forked else ''))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=1) + '\n')
    return 1 if deaths else 0


if __name__ == '__main__':
    sys.exit(main())
