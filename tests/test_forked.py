"""The fork server that `mgcourse autograde` runs nbgrader from (mgcourse.nbgrading.forked).

Each run must be what a fresh `python -m nbgrader ARGS` would have been: its own session, the
folder and environment it is given, no input, its output in the log, its exit code, the exit
handlers run; a run killed after a timeout leaves no process of its session behind. The runs
here use timeit's command line (a main() that reads sys.argv, as nbgrader's does) from a
server that preloads nothing, and one real nbgrader.
"""

import os
import time
from pathlib import Path

import pytest

from mgcourse.nbgrading import forked


def timeit_run(server, tmp_path, statement, env=None):
    log = tmp_path / 'run.log'
    run = server.run(['-n', '1', '-r', '1', statement], tmp_path,
                     env if env is not None else {'PATH': os.environ['PATH'], 'WHO': 'the run'},
                     log, main='timeit:main')
    return run, log


@pytest.fixture(scope='module')
def server():
    with forked.Server(preload=()) as s:
        yield s


def session_members(sid):
    """The processes of session sid still running (a zombie has ended)."""
    found = []
    for entry in Path('/proc').iterdir():
        if entry.name.isdigit():
            try:
                state = (entry / 'stat').read_text().rpartition(')')[2].split()[0]
                if os.getsid(int(entry.name)) == sid and state != 'Z':
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def test_a_run_has_its_own_session_folder_environment_and_no_input(server, tmp_path):
    statement = ("import os, sys; print('ran in', os.getcwd(), os.getsid(0) == os.getpid(), "
                 "repr(sys.stdin.read()), os.environ.get('WHO'), os.environ.get('HOME'))")
    run, log = timeit_run(server, tmp_path, statement)
    assert run.wait(timeout=60) == 0
    assert f"ran in {tmp_path} True '' the run None" in log.read_text()


def test_exit_handlers_run_and_output_is_kept_in_order(server, tmp_path):
    statement = ("import atexit, sys; atexit.register(print, 'the exit handler ran'); "
                 "print('to stdout'); print('to stderr', file=sys.stderr)")
    run, log = timeit_run(server, tmp_path, statement)
    assert run.wait(timeout=60) == 0
    text = log.read_text()
    assert text.index('to stdout') < text.index('to stderr') < text.index('the exit handler ran')


def test_a_failing_run_gives_its_exit_code_and_its_error_in_the_log(server, tmp_path):
    run, log = timeit_run(server, tmp_path, "raise ValueError('a failing run')")
    assert run.wait(timeout=60) == 1  # timeit's exit code for an exception
    assert 'ValueError: a failing run' in log.read_text()


def test_a_killed_run_leaves_no_process_of_its_session(server, tmp_path):
    run, _ = timeit_run(server, tmp_path, "import subprocess; subprocess.call(['sleep', '120'])")
    deadline = time.monotonic() + 30
    while len(session_members(run.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)  # the run and its sleep
    assert len(session_members(run.pid)) == 2
    with pytest.raises(TimeoutError):
        run.wait(timeout=0.2)
    run.kill()
    assert run.code == -9
    deadline = time.monotonic() + 10
    while session_members(run.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert session_members(run.pid) == []


def test_runs_at_once_from_threads(server, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    def one(i):
        folder = tmp_path / str(i)
        folder.mkdir()
        run, log = timeit_run(server, folder, f"print('run', {i})")
        return run.wait(timeout=60), log.read_text().split('\n')[0]
    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(one, range(8))) == [(0, f'run {i}') for i in range(8)]


def test_nbgrader_itself_from_a_preloaded_server(tmp_path):
    pytest.importorskip('nbgrader')
    from importlib.metadata import version
    with forked.Server() as server:
        run = server.run(['--version'], tmp_path, {'PATH': os.environ['PATH']}, tmp_path / 'log')
        assert run.wait(timeout=120) == 0
        process = server.process
    assert f"nbgrader version {version('nbgrader')}" in (tmp_path / 'log').read_text()
    assert process.returncode == 0  # the server ended with its client's socket
