"""Random expression programs, for property-based gradient checks.

A program is plain data (it survives json.dumps / json.loads unchanged):

    {'inputs': [['a', 0.5], ['b', -1.2]],
     'steps':  [['d', 'mul', ['a', 'b'], None],
                ['e', 'num_sub', ['d'], 2.0]]}

Each step is [label, opname, operand labels, constant or None]: `e = 2.0 - d`. The last
step is the output; a program without steps outputs its last input. Inputs are labelled
'a', 'b', 'c'; steps 'd', 'e', 'f', ... (single letters).

From a program this module makes an oracle.Expression (to_expression), a snippet a student
can paste into a notebook (to_code) and PyTorch's gradients (torch_gradients, a second
oracle). `programs()` is a hypothesis strategy that only writes operations where they are
well defined and smooth enough for central differences to be accurate.
"""

import math
from dataclasses import dataclass
from typing import Callable, Optional, Tuple

from .oracle import Expression, F

# --------------------------------------------------------------------------------
# The operations
# --------------------------------------------------------------------------------

NUMBERS = (2.0, 0.5, -1.5, 3.0)        # the plain numbers that appear beside a node
EXPONENTS = (2, 3, -1, -2, 0.5)        # the exponents of `x ** n`

MAX_ABS = 30.0       # every node's value stays within +-MAX_ABS
MIN_DENOM = 0.2      # |denominator| of a division, |base| of a negative power
MIN_LOG = 0.2        # argument of log and of a fractional power
RELU_MARGIN = 0.05   # relu's argument stays this far from its kink at 0
MAX_EXP = 3.0        # argument of exp


@dataclass(frozen=True)
class Op:
    """One operation of the programs.

    arity: how many nodes it takes. template: how it reads in Python, with {0}, {1} for
    the operands and {c} for the constant. fn(*nodes) or fn(*nodes, c): computes it on any
    Value-like object (the student's Value, oracle.F). consts: the constants it may take,
    or None. ok(values, c): whether the operation is well defined and smooth enough at
    these operand values (plain floats).
    """
    arity: int
    template: str
    fn: Callable
    consts: Optional[Tuple] = None
    ok: Callable = lambda values, c: True


def _away_from_zero(i):
    return lambda values, c: abs(values[i]) > MIN_DENOM


def _pow_ok(values, c):
    x = values[0]
    if isinstance(c, float) and not c.is_integer():
        return x > MIN_LOG                  # a fractional power needs a positive base
    if c < 0:
        return abs(x) > MIN_DENOM           # a negative power divides by the base
    return True


# In order from the simplest: hypothesis shrinks toward the first valid entry.
OPS = {
    'add': Op(2, '{0} + {1}', lambda x, y: x + y),
    'mul': Op(2, '{0} * {1}', lambda x, y: x * y),
    'sub': Op(2, '{0} - {1}', lambda x, y: x - y),
    'neg': Op(1, '-{0}', lambda x: -x),
    'add_num': Op(1, '{0} + {c}', lambda x, c: x + c, NUMBERS),
    'num_add': Op(1, '{c} + {0}', lambda x, c: c + x, NUMBERS),
    'mul_num': Op(1, '{0} * {c}', lambda x, c: x * c, NUMBERS),
    'num_mul': Op(1, '{c} * {0}', lambda x, c: c * x, NUMBERS),
    'sub_num': Op(1, '{0} - {c}', lambda x, c: x - c, NUMBERS),
    'num_sub': Op(1, '{c} - {0}', lambda x, c: c - x, NUMBERS),
    'div_num': Op(1, '{0} / {c}', lambda x, c: x / c, NUMBERS),
    'tanh': Op(1, '{0}.tanh()', lambda x: x.tanh()),
    'relu': Op(1, '{0}.relu()', lambda x: x.relu(),
               ok=lambda values, c: abs(values[0]) > RELU_MARGIN),
    'exp': Op(1, '{0}.exp()', lambda x: x.exp(), ok=lambda values, c: values[0] < MAX_EXP),
    'pow': Op(1, '{0} ** {c}', lambda x, c: x ** c, EXPONENTS, ok=_pow_ok),
    'div': Op(2, '{0} / {1}', lambda x, y: x / y, ok=_away_from_zero(1)),
    'num_div': Op(1, '{c} / {0}', lambda x, c: c / x, NUMBERS, ok=_away_from_zero(0)),
    'log': Op(1, '{0}.log()', lambda x: x.log(), ok=lambda values, c: values[0] > MIN_LOG),
}

OP_NAMES = tuple(OPS)

