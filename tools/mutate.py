"""Mutation testing of the graded battery: does it catch every small change of a correct engine?

    .venv/bin/python tools/mutate.py                      # solutions/ and bench/lecture_style/
    .venv/bin/python tools/mutate.py --impl solutions     # one implementation
    .venv/bin/python tools/mutate.py --list               # the mutants, without running them
    options: --jobs N (processes, at most 2 by default), --timeout S (per mutant, 120),
             --only TEXT (mutants whose id contains TEXT), --json FILE (every outcome)

Why a generator of our own rather than mutmut or cosmic-ray: both mutate whole files or
whole functions, and run a test command per mutant. Here only the code between
`### BEGIN SOLUTION` and `### END SOLUTION` is the student's to write (the rest is given,
and a mutant there says nothing about the battery), and the "test" is the battery run in
this process (`harness.run`, ~3 s), not a pytest command. Marking regions for mutmut would
mean pragma comments on every given line. The operator set is the standard one, applied
with Python's own `ast`:

  binop     an arithmetic operator replaced (+ -, * /, ** *)
  compare   a comparison replaced (> >=, > <, == !=, in / not in, is / is not)
  const     a number changed (c + 1, and 0 for c != 0), True <-> False
  augassign `+=` to `=`, `+=` to `-=`, `-=` to `+=`
  delete    a statement replaced by `pass`
  swap      the operands of - / ** swapped, the two arguments of a call swapped
  cond      a conditional removed: an `if` or `x if c else y` reduced to one branch
  unary     a unary minus or `not` removed
  loop      a loop that runs over nothing, or over its items in reverse
  return    `return x` to `return None`
  attr      `.data` <-> `.grad` (the value where its gradient belongs, and back)
  name      `self`, `other`, `out` replaced by another of them (the wrong node's value)

Each mutant is written to a temporary copy of the implementation and graded with the
battery's checks in course order, in a process of its own (at most --jobs at a time, each
with a timeout); it is killed by the first check that fails. A surviving mutant is either a
hole in the battery or equivalent to the original: tools/equivalent_mutants.toml lists the
equivalent ones, each with one line on why, and they do not count.
"""

import argparse
import ast
import copy
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'grader'))

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

BEGIN, END = '### BEGIN SOLUTION', '### END SOLUTION'
IMPLEMENTATIONS = {'solutions': ROOT / 'solutions', 'lecture_style': ROOT / 'bench' / 'lecture_style'}
FILES = ('engine.py', 'nn.py', 'train.py')
EQUIVALENT = Path(__file__).resolve().parent / 'equivalent_mutants.toml'


# --------------------------------------------------------------------------------
# Finding the regions and the mutation points
# --------------------------------------------------------------------------------

def regions(source):
    """[(first line, last line)] of the code between the markers, 1-based, inclusive."""
    out, start = [], None
    for number, line in enumerate(source.splitlines(), 1):
        if line.strip() == BEGIN:
            start = number + 1
        elif line.strip() == END and start is not None:
            out.append((start, number - 1))
            start = None
    return out


BINOPS = {ast.Add: [ast.Sub], ast.Sub: [ast.Add], ast.Mult: [ast.Div, ast.Add],
          ast.Div: [ast.Mult], ast.Pow: [ast.Mult]}
CMPOPS = {ast.Gt: [ast.GtE, ast.Lt], ast.GtE: [ast.Gt, ast.Lt], ast.Lt: [ast.LtE, ast.Gt],
          ast.LtE: [ast.Lt, ast.Gt], ast.Eq: [ast.NotEq], ast.NotEq: [ast.Eq],
          ast.In: [ast.NotIn], ast.NotIn: [ast.In], ast.Is: [ast.IsNot], ast.IsNot: [ast.Is]}
