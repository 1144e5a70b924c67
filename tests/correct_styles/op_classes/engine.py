"""A correct engine in another style: every operation, -, / and the reflected ones included,
has its own backward object; _prev is a list; backward() sorts recursively by id."""

import math


class _Step:
    """out's backward: send out.grad to each input times its local slope."""

    def __init__(self, out, pairs):
        self.out = out
        self.pairs = pairs  # [(input, slope function)]

    def __call__(self):
        for node, slope in self.pairs:
            node.grad += slope() * self.out.grad


def _value(x):
    return x if isinstance(x, Value) else Value(x)


class Value:

    def __init__(self, data, _children=(), _op='', label=''):
        self.data = data
        self.grad = 0.0
        self._backward = lambda: None
        self._prev = list(_children)
        self._op = _op
        self.label = label

    def _make(self, data, op, pairs):
        out = Value(data, [n for n, _ in pairs], op)
        out._backward = _Step(out, pairs)
        return out

    def __add__(self, other):
        other = _value(other)
        return self._make(self.data + other.data, '+', [(self, lambda: 1.0), (other, lambda: 1.0)])

    def __radd__(self, other):
        return _value(other) + self

    def __mul__(self, other):
        other = _value(other)
        return self._make(self.data * other.data, '*',
                          [(self, lambda: other.data), (other, lambda: self.data)])

    def __rmul__(self, other):
        return _value(other) * self

    def __sub__(self, other):
        other = _value(other)
        return self._make(self.data - other.data, '-', [(self, lambda: 1.0), (other, lambda: -1.0)])

    def __rsub__(self, other):
        return _value(other) - self

    def __neg__(self):
        return self._make(-self.data, 'neg', [(self, lambda: -1.0)])

    def __truediv__(self, other):
        other = _value(other)
        return self._make(self.data / other.data, '/',
                          [(self, lambda: 1.0 / other.data),
                           (other, lambda: -self.data / other.data ** 2)])

    def __rtruediv__(self, other):
        return _value(other) / self

    def __pow__(self, k):
        return self._make(self.data ** k, f'**{k}', [(self, lambda: k * self.data ** (k - 1))])

    def tanh(self):
        t = math.tanh(self.data)
        return self._make(t, 'tanh', [(self, lambda: 1.0 - t * t)])

    def exp(self):
        e = math.exp(self.data)
        return self._make(e, 'exp', [(self, lambda: e)])

    def log(self):
        return self._make(math.log(self.data), 'log', [(self, lambda: 1.0 / self.data)])

    def relu(self):
        return self._make(self.data if self.data > 0 else 0.0, 'relu',
                          [(self, lambda: 1.0 if self.data > 0 else 0.0)])

    def backward(self):
        order, seen = [], set()

        def visit(node):
            if id(node) in seen:
                return
            seen.add(id(node))
            for child in node._prev:
                visit(child)
            order.append(node)

        visit(self)
        self.grad = 1.0
        for node in order[::-1]:
            node._backward()