INPUT_LABELS = ('a', 'b', 'c')
# 'l' and 'o' are left out: they read like 1 and 0 in a notebook.
STEP_LETTERS = tuple(ch for ch in 'defghijklmnopqrstuvwxyz' if ch not in 'lo')


def apply(opname, operands, const=None):
    """Compute one step on Value-like operands (Value, F, ...)."""
    op = OPS[opname]
    if op.consts is None:
        return op.fn(*operands)
    return op.fn(*operands, const)


def _try(opname, values, const):
    """The step's value on plain floats, or None where the programs must not use it."""
    op = OPS[opname]
    if not op.ok(values, const):
        return None
    try:
        v = apply(opname, [F(x) for x in values], const).v
    except (ArithmeticError, ValueError, TypeError):   # TypeError: F refuses a complex
        return None
    if not math.isfinite(v) or abs(v) > MAX_ABS:
        return None
    return v


# --------------------------------------------------------------------------------
# Reading a program
# --------------------------------------------------------------------------------

def output_label(program):
    steps = program['steps']
    return steps[-1][0] if steps else program['inputs'][-1][0]


def program_size(program):
    """How many nodes the program has: inputs plus steps."""
    return len(program['inputs']) + len(program['steps'])


def step_code(step):
    """The right-hand side of one step as Python, e.g. 'd * a' or '2.0 - d'."""
    _, opname, operands, const = step
    return OPS[opname].template.format(*operands, c=repr(const))


def describe(program):
    """One line: 'd = a * b; e = 2.0 - d with a = 0.5, b = -1.2'."""
    inputs = ', '.join(f'{label} = {value!r}' for label, value in program['inputs'])
    steps = '; '.join(f'{step[0]} = {step_code(step)}' for step in program['steps'])
    if not steps:
        return f'{output_label(program)} alone, with {inputs}'
    return f'{steps} with {inputs}'


def _new_label(taken):
    for ch in STEP_LETTERS:
        if ch not in taken:
            return ch
    raise ValueError('a program has at most %d steps' % len(STEP_LETTERS))


# --------------------------------------------------------------------------------
# What a program becomes
# --------------------------------------------------------------------------------

def to_expression(program):
    """The program as an oracle.Expression, to build with any Value-like class.

    Every step but the last is labelled through name(); the last one is the output, which
    the caller of build() names itself (naming it twice would nudge it twice in the
    oracle's central differences).
    """
    steps = [list(s) for s in program['steps']]
    out = output_label(program)

    def build(x, name):
        nodes = dict(x)
        result = None if steps else nodes[out]
        for i, (label, opname, operands, const) in enumerate(steps):
            result = apply(opname, [nodes[o] for o in operands], const)
            if i < len(steps) - 1:
                result = name(result, label)
            nodes[label] = result
        return result

    # Without steps the output is an input, and forward() nudges it twice (as a leaf and
    # as the output): its gradient, 1, is given instead.
    analytic = {} if steps else {out: 1.0}
    return Expression(describe(program), {label: float(v) for label, v in program['inputs']},
                      build, output=out, analytic=analytic)


def to_code(program, value_name='Value'):
    """Python to paste into a notebook after `from micrograd_skeleton import Value`."""
    lines = [f'{label} = {value_name}({float(value)!r}, label={label!r})'
             for label, value in program['inputs']]
    for step in program['steps']:
        label = step[0]
        lines.append(f'{label} = {step_code(step)}; {label}.label = {label!r}')
    lines.append(f'{output_label(program)}.backward()')
    return '\n'.join(lines) + '\n'


def torch_gradients(program):
    """d(output)/d(node) for every input and step, by PyTorch in float64."""
    import torch

    def const(c):
        return torch.tensor(float(c), dtype=torch.float64)

    by_op = {
        'add': lambda x, y: torch.add(x, y),
        'mul': lambda x, y: torch.mul(x, y),
        'sub': lambda x, y: torch.sub(x, y),
        'neg': lambda x: torch.neg(x),
        'add_num': lambda x, c: torch.add(x, const(c)),
        'num_add': lambda x, c: torch.add(const(c), x),
        'mul_num': lambda x, c: torch.mul(x, const(c)),
        'num_mul': lambda x, c: torch.mul(const(c), x),
        'sub_num': lambda x, c: torch.sub(x, const(c)),
        'num_sub': lambda x, c: torch.sub(const(c), x),
        'div_num': lambda x, c: torch.div(x, const(c)),
        'tanh': lambda x: torch.tanh(x),
        'relu': lambda x: torch.relu(x),
        'exp': lambda x: torch.exp(x),
        'pow': lambda x, c: torch.pow(x, c),
        'div': lambda x, y: torch.div(x, y),
        'num_div': lambda x, c: torch.div(const(c), x),
        'log': lambda x: torch.log(x),
    }
    missing = set(OPS) - set(by_op)
    assert not missing, f'no torch form for {sorted(missing)}'

    nodes = {}
    for label, value in program['inputs']:
        nodes[label] = torch.tensor(float(value), dtype=torch.float64, requires_grad=True)
    for label, opname, operands, c in program['steps']:
        args = [nodes[o] for o in operands]
        if OPS[opname].consts is not None:
            args.append(c)
        t = by_op[opname](*args)
        t.retain_grad()
        nodes[label] = t
    nodes[output_label(program)].backward()
    return {label: (t.grad.item() if t.grad is not None else 0.0) for label, t in nodes.items()}