AUGOPS = {ast.Add: ['=', ast.Sub], ast.Sub: ['=', ast.Add], ast.Mult: ['=', ast.Div]}
SYMBOL = {ast.Add: '+', ast.Sub: '-', ast.Mult: '*', ast.Div: '/', ast.Pow: '**',
          ast.Gt: '>', ast.GtE: '>=', ast.Lt: '<', ast.LtE: '<=', ast.Eq: '==',
          ast.NotEq: '!=', ast.In: 'in', ast.NotIn: 'not in', ast.Is: 'is', ast.IsNot: 'is not'}


@dataclass
class Point:
    """One way to change one node: `apply(node)` returns the replacement node."""
    operator: str
    detail: str
    node: ast.AST
    apply: object
    qualname: str
    line: int


SWAPPABLE_NAMES = ('self', 'other', 'out')


def _mutations(node, names=()):
    """(operator, detail, function node -> new node) for one AST node; names: the names the
    enclosing method uses, for the name operator."""
    out = []
    if isinstance(node, ast.Attribute) and node.attr in ('data', 'grad'):
        new = 'grad' if node.attr == 'data' else 'data'
        out.append(('attr', f".{node.attr} -> .{new}", lambda n, new=new: _with(n, attr=new)))
    if isinstance(node, ast.Name) and node.id in SWAPPABLE_NAMES:
        for new in SWAPPABLE_NAMES:
            if new != node.id and new in names:
                out.append(('name', f"{node.id} -> {new}", lambda n, new=new: _with(n, id=new)))
    if isinstance(node, ast.BinOp) and type(node.op) in BINOPS:
        for new in BINOPS[type(node.op)]:
            out.append(('binop', f"{SYMBOL[type(node.op)]} -> {SYMBOL[new]}",
                        lambda n, new=new: _with(n, op=new())))
        if isinstance(node.op, (ast.Sub, ast.Div, ast.Pow)):
            out.append(('swap', 'operands swapped',
                        lambda n: _with(n, left=n.right, right=n.left)))
    elif isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in CMPOPS:
        for new in CMPOPS[type(node.ops[0])]:
            out.append(('compare', f"{SYMBOL[type(node.ops[0])]} -> {SYMBOL[new]}",
                        lambda n, new=new: _with(n, ops=[new()])))
    elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
        out.append(('const', f"{node.value} -> {not node.value}",
                    lambda n: ast.Constant(not n.value)))
    elif isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        out.append(('const', f"{node.value!r} -> {node.value + 1!r}",
                    lambda n: ast.Constant(n.value + 1)))
        if node.value != 0:
            out.append(('const', f"{node.value!r} -> 0", lambda n: ast.Constant(type(n.value)(0))))
    elif isinstance(node, ast.AugAssign) and type(node.op) in AUGOPS:
        for new in AUGOPS[type(node.op)]:
            if new == '=':
                out.append(('augassign', f"{SYMBOL[type(node.op)]}= -> =",
                            lambda n: ast.Assign(targets=[n.target], value=n.value,
                                                 lineno=n.lineno)))
            else:
                out.append(('augassign', f"{SYMBOL[type(node.op)]}= -> {SYMBOL[new]}=",
                            lambda n, new=new: _with(n, op=new())))
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.Not)):
        out.append(('unary', f"{'-' if isinstance(node.op, ast.USub) else 'not'} removed",
                    lambda n: n.operand))
    elif isinstance(node, ast.IfExp):
        out.append(('cond', 'only the true branch', lambda n: n.body))
        out.append(('cond', 'only the false branch', lambda n: n.orelse))
    elif isinstance(node, ast.Call) and len(node.args) == 2 and not node.keywords:
        out.append(('swap', 'arguments swapped',
                    lambda n: _with(n, args=[n.args[1], n.args[0]])))
    if isinstance(node, ast.If):
        out.append(('cond', 'condition removed (body always runs)',
                    lambda n: ast.If(test=ast.Constant(True), body=n.body, orelse=[])))
        out.append(('cond', 'condition never true',
                    lambda n: ast.If(test=ast.Constant(False), body=[ast.Pass()],
                                     orelse=n.orelse or [ast.Pass()])))
    if isinstance(node, ast.For):
        out.append(('loop', 'runs over nothing', lambda n: _with(n, iter=ast.List([], ast.Load()))))
        out.append(('loop', 'runs in reverse',
                    lambda n: _with(n, iter=_call('reversed', _call('list', n.iter)))))
    if isinstance(node, ast.While):
        out.append(('loop', 'never runs', lambda n: _with(n, test=ast.Constant(False))))
    if isinstance(node, ast.Return) and node.value is not None and not (
            isinstance(node.value, ast.Constant) and node.value.value is None):
        out.append(('return', 'returns None', lambda n: ast.Return(ast.Constant(None))))
    if isinstance(node, ast.stmt) and not isinstance(node, (ast.FunctionDef, ast.Pass)):
        out.append(('delete', 'statement deleted', lambda n: ast.Pass()))
    return out


