"""Checks of the network, its loss, its parameters and the training loop.

The probes read the network's weights through the lecture's attribute names
(model.layers, layer.neurons, neuron.w, neuron.b) and report them as floats; the judges
recompute the forward pass, the loss, its gradient and gradient descent with floats.
"""

import random

from .. import diagnosis, oracle
from ..oracle import close
from .base import Failed, answer_list, check, observe, pairs, register_probe, show

# The lecture's tiny dataset, the grader's own copy.
XS = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
YS = [1.0, -1.0, -1.0, 1.0]
SIZES = (3, [4, 4, 1])


def neuron_params(n):
    return [observe(w.data) for w in n.w] + [observe(n.b.data)]


def weights_of(model):
    """[layer][neuron] = [w1, ..., wn, b], as observed floats."""
    return [[neuron_params(n) for n in layer.neurons] for layer in model.layers]


def param_names(weights):
    """The name of every parameter, in layer, neuron, weights-then-bias order."""
    names = []
    for i, layer in enumerate(weights):
        for j, wb in enumerate(layer):
            names += [f"layers[{i}].neurons[{j}].w[{k}]" for k in range(len(wb) - 1)]
            names.append(f"layers[{i}].neurons[{j}].b")
    return names


def shape_of(nin, nouts):
    """[layer][neuron] = the number of parameters (weights and bias) of MLP(nin, nouts)."""
    sizes = [nin] + list(nouts)
    return [[sizes[i] + 1] * sizes[i + 1] for i in range(len(nouts))]


def network_weights(got, shape, what):
    """The reported weights of a network, once they have exactly the shape asked for (a list
    per layer, per neuron, of floats); else Failed."""
    layers = answer_list(got, len(shape), f"{what}: the layers", [f"layers[{i}]" for i in range(len(shape))])
    for i, (layer, want) in enumerate(zip(layers, shape)):
        neurons = answer_list(layer, len(want), f"{what}: the neurons of layers[{i}]")
        for j, (wb, n) in enumerate(zip(neurons, want)):
            answer_list(wb, n, f"{what}: the weights and bias of layers[{i}].neurons[{j}]")
    return got


def _zeros(shape):
    return [[[0.0] * n for n in layer] for layer in shape]


SHAPE = shape_of(*SIZES)


def structural_parameters(model):
    """(name, Value) for every parameter, found through model.layers, .neurons, .w and .b."""
    shape = [[n.w + [n.b] for n in layer.neurons] for layer in model.layers]
    return list(zip(param_names(shape), oracle.flatten(shape)))


def output_of(v):
    """A network output as a float, or a description when it is not a Value."""
    if hasattr(v, 'data') and not isinstance(v, (list, tuple)):
        return observe(v.data)
    return {'not_a_number': type(v).__name__, 'repr': repr(v)[:60]}


def _fail_rows(title, rows, likely=None, also=(), rel=1e-6, abs_tol=1e-9):
    """rows: (what, expected, actual); Failed listing the ones that disagree.

    likely: {diagnosis id: the actual values that mistake would give, one per row};
    also: diagnoses that hold whatever the values.
    """
    bad = [(w, e, a) for w, e, a in rows if not close(a, e, rel=rel, abs_tol=abs_tol)]
    if bad:
        lines = [f"  {w}: expected {show(e)}, yours {show(a)}" for w, e, a in bad[:8]]
        more = f"\n  ... and {len(bad) - 8} more" if len(bad) > 8 else ''
        found = diagnosis.matching([a for _, _, a in rows], likely or {}) + list(also)
        raise Failed(f"{title}:\n" + '\n'.join(lines) + more, diagnoses=found)


# --------------------------------------------------------------------------------
# mlp: the forward passes
# --------------------------------------------------------------------------------

NEURON_XS = ([2.0, 3.0, -1.0], [0.5, -1.0, 0.25])


@check('mlp', 'neuron', "Neuron(3)(x) = tanh(w . x + b)")
def neuron(mg):
    random.seed(11)
    results = []
    for x in NEURON_XS:
        n = mg.nn.Neuron(3)
        out = n(x)
        results.append({'x': x, 'wb': neuron_params(n), 'out': output_of(out),
                        'from_values': output_of(n([mg.Value(xi) for xi in x]))})
    return results


@neuron.judge
def _(obs):
    rows = []
    likely = {'neuron-no-bias': [], 'neuron-no-activation': []}
    for x, r in pairs(NEURON_XS, obs, "Neuron(3) on each input"):
        wb = answer_list(r['wb'], 4, "a Neuron(3)'s 3 weights and bias")
        want = oracle.neuron_forward(wb, x)
        rows.append((f"Neuron(3)({x})", want, r['out']))
        rows.append((f"Neuron(3) on Values {x}", want, r['from_values']))
        likely['neuron-no-bias'] += [oracle.neuron_forward(wb[:-1] + [0.0], x)] * 2
        likely['neuron-no-activation'] += [oracle.neuron_forward(wb, x, 'linear')] * 2
    _fail_rows("a tanh neuron's output, recomputed from its own w and b", rows, likely)


