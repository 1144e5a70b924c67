"""The lecture's loss and training loop, plainly written: no garbage-collector handling."""


def mse_loss(model, xs, ys):
    ### BEGIN SOLUTION
    ypred = [model(x) for x in xs]
    return sum((yout - ygt) ** 2 for ygt, yout in zip(ys, ypred))
    ### END SOLUTION


def train(model, xs, ys, steps=20, lr=0.05):
    ### BEGIN SOLUTION
    losses = []
    for k in range(steps):
        loss = mse_loss(model, xs, ys)
        for p in model.parameters():
            p.grad = 0.0
        loss.backward()
        for p in model.parameters():
            p.data += -lr * p.grad
        losses.append(loss.data)
    return losses
    ### END SOLUTION
