"""Checks of the Value engine: the lecture's expressions, each operation's _backward, backward()
in topological order, and a node used more than once (more_ops_checks.py has the rest).

Most of them are expression checks (expressions.py): the student's Value builds an
Expression, the student's code computes its gradients, and the judge compares every named
node's data and grad with the oracle's.
"""

import math

from ..oracle import Expression, close
from .base import Failed, check, observe, show
from .expressions import LECTURE_B, SET_ORDER, expression_check, force_set_order, leaf


# --------------------------------------------------------------------------------
# The lecture's expressions
# --------------------------------------------------------------------------------

def _lecture_expression(x, name):
    e = name(x['a'] * x['b'], 'e')
    d = name(e + x['c'], 'd')
    return d * x['f']


LECTURE_EXPRESSION = Expression(
    'L = (a*b + c) * f with a = 2, b = -3, c = 10, f = -2 (e = a*b, d = e + c)',
    {'a': 2.0, 'b': -3.0, 'c': 10.0, 'f': -2.0}, _lecture_expression, output='L',
    analytic={'L': 1.0, 'd': -2.0, 'f': 4.0, 'c': -2.0, 'e': -2.0, 'a': 6.0, 'b': -4.0})


def _lecture_neuron(x, name):
    x1w1 = name(x['x1'] * x['w1'], 'x1*w1')
    x2w2 = name(x['x2'] * x['w2'], 'x2*w2')
    s = name(x1w1 + x2w2, 'x1*w1 + x2*w2')
    n = name(s + x['b'], 'n')
    return n.tanh()


LECTURE_NEURON = Expression(
    'o = tanh(x1*w1 + x2*w2 + b) with x1 = 2, x2 = 0, w1 = -3, w2 = 1, b = 6.88137...',
    {'x1': 2.0, 'x2': 0.0, 'w1': -3.0, 'w2': 1.0, 'b': LECTURE_B}, _lecture_neuron, output='o',
    analytic={'o': 1.0, 'n': 0.5, 'b': 0.5, 'x1*w1 + x2*w2': 0.5, 'x1*w1': 0.5, 'x2*w2': 0.5,
              'x1': -1.5, 'w1': 1.0, 'x2': 0.5, 'w2': 0.0})

# --------------------------------------------------------------------------------
# ops_backward: each operation's _backward, called by hand
# --------------------------------------------------------------------------------

expression_check(
    'ops_backward', 'add', "_backward of + (d = e + c)",
    Expression('d = e + c with e = -6, c = 10', {'e': -6.0, 'c': 10.0},
               lambda x, name: x['e'] + x['c'], output='d'),
    by_hand=['d'], seed=-2.0)

expression_check(
    'ops_backward', 'mul', "_backward of * (e = a * b)",
    Expression('e = a * b with a = 2, b = -3', {'a': 2.0, 'b': -3.0},
               lambda x, name: x['a'] * x['b'], output='e',
               likely={'mul-own-data': lambda v, s: {'a': v['a'] * s, 'b': v['b'] * s}}),
    by_hand=['e'], seed=-2.0)

expression_check(
    'ops_backward', 'tanh', "_backward of tanh (o = n.tanh())",
    Expression('o = n.tanh() with n = 0.8813735870195432', {'n': 0.8813735870195432},
               lambda x, name: x['n'].tanh(), output='o',
               likely={'tanh-input': lambda v, s: {'n': (1 - v['n'] ** 2) * s}}),
    by_hand=['o'], seed=2.0)

expression_check(
    'ops_backward', 'expression_by_hand', "the lecture's L = (a*b + c) * f, one _backward at a time",
    LECTURE_EXPRESSION, by_hand=['L', 'd', 'e'])

expression_check(
    'ops_backward', 'neuron_by_hand', "the lecture's tanh neuron, one _backward at a time",
    LECTURE_NEURON, by_hand=['o', 'n', 'x1*w1 + x2*w2', 'x1*w1', 'x2*w2'])

# --------------------------------------------------------------------------------
# backward: the whole graph in topological order
# --------------------------------------------------------------------------------