def _with(node, **fields):
    new = copy.copy(node)
    for k, v in fields.items():
        setattr(new, k, v)
    return new


def _call(name, arg):
    return ast.Call(ast.Name(name, ast.Load()), [arg], [])


def points(source):
    """Every mutation point inside the solution regions of one file, in source order."""
    tree = ast.parse(source)
    spans = regions(source)
    found = []

    def inside(node):
        return any(a <= node.lineno and node.end_lineno <= b for a, b in spans)

    def walk(node, qual, names):
        for child in ast.iter_child_nodes(node):
            q, scope = qual, names
            if isinstance(child, (ast.FunctionDef, ast.ClassDef)):
                q = f"{qual}.{child.name}" if qual else child.name
                if isinstance(child, ast.FunctionDef) and isinstance(node, ast.ClassDef):
                    scope = {n.id for n in ast.walk(child) if isinstance(n, ast.Name)}
                    scope |= {a.arg for a in ast.walk(child) if isinstance(a, ast.arg)}
            if hasattr(child, 'lineno') and inside(child):
                for operator, detail, apply in _mutations(child, scope):
                    found.append(Point(operator, detail, child, apply, q, child.lineno))
            walk(child, q, scope)

    walk(tree, '', set())
    return tree, found


@dataclass
class Mutant:
    id: str            # stable: implementation, file, function, operator, the code changed
    impl: str
    file: str
    line: int
    qualname: str
    operator: str
    detail: str
    code: str          # the original code of the node changed
    mutated: str = ''  # the same node, changed
    source: str = field(default='', repr=False)  # the whole mutated file


def mutants(impl):
    """Every mutant of one implementation ('solutions' or 'lecture_style')."""
    folder = IMPLEMENTATIONS[impl]
    out, seen = [], {}
    for name in FILES:
        source = (folder / name).read_text(encoding='utf-8')
        _, found = points(source)
        for index, p in enumerate(found):
            tree, again = points(source)  # a fresh tree per mutant
            target = again[index]
            new = target.apply(target.node)
            _replace(tree, target.node, new)
            ast.fix_missing_locations(tree)
            code = ast.get_source_segment(source, target.node) or ast.unparse(target.node)
            code = ' '.join(code.split())
            if len(code) > 80:
                code = code[:77] + '...'
            key = f"{impl}/{name}::{p.qualname}::{p.operator}::{p.detail}::{code}"
            seen[key] = seen.get(key, 0) + 1
            if seen[key] > 1:
                key += f"::#{seen[key]}"
            out.append(Mutant(key, impl, name, p.line, p.qualname, p.operator, p.detail, code,
                              ' '.join(ast.unparse(new).split())[:80], ast.unparse(tree)))
    return out


def _replace(tree, old, new):
    for parent in ast.walk(tree):
        for name, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, name, new)
                return
            if isinstance(value, list):
                for i, item in enumerate(value):
                    if item is old:
                        value[i] = new
                        return
    raise ValueError('node not found')


# --------------------------------------------------------------------------------
# Running them
# --------------------------------------------------------------------------------

