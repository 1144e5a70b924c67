"""Neuron, Layer and MLP written as in the lecture, on bench/lecture_style's Value."""

import random

from .engine import Value


class Module:

    def zero_grad(self):
        ### BEGIN SOLUTION
        for p in self.parameters():
            p.grad = 0.0
        ### END SOLUTION

    def parameters(self):
        return []


class Neuron(Module):

    def __init__(self, nin, nonlin='tanh'):
        self.w = [Value(random.uniform(-1, 1)) for _ in range(nin)]
        self.b = Value(random.uniform(-1, 1))
        self.nonlin = nonlin

    def __call__(self, x):
        ### BEGIN SOLUTION
        act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        if self.nonlin == 'tanh':
            return act.tanh()
        if self.nonlin == 'relu':
            return act.relu()
        return act
        ### END SOLUTION

    def parameters(self):
        ### BEGIN SOLUTION
        return self.w + [self.b]
        ### END SOLUTION


class Layer(Module):

    def __init__(self, nin, nout, **kwargs):
        self.neurons = [Neuron(nin, **kwargs) for _ in range(nout)]

    def __call__(self, x):
        ### BEGIN SOLUTION
        outs = [n(x) for n in self.neurons]
        return outs[0] if len(outs) == 1 else outs
        ### END SOLUTION

    def parameters(self):
        ### BEGIN SOLUTION
        return [p for neuron in self.neurons for p in neuron.parameters()]
        ### END SOLUTION


class MLP(Module):

    def __init__(self, nin, nouts, nonlin='tanh', linear_output=False):
        sz = [nin] + nouts
        self.layers = [Layer(sz[i], sz[i + 1],
                             nonlin='linear' if linear_output and i == len(nouts) - 1 else nonlin)
                       for i in range(len(nouts))]

    def __call__(self, x):
        ### BEGIN SOLUTION
        for layer in self.layers:
            x = layer(x)
        return x
        ### END SOLUTION

    def parameters(self):
        ### BEGIN SOLUTION
        return [p for layer in self.layers for p in layer.parameters()]
        ### END SOLUTION


class DemoMLP(MLP):

    def __init__(self, nin, nouts):
        super().__init__(nin, nouts, nonlin='relu', linear_output=True)
