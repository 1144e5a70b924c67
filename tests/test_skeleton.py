"""The skeleton is generated from the solutions, and says what to do."""

import re
import shutil

import pytest

from mgcourse import cli, paths
from mgcourse.battery import catalogue
from mgcourse.battery.impl import load
from mgcourse.handout import skeleton

CHECKPOINTS = catalogue.by_id()


def test_the_committed_skeleton_is_what_the_generator_makes_now():
    assert skeleton.drift() == [], (
        "micrograd_skeleton/ is out of date: run `mgcourse skeleton` and commit the result")


def test_the_check_command_reports_drift(tmp_path, capsys):
    skeleton.write(tmp_path)
    assert skeleton.drift(tmp_path) == []
    (tmp_path / 'nn.py').write_text('# edited by hand\n')
    (tmp_path / 'extra.py').write_text('')
    assert skeleton.drift(tmp_path) == ['extra.py', 'nn.py']
    assert cli.main(['skeleton', '--check']) == 0
    assert 'matches' in capsys.readouterr().out


def test_every_solution_region_becomes_a_todo_naming_its_checkpoint():
    for path in sorted(paths.SOLUTIONS.glob('*.py')):
        source = path.read_text()
        generated = (paths.SKELETON / path.name).read_text()
        assert '### BEGIN SOLUTION' not in generated and '### END SOLUTION' not in generated
        regions = source.count('### BEGIN SOLUTION')
        todos = re.findall(r"# TODO \(checkpoint (\w+)\): (.+)\.", generated)
        raises = re.findall(r"raise NotImplementedError\(\n\s+(['\"])checkpoint (\w+) "
                            r"\((\d\d:\d\d:\d\d) in the lecture\): (.+)\1\)", generated)
        assert len(todos) == len(raises) == regions, path.name
        for (cp, task), (_, cp2, time, task2) in zip(todos, raises):
            assert cp == cp2 and task == task2
            assert CHECKPOINTS[cp].time == time


def todo_functions():
    """(class, function) of every TODO in the skeleton."""
    found = set()
    for path in paths.SKELETON.glob('*.py'):
        cls = None
        func = None
        for line in path.read_text().splitlines():
            if line.startswith('class '):
                cls = line.split()[1].split('(')[0].rstrip(':')
            elif line.startswith('def '):
                cls, func = None, line.split()[1].split('(')[0]
            elif line.startswith('    def '):
                func = line.split()[1].split('(')[0]
            if '# TODO (checkpoint' in line:
                found.add((cls, func))
    return found


def test_the_todos_are_exactly_what_the_course_asks_students_to_write():
    assert todo_functions() == {
        ('Value', '__add__'), ('Value', '__mul__'), ('Value', '__pow__'), ('Value', 'tanh'),
        ('Value', 'exp'), ('Value', 'log'), ('Value', 'relu'), ('Value', 'backward'),
        ('Module', 'zero_grad'),
        ('Neuron', '__call__'), ('Layer', '__call__'), ('MLP', '__call__'),
        ('Neuron', 'parameters'), ('Layer', 'parameters'), ('MLP', 'parameters'),
        (None, 'mse_loss'), (None, 'train'),
    }


def test_the_skeleton_keeps_the_forward_arithmetic():
    mg = load(paths.SKELETON)
    a, b = mg.Value(2.0), mg.Value(-3.0)
    assert (a * b + 10).data == 4.0
    assert (a / b).data == pytest.approx(-2 / 3)
    assert (a ** 2 - 1).data == 3.0
    assert a.tanh().data == pytest.approx(0.9640275800758169)
    assert mg.nn.MLP(3, [4, 4, 1]).layers[1].neurons[3].w[3].data != 0
    with pytest.raises(NotImplementedError, match=r"^checkpoint backward \(01:17:32 in the lecture\)"):
        (a * b).backward()


def test_a_region_must_name_a_known_checkpoint():
    text = "def f():\n    ### BEGIN SOLUTION\n    # checkpoint nowhere: do it\n    return 1\n    ### END SOLUTION\n"
    with pytest.raises(skeleton.SkeletonError, match="'nowhere' is not in checkpoints.toml"):
        skeleton.render(text, 'x.py')
    with pytest.raises(skeleton.SkeletonError, match="x.py:3: a solution region must open with"):
        skeleton.render(text.replace('# checkpoint nowhere: do it', 'pass'), 'x.py')