def grade(folder):
    """The battery in course order, stopped at the first failing check: its outcome."""
    from mgcourse.battery import harness
    loaded = harness.Loaded(folder)
    if loaded.error is not None:
        return {'killed': True, 'by': 'import', 'checkpoint': None, 'kind': 'import',
                'diagnoses': [], 'message': loaded.error.message}
    for entry in harness.selected():
        r = harness.run_one(entry, loaded)
        if not r.passed:
            return {'killed': True, 'by': r.id, 'checkpoint': r.checkpoint, 'kind': r.error,
                    'diagnoses': list(r.diagnoses), 'message': r.message}
    return {'killed': False, 'by': None, 'checkpoint': None, 'kind': None, 'diagnoses': [],
            'message': ''}


def _child(mutant, conn):
    import resource
    resource.setrlimit(resource.RLIMIT_AS, (2 * 2 ** 30, 2 * 2 ** 30))
    sys.setrecursionlimit(5000)
    with tempfile.TemporaryDirectory(prefix='mutant-') as tmp:
        folder = Path(tmp) / 'impl'
        shutil.copytree(IMPLEMENTATIONS[mutant.impl], folder,
                        ignore=shutil.ignore_patterns('__pycache__'))
        (folder / mutant.file).write_text(mutant.source, encoding='utf-8')
        try:
            outcome = grade(folder)
        except BaseException as e:  # noqa: BLE001 - the battery itself broke: say so
            outcome = {'killed': False, 'by': None, 'checkpoint': None, 'kind': 'crash',
                       'diagnoses': [], 'message': f"the battery raised {e!r}"}
    conn.send(outcome)
    conn.close()


def run_all(items, jobs=2, timeout=120, progress=None):
    """{mutant id: outcome}, grading at most `jobs` mutants at a time, each in a fork."""
    ctx = multiprocessing.get_context('fork')
    pending = list(items)
    running = {}
    results = {}
    while pending or running:
        while pending and len(running) < jobs:
            m = pending.pop(0)
            parent, child = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_child, args=(m, child), daemon=True)
            proc.start()
            child.close()
            running[m.id] = (m, proc, parent, time.monotonic())
        time.sleep(0.05)
        for key, (m, proc, conn, started) in list(running.items()):
            outcome = None
            if conn.poll():
                try:
                    outcome = conn.recv()
                except EOFError:
                    outcome = None
                proc.join(5)
            elif not proc.is_alive():
                outcome = {'killed': True, 'by': 'crash', 'checkpoint': None, 'kind': 'crash',
                           'diagnoses': [], 'message': f"exit code {proc.exitcode}"}
            elif time.monotonic() - started > timeout:
                proc.kill()
                proc.join()
                outcome = {'killed': True, 'by': 'timeout', 'checkpoint': None,
                           'kind': 'timeout', 'diagnoses': [], 'message': f"over {timeout} s"}
            else:
                continue
            if outcome is None:
                outcome = {'killed': True, 'by': 'crash', 'checkpoint': None, 'kind': 'crash',
                           'diagnoses': [], 'message': 'no answer'}
            if proc.is_alive():
                proc.kill()
                proc.join()
            conn.close()
            del running[key]
            results[key] = outcome
            if progress:
                progress(m, outcome, len(results))
    return results


def equivalent():
    """{mutant id: why it behaves as the original}, from tools/equivalent_mutants.toml."""
    if not EQUIVALENT.exists():
        return {}
    with open(EQUIVALENT, 'rb') as f:
        data = tomllib.load(f)
    return {e['id']: e['why'] for e in data.get('equivalent', [])}


