"""The notebooks as a student first sees them: JupyterLab in a real (headless) Chromium.

The command the README gives (`mgcourse lab`) starts JupyterLab on (a copy of) exercises/, on
127.0.0.1, a free port, without a token, with Jupyter's folders fresh (so no notebook is
trusted, as on a new clone); Chromium opens notebook 02 and the page it has drawn is read back
(--dump-dom). The saved graph must be there as a picture, before any cell is run.

Skipped, saying why, where Chromium is not installed (`bash grader/course.sh test` installs
Debian's package where it can). MGCOURSE_SCREENSHOT=FILE also saves a screenshot of the page.
"""

import base64
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from mgcourse import cli, paths

NOTEBOOK = '02_value_and_graph.ipynb'
CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed, so the browser test cannot run "
    "(install it: apt-get install chromium; `bash grader/course.sh test` does as root)")


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    """The URL of a JupyterLab serving exercises/, started with the README's command."""
    home = tmp_path_factory.mktemp('jupyter')
    # a copy: opening a notebook makes JupyterLab write .ipynb_checkpoints/ beside it
    exercises = shutil.copytree(paths.ROOT / 'exercises', home / 'exercises')
    port = free_port()
    cmd = cli.lab_command(exercises, port=port, browser=False) + [
        '--ip=127.0.0.1', '--IdentityProvider.token=', '--ServerApp.password=',
        f'--LabApp.workspaces_dir={home / "workspaces"}']
    if os.geteuid() == 0:
        assert '--allow-root' in cmd  # without it, Jupyter refuses to start as root
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(home / 'config'),
               JUPYTER_DATA_DIR=str(home / 'data'), JUPYTER_RUNTIME_DIR=str(home / 'runtime'))
    log = open(home / 'lab.log', 'wb')
    server = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    url = f'http://127.0.0.1:{port}'
    try:
        for _ in range(240):
            if server.poll() is not None:
                raise AssertionError('JupyterLab stopped:\n' + (home / 'lab.log').read_text())
            try:
                with urllib.request.urlopen(f'{url}/api/status', timeout=2):
                    break
            except OSError:
                time.sleep(0.5)
        else:
            raise AssertionError('JupyterLab did not answer:\n' + (home / 'lab.log').read_text())
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


def chromium(tmp_path, *args):
    """Run headless Chromium once, as root too, with a profile of its own."""
    cmd = [CHROMIUM, '--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync',
           '--disable-dev-shm-usage', f'--user-data-dir={tmp_path / "profile"}',
           '--window-size=1400,2400', '--virtual-time-budget=30000', *args]
    return subprocess.run(cmd, capture_output=True, timeout=300)


def test_notebook_02_shows_its_saved_graph_when_opened(lab, tmp_path):
    page = f'{lab}/lab/tree/{NOTEBOOK}'
    done = chromium(tmp_path, '--dump-dom', page)
    dom = done.stdout.decode('utf-8', 'replace')
    assert 'jp-Notebook' in dom, done.stderr.decode()[-2000:]
    # every picture JupyterLab drew for the saved outputs, with the type it drew it from
    images = re.findall(r'<div class="[^"]*jp-RenderedImage[^"]*"[^>]*data-mime-type="([^"]+)"'
                        r'[^>]*>\s*<img src="data:([^;]+);base64,([^"]+)"', dom)
    assert images, 'no rendered picture in the page'
    assert {(mime, src) for mime, src, _ in images} == {('image/png', 'image/png')}
    assert base64.b64decode(images[0][2]).startswith(b'\x89PNG')
    assert '&lt;micrograd_skeleton.viz.Graph' not in dom  # the text shown in place of a picture
    if os.environ.get('MGCOURSE_SCREENSHOT'):
        chromium(tmp_path, f'--screenshot={os.environ["MGCOURSE_SCREENSHOT"]}', page)
