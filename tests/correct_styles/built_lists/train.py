"""The loss as a running total, and a training loop that zeroes through zero_grad()."""


def mse_loss(model, xs, ys):
    total = 0
    for x, y in zip(xs, ys):
        diff = y - model(x)
        total = total + diff * diff
    return total


def train(model, xs, ys, steps=20, lr=0.05):
    losses = []
    while len(losses) < steps:
        loss = mse_loss(model, xs, ys)
        model.zero_grad()
        loss.backward()
        params = model.parameters()
        for i in range(len(params)):
            params[i].data = params[i].data - lr * params[i].grad
        losses.append(loss.data)
    return losses
