"""micrograd 0.1.0 (from PyPI) and the course's reference engine (solutions/), side by side.

    bench/.venv-micrograd/bin/python bench/engines.py [--reps N] [--steps N] [--json FILE]

bench/run.py creates that environment and runs this file in it; run this file alone only in an
environment where `import micrograd` finds micrograd 0.1.0. Both engines run in this one
process, in turns (micrograd, reference, micrograd, ...; the order flips every repetition), so a
machine that is busier at one moment slows both alike; the medians are reported.

Every comparison also checks that the two engines compute the same numbers: the two-moons losses
agree to 1e-9 relative, the chains' gradients equal 1.001**depth, the products' gradients equal
the other factor. A time is only worth reporting next to a right answer.
"""

import argparse
import ast
import functools
import gc
import json
import math
import random
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import micrograd
import micrograd.engine
import micrograd.nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'grader'))
from mgcourse import paths  # noqa: E402 - both use the standard library only
from mgcourse.battery import impl  # noqa: E402

REF = impl.load(paths.SOLUTIONS)
DEMO = ROOT / 'tests' / 'demo' / 'two_moons.py'
MAX_RELATIVE_DIFFERENCE = 1e-9


class Engine:
    """What the benchmark needs of an engine: its Value, and micrograd's demo network."""

    def __init__(self, name, value, demo_mlp):
        self.name = name
        self.Value = value
        self.demo_mlp = demo_mlp  # (nin, nouts) -> ReLU hidden layers, a linear output


MICROGRAD = Engine(f'micrograd {getattr(micrograd, "__version__", "0.1.0")}',
                   micrograd.engine.Value, micrograd.nn.MLP)
REFERENCE = Engine('reference', REF.Value, REF.nn.DemoMLP)
ENGINES = (MICROGRAD, REFERENCE)


def say(*args):
    print(*args, file=sys.stderr, flush=True)


def same_weights(model, source):
    """Give model the weights and biases of source, parameter by parameter."""
    params, values = model.parameters(), source.parameters()
    assert len(params) == len(values)
    for p, v in zip(params, values):
        p.data = v.data
    return model


def relative_difference(a, b):
    return max((abs(x - y) / max(abs(x), abs(y), 1e-300) for x, y in zip(a, b)), default=0.0)


def fresh_heap():
    """The collector on, at its usual settings, with no garbage left from the run before."""
    gc.enable()
    gc.collect()


# --------------------------------------------------------------------------------
# How a training loop treats Python's cycle collector
# --------------------------------------------------------------------------------
# Every node of a graph is in a reference cycle (out holds out._backward, whose closure holds
# out), in both engines, so unless the cycles are cut a step's graph can only be freed by the
# cycle collector.
#   'default'       the collector as Python sets it up: what the demo script does.
#   'collect'       off during training, and gc.collect(0) after each step once its graph is
#                   unreachable.
#   'graph freed'   off during training, and free_graph(loss) after each step, which cuts the
#                   graph's cycles so that reference counting frees it: what the reference's
#                   train() does (solutions/train.py). It works on either engine's Values.

GC_MODES = ('default', 'collect', 'graph freed')
AS_TRAIN_DOES = 'graph freed'


def training(mode, step, steps):
    """Run step(k) -> loss Value for k in range(steps) under a gc mode; the list of loss.data."""
    assert mode in GC_MODES
    losses = []
    if mode != 'default':
        gc.disable()
    try:
        for k in range(steps):
            loss = step(k)
            losses.append(loss.data)
            if mode == 'graph freed':
                REF.train.free_graph(loss)
            del loss
            if mode == 'collect':
                gc.collect(0)
    finally:
        gc.enable()
    return losses


def alternate(reps, variants):
    """Time each variant (label -> function) once per repetition, in turns; the order of the
    variants flips every repetition. label -> list of (seconds, what the function returned)."""
    runs = {label: [] for label in variants}
    for rep in range(reps):
        order = list(variants) if rep % 2 == 0 else list(reversed(variants))
        for label in order:
            fresh_heap()
            start = time.perf_counter()
            result = variants[label]()
            seconds = time.perf_counter() - start
            runs[label].append((seconds, result))
            say(f"  rep {rep + 1}/{reps}  {label:<40} {seconds:8.3f} s")
        fresh_heap()
    return runs


def median(runs):
    return statistics.median(seconds for seconds, _ in runs)


# --------------------------------------------------------------------------------
# Karpathy's two-moons demo: MLP(2, [16, 16, 1]), 100 points, max-margin loss + 1e-4 L2
# --------------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _demo_code():
    """The definitions of `two_moons` and `loss` in tests/demo/two_moons.py, compiled once."""
    tree = ast.parse(DEMO.read_text())
    defs = [node for node in tree.body
            if isinstance(node, ast.FunctionDef) and node.name in ('two_moons', 'loss')]
    return compile(ast.Module(body=defs, type_ignores=[]), str(DEMO), 'exec')


