"""The reference engine, with the lecture's own numbers (see shared/lecture.md)."""

import gc
import math
import random

import pytest

from mgcourse import paths
from mgcourse.battery.impl import load

mg = load(paths.SOLUTIONS)
Value = mg.Value


def lecture_expression():
    a, b, c, f = Value(2.0, label='a'), Value(-3.0, label='b'), Value(10.0, label='c'), Value(-2.0, label='f')
    e = a * b
    d = e + c
    L = d * f
    return a, b, c, f, e, d, L


def test_a_value_starts_with_zero_grad_and_shows_data_and_grad():
    v = Value(3.0, label='x')
    assert (v.data, v.grad, v.label, v._op, v._prev) == (3.0, 0.0, 'x', '', ())
    assert isinstance(v.grad, float)
    assert repr(v) == 'Value(data=3.0, grad=0.0)'
    w = v * 2
    assert w._op == '*' and w._prev[0] is v and w._prev[1].data == 2


def test_prev_keeps_the_inputs_in_order_and_a_reused_one_twice():
    a, b = Value(1.0), Value(2.0)
    assert (b * a)._prev == (b, a)
    assert (a + a)._prev == (a, a)
    assert (a - b)._prev[0] is a  # a + (-b)


def test_example_1_gradients_and_one_step_of_descent():
    a, b, c, f, e, d, L = lecture_expression()
    assert L.data == -8.0
    L.backward()
    grads = {n.label or name: n.grad for n, name in [(a, 'a'), (b, 'b'), (c, 'c'), (f, 'f'),
                                                     (e, 'e'), (d, 'd'), (L, 'L')]}
    assert grads == {'a': 6.0, 'b': -4.0, 'c': -2.0, 'f': 4.0, 'e': -2.0, 'd': -2.0, 'L': 1.0}
    for leaf in (a, b, c, f):
        leaf.data += 0.01 * leaf.grad
    assert ((a * b + c) * f).data == pytest.approx(-7.286496, abs=1e-6)


def test_example_2_the_tanh_neuron():
    x1, x2, w1, w2 = Value(2.0), Value(0.0), Value(-3.0), Value(1.0)
    b = Value(6.8813735870195432)
    n = x1 * w1 + x2 * w2 + b
    o = n.tanh()
    assert o.data == pytest.approx(1 / math.sqrt(2), abs=1e-15)
    o.backward()
    assert n.grad == pytest.approx(0.5)
    assert (x1.grad, w1.grad, x2.grad, w2.grad) == pytest.approx((-1.5, 1.0, 0.5, 0.0))


def test_tanh_broken_up_gives_the_same_numbers():
    n1, n2 = Value(0.8813735870195432), Value(0.8813735870195432)
    o1 = n1.tanh()
    e = (2 * n2).exp()
    o2 = (e - 1) / (e + 1)
    o1.backward()
    o2.backward()
    assert o2.data == pytest.approx(o1.data, rel=1e-15)
    assert n2.grad == pytest.approx(n1.grad, rel=1e-12)


def test_the_reused_node_examples():
    a = Value(3.0)
    (a + a).backward()
    assert a.grad == 2.0
    a, b = Value(-2.0), Value(3.0)
    ((a * b) * (a + b)).backward()
    assert (a.grad, b.grad) == (-3.0, -8.0)


def test_numbers_on_either_side_and_sum():
    a = Value(4.0)
    results = [2 * a, a * 2, 1 - a, a - 1, 1 + a, a + 1, 2 / a, a / 2, -a, a ** 0.5]
    assert [r.data for r in results] == [8.0, 8.0, -3.0, 3.0, 5.0, 5.0, 0.5, 2.0, -4.0, 2.0]
    s = sum([a, Value(1.0), Value(2.0)])
    assert s.data == 7.0
    s.backward()
    assert a.grad == 1.0
    with pytest.raises(AssertionError, match='only a plain number as the exponent'):
        a ** Value(2.0)


def test_log_relu_and_exp_gradients():
    x = Value(2.0)
    y = x.log() + x.exp() + x.relu() + Value(-1.0).relu()
    y.backward()
    assert y.data == pytest.approx(math.log(2) + math.exp(2) + 2.0)
    assert x.grad == pytest.approx(0.5 + math.exp(2) + 1.0)


def test_calling_backward_twice_adds_the_gradients_again_into_the_inputs():
    # As in PyTorch: the inputs (leaves) accumulate until zeroed; the nodes inside the graph
    # hold the gradients of the latest pass. (micrograd 0.1.0 instead sends the accumulated
    # inner gradients back again, and a.grad would become 24.)
    a, b, c, f, e, d, L = lecture_expression()
    L.backward()
    L.backward()
    assert (a.grad, b.grad, c.grad, f.grad) == (12.0, -8.0, -4.0, 8.0)
    assert (e.grad, d.grad, L.grad) == (-2.0, -2.0, 1.0)
    for leaf in (a, b, c, f):
        leaf.grad = 0.0
    L.backward()
    assert (a.grad, b.grad, c.grad, f.grad) == (6.0, -4.0, -2.0, 4.0)