@pytest.mark.parametrize('text, error', [
    ("### BEGIN SOLUTION\n# checkpoint reuse: x\n", "is never closed"),
    ("### END SOLUTION\n", "without ### BEGIN SOLUTION"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n", "inside another"),
])
def test_unbalanced_markers_are_errors(text, error):
    with pytest.raises(skeleton.SkeletonError, match=error):
        skeleton.render(text, 'x.py')


def test_a_stub_keeps_the_first_paragraph_of_the_explanation():
    text = ("    def f(self):\n"
            "        ### BEGIN SOLUTION\n"
            "        # checkpoint reuse: add the shares.\n"
            "        # Each use sends a share.\n"
            "        #\n"
            "        # How the reference does it, not for students.\n"
            "        return 1\n"
            "        ### END SOLUTION\n")
    assert skeleton.render(text) == (
        "    def f(self):\n"
        "        # TODO (checkpoint reuse): add the shares.\n"
        "        # Each use sends a share.\n"
        "        raise NotImplementedError(\n"
        "            'checkpoint reuse (01:22:28 in the lecture): add the shares')\n")


def test_it_never_overwrites_a_package_with_work_of_its_own(tmp_path, monkeypatch, capsys):
    package = tmp_path / 'package'
    skeleton.write(package)
    (package / 'engine.py').write_text('# my finished engine\n')
    (package / 'helpers.py').write_text('# my own module\n')
    before = {p.name: p.read_text() for p in package.iterdir()}
    with pytest.raises(skeleton.SkeletonError, match=r"engine\.py, helpers\.py: nothing was written"):
        skeleton.write(package)
    assert {p.name: p.read_text() for p in package.iterdir()} == before
    # the command says why, exits 2, and leaves every file as it was
    monkeypatch.setattr(paths, 'SKELETON', package)
    assert cli.main(['skeleton']) == 2
    assert '--force' in capsys.readouterr().err
    assert {p.name: p.read_text() for p in package.iterdir()} == before
    # told to, it does
    assert skeleton.write(package, force=True) == sorted(p.name for p in paths.SOLUTIONS.glob('*.py'))
    assert skeleton.drift(package) == []


def test_a_skeleton_left_behind_by_an_edit_of_the_solutions_is_regenerated(tmp_path):
    # the skeleton of the last commit's solutions counts as generated, whatever the solutions
    # are now
    package = tmp_path / 'package'
    package.mkdir()
    for path in paths.SOLUTIONS.glob('*.py'):
        committed = skeleton._committed_solution(paths.SOLUTIONS, path.name)
        (package / path.name).write_text(skeleton.render(committed, path.name))
    assert skeleton.edited(package) == []
    # outside git, only a file equal to the current skeleton counts as generated
    src = tmp_path / 'solutions'
    shutil.copytree(paths.SOLUTIONS, src)
    skeleton.write(package, src, force=True)
    (src / 'train.py').write_text((src / 'train.py').read_text() + '\n# a new line\n')
    assert skeleton._committed_solution(src, 'train.py') is None
    assert skeleton.edited(package, src) == ['train.py']


def test_without_solutions_nothing_is_touched(tmp_path):
    package = tmp_path / 'package'
    skeleton.write(package)
    before = {p.name: p.read_text() for p in package.iterdir()}
    with pytest.raises(skeleton.SkeletonError, match='no solutions in .* nothing was written'):
        skeleton.write(package, src=tmp_path / 'nowhere', force=True)
    assert {p.name: p.read_text() for p in package.iterdir()} == before


def test_writes_are_atomic(tmp_path, monkeypatch):
    target = tmp_path / 'engine.py'
    target.write_text('the old text\n')

    def broken(src, dst):
        raise OSError('disk full')
    monkeypatch.setattr(skeleton.os, 'replace', broken)
    with pytest.raises(OSError):
        skeleton.write_atomic(target, 'the new text\n')
    assert target.read_text() == 'the old text\n'
    assert [p.name for p in tmp_path.iterdir()] == ['engine.py']  # no temporary file left