expression_check('backward', 'expression', "L.backward() on the lecture's L = (a*b + c) * f",
                 LECTURE_EXPRESSION)

expression_check('backward', 'neuron', "o.backward() on the lecture's tanh neuron", LECTURE_NEURON)


def _diamond(x, name):
    s = name(x['a'] * 2.0, 's')
    p = name(s * 1.5, 'p')
    q = name(s + 4.0, 'q')
    return p * q


DIAMOND = Expression('s = a * 2; p = s * 1.5; q = s + 4; out = p * q with a = 0.7',
                     {'a': 0.7}, _diamond)
# Who uses whom in the diamond, for the order of the _backward calls.
DIAMOND_USERS = {'s': ['p', 'q'], 'p': ['out'], 'q': ['out'], 'out': []}


@check('backward', 'topological', "backward() calls each node's _backward once, output first")
def topological(mg):
    """Watch the _backward calls themselves, so this check does not depend on += (checkpoint reuse)."""
    calls, has_sets = _recorded_calls(mg, DIAMOND.build, {'a': 0.7}, None)
    if not has_sets:
        return {'calls': calls}
    first, _ = _recorded_calls(mg, DIAMOND.build, {'a': 0.7}, 0)
    second, _ = _recorded_calls(mg, DIAMOND.build, {'a': 0.7}, 1)
    return {'calls': first, 'set_orders': [second]}


def _recorded_calls(mg, build, inputs, order):
    """The labels of the nodes whose _backward out.backward() called, in order; and whether
    the graph keeps its children in sets (then `order` fixes their order, see force_set_order)."""
    calls = []
    nodes = {}

    def name(node, label):
        nodes[label] = node
        return node

    x = {label: leaf(mg, v, label) for label, v in inputs.items()}
    out = name(build(x, name), 'out')
    has_sets = force_set_order(out, order)
    for label, node in nodes.items():
        node._backward = _recording(node._backward, label, calls)
    out.backward()
    return calls, has_sets


def _recording(backward, label, calls):
    def wrapper():
        calls.append(label)
        return backward()
    return wrapper


@topological.judge
def _(obs):
    for other in obs.get('set_orders', []):
        try:
            _judge_topological({'calls': other})
        except Failed as f:
            try:
                _judge_topological(obs)
            except Failed:
                raise f from None
            raise Failed(f"{SET_ORDER}: with one order the calls were right, with the other:\n"
                         f"{f}") from None
    _judge_topological(obs)


def _judge_topological(obs):
    calls = obs['calls']
    how = (f"in the diamond {DIAMOND.text} (s is used by p and by q), out.backward() called "
           f"_backward of: {', '.join(calls) or 'none of them'}")
    for label in DIAMOND_USERS:
        n = calls.count(label)
        if n == 0:
            raise Failed(f"{how}.\n{label}._backward was never called.", diagnoses=['missed-node'])
        if n > 1:
            raise Failed(f"{how}.\n{label}._backward ran {n} times.", diagnoses=['ran-twice'])
    for label, users in DIAMOND_USERS.items():
        for user in users:
            if calls.index(user) > calls.index(label):
                raise Failed(f"{how}.\n{label}._backward ran before {user}._backward, so {label} "
                             f"had not yet received its gradient from {user}.",
                             diagnoses=['order'])


CHAIN_DEPTH = 500


def _chain(x, name):
    y = x['x']
    for _ in range(CHAIN_DEPTH):
        y = y * 1.001
    return y


expression_check(
    'backward', 'deep_chain', f"a chain of {CHAIN_DEPTH} multiplications",
    Expression(f'y = x, then y = y * 1.001 repeated {CHAIN_DEPTH} times, with x = 0.5',
               {'x': 0.5}, _chain, output='y', analytic={'x': 1.001 ** CHAIN_DEPTH, 'y': 1.0}))

# --------------------------------------------------------------------------------
# reuse: a node used more than once
# --------------------------------------------------------------------------------

