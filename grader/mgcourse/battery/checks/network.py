"""The network as the checks see it: the lecture's dataset, the weights read through the
lecture's attribute names (model.layers, layer.neurons, neuron.w, neuron.b) as floats, and
the failure table of a wrong network.
"""


from .. import diagnosis, oracle
from ..oracle import close
from .base import Failed, answer_list, observe, show


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
