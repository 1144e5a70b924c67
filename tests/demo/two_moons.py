from micrograd.engine import Value
from micrograd.nn import Neuron, Layer, MLP
import random
import math

# A binary classifier on the "two moons" toy data set, written the way a micrograd
# user writes it: plain Python lists, the engine's Value, and the library's MLP.
# The only lines that name micrograd are the two imports above.

random.seed(1337)


def two_moons(n_points=100, noise=0.1):
    """n_points 2-D points on two interleaved half circles, with labels -1 and +1."""
    n_upper = n_points // 2
    n_lower = n_points - n_upper
    X, y = [], []
    for i in range(n_upper):
        # the upper arc: centred on (0, 0), from angle 0 to pi
        angle = math.pi * i / (n_upper - 1)
        X.append([math.cos(angle), math.sin(angle)])
        y.append(-1)
    for i in range(n_lower):
        # the lower arc: flipped and shifted so it hooks into the upper one
        angle = math.pi * i / (n_lower - 1)
        X.append([1.0 - math.cos(angle), 0.5 - math.sin(angle)])
        y.append(1)
    # jitter every coordinate with gaussian noise
    X = [[a + random.gauss(0.0, noise), b + random.gauss(0.0, noise)] for a, b in X]
    return X, y


X, y = two_moons(100, noise=0.1)

# 2 inputs, two hidden layers of 16 neurons, one output score
model = MLP(2, [16, 16, 1])
print(model)
print("number of parameters", len(model.parameters()))


def loss(batch_size=None):
    # the whole data set, or a random subset of it
    if batch_size is None:
        Xb, yb = X, y
    else:
        picked = random.sample(range(len(X)), batch_size)
        Xb = [X[i] for i in picked]
        yb = [y[i] for i in picked]
    inputs = [list(map(Value, xrow)) for xrow in Xb]

    # one score per point
    scores = list(map(model, inputs))

    # SVM "max-margin" loss: zero once a point is on the right side with margin 1
    losses = [(1 + -yi*scorei).relu() for yi, scorei in zip(yb, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    # L2 regularisation keeps the weights small
    alpha = 1e-4
    reg_loss = alpha * sum((p*p for p in model.parameters()))
    total_loss = data_loss + reg_loss

    # accuracy: the sign of the score is the predicted class
    accuracy = [(yi > 0) == (scorei.data > 0) for yi, scorei in zip(yb, scores)]
    return total_loss, sum(accuracy) / len(accuracy)


total_loss, acc = loss()
print(total_loss, acc)

# plain gradient descent, with a learning rate that shrinks over time
losses = []
accuracies = []
steps = 30
for k in range(steps):

    # forward
    total_loss, acc = loss()

    # backward
    model.zero_grad()
    total_loss.backward()

    # update
    learning_rate = 1.0 - 0.9*k/steps
    for p in model.parameters():
        p.data -= learning_rate * p.grad

    losses.append(total_loss.data)
    accuracies.append(acc)
    print(f"step {k} loss {total_loss.data}, accuracy {acc*100}%")

final_loss, final_accuracy = loss()
final_loss = final_loss.data
print(f"after training: loss {final_loss}, accuracy {final_accuracy*100}%")