# --------------------------------------------------------------------------------
# The strategy
# --------------------------------------------------------------------------------

def programs(max_steps=6, min_steps=1, max_inputs=3):
    """A hypothesis strategy: random programs of 1 to max_inputs inputs and min_steps to
    max_steps steps (drawn by _draw_program)."""
    # Imported here: only the grader draws programs; the student's side (the worker) builds
    # what it is given and never needs hypothesis (0.3 s of every worker's start).
    from hypothesis import strategies as st

    if not 0 <= min_steps <= max_steps <= len(STEP_LETTERS):
        raise ValueError(f'need 0 <= min_steps <= max_steps <= {len(STEP_LETTERS)}')
    if not 1 <= max_inputs <= len(INPUT_LABELS):
        raise ValueError(f'need 1 <= max_inputs <= {len(INPUT_LABELS)}')
    return st.composite(_draw_program)(max_steps, min_steps, max_inputs)


def _draw_program(draw, max_steps, min_steps, max_inputs):
    """One program of 1 to max_inputs inputs and min_steps to max_steps steps.

    Values are followed with oracle.F while the program is written, and each step picks
    among the operations valid at its operands (see OPS' ok and MAX_ABS), so no draw is
    ever thrown away. A step's first operand is a node no step uses yet (so most nodes
    reach the output), its second any earlier node, input or step: reuse (a * a, d feeding
    two later steps) is common. Shrinking goes toward
    fewer inputs and steps, 'a' as the operand, the first operations of OPS and the first
    constants, and inputs of small size.
    """
    from hypothesis import strategies as st

    n_inputs = draw(st.integers(1, max_inputs))
    inputs = []
    # A value is drawn for every slot, used or not, so that dropping an input does not
    # shift the draws that follow (which would keep the shrinker from dropping it).
    for label in INPUT_LABELS[:max_inputs]:
        size = draw(st.integers(1, 20))          # tenths: 0.1 ... 2.0
        negative = draw(st.booleans())
        inputs.append([label, (-size if negative else size) / 10])
    inputs = inputs[:n_inputs]

    labels = [label for label, _ in inputs]
    values = [value for _, value in inputs]
    steps = []
    used = set()          # indices of the nodes some step takes as an operand
    for n in range(max_steps):
        # "One more step?" before each step beyond min_steps, as hypothesis's own lists do:
        # the shrinker can then drop any single step. 0 (stop) is where it shrinks to; the
        # other three values keep going, for programs of a few steps on average.
        if n >= min_steps and draw(st.integers(0, 3)) == 0:
            break
        # The first operand is a node no step uses yet, newest first: that keeps most
        # nodes on the way to the output (the newest node is always unused, so there is
        # one). The second is any earlier node, counted from 'a': inputs and interior
        # nodes alike get used again.
        unused = [k for k in reversed(range(len(labels))) if k not in used]
        i = unused[draw(st.integers(0, len(unused) - 1))]
        j = draw(st.integers(0, len(labels) - 1))   # unused by one-operand operations
        chosen = [i, j]

        # For each operation, the constants (None for none) at which it is valid here.
        usable = []
        for opname in OP_NAMES:
            op = OPS[opname]
            operand_values = [values[k] for k in chosen[:op.arity]]
            consts = op.consts if op.consts is not None else (None,)
            good = [c for c in consts if _try(opname, operand_values, c) is not None]
            if good:
                usable.append((opname, good))
        # 'neg' is valid everywhere (|-x| = |x|), so usable is never empty.
        opname, good = usable[draw(st.integers(0, len(usable) - 1))]
        const = good[draw(st.integers(0, len(good) - 1))]

        arity = OPS[opname].arity
        label = _new_label(labels)
        operands = [labels[k] for k in chosen[:arity]]
        value = _try(opname, [values[k] for k in chosen[:arity]], const)
        steps.append([label, opname, operands, const])
        used.update(chosen[:arity])
        labels.append(label)
        values.append(value)

    return {'inputs': inputs, 'steps': steps}