ACTIVATION_RUNS = [(nonlin, seed) for nonlin in ('relu', 'linear') for seed in (1, 2, 3, 4)]
ACTIVATION_X = [1.0, -2.0, 0.5]


@check('mlp', 'activations', "Neuron(3, nonlin='relu') and Neuron(3, nonlin='linear')")
def activations(mg):
    results = []
    for nonlin, seed in ACTIVATION_RUNS:
        random.seed(seed)
        n = mg.nn.Neuron(3, nonlin=nonlin)
        results.append({'nonlin': nonlin, 'x': ACTIVATION_X, 'wb': neuron_params(n),
                        'out': output_of(n(ACTIVATION_X))})
    return results


@activations.judge
def _(obs):
    rows = []
    likely = {'nonlin-ignored': []}  # the lecture's neuron: tanh, whatever nonlin says
    for (nonlin, _), r in pairs(ACTIVATION_RUNS, obs, "a neuron of each activation"):
        wb = answer_list(r['wb'], 4, "a Neuron(3)'s 3 weights and bias")
        rows.append((f"Neuron(3, nonlin={nonlin!r}) with w, b = {[round(v, 3) for v in wb]}",
                     oracle.neuron_forward(wb, ACTIVATION_X, nonlin), r['out']))
        likely['nonlin-ignored'].append(oracle.neuron_forward(wb, ACTIVATION_X))
    _fail_rows("a neuron's output with each activation", rows, likely)


LAYER_X = [2.0, 3.0, -1.0]


@check('mlp', 'layer', "Layer(3, 4)(x) is a list of 4 neuron outputs; Layer(3, 1)(x) one Value")
def layer(mg):
    random.seed(12)
    x = LAYER_X
    layer4 = mg.nn.Layer(3, 4)
    out4 = layer4(x)
    layer1 = mg.nn.Layer(3, 1)
    out1 = layer1(x)
    return {
        'x': x,
        'wb4': [neuron_params(n) for n in layer4.neurons],
        'out4': [output_of(o) for o in out4] if isinstance(out4, list) else output_of(out4),
        'wb1': neuron_params(layer1.neurons[0]),
        'out1': output_of(out1),
    }


@layer.judge
def _(obs):
    if not isinstance(obs['out4'], list) or len(obs['out4']) != 4:
        raise Failed(f"Layer(3, 4)(x) should return a list of 4 Values, one per neuron; "
                     f"yours returned {show(obs['out4'])}")
    wb4 = network_weights([obs['wb4']], [[4] * 4], "Layer(3, 4)")[0]
    wb1 = answer_list(obs['wb1'], 4, "Layer(3, 1)'s neuron: its 3 weights and bias")
    rows = [(f"Layer(3, 4)(x)[{j}]", oracle.neuron_forward(wb, LAYER_X), out)
            for j, (wb, out) in enumerate(pairs(wb4, obs['out4'], "Layer(3, 4)(x)"))]
    rows.append(("Layer(3, 1)(x), a single Value", oracle.neuron_forward(wb1, LAYER_X),
                 obs['out1']))
    _fail_rows("each neuron of a layer reads the same inputs x", rows)


@check('mlp', 'mlp', "MLP(3, [4, 4, 1]) on the lecture's four inputs")
def mlp(mg):
    random.seed(13)
    model = mg.nn.MLP(*SIZES)
    outs = [output_of(model(x)) for x in XS]
    return {'weights': weights_of(model), 'outs': outs}


@mlp.judge
def _(obs):
    network_weights(obs['weights'], SHAPE, "MLP(3, [4, 4, 1])")
    rows = [(f"MLP(3, [4, 4, 1])({x})", oracle.mlp_forward(obs['weights'], x), out)
            for x, out in pairs(XS, obs['outs'], "MLP(3, [4, 4, 1]) on the 4 inputs")]
    # Layers that do not chain: the last one reads the network's input x itself.
    unchained = [oracle.neuron_forward(obs['weights'][-1][0], x) for x in XS]
    _fail_rows("the network's output: each layer's outputs are the next layer's inputs", rows,
               {'not-chained': unchained})


# --------------------------------------------------------------------------------
# loss
# --------------------------------------------------------------------------------

