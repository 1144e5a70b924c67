"""Checks of the network, its loss and its parameters (training_checks.py has the training loop).

The probes read the network's weights through the lecture's attribute names (network.py)
and report them as floats; the judges recompute the forward pass, the loss and its gradient
with floats.
"""

import random

from .. import diagnosis, oracle
from ..oracle import close
from .base import Failed, answer_list, check, observe, pairs, show
from .network import (SHAPE, SIZES, XS, YS, _fail_rows, _zeros, network_weights, neuron_params,
                      output_of, param_names, structural_parameters, weights_of)


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
