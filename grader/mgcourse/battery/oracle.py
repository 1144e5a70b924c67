"""The grader's own arithmetic: plain floats, never the code under test.

An expression is written once, as a function `build(x, name)` that combines its inputs
with +, -, *, /, ** and the methods tanh, exp, log, relu. The checks run it with the
student's `Value`; the oracle runs the same function with `F`, a float that knows only its
value, and gets every gradient by central differences: nudge one node up and down by h and
see how the output moves.
"""

import math
from dataclasses import dataclass, field
from typing import Callable


def _val(x):
    """The float value of an operand; an F also counts one more use.

    An F can be nudged in one of its uses only (`bump` added in use number `bump_use`), so
    the oracle can tell how much each use of a reused node contributes to its gradient.
    """
    if isinstance(x, F):
        v = x.v + (x.bump if x.uses == x.bump_use else 0.0)
        x.uses += 1
        return v
    return float(x)


class F:
    """A plain float with the methods of Value, for the oracle's forward passes.

    It also counts how many operations use it, so a check knows which nodes are reused.
    """

    __slots__ = ('v', 'uses', 'bump', 'bump_use')

    def __init__(self, v):
        self.v = float(v)
        self.uses = 0
        self.bump = 0.0
        self.bump_use = None

    def __add__(self, o): return F(_val(self) + _val(o))
    def __radd__(self, o): return F(_val(o) + _val(self))
    def __sub__(self, o): return F(_val(self) - _val(o))
    def __rsub__(self, o): return F(_val(o) - _val(self))
    def __mul__(self, o): return F(_val(self) * _val(o))
    def __rmul__(self, o): return F(_val(o) * _val(self))
    def __truediv__(self, o): return F(_val(self) / _val(o))
    def __rtruediv__(self, o): return F(_val(o) / _val(self))
    def __pow__(self, n): return F(_val(self) ** n)
    def __neg__(self): return F(-_val(self))
    def tanh(self): return F(math.tanh(_val(self)))
    def exp(self): return F(math.exp(_val(self)))
    def log(self): return F(math.log(_val(self)))
    def relu(self):
        v = _val(self)
        return F(v if v > 0 else 0.0)


@dataclass
class Expression:
    """An expression graph with named nodes, built the same way for Value and for F.

    `build(x, name)`: x[label] is the input leaf of that label; `name(node, label)` gives an
    interior node its label and must be used as `e = name(a * b, 'e')`. Returns the output.
    """
    text: str                  # how the expression reads, for messages
    inputs: dict               # input label -> float
    build: Callable
    output: str = 'out'        # the output's label
    analytic: dict = field(default_factory=dict)  # label -> exact gradient, where known
    # diagnosis id -> f(values, seed) giving {label: gradient} as that mistake would make them
    likely: dict = field(default_factory=dict)

    def forward(self, target=None, h=0.0):
        """Output value and every named node's value, with node `target` nudged by h."""
        out, nodes = self._run(target, h)
        return out.v, {label: node.v for label, node in nodes.items()}

    def _run(self, target=None, h=0.0, use=None):
        nodes = {}

        def name(node, label):
            if label == target:
                if use is None:
                    node = F(node.v + h)
                else:
                    node.bump, node.bump_use = h, use
            nodes[label] = node
            return node

        x = {}
        for label, v in self.inputs.items():
            x[label] = name(F(v), label)
        out = name(self.build(x, name), self.output)
        return out, nodes

    def uses(self):
        """How many operations use each named node."""
        _, nodes = self._run()
        return {label: node.uses for label, node in nodes.items()}

    def shares(self):
        """For each node used more than once: the part of its gradient that each use sends."""
        out = {}
        _, nodes = self._run()
        for label, node in nodes.items():
            n = node.uses
            if n > 1:
                h = 1e-5 * max(1.0, abs(node.v))
                out[label] = [(self._run(label, h, k)[0].v - self._run(label, -h, k)[0].v) / (2 * h)
                              for k in range(n)]
        return out

    def gradients(self):
        """d(output)/d(node) for every named node, by central differences."""
        _, values = self.forward()
        grads = {}
        for label, v in values.items():
            h = 1e-5 * max(1.0, abs(v))
            up, _ = self.forward(label, h)
            down, _ = self.forward(label, -h)
            grads[label] = (up - down) / (2 * h)
        grads.update(self.analytic)
        return values, grads


def close(actual, expected, rel=1e-6, abs_tol=1e-6):
    """True when two floats agree; both must be real floats."""
    if not (isinstance(actual, float) and isinstance(expected, float)):
        return False
    if math.isnan(actual) or math.isnan(expected):
        return False
    return abs(actual - expected) <= abs_tol + rel * abs(expected)


# --------------------------------------------------------------------------------
# The network, with floats: weights as nested lists, [layer][neuron] = [w1, ..., wn, b]
# --------------------------------------------------------------------------------

def activate(z, nonlin):
    if nonlin == 'tanh':
        return math.tanh(z)
    if nonlin == 'relu':
        return z if z > 0 else 0.0
    return z


def neuron_forward(wb, x, nonlin='tanh'):
    z = wb[-1]
    for wi, xi in zip(wb[:-1], x):
        z += wi * xi
    return activate(z, nonlin)


def mlp_forward(weights, x, nonlins=None):
    """The MLP's output (a float when the last layer has one neuron, else a list)."""
    for i, layer in enumerate(weights):
        nonlin = nonlins[i] if nonlins else 'tanh'
        x = [neuron_forward(wb, x, nonlin) for wb in layer]
    return x[0] if len(x) == 1 else x


def sse_loss(weights, xs, ys):
    """The lecture's loss: sum over examples of (prediction - target)**2."""
    return sum((mlp_forward(weights, x) - y) ** 2 for x, y in zip(xs, ys))


def flatten(weights):
    return [p for layer in weights for wb in layer for p in wb]


def unflatten(flat, like):
    it = iter(flat)
    return [[[next(it) for _ in wb] for wb in layer] for layer in like]


def loss_gradient(weights, xs, ys):
    """d(loss)/d(parameter) for every parameter, in parameters() order, by central differences."""
    flat = flatten(weights)
    grads = []
    for i, p in enumerate(flat):
        h = 1e-6 * max(1.0, abs(p))
        up, down = list(flat), list(flat)
        up[i] += h
        down[i] -= h
        grads.append((sse_loss(unflatten(up, weights), xs, ys)
                      - sse_loss(unflatten(down, weights), xs, ys)) / (2 * h))
    return grads


def descend(weights, xs, ys, steps, lr, zero_grad=True, direction=-1.0):
    """Gradient descent as the lecture does it; returns (losses, final weights).

    zero_grad=False and direction=+1.0 give what two classic mistakes would give: gradients
    that pile up over the steps, and an update that climbs the gradient.
    """
    losses = []
    total = [0.0] * len(flatten(weights))
    for _ in range(steps):
        losses.append(sse_loss(weights, xs, ys))
        g = loss_gradient(weights, xs, ys)
        total = g if zero_grad else [t + gi for t, gi in zip(total, g)]
        weights = unflatten([p + direction * lr * gi for p, gi in zip(flatten(weights), total)],
                            weights)
    return losses, weights
