"""Probes the grader's hidden checks drive (batch/hidden.py): a network of the grader's
choosing, its forward pass, loss gradients and descent, reported as plain floats.
"""


from .base import register_probe
from .network import output_of, weights_of
from .nn_checks import _loss_and_grads
from .training_checks import _trained


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
