"""Checks of the more_ops checkpoint: exp, powers, log and relu by hand, the composite
operations (tanh broken up, division, subtraction) through backward(), and each operation at
and near its boundary inputs.
"""

import math

from ..oracle import Expression
from .expressions import expression_check


# --------------------------------------------------------------------------------
# more_ops: exp, powers, log, relu by hand; the composite operations through backward()
# --------------------------------------------------------------------------------


def _one(text, inputs, build, likely=None):
    return Expression(text, inputs, build, output='out', likely=likely or {})


def _power(n, a):
    return _one(f'out = a ** {n} with a = {a:g}', {'a': a}, lambda x, name: x['a'] ** n, likely={
        'pow-n-minus-1': lambda v, s: {'a': n * v['a'] ** n * s},
        'pow-factor': lambda v, s: {'a': v['a'] ** (n - 1) * s},
    })


expression_check(
    'more_ops', 'exp', "_backward of exp",
    _one('out = a.exp() with a = 0.5', {'a': 0.5}, lambda x, name: x['a'].exp(),
         likely={'exp-input': lambda v, s: {'a': v['a'] * s}}),
    by_hand=['out'], seed=2.0)

expression_check(
    'more_ops', 'pow', "_backward of ** with a number exponent",
    [_power(3, 1.5), _power(0.5, 3.0), _power(-2, 0.8)],
    by_hand=['out'], seed=2.0)

expression_check(
    'more_ops', 'log', "_backward of log",
    _one('out = a.log() with a = 2.5', {'a': 2.5}, lambda x, name: x['a'].log()),
    by_hand=['out'], seed=2.0)

expression_check(
    'more_ops', 'relu', "_backward of relu, on both sides of 0",
    [_one('out = a.relu() with a = 1.5', {'a': 1.5}, lambda x, name: x['a'].relu()),
     _one('out = a.relu() with a = -0.5', {'a': -0.5}, lambda x, name: x['a'].relu(),
          likely={'relu-negative': lambda v, s: {'a': s}})],
    by_hand=['out'], seed=2.0)

expression_check(
    'more_ops', 'sub_neg', "subtraction and negation (built from + and *)",
    [_one('out = a - b with a = 5, b = 2', {'a': 5.0, 'b': 2.0}, lambda x, name: x['a'] - x['b']),
     _one('out = -a with a = 1.5', {'a': 1.5}, lambda x, name: -x['a'])])

expression_check(
    'more_ops', 'div', "division (a / b = a * b**-1)",
    _one('out = a / b with a = 3, b = -1.5', {'a': 3.0, 'b': -1.5},
         lambda x, name: x['a'] / x['b']))

expression_check(
    'more_ops', 'numbers_either_side', "a plain number on either side of an operator, and sum()",
    [_one('out = 2 * a with a = 1.5', {'a': 1.5}, lambda x, name: 2 * x['a']),
     _one('out = 1 - a with a = 1.5', {'a': 1.5}, lambda x, name: 1 - x['a']),
     _one('out = 1 + a with a = 1.5', {'a': 1.5}, lambda x, name: 1 + x['a']),
     _one('out = 2 / a with a = 1.5', {'a': 1.5}, lambda x, name: 2 / x['a']),
     _one('out = a / 2 + a - 1 with a = 1.5', {'a': 1.5}, lambda x, name: x['a'] / 2 + x['a'] - 1),
     _one('out = sum([a, b, c]) with a = 1, b = 2, c = 3', {'a': 1.0, 'b': 2.0, 'c': 3.0},
          lambda x, name: sum([x['a'], x['b'], x['c']]))])


expression_check(
    'more_ops', 'accumulate', "exp, ** , log and relu each add into .grad (+=)",
    [_one('out = a.exp() + a.exp() with a = 0.5', {'a': 0.5},
          lambda x, name: x['a'].exp() + x['a'].exp()),
     _one('out = a ** 3 + a ** 3 with a = 1.5', {'a': 1.5},
          lambda x, name: x['a'] ** 3 + x['a'] ** 3),
     _one('out = a.log() + a.log() with a = 2.5', {'a': 2.5},
          lambda x, name: x['a'].log() + x['a'].log()),
     _one('out = a.relu() + a.relu() with a = 1.5', {'a': 1.5},
          lambda x, name: x['a'].relu() + x['a'].relu())])


def _tanh_broken_up(x, name):
    e = name((2 * x['n']).exp(), 'e')
    return (e - 1) / (e + 1)


expression_check(
    'more_ops', 'tanh_broken_up', "tanh built from exp, - and /, agreeing with tanh",
    [_one('out = n.tanh() with n = 0.8813735870195432', {'n': 0.8813735870195432},
          lambda x, name: x['n'].tanh()),
     _one('e = (2*n).exp(); out = (e - 1) / (e + 1) with n = 0.8813735870195432',
          {'n': 0.8813735870195432}, _tanh_broken_up)])

# --------------------------------------------------------------------------------
# Each operation at and near its boundary inputs, where it is defined
# --------------------------------------------------------------------------------

expression_check(
    'ops_backward', 'at_zero', "_backward of +, * and tanh where an input is 0",
    [_one('out = n.tanh() with n = 0', {'n': 0.0}, lambda x, name: x['n'].tanh()),
     _one('out = a * b with a = 0, b = -3', {'a': 0.0, 'b': -3.0}, lambda x, name: x['a'] * x['b']),
     _one('out = a + b with a = 0, b = 0', {'a': 0.0, 'b': 0.0}, lambda x, name: x['a'] + x['b']),
     _one('out = n.tanh() with n = -20', {'n': -20.0}, lambda x, name: x['n'].tanh())],
    by_hand=['out'], seed=2.0)


def _at(text, a, build, slope):
    return Expression(f'{text} with a = {a:g}', {'a': a}, build, output='out',
                      analytic={'a': slope, 'out': 1.0})


expression_check(
    'more_ops', 'boundaries', "_backward of exp, **, log and relu at and near their edges",
    [_at('out = a.exp()', 0.0, lambda x, name: x['a'].exp(), 1.0),
     _at('out = a.exp()', -30.0, lambda x, name: x['a'].exp(), math.exp(-30.0)),
     _at('out = a ** 2', 0.0, lambda x, name: x['a'] ** 2, 0.0),
     _at('out = a ** 3', 0.0, lambda x, name: x['a'] ** 3, 0.0),
     _at('out = a ** 1', 0.0, lambda x, name: x['a'] ** 1, 1.0),
     _at('out = a ** 0', 2.0, lambda x, name: x['a'] ** 0, 0.0),
     _at('out = a ** 0.5', 1e-4, lambda x, name: x['a'] ** 0.5, 0.5 / 1e-2),
     _at('out = a.log()', 1.0, lambda x, name: x['a'].log(), 1.0),
     _at('out = a.relu()', 1e-9, lambda x, name: x['a'].relu(), 1.0),
     _at('out = a.relu()', -1e-9, lambda x, name: x['a'].relu(), 0.0)],
    by_hand=['out'], seed=2.0)
