"""The hidden checks of the batch grader: inputs drawn from a seed chosen at grading time.

A hidden check sends inputs the student never saw (a random network, its data, random
expressions) to a public probe (checks.base.PROBES) that runs the student's code on them,
and judges what comes back here, in the grader's process. The seed is chosen when a class is
graded and recorded in its gradebook: a hard-coded answer to the public checks fails, and a
regrade with the same seed sends the same inputs.

This module is never copied into the sandbox the student's code runs in: the inputs reach the
student's process one request at a time, and the judging never does.
"""

import random
from dataclasses import dataclass
from typing import Callable

from mgcourse.battery import catalogue, oracle
from mgcourse.battery.checks import nn_checks, random_checks, training_checks
from mgcourse.battery.checks.base import Check, Failed, answer_dict, pairs, run_check, student_kind
from mgcourse.battery.checks.network import _fail_rows, network_weights, param_names, shape_of


@dataclass(frozen=True)
class Hidden:
    """A hidden check: it extends a public checkpoint, and its inputs come from a seed.
    drive(rng, call) sends inputs with call(inputs) and raises Failed when the answers are
    wrong."""
    checkpoint: str
    name: str
    title: str
    points: int
    probe: str  # the name of the public probe its inputs go to
    drive: Callable

    @property
    def id(self):
        return f"{self.checkpoint}.{self.name}"

    @property
    def lecture(self):
        return catalogue.by_id()[self.checkpoint].lecture


def _rng(seed, h):
    """The check's own random stream: the same seed gives each check the same inputs, and
    the checks' streams do not depend on one another or on their order."""
    return random.Random(f"{seed}:{h.id}")


def _spec(rng, steps=None):
    """A random network (2 to 4 inputs, one or two hidden layers of 2 to 4 neurons, one
    output), its weights, and 3 to 5 examples with targets of ±1."""
    nin = rng.randint(2, 4)
    nouts = [rng.randint(2, 4) for _ in range(rng.randint(1, 2))] + [1]
    sizes = [nin] + nouts
    weights = [[[round(rng.uniform(-1, 1), 3) for _ in range(sizes[i] + 1)]
                for _ in range(sizes[i + 1])] for i in range(len(nouts))]
    n = rng.randint(3, 5)
    xs = [[round(rng.uniform(-2, 2), 2) for _ in range(nin)] for _ in range(n)]
    ys = [rng.choice((-1.0, 1.0)) for _ in range(n)]
    spec = {'nin': nin, 'nouts': nouts, 'weights': weights, 'xs': xs, 'ys': ys}
    if steps:
        spec.update(steps=steps, lr=round(rng.uniform(0.02, 0.1), 3))
    return spec


def _describe(spec):
    return f"MLP({spec['nin']}, {spec['nouts']}) on {len(spec['xs'])} examples"


def _ask(call, spec, keys, weights):
    """The probe's observations on spec, every one of `keys` present; Failed when the
    student's code raised, or answered for a network of another shape than the one asked for
    (`weights`: the key of the reply with the network's weights)."""
    obs = call(spec)
    if isinstance(obs, dict) and 'raised' in obs:
        raise Failed(f"{_describe(spec)}: {obs['raised']}", student_kind(obs.get('kind')))
    answer_dict(obs, keys, f"{_describe(spec)}: the answer")
    network_weights(obs[weights], shape_of(spec['nin'], spec['nouts']),
                    f"{_describe(spec)}: the network's weights")
    return obs


def _drive_network(rng, call):
    """Every weight read back, every output, the loss and every gradient, against what the
    grader computes from its own spec (never from the reply)."""
    for _ in range(3):
        spec = _spec(rng)
        obs = _ask(call, spec, ('weights', 'outs', 'loss', 'grads'), 'weights')
        _fail_rows(f"{_describe(spec)}: the weights the grader set, read back",
                   [(n, w, g) for n, w, g in zip(param_names(spec['weights']),
                                                   oracle.flatten(spec['weights']),
                                                   oracle.flatten(obs['weights']))])
        rows = [(f"output for x = {x}", oracle.mlp_forward(spec['weights'], x), out)
                for x, out in pairs(spec['xs'], obs['outs'], f"{_describe(spec)}: the outputs")]
        rows.append(("mse_loss", oracle.sse_loss(spec['weights'], spec['xs'], spec['ys']),
                     obs['loss']))
        _fail_rows(f"{_describe(spec)}: outputs and loss", rows)
        nn_checks._judge_gradients(f"{_describe(spec)}: gradients of the loss (central differences)",
                                   spec['weights'], obs['grads'], spec['xs'], spec['ys'])


def _drive_descent(rng, call):
    """train() from the grader's weights, with the grader's steps and lr: the losses and the
    weights after it."""
    for _ in range(2):
        spec = _spec(rng, steps=rng.randint(2, 4))
        obs = _ask(call, spec, ('start', 'steps', 'lr', 'losses', 'end'), 'end')
        training_checks._judge_descent(obs, spec['xs'], spec['ys'], steps=spec['steps'],
                                 lr=spec['lr'], start=spec['weights'],
                                 shape=shape_of(spec['nin'], spec['nouts']))


HIDDEN_SEARCH = dict(random_checks.SEARCH, max_examples=60, derandomize=False)


def _drive_expressions(rng, call):
    drive = random_checks.searching(random_checks._central_differences,
                                    'a hidden check, by central differences',
                                    search=HIDDEN_SEARCH, seed=rng.getrandbits(64))
    drive(call)


HIDDEN = (
    Hidden('more_ops', 'hidden_expressions',
           "hidden: random expressions drawn at grading time, against central differences",
           3, 'expression', _drive_expressions),
    Hidden('loss', 'hidden_network',
           "hidden: a random network and dataset: outputs, loss and gradients", 3, 'network',
           _drive_network),
    Hidden('training', 'hidden_descent',
           "hidden: gradient descent on a random network and dataset", 2, 'descent',
           _drive_descent),
)


def by_id():
    return {h.id: h for h in HIDDEN}


def run(h, seed, call):
    """The Result of hidden check h with inputs from seed; call(probe, inputs) runs the probe
    wherever the student's code is and returns plain data or raises ProbeError."""
    rng = _rng(seed, h)
    c = Check(h.checkpoint, h.name, h.title, probe=h.probe,
              drive=lambda send: h.drive(rng, send))
    return run_check(c, h.points, lambda inputs: call(h.probe, inputs))