@check('loss', 'value', "mse_loss(model, xs, ys) on the lecture's dataset")
def loss_value(mg):
    random.seed(21)
    model = mg.nn.MLP(*SIZES)
    loss = mg.train.mse_loss(model, XS, YS)
    return {'weights': weights_of(model), 'loss': output_of(loss)}


@loss_value.judge
def _(obs):
    network_weights(obs['weights'], SHAPE, "MLP(3, [4, 4, 1])")
    want = oracle.sse_loss(obs['weights'], XS, YS)
    preds = [oracle.mlp_forward(obs['weights'], x) for x in XS]
    unsquared = sum(p - y for p, y in zip(preds, YS))
    form = (diagnosis.matching([obs['loss']], {'loss-form': [unsquared]})
            or diagnosis.matching([obs['loss']], {'loss-form': [-unsquared]})
            or diagnosis.matching([obs['loss']], {'loss-form': [want / len(XS)]}))
    _fail_rows("the loss, the sum over the 4 examples of (prediction - target)**2",
               [("mse_loss(model, xs, ys)", want, obs['loss'])], also=form)


def _loss_and_grads(mg, model, xs, ys):
    """mse_loss(model, xs, ys) after its backward(), and every parameter's (name, grad)."""
    loss = mg.train.mse_loss(model, xs, ys)
    loss.backward()
    return loss, [(name, observe(p.grad)) for name, p in structural_parameters(model)]


def _judge_gradients(title, weights, grads, xs, ys):
    """The grads against central differences of the loss of the network with these weights."""
    want = oracle.loss_gradient(weights, xs, ys)
    names = param_names(weights)
    got = pairs(names, grads, f"{title}: the parameters' gradients", names)
    for name, item in got:
        if not (isinstance(item, list) and len(item) == 2 and item[0] == name):
            raise Failed(f"{title}: the gradient of {name} is missing (got {show(item)})")
    _fail_rows(title, [(f"{name}.grad", w, item[1]) for (name, item), w in zip(got, want)],
               rel=1e-4, abs_tol=1e-6)


@check('loss', 'gradients', "loss.backward() gives every weight and bias its gradient")
def loss_gradients(mg):
    random.seed(22)
    model = mg.nn.MLP(*SIZES)
    _, grads = _loss_and_grads(mg, model, XS, YS)
    return {'weights': weights_of(model), 'grads': grads}


@loss_gradients.judge
def _(obs):
    network_weights(obs['weights'], SHAPE, "MLP(3, [4, 4, 1])")
    _judge_gradients("gradients of the loss (expected values by central differences)",
                     obs['weights'], obs['grads'], XS, YS)


# --------------------------------------------------------------------------------
# parameters
# --------------------------------------------------------------------------------

@check('parameters', 'count', "MLP(3, [4, 4, 1]).parameters() lists 41 distinct Values")
def count(mg):
    random.seed(31)
    params = list(mg.nn.MLP(*SIZES).parameters())
    return {'count': len(params), 'distinct': len({id(p) for p in params}),
            'types': sorted({type(p).__name__ for p in params}),
            'value_type': mg.Value.__name__,
            'are_values': all(isinstance(p, mg.Value) for p in params)}


@count.judge
def _(obs):
    if obs['count'] != 41:
        raise Failed(f"MLP(3, [4, 4, 1]) has 4*(3+1) + 4*(4+1) + 1*(4+1) = 41 parameters; "
                     f"parameters() returned {obs['count']}",
                     diagnoses=['params-no-bias'] if obs['count'] == 41 - 9 else [])
    if not obs['are_values']:
        raise Failed(f"parameters() should return the Value objects themselves; "
                     f"it returned items of type {', '.join(obs['types'])}")
    if obs['distinct'] != 41:
        raise Failed(f"parameters() returned {41 - obs['distinct']} of the Values more than once")


@check('parameters', 'order', "parameters() in layer, neuron, weights-then-bias order")
def order(mg):
    random.seed(32)
    model = mg.nn.MLP(*SIZES)
    names = {id(p): name for name, p in structural_parameters(model)}
    return {'expected': [name for name, _ in structural_parameters(model)],
            'got': [names.get(id(p), f"something else ({type(p).__name__})")
                    for p in model.parameters()]}


@order.judge
def _(obs):
    want, got = param_names(_zeros(SHAPE)), obs['got']
    if not isinstance(got, list):
        raise Failed(f"parameters() should list {len(want)} Values; it gave {show(got)}")
    for i, (w, g) in enumerate(zip(want, got)):
        if w != g:
            bias_first = w.endswith('.w[0]') and g == w.rsplit('.', 1)[0] + '.b'
            raise Failed(f"parameters()[{i}] should be {w}, but is {g}",
                         diagnoses=['params-bias-first'] if bias_first else [])
    if len(got) != len(want):
        raise Failed(f"parameters() should list {len(want)} Values; it lists {len(got)}")


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
# Probes driven by the grader: a network of the grader's choosing
# --------------------------------------------------------------------------------
# spec: {'nin': 2, 'nouts': [3, 1], 'weights': [layer][neuron] = [w1, ..., wn, b],
#        'xs': [[...], ...], 'ys': [...], 'steps': 3, 'lr': 0.05}. The hidden checks (in the
# grader's process only) choose these from a seed drawn at grading time.

