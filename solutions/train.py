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
    ### BEGIN SOLUTION
    # checkpoint loss: one Value that measures how wrong the model is on all examples.
    # Run the model on each input, square the difference from its target, add them up.
    ypred = [model(x) for x in xs]
    return sum((yout - ygt) ** 2 for ygt, yout in zip(ys, ypred))
    ### END SOLUTION


def train(model, xs, ys, steps=20, lr=0.05):
    """Gradient descent on mse_loss for `steps` steps; returns the loss before each update."""
    losses = []
    ### BEGIN SOLUTION
    # checkpoint training: the training loop of the lecture.
    # Each step: forward (the loss), zero every grad, backward, then nudge each
    # parameter against its gradient: p.data -= lr * p.grad. Record loss.data.
    for _ in range(steps):
        loss = mse_loss(model, xs, ys)
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.data -= lr * p.grad
        losses.append(loss.data)
    ### END SOLUTION
    return losses