def summary(ms, results, equiv):
    """Per implementation: mutants, equivalent, killed, survived, score (killed / non-equivalent)."""
    out = {}
    for impl in dict.fromkeys(m.impl for m in ms):
        mine = [m for m in ms if m.impl == impl]
        eq = [m for m in mine if m.id in equiv]
        rest = [m for m in mine if m.id not in equiv]
        killed = [m for m in rest if results[m.id]['killed']]
        out[impl] = {'mutants': len(mine), 'equivalent': len(eq), 'killed': len(killed),
                     'survived': [m.id for m in rest if not results[m.id]['killed']],
                     'score': round(100 * len(killed) / len(rest), 1) if rest else 100.0}
    return out


# --------------------------------------------------------------------------------
# Measuring the first failure: where it is, and what its diagnosis names
# --------------------------------------------------------------------------------
# Where each diagnosis of mistakes.toml places the mistake: the functions a mutant must be in
# for the diagnosis to be right. The ids not listed name no cause (they say what the numbers
# show: negative, double, half, zero).

WHERE = {
    'overwrite': ('._backward',), 'chain-rule': ('._backward',), 'not-a-number': ('._backward',),
    'ran-twice': ('Value.backward',), 'order': ('Value.backward',),
    'missed-node': ('Value.backward',), 'seed': ('Value.backward',),
    'seed-everywhere': ('Value.backward',),
    'mul-own-data': ('__mul__._backward',), 'pow-n-minus-1': ('__pow__._backward',),
    'pow-factor': ('__pow__._backward',), 'tanh-input': ('tanh._backward',),
    'exp-input': ('exp._backward',), 'relu-negative': ('relu._backward',),
    'reflected': ('__radd__', '__rmul__', '__rsub__', '__rtruediv__'),
    'reflected-add': ('__radd__',), 'reflected-sub': ('__rsub__',),
    'reflected-mul': ('__rmul__',), 'reflected-div': ('__rtruediv__',),
    'neuron-no-bias': ('Neuron.__call__',), 'neuron-no-activation': ('Neuron.__call__',),
    'nonlin-ignored': ('Neuron.__call__',),
    'not-chained': ('MLP.__call__',), 'loss-form': ('mse_loss',),
    'params-no-bias': ('parameters',), 'params-bias-first': ('parameters',),
    'no-zero-grad': ('zero_grad', 'train'), 'update-sign': ('train',),
    'zero-grad-data': ('zero_grad',), 'loss-rises': ('train', 'zero_grad'),
}
NUMBERS_ONLY = {'negative', 'double', 'half', 'zero'}

# The checkpoint each function of the solution regions belongs to; a `+=` made `=` in a
# _backward belongs to reuse (lecture 01:22:28), wherever the operation is.
OWN = {'__add__': 'ops_backward', '__mul__': 'ops_backward', 'tanh': 'ops_backward',
       '__pow__': 'more_ops', 'exp': 'more_ops', 'log': 'more_ops', 'relu': 'more_ops',
       'backward': 'backward', 'Neuron.__call__': 'mlp', 'Layer.__call__': 'mlp',
       'MLP.__call__': 'mlp', 'mse_loss': 'loss', 'parameters': 'parameters',
       'zero_grad': 'training', 'train': 'training'}


def own_checkpoints(m):
    """The checkpoints where a mutant of this function may rightly fail first."""
    if m.operator == 'augassign' and m.detail == '+= -> =' and '_backward' in m.qualname:
        return {'reuse', 'more_ops'}
    for key, cp in OWN.items():
        parts = m.qualname.split('.')
        if key in parts or key == '.'.join(parts[-2:]) or m.qualname.endswith(key):
            # state kept between backward() calls shows only over several graphs (reuse)
            return {cp, 'reuse'} if cp == 'backward' else {cp}
    return set()


def _right(diagnosis, m):
    """Whether a diagnosis can be right about this mutant: its function, and for the ones
    that name one kind of change, that change."""
    if not any(w in m.qualname for w in WHERE.get(diagnosis, ())):
        return False
    if diagnosis == 'overwrite':
        return m.operator == 'augassign' and m.detail.endswith('-> =')
    if diagnosis == 'not-a-number':
        return m.operator in ('attr', 'name', 'delete')
    return True


