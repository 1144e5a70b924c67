"""micrograd, built during the lecture: a scalar autograd engine and a tiny neural-net library."""

from .engine import Value
from .nn import MLP, DemoMLP, Layer, Module, Neuron
from .train import mse_loss, train, xs, ys
from .viz import draw_dot

__all__ = ['Value', 'Module', 'Neuron', 'Layer', 'MLP', 'DemoMLP', 'mse_loss', 'train', 'xs', 'ys',
           'draw_dot']
