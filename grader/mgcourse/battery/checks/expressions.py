"""Expression checks, the kind most engine checks are: an Expression (see oracle.py) is built
with the student's Value, its gradients are computed by the student's code, and the judge
compares every named node's data and grad with the oracle's; a graph whose result depends on
the order of a set is tried in fixed orders (force_set_order).
"""

import json

from .. import diagnosis
from ..oracle import Expression, close
from .base import (Check, Failed, answer_dict, exception_message, observe, pairs, register, show,
                   student_kind)


LECTURE_B = 6.8813735870195432  # the neuron's bias in the lecture: makes n = 0.8813735870...


def expression_check(checkpoint, name, title, exprs, by_hand=None, seed=1.0):
    """Register a check of the gradients of one or more expressions.

    by_hand: None to call out.backward(); else the labels of the nodes whose _backward the
    check calls itself, in this order, after setting out.grad = seed (as the lecture does
    before backward() exists). A seed other than 1.0 shows whether _backward multiplies by
    out.grad (the chain rule) or forgets it.
    """
    if isinstance(exprs, Expression):
        exprs = [exprs]

    def probe(mg):
        return [_probe_expression(mg, e, by_hand, seed) for e in exprs]

    def judge(observed):
        messages, diagnoses = [], []
        for e, obs in pairs(exprs, observed, f"the answers for {len(exprs)} expression(s)"):
            message, found = _judge_expression(e, obs, by_hand, seed)
            if message:
                messages.append(message)
                diagnoses += found
        if messages:
            raise Failed('\n\n'.join(messages), diagnoses=diagnoses)

    register(Check(checkpoint, name, title, probe, judge))


def _probe_expression(mg, expr, by_hand, seed):
    """The data and grad of every named node, as plain data.

    When the student's `_prev` is a set, the order in which backward() meets a node's
    children depends on where the Values sit in memory, and so may change from run to run.
    The graph is then built twice more with each set replaced by a tuple of the same
    children, sorted one way and then the other, so the verdict never depends on memory:
    the first order is what is judged, and a second order that gives other numbers comes
    back under 'set_orders'.
    """
    observed, has_sets = _probe_once(mg, expr, by_hand, seed, None)
    if not has_sets:
        return observed
    first, _ = _probe_once(mg, expr, by_hand, seed, 0)
    second, _ = _probe_once(mg, expr, by_hand, seed, 1)
    if json.dumps(second, sort_keys=True) != json.dumps(first, sort_keys=True):
        first = dict(first, set_orders=[second])
    return first


def _child_key(node):
    """A sort key for a node that does not depend on its address."""
    label = getattr(node, 'label', '')
    data = getattr(node, 'data', None)
    return (str(label) if isinstance(label, str) else '', repr(data), str(getattr(node, '_op', '')))


def force_set_order(out, order):
    """Replace every set-valued `_prev` of the graph of out by a tuple of its children in a
    fixed order (0: sorted, 1: reversed); order None changes nothing. True when a set was found."""
    seen, stack, found = set(), [out], False
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        prev = getattr(node, '_prev', ())
        if isinstance(prev, (set, frozenset)):
            found = True
            if order is not None:
                try:
                    node._prev = tuple(sorted(prev, key=_child_key, reverse=order == 1))
                except Exception:  # noqa: BLE001 - a _prev that cannot be replaced stays
                    pass
        try:
            stack.extend(prev)
        except TypeError:
            pass
    return found


def leaf(mg, value, label):
    """A Value made the way every engine accepts, Value(data), then labelled where the
    engine has labels: the lecture's label= is not required of a student's Value."""
    return labelled(mg.Value(value), label)


def labelled(node, label):
    try:
        node.label = label
    except AttributeError:  # a Value with __slots__ and no label: the checks name it themselves
        pass
    return node