def demo_functions(namespace):
    """The demo's own `two_moons` and `loss` functions, defined in namespace (which provides
    the globals they use: random, math, X, y, model, Value)."""
    exec(_demo_code(), namespace)
    return namespace


def two_moons(reps, steps):
    say(f"two-moons demo: MLP(2, [16, 16, 1]), 100 points, {steps} full-batch steps")
    # The demo's data and the reference's initial network, made as the demo makes them.
    random.seed(1337)
    X, y = demo_functions({'random': random, 'math': math})['two_moons'](100, noise=0.1)
    initial = REFERENCE.demo_mlp(2, [16, 16, 1])

    def run(engine, mode):
        def train():  # from the same initial network every time
            model = same_weights(engine.demo_mlp(2, [16, 16, 1]), initial)
            loss = demo_functions({'random': random, 'math': math, 'X': X, 'y': y,
                                   'model': model, 'Value': engine.Value})['loss']

            def step(k):  # the demo's loop body, as in tests/demo/two_moons.py
                total_loss, acc = loss()
                model.zero_grad()
                total_loss.backward()
                learning_rate = 1.0 - 0.9 * k / 100
                for p in model.parameters():
                    p.data -= learning_rate * p.grad
                return total_loss

            return training(mode, step, steps)
        return train

    variants = {f"{e.name}, gc {mode}": run(e, mode) for mode in GC_MODES for e in ENGINES}
    runs = alternate(reps, variants)
    return report_pairs(runs, 'losses')


def report_pairs(runs, what):
    """Medians of every variant, the largest difference of the results from micrograd's own
    with default gc, and the ratios: micrograd as it comes / the reference as it trains; and
    for each gc mode, micrograd / reference (the engines alone)."""
    baseline = runs[f"{MICROGRAD.name}, gc default"][0][1]
    out = {'variants': {}}
    for label, rs in runs.items():
        out['variants'][label] = {
            'median_s': median(rs), 'seconds': [s for s, _ in rs],
            f'{what}_max_relative_difference': max(relative_difference(baseline, r) for _, r in rs),
            f'first_and_last_{what}': [rs[0][1][0], rs[0][1][-1]],
        }
    worst = max(v[f'{what}_max_relative_difference'] for v in out['variants'].values())
    out['same_results'] = worst <= MAX_RELATIVE_DIFFERENCE
    out[f'{what}_max_relative_difference'] = worst
    m = {label: v['median_s'] for label, v in out['variants'].items()}
    out['ratio_micrograd_as_it_comes_over_reference_as_train_does'] = (
        m[f"{MICROGRAD.name}, gc default"] / m[f"{REFERENCE.name}, gc {AS_TRAIN_DOES}"])
    for mode in GC_MODES:
        out[f'ratio_same_gc_{mode.replace(" ", "_")}'] = (
            m[f"{MICROGRAD.name}, gc {mode}"] / m[f"{REFERENCE.name}, gc {mode}"])
    say(f"  {what} agree to {worst:.1e} relative; micrograd as it comes / reference as it "
        f"trains: {out['ratio_micrograd_as_it_comes_over_reference_as_train_does']:.1f}x")
    return out


# --------------------------------------------------------------------------------
# The lecture's tiny data set: four examples, MLP(3, [4, 4, 1]), the squared-error loss
# --------------------------------------------------------------------------------

def tiny(reps, steps, lr=0.05, trainings=10):
    # micrograd 0.1.0 has no tanh, so both networks are micrograd's kind: ReLU, linear output.
    # One training takes a tenth of a second, too short to time alone on a busy machine: each
    # timing is of `trainings` of them, one after the other.
    say(f"the lecture's tiny data set: MLP(3, [4, 4, 1]) with ReLU, {steps} steps, lr {lr}, "
        f"{trainings} trainings per timing")
    random.seed(3)
    initial = REFERENCE.demo_mlp(3, [4, 4, 1])
    xs, ys, mse_loss = REF.train.xs, REF.train.ys, REF.train.mse_loss

    def run(engine, mode):
        def train():
            model = same_weights(engine.demo_mlp(3, [4, 4, 1]), initial)
            if mode == AS_TRAIN_DOES:  # the reference's own training loop, whatever the engine
                return REF.train.train(model, xs, ys, steps=steps, lr=lr)

            def step(k):  # the loop of the lecture, nothing else
                loss = mse_loss(model, xs, ys)
                model.zero_grad()
                loss.backward()
                for p in model.parameters():
                    p.data -= lr * p.grad
                return loss

            return training(mode, step, steps)
        return lambda: [train() for _ in range(trainings)][-1]

    variants = {f"{e.name}, gc {mode}": run(e, mode) for mode in GC_MODES for e in ENGINES}
    out = report_pairs(alternate(reps, variants), 'losses')
    out['trainings_per_timing'] = trainings
    return out


