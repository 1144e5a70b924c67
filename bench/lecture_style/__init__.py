"""A plain lecture-style micrograd: what the battery must pass quickly when a student writes it.

The checks use only engine.Value, nn.Neuron / Layer / MLP and train.mse_loss / train.train.
"""

from .engine import Value
from .nn import MLP, DemoMLP, Layer, Module, Neuron
from .train import mse_loss, train
