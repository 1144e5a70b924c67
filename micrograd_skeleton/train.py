"""The lecture's tiny dataset, its loss, and gradient descent on it."""

# Four examples of three inputs each, and the target for each example.
xs = [
    [2.0, 3.0, -1.0],
    [3.0, -1.0, 0.5],
    [0.5, 1.0, 1.0],
    [1.0, 1.0, -1.0],
]
ys = [1.0, -1.0, -1.0, 1.0]


def mse_loss(model, xs, ys):
    """The squared-error loss of the lecture: the sum over examples of (prediction - target)**2.

    The lecture calls it the mean squared error but does not divide by the number of
    examples; neither do we, so the numbers match the video.
    """
    # TODO (checkpoint loss): one Value that measures how wrong the model is on all examples.
    # Run the model on each input, square the difference from its target, add them up.
    raise NotImplementedError(
        'checkpoint loss (01:51:04 in the lecture): one Value that measures how wrong the model is on all examples')


def train(model, xs, ys, steps=20, lr=0.05):
    """Gradient descent on mse_loss for `steps` steps; returns the loss before each update."""
    losses = []
    # TODO (checkpoint training): the training loop of the lecture.
    # Each step: forward (the loss), zero every grad, backward, then nudge each
    # parameter against its gradient: p.data -= lr * p.grad. Record loss.data.
    raise NotImplementedError(
        'checkpoint training (02:01:12 in the lecture): the training loop of the lecture')
    return losses


def free_graph(root):
    """Let Python free the graph that ends in root as soon as nothing refers to it.

    Not part of the exercises: it only makes training faster. Every Value an operation
    computes is in a reference cycle: out holds out._backward, and that closure holds out
    (it reads out.grad). Python frees most objects by counting references to them, and a
    cycle never counts down to zero; only the cycle collector, which from time to time
    scans every object in memory, can free it. In a training loop that scan dominates:
    each step leaves tens of thousands of Values behind, and the collector scans the
    graph being built again and again while looking for them.

    Once backward() has run and the parameters are updated, the graph's _backward closures
    are never needed again. Replacing each with a function that does nothing cuts every
    cycle, so the whole graph is freed the moment the last name for it is gone. With no
    cycles left, train() can switch the collector off while it trains. After this,
    root.backward() no longer sends any gradient back: call it only when done with root.

    It uses only the two attributes every engine of the lecture has, _backward and _prev,
    and tells nodes apart by identity, so it works with any such Value class.
    """
    seen = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) not in seen:
            seen.add(id(node))
            node._backward = _pass_nothing_on
            stack.extend(node._prev)


def _pass_nothing_on():
    """A freed node's _backward: its gradient has already been passed on."""