expression_check(
    'reuse', 'a_plus_a', "b = a + a: a is used twice",
    Expression('b = a + a with a = 3', {'a': 3.0}, lambda x, name: x['a'] + x['a'],
               output='b', analytic={'a': 2.0, 'b': 1.0}))

expression_check(
    'reuse', 'a_times_a', "b = a * a: a is used twice",
    Expression('b = a * a with a = 3', {'a': 3.0}, lambda x, name: x['a'] * x['a'],
               output='b', analytic={'a': 6.0, 'b': 1.0}))


expression_check('reuse', 'diamond', "the diamond: s feeds both p and q", DIAMOND)

expression_check(
    'reuse', 'tanh_twice', "o = a.tanh() + a.tanh(): a feeds two tanh nodes",
    Expression('o = a.tanh() + a.tanh() with a = 0.5', {'a': 0.5},
               lambda x, name: x['a'].tanh() + x['a'].tanh(), output='o'))


def _shared(x, name):
    d = name(x['a'] * x['b'], 'd')
    e = name(x['a'] + x['b'], 'e')
    return d * e


expression_check(
    'reuse', 'shared_node', "the lecture's f = (a*b) * (a+b): a and b each feed two nodes",
    Expression('d = a * b; e = a + b; f = d * e with a = -2, b = 3',
               {'a': -2.0, 'b': 3.0}, _shared, output='f',
               analytic={'a': -3.0, 'b': -8.0, 'f': 1.0}))


# --------------------------------------------------------------------------------
# backward(): the order of the _backward calls where it decides the result
# --------------------------------------------------------------------------------


def _uneven(first):
    """b feeds c (deep) and the output itself (shallow): a breadth-first walk reaches b from
    the output before c has sent b its share."""
    def build(x, name):
        b = name(x['a'] * 2.0, 'b')
        c = name(b * 3.0, 'c')
        d = name(c + 1.0, 'd')
        return d + b if first == 'd' else b + d
    return build


UNEVEN = {'d + b': _uneven('d'), 'b + d': _uneven('b')}
UNEVEN_TEXT = 'b = a * 2; c = b * 3; d = c + 1; out = {} with a = 0.5'
UNEVEN_USERS = {'b': ['c', 'out'], 'c': ['d'], 'd': ['out'], 'out': []}


@check('backward', 'uneven_depths',
       "backward() on a node used both near the output and deep in the graph")
def uneven_depths(mg):
    runs = []
    for form, build in UNEVEN.items():
        calls, has_sets = _recorded_calls(mg, build, {'a': 0.5}, None)
        if has_sets:  # both forms are one set: judge it in both fixed orders instead
            for order in (0, 1):
                runs.append({'form': form, 'calls': _recorded_calls(mg, build, {'a': 0.5}, order)[0],
                             'set_order': order + 1})
        else:
            runs.append({'form': form, 'calls': calls})
    return runs


@uneven_depths.judge
def _(obs):
    for run in obs:
        calls = run['calls']
        how = (f"in {UNEVEN_TEXT.format(run['form'])} (b is used by c, deep in the graph, and by "
               f"out itself), out.backward() called _backward of: {', '.join(calls) or 'none'}")
        for label in UNEVEN_USERS:
            n = calls.count(label)
            if n != 1:
                raise Failed(f"{how}.\n{label}._backward ran {n} times; it should run once.")
        for label, users in UNEVEN_USERS.items():
            late = [u for u in users if calls.index(u) > calls.index(label)]
            if late:
                note = (f"{SET_ORDER}; in order {run['set_order']} of the two:\n"
                        if run.get('set_order') else '')
                raise Failed(
                    f"{note}{how}.\n{label}._backward ran before {late[0]}._backward, so {label} had "
                    f"not yet received its gradient from {late[0]}. Walking the graph level by "
                    f"level (breadth-first) is not enough: a node must come after every node "
                    f"that uses it, which a topological order guarantees.", diagnoses=['order'])

# --------------------------------------------------------------------------------
# reuse, over several backward() calls: graphs that share their inputs
# --------------------------------------------------------------------------------
# The inputs (leaves) keep adding up gradients over backward() calls, as the lecture's
# training loop relies on (it zeroes them itself before each backward()). Each graph here is
# new: calling backward() twice on one graph gives different interior grads in the lecture's
# engine and in PyTorch's semantics, and the course accepts both.

