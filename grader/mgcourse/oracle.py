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


class F:
    """A plain float with the methods of Value, for the oracle's forward passes."""

    __slots__ = ('v',)

    def __init__(self, v):
        self.v = float(v)

    @staticmethod
    def _v(other):
        return other.v if isinstance(other, F) else float(other)

    def __add__(self, o): return F(self.v + self._v(o))
    def __radd__(self, o): return F(self._v(o) + self.v)
    def __sub__(self, o): return F(self.v - self._v(o))
    def __rsub__(self, o): return F(self._v(o) - self.v)
    def __mul__(self, o): return F(self.v * self._v(o))
    def __rmul__(self, o): return F(self._v(o) * self.v)
    def __truediv__(self, o): return F(self.v / self._v(o))
    def __rtruediv__(self, o): return F(self._v(o) / self.v)
    def __pow__(self, n): return F(self.v ** n)
    def __neg__(self): return F(-self.v)
    def tanh(self): return F(math.tanh(self.v))
    def exp(self): return F(math.exp(self.v))
    def log(self): return F(math.log(self.v))
    def relu(self): return F(self.v if self.v > 0 else 0.0)


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

    def forward(self, target=None, h=0.0):
        """Output value and every named node's value, with node `target` nudged by h."""
        values = {}

        def name(node, label):
            if label == target:
                node = F(node.v + h)
            values[label] = node.v
            return node

        x = {}
        for label, v in self.inputs.items():
            x[label] = name(F(v), label)
        out = name(self.build(x, name), self.output)
        return out.v, values

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


def descend(weights, xs, ys, steps, lr):
    """Plain gradient descent as the lecture does it; returns (losses, final weights)."""
    losses = []
    for _ in range(steps):
        losses.append(sse_loss(weights, xs, ys))
        g = loss_gradient(weights, xs, ys)
        weights = unflatten([p - lr * gi for p, gi in zip(flatten(weights), g)], weights)
    return losses, weights
