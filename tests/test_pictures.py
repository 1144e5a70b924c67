"""The pictures saved in the notebooks show when a notebook is opened, before it is run again.

JupyterLab renders no SVG of a notebook it does not trust (a downloaded or freshly cloned one
never is), and shows such an output as its text/plain instead (`<...Graph>`). PNG, JPEG and GIF
it renders always: every picture output must hold one of those.
"""

import base64

import nbformat
import pytest

from mgcourse import paths
from mgcourse.handout import notebooks

SAFE_PICTURES = ('image/png', 'image/jpeg', 'image/gif')
PICTURES = SAFE_PICTURES + ('image/svg+xml', 'application/pdf')
FOLDERS = {'exercises': paths.ROOT / 'exercises', 'source': notebooks.SOURCE}


def picture_outputs(path):
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        for output in cell.get('outputs', []):
            data = output.get('data', {})
            if any(kind in data for kind in PICTURES):
                yield i, data


@pytest.mark.parametrize('folder', sorted(FOLDERS))
def test_every_saved_picture_has_a_type_an_untrusted_notebook_renders(folder):
    found = 0
    for path in sorted(FOLDERS[folder].glob('*.ipynb')):
        for i, data in picture_outputs(path):
            found += 1
            safe = [kind for kind in SAFE_PICTURES if kind in data]
            assert safe, f"{path.name}, cell {i}: only {sorted(data)}"
            png = base64.b64decode(data['image/png']) if 'image/png' in data else None
            assert png is None or png.startswith(b'\x89PNG\r\n\x1a\n'), f"{path.name}, cell {i}"
    assert found >= 3  # the graphs of 02, 03 and 04 at least


def test_the_graph_gives_a_png_beside_its_svg():
    from mgcourse.battery.impl import load
    mg = load(paths.SOLUTIONS)
    viz = __import__(f'{mg.package.__name__}.viz', fromlist=['draw_dot'])
    a, b = mg.Value(2.0, label='a'), mg.Value(-3.0, label='b')
    bundle = viz.draw_dot(a * b)._repr_mimebundle_()
    assert bundle['image/svg+xml'].lstrip().startswith('<?xml')
    assert base64.b64decode(bundle['image/png']).startswith(b'\x89PNG')
    assert 'image/png' not in viz.draw_dot(a * b)._repr_mimebundle_(exclude=['image/png'])