# --------------------------------------------------------------------------------
# A chain y = x * 1.001 * 1.001 * ...: how deep a graph backward() can take
# --------------------------------------------------------------------------------

def chain(engine, depth):
    x = engine.Value(0.5)
    y = x
    for _ in range(depth):
        y = y * 1.001
    try:
        y.backward()
    except RecursionError:
        return 'RecursionError'
    want = 1.001 ** depth
    return {'x.grad': x.grad, 'expected': want, 'right': abs(x.grad - want) <= 1e-9 * want}


def chains(reps, depths=(1_000, 10_000, 100_000)):
    out = {}
    for depth in depths:
        say(f"chain of depth {depth}: build it, then backward()")
        runs = alternate(reps, {e.name: (lambda e=e: chain(e, depth)) for e in ENGINES})
        out[str(depth)] = {name: {'median_s': median(rs), 'seconds': [s for s, _ in rs],
                                  'result': rs[0][1]} for name, rs in runs.items()}
    return out


# --------------------------------------------------------------------------------
# A sum of 100 000 products: time, and memory per node
# --------------------------------------------------------------------------------

def factors(n):
    rng = random.Random(0)
    return [rng.uniform(-1, 1) for _ in range(n)], [rng.uniform(-1, 1) for _ in range(n)]


def count_nodes(root):
    seen, stack = set(), [root]
    while stack:
        v = stack.pop()
        if id(v) not in seen:
            seen.add(id(v))
            stack.extend(v._prev)
    return len(seen)


def products(engine, n):
    """(build seconds, backward seconds or 'RecursionError', gradients right?)"""
    da, db = factors(n)
    start = time.perf_counter()
    a = [engine.Value(v) for v in da]
    b = [engine.Value(v) for v in db]
    s = sum(ai * bi for ai, bi in zip(a, b))
    built = time.perf_counter()
    try:
        s.backward()
    except RecursionError:
        return built - start, 'RecursionError', None
    done = time.perf_counter()
    right = all(ai.grad == bi.data and bi.grad == ai.data for ai, bi in zip(a, b))
    return built - start, done - built, right


def products_memory(engine, n):
    """Bytes the engine allocates per node: while building the graph (its size), and at the
    peak of building it and running backward(). The input numbers exist before tracing."""
    da, db = factors(n)
    fresh_heap()
    gc.disable()  # the garbage collector must not free (or not) a previous graph meanwhile
    tracemalloc.start()
    try:
        a = [engine.Value(v) for v in da]
        b = [engine.Value(v) for v in db]
        s = sum(ai * bi for ai, bi in zip(a, b))
        graph, _ = tracemalloc.get_traced_memory()
        try:
            s.backward()
            backward = 'ok'
        except RecursionError:
            backward = 'RecursionError'
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        gc.enable()
    nodes = count_nodes(s)
    return {'nodes': nodes, 'graph_bytes_per_node': graph / nodes,
            'peak_bytes_per_node_with_backward': peak / nodes if backward == 'ok' else None,
            'backward': backward}


def sum_of_products(reps, n=100_000):
    say(f"a sum of {n} products, sum(a[i] * b[i]): build, backward(), memory per node")
    runs = alternate(reps, {e.name: (lambda e=e: products(e, n)) for e in ENGINES})
    out = {}
    for e in ENGINES:
        rs = runs[e.name]
        backward = [r[1] for _, r in rs]
        out[e.name] = {
            'build_median_s': statistics.median(r[0] for _, r in rs),
            'backward_median_s': (statistics.median(backward) if 'RecursionError' not in backward
                                  else 'RecursionError'),
            'gradients_right': rs[0][1][2],
            'memory': products_memory(e, n),
        }
        say(f"  {e.name}: {out[e.name]['memory']['graph_bytes_per_node']:.0f} bytes per node")
    out['memory_ratio_reference_over_micrograd'] = (
        out[REFERENCE.name]['memory']['graph_bytes_per_node']
        / out[MICROGRAD.name]['memory']['graph_bytes_per_node'])
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--reps', type=int, default=3, help='repetitions of each timing')
    parser.add_argument('--steps', type=int, default=100, help='steps of two-moons training')
    parser.add_argument('--json', type=Path, help='write the results here')
    args = parser.parse_args(argv)
    results = {
        'python': sys.version.split()[0],
        'micrograd': MICROGRAD.name,
        'reps': args.reps,
        'chains': chains(args.reps),
        'sum_of_products': sum_of_products(args.reps),
        'tiny_dataset': tiny(max(args.reps, 5), 100),
        'two_moons': two_moons(args.reps, args.steps),
    }
    results['two_moons']['steps'] = args.steps
    text = json.dumps(results, indent=1)
    if args.json:
        args.json.write_text(text + '\n')
    else:
        print(text)


if __name__ == '__main__':
    main()
