"""The same code gets the same score on every run, even when it walks a set of Values.

A set's order depends on where its Values sit in memory, so a bug that shows only in some
orders would pass in one run and fail in the next. The battery walks set-valued _prev in
fixed orders (checks/expressions.py, force_set_order): these mutants of the lecture-style
engine (whose _prev is a set) scored differently from run to run before; now five runs of
`mgcourse check`, each a new process with its own memory layout, give one score, and the
message says the result depended on the order of a set.
"""

import json
import shutil
import subprocess
import sys

import pytest

from mgcourse import paths
from mgcourse.battery import harness

LECTURE = paths.ROOT / 'bench' / 'lecture_style'
BFS = '''        order, seen, queue = [], {self}, [self]
        while queue:
            v = queue.pop(0)
            order.append(v)
            for c in v._prev:
                if c not in seen:
                    seen.add(c)
                    queue.append(c)
        self.grad = 1.0
        for v in order:
            v._backward()
'''
MUTANTS = {
    'mul-overwrites': ('            self.grad += other.data * out.grad\n',
                       '            self.grad = other.data * out.grad\n'),
    'add-overwrites': ('            other.grad += out.grad\n', '            other.grad = out.grad\n'),
    'breadth-first': (None, BFS),
}


def lecture_mutant(name, folder):
    shutil.copytree(LECTURE, folder, ignore=shutil.ignore_patterns('__pycache__'))
    path = folder / 'engine.py'
    text = path.read_text()
    old, new = MUTANTS[name]
    if old is None:  # the whole body of backward()
        start = text.index('        topo = []')
        end = text.index('        ### END SOLUTION', start)
        text = text[:start] + new + text[end:]
    else:
        assert text.count(old) == 1
        text = text.replace(old, new)
    path.write_text(text)
    return folder


def check_score(folder):
    proc = subprocess.run([sys.executable, '-m', 'mgcourse.cli', 'check', '--impl', str(folder),
                           '--json'], cwd=paths.ROOT, capture_output=True, text=True, timeout=600)
    data = json.loads(proc.stdout)
    return data['points'], data['possible']


@pytest.mark.parametrize('name', MUTANTS)
def test_five_runs_of_check_give_one_score(name, tmp_path):
    folder = lecture_mutant(name, tmp_path / 'impl')
    scores = {check_score(folder) for _ in range(5)}
    assert len(scores) == 1, scores
    (points, possible), = scores
    assert points < possible


def test_an_order_dependent_failure_says_a_set_order_decided(tmp_path):
    folder = lecture_mutant('breadth-first', tmp_path / 'impl')
    result = next(r for r in harness.run(folder, only={'backward'}).results
                  if r.id == 'backward.uneven_depths')
    assert not result.passed
    assert 'depended on the order of a set' in result.message