def measure(ms, results, equiv):
    """First failures: in their own checkpoint or not; diagnoses named right, wrong, none."""
    table = {'own_checkpoint': 0, 'elsewhere': [], 'named_right': 0, 'named_wrong': [],
             'numbers_only': 0}
    for m in ms:
        r = results[m.id]
        if m.id in equiv or not r['killed'] or r['by'] in ('import', 'timeout', 'crash'):
            continue
        if r['checkpoint'] in own_checkpoints(m):
            table['own_checkpoint'] += 1
        else:
            table['elsewhere'].append(f"{m.id} -> {r['by']}")
        causes = [d for d in r['diagnoses'] if d not in NUMBERS_ONLY]
        if not causes:
            table['numbers_only'] += 1
        elif all(_right(d, m) for d in causes):
            table['named_right'] += 1
        else:
            table['named_wrong'].append(f"{m.id} -> {', '.join(causes)}")
    return table


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--impl', choices=sorted(IMPLEMENTATIONS), action='append')
    ap.add_argument('--jobs', type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument('--timeout', type=float, default=120)
    ap.add_argument('--only', default='')
    ap.add_argument('--list', action='store_true')
    ap.add_argument('--json')
    args = ap.parse_args(argv)
    ms = [m for impl in (args.impl or list(IMPLEMENTATIONS)) for m in mutants(impl)
          if args.only in m.id]
    equiv = equivalent()
    if args.list:
        for m in ms:
            print(f"{m.id}  (line {m.line}: {m.code}  ->  {m.mutated})"
                  + ('  [equivalent]' if m.id in equiv else ''))
        print(f"{len(ms)} mutants")
        return 0
    unknown = sorted(set(equiv) - {m.id for m in mutants('solutions') + mutants('lecture_style')})
    for key in unknown:
        print(f"warning: {EQUIVALENT.name} lists a mutant that no longer exists: {key}",
              file=sys.stderr)

    def progress(m, outcome, done):
        mark = 'killed by ' + str(outcome['by']) if outcome['killed'] else 'SURVIVED'
        if m.id in equiv and not outcome['killed']:
            mark = 'survived (equivalent)'
        print(f"[{done}/{len(ms)}] {mark}: {m.id}", file=sys.stderr, flush=True)

    results = run_all(ms, jobs=max(1, args.jobs), timeout=args.timeout, progress=progress)
    table = summary(ms, results, equiv)
    if args.json:
        rows = [{**{k: v for k, v in asdict(m).items() if k != 'source'}, **results[m.id],
                 'equivalent': m.id in equiv} for m in ms]
        Path(args.json).write_text(json.dumps({'summary': table, 'mutants': rows}, indent=1))
    measured = {impl: measure([m for m in ms if m.impl == impl], results, equiv)
                for impl in table}
    if args.json:
        data = json.loads(Path(args.json).read_text())
        data['first_failures'] = measured
        Path(args.json).write_text(json.dumps(data, indent=1))
    for impl, s in measured.items():
        n = s['own_checkpoint'] + len(s['elsewhere'])
        print(f"{impl}: of {n} killed by a failing check, {s['own_checkpoint']} first fail in "
              f"their own checkpoint; diagnoses: {s['named_right']} named right, "
              f"{len(s['named_wrong'])} named wrong, {s['numbers_only']} numbers only")
        for line in s['elsewhere']:
            print(f"  first fails elsewhere: {line}")
        for line in s['named_wrong']:
            print(f"  named wrong: {line}")
    for impl, s in table.items():
        print(f"{impl}: {s['mutants']} mutants, {s['equivalent']} equivalent, "
              f"{s['killed']} killed, {len(s['survived'])} survived: "
              f"{s['score']}% of the non-equivalent mutants killed")
        for key in s['survived']:
            print(f"  survived: {key}")
    return 0 if all(not s['survived'] for s in table.values()) else 1


if __name__ == '__main__':
    sys.exit(main())
