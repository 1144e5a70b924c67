"""A scalar that remembers how it was computed, and can send gradients back.

Every arithmetic operation creates a new `Value` and records its inputs (`_prev`)
and the operation's name (`_op`). Together they form the expression graph. Each
operation also stores a small function, `_backward`, that knows the local
derivative of that one operation and applies the chain rule:

    input.grad += (d out / d input) * out.grad

`backward()` runs those functions from the output back to the inputs, in reverse
topological order, so every node's gradient is complete before it is passed on.
"""

import math


def _nothing_to_pass_on():
    """The _backward of a leaf: a Value typed in, not computed, has no inputs to send to."""


class Value:
    """A single number in an expression graph, with its gradient."""

    # A training step builds tens of thousands of Values, so the size of one matters.
    # __slots__ names every attribute a Value has. Python then keeps them in a fixed row
    # of places in the object instead of a dictionary, which makes a Value smaller and
    # self.data, out.grad a little faster to read. The price: a Value cannot be given
    # an attribute that is not in this list (v.color = 'red' raises AttributeError).
    __slots__ = ('data', 'grad', '_backward', '_prev', '_op', 'label')

    def __init__(self, data, _children=(), _op='', label=''):
        self.data = data
        self.grad = 0.0               # d(output)/d(self); 0.0 means "no effect yet"
        # A leaf has nothing to pass on. All leaves share this one do-nothing function
        # (a `lambda: None` here would make a new function object for every Value);
        # an operation replaces it with its own _backward right after.
        self._backward = _nothing_to_pass_on
        # The inputs this Value was computed from, in the order they were given: (self, other)
        # for self * other, () for a leaf. The lecture keeps them in a set; a tuple does the
        # same job here and is better at two things. It is small: a tuple of two takes about
        # a quarter of the memory of a set of two. And it keeps its order, so backward()
        # walks the graph in the same order every run (a set's order depends on where the
        # Values happen to sit in memory). A Value used twice, as in a + a, appears twice:
        # (a, a). backward() still visits it once, and draw_dot draws both arrows.
        self._prev = tuple(_children)
        self._op = _op
        self.label = label

    def __repr__(self):
        return f"Value(data={self.data}, grad={self.grad})"

    # ----------------------------------------------------------------------
    # The operations. Each one: compute `out`, then say how to send out.grad
    # back to the inputs. The forward line is given; `_backward` is the work.
    # ----------------------------------------------------------------------

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other), '+')

        def _backward():
            ### BEGIN SOLUTION
            # checkpoint ops_backward: send out.grad back through a sum.
            # out = self + other, so d(out)/d(self) = 1 and d(out)/d(other) = 1.
            # Chain rule: each input receives 1 * out.grad. Add to its grad with +=,
            # never =, because a node can feed more than one operation.
            self.grad += 1.0 * out.grad
            other.grad += 1.0 * out.grad
            ### END SOLUTION
        out._backward = _backward
        return out

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), '*')

        def _backward():
            ### BEGIN SOLUTION
            # checkpoint ops_backward: send out.grad back through a product.
            # out = self * other, so d(out)/d(self) = other.data and
            # d(out)/d(other) = self.data: each input's slope is the other's value.
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
            ### END SOLUTION
        out._backward = _backward
        return out

    def __pow__(self, other):
        assert isinstance(other, (int, float)), "only a plain number as the exponent"
        out = Value(self.data ** other, (self,), f'**{other}')

        def _backward():
            ### BEGIN SOLUTION
            # checkpoint more_ops: send out.grad back through a power x**n.
            # The power rule: d(x**n)/dx = n * x**(n - 1), with n a plain number.
            self.grad += other * self.data ** (other - 1) * out.grad
            ### END SOLUTION
        out._backward = _backward
        return out

    def tanh(self):
        t = math.tanh(self.data)
        out = Value(t, (self,), 'tanh')

        def _backward():
            ### BEGIN SOLUTION
            # checkpoint ops_backward: send out.grad back through tanh.
            # d(tanh x)/dx = 1 - tanh(x)**2, and tanh(x) is already in out.data.
            self.grad += (1 - t ** 2) * out.grad
            ### END SOLUTION
        out._backward = _backward
        return out

    def exp(self):
        out = Value(math.exp(self.data), (self,), 'exp')

        def _backward():
            ### BEGIN SOLUTION
            # checkpoint more_ops: send out.grad back through exp.
            # d(e**x)/dx = e**x, which is out.data.
            self.grad += out.data * out.grad
            ### END SOLUTION
        out._backward = _backward
        return out

    def log(self):
        out = Value(math.log(self.data), (self,), 'log')

        def _backward():
            ### BEGIN SOLUTION
            # checkpoint more_ops: send out.grad back through the natural log.
            # d(log x)/dx = 1 / x.
            self.grad += (1 / self.data) * out.grad
            ### END SOLUTION
        out._backward = _backward
        return out

    def relu(self):
        out = Value(self.data if self.data > 0 else 0.0, (self,), 'ReLU')

        def _backward():
            ### BEGIN SOLUTION
            # checkpoint more_ops: send out.grad back through relu(x) = max(0, x).
            # Its slope is 1 where x > 0 and 0 elsewhere: the gradient passes
            # only where the input was positive.
            self.grad += (1.0 if out.data > 0 else 0.0) * out.grad
            ### END SOLUTION
        out._backward = _backward
        return out

    # ----------------------------------------------------------------------
    # Operations built from the ones above, as in the lecture. They need no
    # _backward of their own: the graph records the pieces they are made of.
    # ----------------------------------------------------------------------

    def __neg__(self):           # -self
        return self * -1

    def __sub__(self, other):    # self - other
        return self + (-other)

    def __truediv__(self, other):  # self / other = self * other**-1
        other = other if isinstance(other, Value) else Value(other)
        return self * other ** -1

    def __radd__(self, other):   # other + self, when other is a plain number
        return self + other

    def __rsub__(self, other):   # other - self
        return (-self) + other

    def __rmul__(self, other):   # other * self
        return self * other

    def __rtruediv__(self, other):  # other / self
        return Value(other) * self ** -1

    # ----------------------------------------------------------------------
    # Backpropagation over the whole graph.
    # ----------------------------------------------------------------------

    def backward(self):
        """Fill in .grad of every node this value depends on: d(self)/d(node)."""
        ### BEGIN SOLUTION
        # checkpoint backward: order the graph, seed the output, run each _backward once.
        # A node may pass its gradient on only when it has received all of it, that is
        # after every node that uses it. A topological order (inputs before the
        # nodes built from them), walked backwards, guarantees exactly that.
        #
        # Depth-first search with an explicit stack instead of recursion, so a graph
        # thousands of nodes deep does not hit Python's recursion limit. A node is
        # pushed twice: first to visit its inputs, then (done=True) to be placed
        # after them.
        topo = []
        visited = set()
        stack = [(self, False)]
        while stack:
            node, done = stack.pop()
            if done:
                topo.append(node)
            elif node not in visited:
                visited.add(node)
                stack.append((node, True))
                for child in node._prev:
                    stack.append((child, False))

        # The grads of the nodes computed inside the graph belong to this one pass, so
        # they start again from 0. The inputs (leaves, such as a network's parameters)
        # keep adding up over calls, as in PyTorch, until zero_grad() clears them.
        for node in topo:
            if node._prev:
                node.grad = 0.0

        # d(self)/d(self) = 1: the seed the chain rule starts from.
        self.grad = 1.0
        for node in reversed(topo):
            node._backward()
        ### END SOLUTION
