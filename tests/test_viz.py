"""draw_dot: the lecture's picture of the graph, with the real dot program."""

import os
import re
import subprocess
import sys


from mgcourse import paths
from mgcourse.battery.impl import load

mg = load(paths.SOLUTIONS)
viz = __import__(f'{mg.package.__name__}.viz', fromlist=['draw_dot'])


def graph():
    a, b = mg.Value(2.0, label='a'), mg.Value(-3.0, label='b')
    e = a * b
    e.label = 'e'
    d = e + mg.Value(10.0, label='c')
    d.label = 'd'
    d.backward()
    return d


def test_a_record_per_value_and_a_node_per_operation():
    dot = viz.draw_dot(graph())
    src = dot.source
    assert 'rankdir=LR' in src
    assert len(re.findall(r'shape=record', src)) == 5        # a, b, c, e, d
    assert len(re.findall(r'label="[*+]"', src)) == 2       # the * and the +
    assert '{ a | data 2.0000 | grad -3.0000 }' in src
    assert '{ d | data 4.0000 | grad 1.0000 }' in src
    assert src.count('->') == 6  # a, b -> *; * -> e; e, c -> +; + -> d


def test_the_same_graph_gives_the_same_picture_every_time():
    # Node names come from the graph's own order, not from memory addresses, so saved
    # notebook pictures do not change when the notebooks are run again.
    assert viz.draw_dot(graph()).source == viz.draw_dot(graph()).source


def test_a_value_used_twice_gets_two_arrows():
    a = mg.Value(3.0, label='a')
    b = a + a
    src = viz.draw_dot(b).source
    assert len(re.findall(r'shape=record', src)) == 2          # a and b
    assert src.count('->') == 3  # a -> + twice, + -> b


def test_it_renders_with_the_real_dot_program():
    svg = viz.draw_dot(graph()).pipe(format='svg').decode()
    assert svg.lstrip().startswith('<?xml') and '<svg' in svg
    assert 'data 4.0000' in svg and 'grad &#45;3.0000' in svg
    png = viz.draw_dot(graph(), format='png', rankdir='TB').pipe()
    assert png[:8] == b'\x89PNG\r\n\x1a\n'


def test_labels_with_record_characters_are_escaped():
    v = mg.Value(1.0, label='x|{y}<z>')
    svg = viz.draw_dot(v).pipe(format='svg').decode()
    assert 'x|{y}&lt;z&gt;' in svg


def test_without_dot_it_says_how_to_install_it_and_still_returns_the_source(tmp_path):
    # A PATH with python but no dot on it.
    code = (f"import sys; sys.path.insert(0, {str(paths.ROOT / 'grader')!r})\n"
            "from mgcourse import paths; from mgcourse.battery.impl import load\n"
            "mg = load(paths.SOLUTIONS)\n"
            "viz = __import__(mg.package.__name__ + '.viz', fromlist=['x'])\n"
            "g = viz.draw_dot(mg.Value(1.0, label='x') * 2)\n"
            "print(g.source)\n"
            "print(g._repr_mimebundle_()['text/plain'][:60])\n")
    env = dict(os.environ, PATH=str(tmp_path))
    proc = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "apt-get install graphviz" in proc.stderr and "brew install graphviz" in proc.stderr
    assert 'digraph' in proc.stdout and '{ x | data 1.0000 | grad 0.0000 }' in proc.stdout
    assert "The graphviz program `dot` is not installed" in proc.stdout