def _probe_once(mg, expr, by_hand, seed, order):
    nodes = {}

    def name(node, label):
        labelled(node, label)
        nodes[label] = node
        return node

    has_sets = False
    try:
        x = {label: name(leaf(mg, v, label), label) for label, v in expr.inputs.items()}
        out = name(expr.build(x, name), expr.output)
        has_sets = force_set_order(out, order)
        if by_hand is None:
            out.backward()
        else:
            out.grad = seed
            for label in by_hand:
                nodes[label]._backward()
    except KeyboardInterrupt:
        raise
    except BaseException as e:  # noqa: BLE001 - reported as data, with the expression's text
        kind, message = exception_message(e, mg.path)
        return {'raised': message, 'kind': kind}, has_sets
    return ({label: {'data': observe(n.data), 'grad': observe(n.grad)}
             for label, n in nodes.items()}, has_sets)


SET_ORDER = ("The result depended on the order of a set: your _prev is a set, and a set's order "
             "depends on where the Values happen to sit in memory, so it can change from run to "
             "run. The grader walked the children of every node in two fixed orders")


def _how(expr, by_hand, seed):
    if by_hand is None:
        return f"{expr.text}, then {expr.output}.backward()"
    calls = ', '.join(f"{label}._backward()" for label in by_hand)
    return f"{expr.text}, with {expr.output}.grad = {seed:g}, then {calls}"


def _judge_expression(expr, obs, by_hand, seed, oracle_grads=None):
    """(message listing every wrong node, diagnoses), or ('', []) when all agree with the oracle.

    The expected gradients are the oracle's central differences (and analytic values), or
    `oracle_grads` when given (PyTorch's).
    """
    alternatives = obs.get('set_orders') if isinstance(obs, dict) else None
    if alternatives:
        return _judge_orders(expr, obs, alternatives, by_hand, seed, oracle_grads)
    how = _how(expr, by_hand, seed)
    if isinstance(obs, dict) and 'raised' in obs:
        raised = str(obs['raised'])
        raise Failed(f"computing {how}:\n  {raised}", student_kind(obs.get('kind')),
                     diagnosis.for_exception(raised))
    values, grads = expr.gradients()
    # Every named node, no more and no fewer: each with its data and grad.
    answer_dict(obs, values, f"after {how}, the nodes")
    for label in values:
        answer_dict(obs[label], ('data', 'grad'), f"after {how}, node {label}")
    if oracle_grads is not None:
        grads = oracle_grads
    uses = expr.uses()
    scale = 1.0 if by_hand is None else seed
    lines, rows = [], []
    data_wrong = False
    for index, (label, value) in enumerate(values.items()):
        got = obs[label]
        want = scale * grads[label]
        data, grad = got.get('data'), got.get('grad')
        row = diagnosis.Row(label, want, grad, uses[label], index)
        rows.append(row)
        mark = ''
        if not close(data, value):
            mark = f"   <- data is {show(data)}, expected {show(value)}"
            data_wrong = True
        elif row.wrong:
            mark = '   <- wrong'
        lines.append(f"  {label:>14}  {show(value):>12}  {show(want):>12}  {show(grad):>12}{mark}")
    if not data_wrong and not any(r.wrong for r in rows):
        return '', []
    table = [f"  {'node':>14}  {'data':>12}  {'grad wanted':>12}  {'grad yours':>12}"] + lines
    found = []
    if not data_wrong:
        predicted = {d: f(values, scale) for d, f in expr.likely.items()}
        found = diagnosis.for_gradients(rows, expr.output, None if by_hand is None else seed,
                                        predicted, expr.shares())
    return f"after {how}:\n" + '\n'.join(table), found


def _judge_orders(expr, obs, alternatives, by_hand, seed, oracle_grads):
    """The verdict when two orders of the children gave different numbers: wrong if either is."""
    first = {k: v for k, v in obs.items() if k != 'set_orders'}
    message, found = _judge_expression(expr, first, by_hand, seed, oracle_grads)
    for alt in alternatives:
        try:
            alt_message, _ = _judge_expression(expr, alt, by_hand, seed, oracle_grads)
        except Failed as f:
            alt_message = str(f)
        if message:
            return (f"{message}\n{SET_ORDER}, and they gave different numbers (with the other "
                    f"order, {alt_message.split(chr(10), 1)[0]} gave other grads)."), found
        if alt_message:
            return (f"{SET_ORDER}: with one order every grad is right, with the other:\n"
                    f"{alt_message}"), []
    return message, found
