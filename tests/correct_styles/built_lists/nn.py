"""Neuron, Layer and MLP whose parameters() build their lists in other ways."""

import itertools
import random

from .engine import Value


class Module:

    def zero_grad(self):
        for p in self.parameters():
            p.grad = 0

    def parameters(self):
        return []


class Neuron(Module):

    def __init__(self, nin, nonlin='tanh'):
        self.w = [Value(random.uniform(-1, 1)) for _ in range(nin)]
        self.b = Value(random.uniform(-1, 1))
        self.nonlin = nonlin

    def __call__(self, x):
        act = self.b
        for i in range(len(self.w)):
            act = self.w[i] * x[i] + act
        return {'tanh': act.tanh, 'relu': act.relu}.get(self.nonlin, lambda: act)()

    def parameters(self):
        params = list(self.w)
        params.append(self.b)
        return params


class Layer(Module):

    def __init__(self, nin, nout, **kwargs):
        self.neurons = [Neuron(nin, **kwargs) for _ in range(nout)]

    def __call__(self, x):
        outs = list(map(lambda n: n(x), self.neurons))
        return outs if len(outs) > 1 else outs[0]

    def parameters(self):
        params = []
        for n in self.neurons:
            params.extend(n.parameters())
        return params


class MLP(Module):

    def __init__(self, nin, nouts, nonlin='tanh', linear_output=False):
        sizes = [nin, *nouts]
        self.layers = []
        for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
            last = i == len(nouts) - 1
            self.layers.append(Layer(a, b, nonlin='linear' if last and linear_output else nonlin))

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self):
        return list(itertools.chain.from_iterable(layer.parameters() for layer in self.layers))


class DemoMLP(MLP):

    def __init__(self, nin, nouts):
        super().__init__(nin, nouts, nonlin='relu', linear_output=True)
