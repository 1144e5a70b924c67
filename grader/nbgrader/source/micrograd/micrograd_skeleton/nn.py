"""A tiny neural-network library on top of `Value`: Neuron, Layer, MLP.

A neuron computes act(w . x + b). A layer is a list of neurons that all read the
same inputs. An MLP is a list of layers, each reading the previous one's outputs.
Every weight and bias is a `Value`, so a loss built from the network's outputs can
send gradients back to all of them.
"""

import random

from .engine import Value

# The activations a neuron can apply to w . x + b. 'linear' applies none.
ACTIVATIONS = ('tanh', 'relu', 'linear')


class Module:
    """What every part of the network shares: its parameters and their grads."""

    def parameters(self):
        return []

    def zero_grad(self):
        """Set the gradient of every parameter back to 0.0 before a new backward()."""
        # TODO (checkpoint training): forget the previous step's gradients.
        # backward() adds (+=) into .grad, so without this every step would add
        # its gradients on top of all the earlier ones.
        raise NotImplementedError(
            "checkpoint training (02:01:12 in the lecture): forget the previous step's gradients")


class Neuron(Module):

    def __init__(self, nin, nonlin='tanh'):
        assert nonlin in ACTIVATIONS, f"nonlin must be one of {ACTIVATIONS}"
        self.w = [Value(random.uniform(-1, 1)) for _ in range(nin)]
        self.b = Value(random.uniform(-1, 1))
        self.nonlin = nonlin

    def __call__(self, x):
        """The neuron's output for the inputs x (numbers or Values)."""
        # TODO (checkpoint mlp): the forward pass of one neuron.
        # act = w1*x1 + w2*x2 + ... + b, then the activation: act.tanh(),
        # act.relu(), or act itself when nonlin is 'linear'.
        raise NotImplementedError(
            'checkpoint mlp (01:43:55 in the lecture): the forward pass of one neuron')

    def parameters(self):
        # TODO (checkpoint parameters): this neuron's weights, then its bias, in one list.
        raise NotImplementedError(
            "checkpoint parameters (01:57:56 in the lecture): this neuron's weights, then its bias, in one list")

    def __repr__(self):
        names = {'tanh': 'Tanh', 'relu': 'ReLU', 'linear': 'Linear'}
        return f"{names[self.nonlin]}Neuron({len(self.w)})"


class Layer(Module):

    def __init__(self, nin, nout, **kwargs):
        self.neurons = [Neuron(nin, **kwargs) for _ in range(nout)]

    def __call__(self, x):
        """The outputs of all neurons for the same inputs x; one Value if there is one neuron."""
        # TODO (checkpoint mlp): every neuron of the layer reads the same inputs x.
        # Return the list of their outputs, or the single Value when the layer has
        # one neuron (so the network's final output is a Value, not a list).
        raise NotImplementedError(
            'checkpoint mlp (01:43:55 in the lecture): every neuron of the layer reads the same inputs x')

    def parameters(self):
        # TODO (checkpoint parameters): the parameters of every neuron, neuron after neuron.
        raise NotImplementedError(
            'checkpoint parameters (01:57:56 in the lecture): the parameters of every neuron, neuron after neuron')

    def __repr__(self):
        return f"Layer of [{', '.join(str(n) for n in self.neurons)}]"


class MLP(Module):
    """A multi-layer perceptron: MLP(3, [4, 4, 1]) maps 3 inputs through layers of 4, 4 and 1 neurons.

    By default every neuron applies tanh, as in the lecture. `nonlin='relu'` puts ReLU in the
    hidden layers, and `linear_output=True` leaves the last layer without an activation.
    """

    def __init__(self, nin, nouts, nonlin='tanh', linear_output=False):
        sizes = [nin] + list(nouts)
        self.layers = []
        for i in range(len(nouts)):
            last = i == len(nouts) - 1
            act = 'linear' if (last and linear_output) else nonlin
            self.layers.append(Layer(sizes[i], sizes[i + 1], nonlin=act))

    def __call__(self, x):
        """The network's output for inputs x: each layer feeds the next."""
        # TODO (checkpoint mlp): chain the layers.
        # The outputs of one layer are the inputs of the next; the last layer's
        # output is the network's.
        raise NotImplementedError(
            'checkpoint mlp (01:43:55 in the lecture): chain the layers')

    def parameters(self):
        # TODO (checkpoint parameters): the parameters of every layer, first layer first.
        raise NotImplementedError(
            'checkpoint parameters (01:57:56 in the lecture): the parameters of every layer, first layer first')

    def __repr__(self):
        return f"MLP of [{', '.join(str(layer) for layer in self.layers)}]"


class DemoMLP(MLP):
    """micrograd's demo network: ReLU hidden layers and a linear output layer.

    Code written for Karpathy's micrograd demo runs unchanged with
    `from <this package>.nn import DemoMLP as MLP`.
    """

    def __init__(self, nin, nouts):
        super().__init__(nin, nouts, nonlin='relu', linear_output=True)