SHARED_A, SHARED_B = 0.5, -1.5


def _graph_grads(a, b):
    """{graph: (d/da, d/db)}, exactly, at a, b."""
    t = math.tanh(a + b)
    return {'g1': (b + 1.0, a), 'g2': ((1 - t * t) * a + t, (1 - t * t) * a),
            'g3': (2 * a, 3.0)}


SHARED_STEPS = [
    ('g1', 'g1 = a * b + a; g1.backward()'),
    ('g2', 'g2 = (a + b).tanh() * a; g2.backward()'),
    ('zero', 'a.grad = 0.0; b.grad = 0.0'),
    ('g3', 'g3 = a * a + b * 3; g3.backward()'),
    ('zero', 'a.grad = 0.0; b.grad = 0.0'),
    ('g1', 'g1 = a * b + a again, a new graph; g1.backward()'),
]


@check('reuse', 'several_graphs',
       "graphs that share inputs: grads add up over backward() calls until they are zeroed")
def several_graphs(mg):
    a, b = leaf(mg, SHARED_A, 'a'), leaf(mg, SHARED_B, 'b')
    build = {'g1': lambda: a * b + a, 'g2': lambda: (a + b).tanh() * a, 'g3': lambda: a * a + b * 3}
    seen = []
    for step, _ in SHARED_STEPS:
        if step == 'zero':
            a.grad = 0.0
            b.grad = 0.0
        else:
            build[step]().backward()
        seen.append([observe(a.grad), observe(b.grad)])
    return seen


def shared_expected():
    """The grads of a and b after each step of SHARED_STEPS."""
    grads = _graph_grads(SHARED_A, SHARED_B)
    now, out = [0.0, 0.0], []
    for step, _ in SHARED_STEPS:
        if step == 'zero':
            now = [0.0, 0.0]
        else:
            now = [now[0] + grads[step][0], now[1] + grads[step][1]]
        out.append(list(now))
    return out


@several_graphs.judge
def _(obs):
    want = shared_expected()
    grads = _graph_grads(SHARED_A, SHARED_B)
    lines, first_bad = [], None
    for i, ((step, text), w, g) in enumerate(zip(SHARED_STEPS, want, obs)):
        bad = not (close(g[0], w[0], rel=1e-6) and close(g[1], w[1], rel=1e-6))
        if bad and first_bad is None:
            first_bad = i
        lines.append(f"  {text:<48} a.grad {show(w[0]):>10} {show(g[0]):>10}   "
                     f"b.grad {show(w[1]):>10} {show(g[1]):>10}{'   <- wrong' if bad else ''}")
    if first_bad is None:
        return
    table = [f"  {'with a = 0.5, b = -1.5, one after the other':<48} {'':6} {'wanted':>10} "
             f"{'yours':>10}   {'':6} {'wanted':>10} {'yours':>10}"] + lines
    step = SHARED_STEPS[first_bad][0]
    got = obs[first_bad]
    notes = []
    if step != 'zero' and first_bad > 0 and SHARED_STEPS[first_bad - 1][0] != 'zero':
        alone = grads[step]
        if close(got[0], alone[0]) and close(got[1], alone[1]):
            notes.append(f"after {step}.backward() the inputs hold {step}'s gradients alone: "
                         f"what the earlier backward() had put in a.grad and b.grad was replaced, "
                         f"not added to.")
    if step != 'zero' and first_bad > 0 and SHARED_STEPS[first_bad - 1][0] == 'zero':
        if all(close(g, w + before_w) for g, w, before_w in zip(got, want[first_bad], want[first_bad - 2])):
            notes.append("the grads held before they were set to 0.0 came back: something "
                         "outlived the earlier backward() call.")
    raise Failed("a and b feed several graphs, each followed by its backward():\n"
                 + '\n'.join(table) + ('\n' + '\n'.join(notes) if notes else ''))
