"""The network as small functions over lists: reduce for the weighted sum, dict dispatch for
the activation, parameters() gathered by a generator and turned into a list at the end."""

import functools
import random

from .engine import Value

_ACT = {'tanh': Value.tanh, 'relu': Value.relu, 'linear': lambda v: v}


class Module:

    def zero_grad(self):
        for p in self.parameters():
            p.grad = 0.0

    def parameters(self):
        return []

    def _gather(self, parts):
        return [p for part in parts for p in part.parameters()]


class Neuron(Module):

    def __init__(self, nin, nonlin='tanh'):
        self.w = [Value(random.uniform(-1, 1)) for _ in range(nin)]
        self.b = Value(random.uniform(-1, 1))
        self.nonlin = nonlin

    def __call__(self, x):
        total = functools.reduce(lambda acc, pair: acc + pair[0] * pair[1], zip(self.w, x), self.b)
        return _ACT[self.nonlin](total)

    def parameters(self):
        return [*self.w, self.b]


class Layer(Module):

    def __init__(self, nin, nout, **kwargs):
        self.neurons = [Neuron(nin, **kwargs) for _ in range(nout)]

    def __call__(self, x):
        if len(self.neurons) == 1:
            return self.neurons[0](x)
        return [n(x) for n in self.neurons]

    def parameters(self):
        return self._gather(self.neurons)


class MLP(Module):

    def __init__(self, nin, nouts, nonlin='tanh', linear_output=False):
        acts = [nonlin] * len(nouts)
        if linear_output:
            acts[-1] = 'linear'
        ins = [nin] + list(nouts[:-1])
        self.layers = [Layer(i, o, nonlin=a) for i, o, a in zip(ins, nouts, acts)]

    def __call__(self, x):
        return functools.reduce(lambda h, layer: layer(h), self.layers, x)

    def parameters(self):
        return self._gather(self.layers)


class DemoMLP(MLP):

    def __init__(self, nin, nouts):
        super().__init__(nin, nouts, nonlin='relu', linear_output=True)
