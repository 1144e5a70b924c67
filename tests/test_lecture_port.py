"""The lecture's code, pasted into the skeleton's TODOs, gets full marks in every front-end.

tests/lecture_port/ holds, for each module of the package, the code a student who follows the
video writes in each TODO: closures for _backward that add with +=, a recursive topological
sort with a visited set, Neuron, Layer and MLP with parameters(), the loss, and a training loop
that zeroes the grads itself and prints its loss. `port()` splices those pieces into a copy of
the real micrograd_skeleton/, replacing each TODO region (its TODO line, its explanation and its
`raise NotImplementedError`) and nothing else, so the port follows the skeleton as it is today
and fails loudly when a TODO is added, removed or reworded.
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mgcourse import paths
from mgcourse.batch import grading
from mgcourse.battery import catalogue
from mgcourse.student import runner

HERE = Path(__file__).resolve().parent
PIECES = HERE / 'lecture_port'
MODULES = ('engine', 'nn', 'train')
POSSIBLE = sum(e.points for e in catalogue.all_checks())
TODO = re.compile(r'^(\s*)# TODO \((?:checkpoint|exercise) \w+\): .+$')


def pieces(module):
    """{TODO line: the code that replaces its region} from tests/lecture_port/MODULE.txt.

    The text before the first TODO line describes the file; each piece runs from its TODO
    line to the next one, without the blank lines at its ends."""
    found, current = {}, None
    for line in (PIECES / f'{module}.txt').read_text(encoding='utf-8').splitlines():
        if TODO.match(line):
            assert line not in found, f"{module}.txt has two pieces for {line!r}"
            current = found[line] = []
        elif current is not None:
            current.append(line)
    return {todo: '\n'.join(code).strip('\n').splitlines() for todo, code in found.items()}


def splice(text, fill, name):
    """The skeleton file's text with every TODO region replaced by its piece of fill.

    A region is the TODO line, the comment lines under it and the two lines of its
    `raise NotImplementedError(...)`, exactly as mgcourse.handout.skeleton writes them."""
    lines = text.splitlines()
    out, used, i = [], set(), 0
    while i < len(lines):
        m = TODO.match(lines[i])
        if not m:
            out.append(lines[i])
            i += 1
            continue
        todo, indent = lines[i].strip(), m.group(1)
        assert todo in fill, f"{name}: no piece in lecture_port/ for the skeleton's {todo!r}"
        i += 1
        while lines[i].strip().startswith('#'):
            i += 1
        assert lines[i] == f'{indent}raise NotImplementedError(', (name, lines[i])
        assert lines[i + 1].startswith(f'{indent}    ') and lines[i + 1].endswith(')'), (name, lines[i + 1])
        i += 2
        out.extend(f'{indent}{code}' if code else '' for code in fill[todo])
        used.add(todo)
    unused = set(fill) - used
    assert not unused, f"{name}: the skeleton has no TODO for the pieces {sorted(unused)}"
    return '\n'.join(out) + '\n'


def port(dst):
    """A copy of micrograd_skeleton/ at dst with the lecture's code in every TODO."""
    shutil.copytree(paths.SKELETON, dst, ignore=shutil.ignore_patterns('__pycache__'))
    for module in MODULES:
        path = dst / f'{module}.py'
        fill = {todo.strip(): code for todo, code in pieces(module).items()}
        path.write_text(splice(path.read_text(encoding='utf-8'), fill, path.name),
                        encoding='utf-8')
    return dst


@pytest.fixture(scope='module')
def lecture(tmp_path_factory):
    return port(tmp_path_factory.mktemp('port') / 'micrograd')


def test_the_port_changes_the_skeleton_only_in_its_todo_regions(lecture):
    import difflib
    for module in MODULES:
        given = (paths.SKELETON / f'{module}.py').read_text(encoding='utf-8').splitlines()
        ported = (lecture / f'{module}.py').read_text(encoding='utf-8').splitlines()
        changed = [op for op in difflib.SequenceMatcher(None, given, ported, autojunk=False)
                   .get_opcodes() if op[0] != 'equal']
        regions = [i for i, line in enumerate(given) if TODO.match(line)]
        assert len(changed) == len(regions) == len(pieces(module)), module
        for (_, i1, i2, _, _), start in zip(changed, regions):
            assert i1 == start, (module, given[i1])           # each change is one TODO region,
            assert 'raise NotImplementedError(' in given[i2 - 2]  # up to its raise, whole
    assert 'NotImplementedError' not in ''.join(
        (lecture / f'{m}.py').read_text(encoding='utf-8') for m in MODULES)


def test_a_reworded_todo_stops_the_port_with_its_line():
    text = (paths.SKELETON / 'nn.py').read_text(encoding='utf-8')
    reworded = text.replace('# TODO (checkpoint mlp): chain the layers.',
                            '# TODO (checkpoint mlp): feed each layer into the next.')
    fill = {todo.strip(): code for todo, code in pieces('nn').items()}
    with pytest.raises(AssertionError, match='feed each layer into the next'):
        splice(reworded, fill, 'nn.py')


def test_mgcourse_check_gives_the_port_every_point(lecture):
    progress = runner.progress(lecture)                 # mgcourse check, in its worker
    assert progress.import_error is None
    assert [r.id for r in progress.results if not r.passed] == []
    assert progress.points == progress.possible == POSSIBLE
    assert progress.done == len(catalogue.load())


def test_plain_pytest_gives_the_port_every_point(lecture):
    proc = subprocess.run([sys.executable, '-m', 'pytest', '-p', 'no:cacheprovider',
                           f'--impl={lecture}'], cwd=paths.ROOT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout
    assert " failed" not in proc.stdout
    assert proc.stdout.rstrip().splitlines()[-1] == (
        f"Score: {POSSIBLE} of {POSSIBLE} points (100%)")


def test_the_batch_grader_gives_the_port_every_point_hidden_checks_included(lecture, tmp_path):
    from mgcourse.isolation import sandbox
    hand_ins = tmp_path / 'class'
    shutil.copytree(lecture, hand_ins / 'lena')
    # As root without bubblewrap, with a Python under /root, the grader refuses unless told
    # the machine is disposable (tests/test_grading.py does the same): the port is harmless.
    options = grading.Options(jobs=1, seed=5,
                              unlimited_processes_ok=bool(sandbox.process_limit_problem()))
    book = grading.grade(hand_ins, tmp_path / 'out', options)
    record = book['students']['lena']
    assert record['status'] == 'graded', record['notes']
    lost = {cid: r['message'] for cid, r in record['checks'].items()
            if r['points'] < r['possible']}
    assert lost == {}
    full = sum(c['points'] for c in grading.check_list())
    assert any(c['hidden'] for c in grading.check_list())
    assert record['total'] == record['possible'] == full
