"""Checks of the training checkpoint: zero_grad(), steps of gradient descent, convergence, and
gradients over several backward() calls with and without zero_grad(); the judges redo the
descent with floats.
"""

import random

from .. import oracle
from .base import Failed, answer_list, check, observe, pairs, show
from .network import (SHAPE, SIZES, XS, YS, _fail_rows, _zeros, network_weights, param_names,
                      structural_parameters, weights_of)
from .nn_checks import _loss_and_grads


# --------------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------------

@check('training', 'zero_grad', "model.zero_grad() sets every grad to 0.0 and keeps the data")
def zero_grad(mg):
    random.seed(41)
    model = mg.nn.MLP(*SIZES)
    params = structural_parameters(model)
    before = [observe(p.data) for _, p in params]
    for _, p in params:
        p.grad = 1.5
    model.zero_grad()
    return {'before': before, 'data': [(n, observe(p.data)) for n, p in params],
            'grad': [(n, observe(p.grad)) for n, p in params]}


@zero_grad.judge
def _(obs):
    names = param_names(_zeros(SHAPE))
    for key in ('grad', 'data'):
        for name, item in pairs(names, obs[key], f"the parameters' {key} after zero_grad()", names):
            if not (isinstance(item, list) and len(item) == 2 and item[0] == name):
                raise Failed(f"after zero_grad(), {name}.{key} is missing (got {show(item)})")
    before = answer_list(obs['before'], len(names), "the parameters' data before zero_grad()")
    rows = [(f"{n}.grad", 0.0, g) for n, g in obs['grad']]
    rows += [(f"{n}.data", b, d) for (n, d), b in zip(obs['data'], before)]
    data_zeroed = [1.5] * len(obs['grad']) + [0.0] * len(obs['data'])
    _fail_rows("after every grad was set to 1.5, zero_grad()", rows,
               {'zero-grad-data': data_zeroed})


def _trained(mg, model, xs, ys, steps, lr):
    """train() on model: the weights before, the losses it returned, the weights after."""
    start = weights_of(model)
    losses = mg.train.train(model, xs, ys, steps=steps, lr=lr)
    return {'start': start, 'steps': steps, 'lr': lr,
            'losses': [observe(v) for v in losses] if isinstance(losses, list) else observe(losses),
            'end': weights_of(model)}


def _train(mg, seed, steps, lr):
    random.seed(seed)
    return _trained(mg, mg.nn.MLP(*SIZES), XS, YS, steps, lr)


def _judge_descent(obs, xs=XS, ys=YS, *, steps, lr, start=None, shape=SHAPE):
    """train()'s answer against the grader's descent from start (the grader's own weights
    when it chose them; else the network's own, as reported, in the shape asked for), with
    the grader's steps and lr."""
    title = f"train(model, xs, ys, steps={steps}, lr={lr})"
    if start is None:
        start = network_weights(obs['start'], shape, f"{title}: the weights before")
    network_weights(obs['end'], shape, f"{title}: the weights after")
    losses, end = oracle.descend(start, xs, ys, steps, lr)
    if not isinstance(obs['losses'], list) or len(obs['losses']) != steps:
        raise Failed(f"{title} should return the list of the {steps} losses, one per step; "
                     f"it returned {show(obs['losses'])}")
    rows = [(f"losses[{i}]", w, g) for i, (w, g) in enumerate(zip(losses, obs['losses']))]
    names = param_names(start)
    rows += [(f"{n}.data after training", w, g)
             for n, w, g in zip(names, oracle.flatten(end), oracle.flatten(obs['end']))]
    likely = {}
    for mistake, kwargs in (('no-zero-grad', {'zero_grad': False}),
                            ('update-sign', {'direction': 1.0})):
        wrong_losses, wrong_end = oracle.descend(start, xs, ys, steps, lr, **kwargs)
        likely[mistake] = wrong_losses + oracle.flatten(wrong_end)
    numbers = all(isinstance(v, float) for v in oracle.flatten(obs['end']) + obs['losses'][:1])
    rises = numbers and oracle.sse_loss(obs['end'], xs, ys) > obs['losses'][0]
    _fail_rows(f"{title}, compared with gradient descent computed by the grader", rows, likely,
               also=['loss-rises'] if rises else [], rel=1e-5, abs_tol=1e-7)