def _network(mg, spec):
    """MLP(nin, nouts) with the spec's weights, written through .layers, .neurons, .w, .b."""
    model = mg.nn.MLP(spec['nin'], spec['nouts'])
    for layer, layer_weights in zip(model.layers, spec['weights']):
        for n, wb in zip(layer.neurons, layer_weights):
            for w, value in zip(n.w, wb[:-1]):
                w.data = value
            n.b.data = wb[-1]
    return model


def network_probe(mg, spec):
    """The outputs, the loss and every parameter's gradient, on the spec's network and data."""
    model = _network(mg, spec)
    outs = [output_of(model(x)) for x in spec['xs']]
    loss, grads = _loss_and_grads(mg, model, spec['xs'], spec['ys'])
    return {'weights': weights_of(model), 'outs': outs, 'loss': output_of(loss), 'grads': grads}


def descent_probe(mg, spec):
    """train() on the spec's network and data: the losses and the weights after it."""
    return _trained(mg, _network(mg, spec), spec['xs'], spec['ys'], spec['steps'], spec['lr'])


register_probe('network', network_probe)
register_probe('descent', descent_probe)


# --------------------------------------------------------------------------------
# parameters(), used the way the lecture uses it
# --------------------------------------------------------------------------------

@check('parameters', 'like_the_lecture',
       "parameters() as the lecture uses it: len(), iterated twice, called again and again")
def like_the_lecture(mg):
    random.seed(33)
    model = mg.nn.MLP(*SIZES)
    names = {id(p): name for name, p in structural_parameters(model)}
    x = XS[0]
    before = output_of(model(x))
    ps = model.parameters()
    kind = type(ps).__name__
    try:
        length = len(ps)
    except TypeError:
        length = None
    first = [names.get(id(p), '?') for p in ps]
    second = [names.get(id(p), '?') for p in ps]
    calls = [[names.get(id(p), '?') for p in model.parameters()] for _ in range(3)]
    sizes = [[len(n.w) for n in layer.neurons] for layer in model.layers]
    return {'kind': kind, 'len': length, 'first': first, 'second': second, 'calls': calls,
            'sizes': sizes, 'before': before, 'after': output_of(model(x)),
            'expected': [name for name, _ in structural_parameters(model)]}


@like_the_lecture.judge
def _(obs):
    want = obs['expected']
    how = "ps = model.parameters() for MLP(3, [4, 4, 1])"
    if obs['len'] is None:
        raise Failed(f"{how}: len(ps) raised TypeError (ps is a {obs['kind']}). The lecture "
                     f"calls len(model.parameters()) and loops over it more than once: return "
                     f"a list.")
    if obs['second'] != obs['first']:
        raise Failed(f"{how}: the first `for p in ps` gave {len(obs['first'])} parameters, the "
                     f"second {len(obs['second'])}. A {obs['kind']} that runs out cannot be "
                     f"looped over twice: return a list.")
    if obs['len'] != len(obs['first']):
        raise Failed(f"{how}: len(ps) is {obs['len']} but looping over ps gives "
                     f"{len(obs['first'])} parameters")
    if obs['sizes'] != [[3] * 4, [4] * 4, [4]]:
        raise Failed(f"after parameters() was called 4 times, the neurons' weight lists have "
                     f"these lengths: {obs['sizes']} (they should be 3, 4 and 4): parameters() "
                     f"changed the lists it was built from (self.w) instead of making a new one, "
                     f"as self.w + [self.b] does.")
    for i, got in enumerate([obs['first']] + obs['calls']):
        if got != want:
            diff = next((k for k, (w, g) in enumerate(zip(want, got)) if w != g),
                        min(len(want), len(got)))
            raise Failed(f"call {i + 1} of model.parameters() differs from the parameters "
                         f"found through model.layers, .neurons, .w and .b: it has {len(got)} "
                         f"items, and item {diff} is {got[diff] if diff < len(got) else 'missing'}"
                         f" where {want[diff] if diff < len(want) else 'nothing'} was expected")
    if not close(obs['after'], obs['before']):
        raise Failed(f"calling parameters() changed the network's output for {XS[0]}: "
                     f"{show(obs['before'])} before, {show(obs['after'])} after")


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