def test_training_without_zero_grad_piles_up_the_gradients():
    # The lecture's classic bug still shows: parameters are leaves, so their grads add up.
    random.seed(3)
    model = mg.nn.MLP(3, [4, 4, 1])
    for _ in range(3):
        mg.train.mse_loss(model, mg.train.xs, mg.train.ys).backward()
    piled = [p.grad for p in model.parameters()]
    model.zero_grad()
    mg.train.mse_loss(model, mg.train.xs, mg.train.ys).backward()
    assert piled == pytest.approx([3 * p.grad for p in model.parameters()])


def test_backward_handles_a_chain_100_000_nodes_deep():
    x = Value(1.0)
    y = x
    for _ in range(100_000):
        y = y + 1.0
    y.backward()
    assert y.data == 100_001.0
    assert x.grad == 1.0


def test_each_backward_runs_once_per_node_in_a_wide_diamond_ladder():
    # 30 rungs of nodes used twice: without a visited set the work doubles per rung.
    x = Value(0.5)
    y = x
    for _ in range(30):
        y = y * 1.0 + y * 1.0
    y.backward()
    assert x.grad == 2.0 ** 30


def test_the_lecture_network_has_41_parameters_in_order():
    random.seed(0)
    model = mg.nn.MLP(3, [4, 4, 1])
    params = model.parameters()
    assert len(params) == 41
    first = model.layers[0].neurons[0]
    assert params[:4] == first.w + [first.b]
    assert params[-1] is model.layers[2].neurons[0].b
    assert all(-1 <= p.data <= 1 for p in params)
    assert repr(model).startswith('MLP of [Layer of [TanhNeuron(3), TanhNeuron(3)')
    assert isinstance(model([2.0, 3.0, -1.0]), Value)


def test_the_demo_variant_has_relu_hidden_layers_and_a_linear_output():
    model = mg.nn.DemoMLP(2, [16, 16, 1])
    assert [n.nonlin for layer in model.layers for n in layer.neurons[:1]] == ['relu', 'relu', 'linear']
    assert len(model.parameters()) == 16 * 3 + 16 * 17 + 17


def test_training_on_the_tiny_dataset_reaches_a_small_loss():
    random.seed(1)
    model = mg.nn.MLP(3, [4, 4, 1])
    losses = mg.train.train(model, mg.train.xs, mg.train.ys, steps=100, lr=0.1)
    assert len(losses) == 100 and losses[-1] < losses[0]
    assert mg.train.mse_loss(model, mg.train.xs, mg.train.ys).data < 0.01
    assert all(p.grad != 0.0 for p in model.parameters()[:3])


def test_train_gives_the_losses_of_the_plain_lecture_loop_and_restores_the_collector():
    random.seed(4)
    model = mg.nn.MLP(3, [4, 4, 1])
    random.seed(4)
    twin = mg.nn.MLP(3, [4, 4, 1])
    plain = []
    for _ in range(5):
        loss = mg.train.mse_loss(twin, mg.train.xs, mg.train.ys)
        twin.zero_grad()
        loss.backward()
        for p in twin.parameters():
            p.data -= 0.05 * p.grad
        plain.append(loss.data)
    assert gc.isenabled()
    assert mg.train.train(model, mg.train.xs, mg.train.ys, steps=5, lr=0.05) == plain
    assert gc.isenabled()
    assert [p.data for p in model.parameters()] == [p.data for p in twin.parameters()]


def graph_left_for_the_collector(let_go):
    """How many objects the cycle collector finds after a trained step's loss is dropped."""
    random.seed(5)
    model = mg.nn.MLP(3, [4, 4, 1])
    gc.collect()
    gc.disable()
    try:
        loss = mg.train.mse_loss(model, mg.train.xs, mg.train.ys)
        loss.backward()
        let_go(loss)
        del loss
        return gc.collect()
    finally:
        gc.enable()


def test_free_graph_cuts_every_reference_cycle_of_a_step():
    # Without it, the whole graph waits for the cycle collector; with it, reference counting
    # frees the graph the moment `loss` goes, and the collector finds nothing left.
    assert graph_left_for_the_collector(lambda loss: None) > 500
    assert graph_left_for_the_collector(mg.train.free_graph) == 0


def test_free_graph_keeps_data_and_grads():
    a, b, c, f, e, d, L = lecture_expression()
    L.backward()
    mg.train.free_graph(L)
    assert (a.grad, b.grad, c.grad, f.grad, L.data) == (6.0, -4.0, -2.0, 4.0, -8.0)
    assert L._prev == (d, f)


def test_zero_grad_clears_every_parameter():
    model = mg.nn.MLP(3, [4, 1])
    mg.train.mse_loss(model, mg.train.xs, mg.train.ys).backward()
    assert any(p.grad != 0.0 for p in model.parameters())
    model.zero_grad()
    assert all(p.grad == 0.0 for p in model.parameters())