@check('training', 'one_step', "one step of gradient descent: p.data -= lr * p.grad")
def one_step(mg):
    return _train(mg, seed=51, steps=1, lr=0.1)


one_step.judge(lambda obs: _judge_descent(obs, steps=1, lr=0.1))


@check('training', 'two_steps', "two steps: the second starts from zeroed gradients")
def two_steps(mg):
    return _train(mg, seed=52, steps=2, lr=0.1)


two_steps.judge(lambda obs: _judge_descent(obs, steps=2, lr=0.1))

CONVERGE_SEEDS = (0, 1, 2)
CONVERGE_STEPS = 100
CONVERGE_LR = 0.1


@check('training', 'converges',
       f"training MLP(3, [4, 4, 1]) for {CONVERGE_STEPS} steps brings the loss below 0.01")
def converges(mg):
    return [_train(mg, seed, CONVERGE_STEPS, CONVERGE_LR) for seed in CONVERGE_SEEDS]


@converges.judge
def _(obs):
    for seed, run in pairs(CONVERGE_SEEDS, obs, "a training run for each seed"):
        network_weights(run['end'], SHAPE, f"with random.seed({seed}), the weights after training")
        final = oracle.sse_loss(run['end'], XS, YS) if all(
            isinstance(v, float) for v in oracle.flatten(run['end'])) else float('nan')
        if not final < 0.01:
            first = run['losses'][0] if isinstance(run['losses'], list) and run['losses'] else None
            raise Failed(f"with random.seed({seed}), after train(model, xs, ys, steps={CONVERGE_STEPS}, "
                         f"lr={CONVERGE_LR}) the loss (recomputed by the grader from your weights) is "
                         f"{show(final)}; it should be below 0.01 (the first loss was {show(first)})")


# --------------------------------------------------------------------------------
# training: gradients over several backward() calls, with and without zero_grad()
# --------------------------------------------------------------------------------

SPLIT = (XS[:2], YS[:2]), (XS[2:], YS[2:])


@check('training', 'accumulate_and_zero',
       "two loss.backward() in a row add up the grads; model.zero_grad() between them clears them")
def accumulate_and_zero(mg):
    random.seed(42)
    model = mg.nn.MLP(*SIZES)
    (xa, ya), (xb, yb) = SPLIT
    _loss_and_grads(mg, model, xa, ya)
    _, summed = _loss_and_grads(mg, model, xb, yb)
    model.zero_grad()
    _, alone = _loss_and_grads(mg, model, xb, yb)
    return {'weights': weights_of(model), 'summed': summed, 'alone': alone}


@accumulate_and_zero.judge
def _(obs):
    (xa, ya), (xb, yb) = SPLIT
    ga = oracle.loss_gradient(obs['weights'], xa, ya)
    gb = oracle.loss_gradient(obs['weights'], xb, yb)
    rows = [(f"{name}.grad after the two backward() calls", a + b, g)
            for (name, g), a, b in zip(obs['summed'], ga, gb)]
    _fail_rows("mse_loss on the first two examples, .backward(); then mse_loss on the last two, "
               ".backward(), without zero_grad() between: the grads add up",
               rows, rel=1e-4, abs_tol=1e-6)
    rows = [(f"{name}.grad", b, g) for (name, g), b in zip(obs['alone'], gb)]
    _fail_rows("then model.zero_grad() and the last two examples' loss.backward() again: the "
               "grads are those of that loss alone", rows,
               {'no-zero-grad': [a + 2 * b for a, b in zip(ga, gb)]}, rel=1e-4, abs_tol=1e-6)
