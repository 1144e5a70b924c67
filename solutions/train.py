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
    #
    # The lines with gc are not part of the exercise: they only make training faster.
    # Each step builds a new graph, and every node of it is in a reference cycle: out
    # holds out._backward, whose closure holds out. So when the next step stops using
    # the graph, Python's reference counting cannot free it; only its cycle collector
    # can. Left to itself, the collector runs every 700 new objects, in the middle of
    # building a graph, and looks again and again at the nodes still in use: most of
    # the time of a training step goes there. Instead, the collector is switched off
    # during training, and after each step one collection of the youngest objects,
    # gc.collect(0), which are exactly those made during this step, frees its graph.
    import gc
    was_collecting = gc.isenabled()
    gc.disable()
    try:
        for _ in range(steps):
            loss = mse_loss(model, xs, ys)
            model.zero_grad()
            # the gradient of the loss for every parameter, then a small step against it
            loss.backward()
            for p in model.parameters():
                p.data -= lr * p.grad
            losses.append(loss.data)
            del loss       # nothing refers to this step's graph any more ...
            gc.collect(0)  # ... so this frees it, looking at this step's objects only
    finally:
        if was_collecting:
            gc.enable()
    ### END SOLUTION
    return losses
