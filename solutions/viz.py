"""Draw an expression graph with graphviz: a box per Value, a circle per operation."""

import base64
import shutil
import sys

import graphviz

DOT_MISSING = (
    "The graphviz program `dot` is not installed, so the graph cannot be drawn as a picture.\n"
    "Install it with your system's package manager: `sudo apt-get install graphviz` (Debian, Ubuntu),\n"
    "`brew install graphviz` (macOS) or `conda install graphviz`; then restart the kernel.\n"
    "Until then the graph's source is shown as text."
)


def trace(root):
    """Every node and every edge (child, parent) of the graph that ends in root."""
    nodes, edges = [], []
    seen = set()
    stack = [root]
    while stack:
        v = stack.pop()
        if v in seen:
            continue
        seen.add(v)
        nodes.append(v)
        for child in v._prev:
            edges.append((child, v))
            stack.append(child)
    return nodes, edges


def _record_text(text):
    """Escape the characters that have a meaning inside a graphviz record label."""
    for ch in '\\{}|<>"':
        text = text.replace(ch, '\\' + ch)
    return text


class Graph(graphviz.Digraph):
    """A Digraph that, in a notebook, shows its source as text when `dot` is missing.

    Beside the SVG picture it gives a PNG of the same graph: JupyterLab shows no SVG of a
    notebook it does not trust (a downloaded one, or any notebook just opened), but a PNG
    always, so the graphs a saved notebook holds are visible before it is run again.
    """

    def _repr_mimebundle_(self, include=None, exclude=None, **kwargs):
        if shutil.which('dot') is None:
            return {'text/plain': DOT_MISSING + '\n\n' + self.source}
        bundle = super()._repr_mimebundle_(include=include, exclude=exclude, **kwargs)
        wanted = (include is None or 'image/png' in include) and 'image/png' not in (exclude or ())
        if 'image/svg+xml' in bundle and 'image/png' not in bundle and wanted:
            bundle['image/png'] = base64.b64encode(self.pipe(format='png')).decode('ascii')
        return bundle


def draw_dot(root, format='svg', rankdir='LR'):
    """The graph of `root` as a graphviz Digraph: label, data and grad of every Value.

    rankdir='LR' draws it left to right, inputs first; 'TB' top to bottom.
    """
    assert rankdir in ('LR', 'TB')
    if shutil.which('dot') is None:
        print(DOT_MISSING, file=sys.stderr)

    dot = Graph(format=format, graph_attr={'rankdir': rankdir})
    nodes, edges = trace(root)
    # Each Value's name in the drawing is its place in `nodes`, which trace() finds in the
    # same order every time: the same graph gives the same picture, run after run.
    uids = {n: f'v{i}' for i, n in enumerate(nodes)}
    for n in nodes:
        uid = uids[n]
        fields = [_record_text(n.label), f"data {n.data:.4f}", f"grad {n.grad:.4f}"]
        dot.node(name=uid, label='{ ' + ' | '.join(fields) + ' }', shape='record')
        if n._op:
            # The operation gets a node of its own, between its inputs and its result.
            dot.node(name=uid + n._op, label=n._op)
            dot.edge(uid + n._op, uid)
    for child, parent in edges:
        dot.edge(uids[child], uids[parent] + parent._op)
    return dot
