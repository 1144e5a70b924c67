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
