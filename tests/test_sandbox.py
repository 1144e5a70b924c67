"""The sandbox the grader runs student code in: each hostile program is stopped, or fails, and
the machine and this process carry on. Every test that makes sense without bubblewrap runs
twice: with the sandbox on (skipped where bwrap does not work) and forced off."""

import importlib.util
import ast
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import time
import uuid
import warnings
from pathlib import Path

import pytest

from mgcourse import paths
from mgcourse.isolation import processes, sandbox
from mgcourse.isolation.sandbox import Limits

pytestmark = pytest.mark.timeout(90)

QUICK = Limits(wall_seconds=30)


def _python_for_others():
    """An interpreter other users may run: as root without bubblewrap, the sandbox runs the
    command as a user of its own only then (this one may live in root's home)."""
    for candidate in (sys.executable, '/usr/bin/python3', shutil.which('python3')):
        if candidate and sandbox._interpreter_reachable(candidate, os.environ):
            return candidate
    return sys.executable


@pytest.fixture(params=['on', 'off'])
def mode(request, monkeypatch):
    if request.param == 'on':
        monkeypatch.delenv(sandbox.ENV_SWITCH, raising=False)
        if not sandbox.bwrap_available():
            pytest.skip(f"the sandbox is off here: {sandbox.off_reason()}")
    else:
        monkeypatch.setenv(sandbox.ENV_SWITCH, 'off')
    return request.param


@pytest.fixture
def workdir(tmp_path):
    folder = tmp_path / 'work'
    folder.mkdir()
    return folder


@pytest.fixture
def token():
    """A mark in the environment of everything a test starts, to find what survives."""
    return f'SANDBOX_TEST_{uuid.uuid4().hex}'


@pytest.fixture
def run(mode, workdir, token):
    started = []
    python = sys.executable if mode == 'on' else _python_for_others()

    def run(code, limits=QUICK, readable=(), env=None, pass_fds=(), **more):
        env = dict({'PATH': os.environ.get('PATH', os.defpath)}, **(env or {}))
        env['SANDBOX_TEST_TOKEN'] = token
        sb = sandbox.start([python, '-c', textwrap.dedent(code)], workdir=workdir,
                           readable=readable, env=env, limits=limits, pass_fds=pass_fds,
                           **more)
        started.append(sb)
        return sb

    yield run
    for sb in started:
        sb.kill()


def survivors(token):
    """The processes still running with the test's mark in their environment, found as the
    sandbox finds a run's (test_a_marked_process_is_found_while_it_execs checks that a
    process in the middle of execve(), whose environment shows empty, is found too)."""
    return processes._running_with(f'SANDBOX_TEST_TOKEN={token}')


def wait_for_no_survivors(token, seconds=10):
    deadline = time.monotonic() + seconds
    while survivors(token) and time.monotonic() < deadline:
        time.sleep(0.05)
    return survivors(token)


def test_the_switch_turns_it_off(monkeypatch):
    monkeypatch.setenv(sandbox.ENV_SWITCH, 'off')
    assert not sandbox.bwrap_available()
    assert sandbox.off_reason() == 'MGCOURSE_SANDBOX=off'
    assert 'sandbox is off' in sandbox.SANDBOX_OFF_MESSAGE


def test_no_network(mode, run):
    if mode == 'off':
        pytest.skip("without bubblewrap the network is not taken away")
    with socket.socket() as server:
        server.bind(('127.0.0.1', 0))
        server.listen()
        port = server.getsockname()[1]
        sb = run(f"""
            import errno, json, socket
            seen = []
            for address in [('127.0.0.1', {port}), ('192.0.2.1', 80), ('1.1.1.1', 53)]:
                try:
                    socket.create_connection(address, timeout=5).close()
                    seen.append('connected')
                except OSError as e:
                    seen.append(errno.errorcode.get(e.errno, str(e)))
            print(json.dumps(seen))
            """)
        assert sb.wait(60) == 0, sb.output()
    local, test_net, public = json.loads(sb.output())
    assert local == 'ECONNREFUSED'  # the sandbox's own loopback, where nothing listens
    assert test_net in ('ENETUNREACH', 'EHOSTUNREACH')
    assert public in ('ENETUNREACH', 'EHOSTUNREACH')


def test_no_writing_outside_its_folder(mode, run, tmp_path, workdir):
    outside = tmp_path / 'outside'
    outside.mkdir()
    library = tmp_path / 'library'
    library.mkdir()
    (library / 'module.py').write_text('x = 1\n')
    sb = run(f"""
        import json
        results = {{}}
        for path in [{str(outside / 'x')!r}, {str(library / 'module.py')!r},
                     {str(library / 'new.py')!r}, '/usr/x', {str(paths.ROOT / 'x')!r}, 'mine']:
            try:
                with open(path, 'w') as f:
                    f.write('written')
                results[path] = 'written'
            except OSError as e:
                results[path] = type(e).__name__
        print(json.dumps(results))
        """, readable=[library])
    assert sb.wait(60) == 0, sb.output()
    if mode == 'off' and sb.user is None:
        pytest.skip("without bubblewrap, run as this same user: the file system is not guarded")
    results = json.loads(sb.output())
    assert results.pop('mine') == 'written'
    assert (workdir / 'mine').read_text() == 'written'
    assert set(results.values()) <= {'PermissionError', 'FileNotFoundError', 'OSError'}, results
    assert not (outside / 'x').exists() and not (library / 'new.py').exists()
    assert (library / 'module.py').read_text() == 'x = 1\n'
    assert not (paths.ROOT / 'x').exists()


def test_a_writable_folder_besides_its_own_is_its_and_counts_for_the_disk(mode, run, tmp_path):
    # how a kernel gets its IPC folder and its home: bound read-write at their own paths,
    # given to the run's user, watched with workdir; a system path is seen as it is
    extra = tmp_path / 'extra'
    extra.mkdir()
    sb = run(f"""
        import os
        open({str(extra / 'made')!r}, 'w').write('written')
        print(sorted(os.listdir('/etc/fonts'))[:1] if os.path.isdir('/etc/fonts') else 'none',
              flush=True)
        with open({str(extra / 'big')!r}, 'wb') as f:
            for _ in range(12):
                f.write(bytes(1 << 20))
                f.flush()
        import time
        time.sleep(5)
        """, writable=[extra], system=['/etc/fonts', '/etc/no-such-thing'],
        limits=Limits(wall_seconds=30, disk_bytes=4 << 20, file_bytes=16 << 20))
    assert sb.wait(60) == -signal.SIGKILL, sb.output()
    assert (extra / 'made').read_text() == 'written'
    assert sb.disk_exceeded, "what it wrote in the writable folder counts for the disk limit"
    if Path('/etc/fonts').is_dir():
        assert sb.output().splitlines()[0] != 'none', sb.output()
    if sb.user is not None:
        assert (extra / 'made').stat().st_uid == sb.user


def test_a_signal_reaches_the_command_not_bubblewrap(run):
    # a kernel is interrupted so (jupyter's own SIGINT to the process group of bubblewrap
    # would end the sandbox)
    sb = run("""
        import signal, sys, time
        signal.signal(signal.SIGUSR1, lambda *a: sys.exit(7))
        print('ready', flush=True)
        time.sleep(60)
        """)
    deadline = time.monotonic() + 30
    while 'ready' not in sb.output() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sb.signal(signal.SIGUSR1) >= 1
    assert sb.wait(60) == 7, sb.output()


def test_the_solutions_and_the_grader_are_invisible(mode, run):
    if mode == 'off':
        pytest.skip("without bubblewrap the file system is not hidden")
    sb = run(f"""
        import json, os
        results = {{}}
        for path in [{str(paths.SOLUTIONS / 'engine.py')!r},
                     {str(paths.ROOT / 'grader' / 'mgcourse' / 'battery' / 'checks' / '__init__.py')!r}]:
            try:
                open(path).read()
                results[path] = 'read'
            except OSError as e:
                results[path] = type(e).__name__
        root = {str(paths.ROOT)!r}
        results['listing'] = sorted(os.listdir(root)) if os.path.isdir(root) else []
        results['home'] = os.path.exists('/root/.ssh') or os.path.exists('/home')
        print(json.dumps(results))
        """)
    assert sb.wait(60) == 0, sb.output()
    results = json.loads(sb.output())
    listing = results.pop('listing')
    assert not results.pop('home')
    assert set(results.values()) <= {'FileNotFoundError', 'PermissionError'}, results
    # What remains of the checkout is at most the virtual environment the interpreter needs.
    assert set(listing) <= {Path(sys.prefix).name}


def test_the_library_copy_imports_and_torch_fits_in_memory(mode, run, tmp_path):
    """The editable install in the environment points at this checkout's grader/, hidden in
    the sandbox: the scratch copy on PYTHONPATH is what gets imported."""
    if mode == 'off':
        pytest.skip("the point is the hidden checkout")
    library = tmp_path / 'library'
    shutil.copytree(paths.ROOT / 'grader' / 'mgcourse', library / 'mgcourse',
                    ignore=shutil.ignore_patterns('__pycache__'))
    has_torch = importlib.util.find_spec('torch') is not None
    sb = run(f"""
        import mgcourse, mgcourse.isolation.worker
        print(mgcourse.__file__)
        if {has_torch}:
            import torch
            print('torch', torch.tensor([1.5, 2.0]).sum().item())
        """, readable=[library], limits=Limits(wall_seconds=60),
        env={'PYTHONPATH': str(library), 'PYTHONDONTWRITEBYTECODE': '1', 'OMP_NUM_THREADS': '1'})
    assert sb.wait(90) == 0, sb.output()
    lines = sb.output().splitlines()
    assert lines[0] == str((library / 'mgcourse' / '__init__.py').resolve())
    if has_torch:
        assert lines[1] == 'torch 3.5'


def test_a_memory_bomb_is_stopped(run):
    sb = run("""
        hoard = []
        while True:
            hoard.append(bytearray(16 << 20))
        """, limits=Limits(wall_seconds=30, memory_bytes=512 << 20))
    code = sb.wait(60)
    assert code != 0
    assert 'MemoryError' in sb.output() or sb.killed_by == signal.SIGKILL, sb.output()
    assert not sb.timed_out


def test_a_fork_bomb_is_contained(mode, run, workdir, token):
    probe = run("pass")
    probe.wait(60)
    if not probe.processes_limited:
        pytest.skip("root without bubblewrap and without an interpreter other users can run: "
                    "the process limit cannot apply")
    sb = run("""
        import os, time
        born = os.open('born', os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        while True:
            try:
                child = os.fork()
            except OSError:
                time.sleep(0.05)
                continue
            if child == 0:
                os.write(born, b'x')
        """, limits=Limits(wall_seconds=2, processes=16))
    time.sleep(0.5)
    # Meanwhile this process can still start others.
    assert subprocess.run([sys.executable, '-c', 'pass']).returncode == 0
    assert sb.wait(60) == -signal.SIGKILL
    assert sb.timed_out
    born = (workdir / 'born').stat().st_size
    assert 4 <= born < 16, born  # the first process and its children: 16 at the most
    assert wait_for_no_survivors(token) == []


def test_an_endless_loop_runs_out_of_cpu_time(run):
    sb = run("""
        while True:
            pass
        """, limits=Limits(wall_seconds=30, cpu_seconds=1))
    code = sb.wait(60)
    assert code in (-signal.SIGXCPU, -signal.SIGKILL), (code, sb.output())
    assert not sb.timed_out  # stopped by its CPU limit, before the wall time


def test_the_wall_time_kills_grandchildren_too(run, workdir, token):
    heartbeat = textwrap.dedent("""
        import time
        while True:
            with open('beat', 'a') as f:
                f.write('x')
            time.sleep(0.05)
        """)
    sb = run(f"""
        import subprocess, sys, time
        subprocess.Popen([sys.executable, '-c', {heartbeat!r}], start_new_session=True)
        time.sleep(1000)
        """, limits=Limits(wall_seconds=1.5))
    assert sb.wait(60) == -signal.SIGKILL
    assert sb.timed_out
    assert wait_for_no_survivors(token) == []
    beats = (workdir / 'beat').stat().st_size
    assert beats > 0
    time.sleep(0.3)
    assert (workdir / 'beat').stat().st_size == beats


def test_output_is_kept_up_to_its_limit(run):
    sb = run("""
        import sys
        sys.stdout.buffer.write(b'y' * (10 << 20))
        sys.stdout.flush()
        print('the end', file=sys.stderr)
        """, limits=Limits(wall_seconds=30, output_bytes=1 << 20))
    assert sb.wait(60) == 0
    out = sb.output()
    kept, note = out.rsplit('\n', 1)
    assert kept == 'y' * (1 << 20)
    dropped = (10 << 20) - (1 << 20) + len(b'the end\n')
    assert note == f"[... {dropped} bytes more not kept]"


def test_a_file_larger_than_the_limit_cannot_be_written(run, workdir):
    sb = run("""
        import errno
        try:
            with open('big', 'wb') as f:
                for _ in range(4):
                    f.write(b'z' * (512 << 10))
            print('written')
        except OSError as e:
            print(errno.errorcode[e.errno])
        """, limits=Limits(wall_seconds=30, file_bytes=1 << 20))
    assert sb.wait(60) == 0, sb.output()
    assert sb.output().strip() == 'EFBIG'
    assert (workdir / 'big').stat().st_size <= 1 << 20


@pytest.mark.parametrize('what', ['files of 1 MiB', 'empty files'])
def test_filling_the_disk_with_many_files_is_stopped(run, workdir, what):
    # Each file is under the per-file limit; their sum is not. An empty file still takes a
    # block, so a flood of them is stopped too.
    size = (1 << 20) if what == 'files of 1 MiB' else 0
    sb = run(f"""
        import itertools
        for i in itertools.count():
            with open(f'junk{{i}}', 'wb') as f:
                f.write(bytes({size}))
        """, limits=Limits(wall_seconds=30, disk_bytes=8 << 20, file_bytes=2 << 20))
    assert sb.wait(60) == -signal.SIGKILL, sb.output()
    assert sb.disk_exceeded and not sb.timed_out
    assert len(list(workdir.iterdir())) > (8 if size else 2048)


def test_writing_under_the_disk_limit_is_left_alone(run, workdir):
    (workdir / 'already-there').write_bytes(bytes(8 << 20))  # counts from what was there
    sb = run("""
        import time
        for i in range(6):
            with open(f'part{i}', 'wb') as f:
                f.write(bytes(1 << 20))
        time.sleep(1)  # the watchdog looks several times meanwhile
        print('done')
        """, limits=Limits(wall_seconds=30, disk_bytes=8 << 20, file_bytes=2 << 20))
    assert sb.wait(60) == 0, sb.output()
    assert sb.output().strip() == 'done' and not sb.disk_exceeded


def test_pipes_pass_through(run):
    request_read, request_write = os.pipe()
    reply_read, reply_write = os.pipe()
    sb = run(f"""
        import os
        with os.fdopen({request_read}) as requests, os.fdopen({reply_write}, 'w') as replies:
            for line in requests:
                replies.write('got ' + line)
        """, pass_fds=(request_read, reply_write))
    os.close(request_read)
    os.close(reply_write)
    with os.fdopen(request_write, 'w') as requests:
        requests.write('one\ntwo\n')
    with os.fdopen(reply_read) as replies:
        assert replies.read() == 'got one\ngot two\n'
    assert sb.wait(60) == 0, sb.output()


def test_kill_is_safe_twice(run, token):
    sb = run("import time; time.sleep(100)")
    sb.kill()
    sb.kill()
    assert sb.wait(10) == -signal.SIGKILL
    assert not sb.timed_out
    assert wait_for_no_survivors(token) == []
    sb.kill()


def test_a_run_as_its_own_user_gets_its_folder(mode, run, workdir):
    sb = run("import os; print(os.getuid())")
    assert sb.wait(60) == 0
    if sb.user is None:
        pytest.skip("not root: the command runs as this user")
    assert int(sb.output()) == sb.user != os.getuid()
    assert workdir.stat().st_uid == sb.user
    assert stat.S_IMODE(workdir.stat().st_mode) & stat.S_IWUSR


def _proc_state(pid):
    found = {}
    for name in ('status', 'cmdline', 'environ', 'wchan', 'stack'):
        try:
            found[name] = Path(f'/proc/{pid}/{name}').read_bytes()[:600]
        except OSError as e:
            found[name] = repr(e)
    return found


def test_a_marked_process_is_found_while_it_execs(token):
    """The sandbox-off run is killed by its marker: a process exec'ing in a loop (whose
    environment /proc shows empty for a moment at each exec) must be found by every scan."""
    chain = ("import os, sys; n = int(sys.argv[1]); n and os.execv(sys.executable, "
             "[sys.executable, '-S', '-c', sys.argv[2], str(n - 1), sys.argv[2]])")
    process = subprocess.Popen([sys.executable, '-S', '-c', chain, '100', chain],
                               env={'SANDBOX_TEST_TOKEN': token})
    missed = scans = 0
    while process.poll() is None:
        found = process.pid in processes._running_with(f'SANDBOX_TEST_TOKEN={token}')
        try:
            state = Path(f'/proc/{process.pid}/stat').read_bytes().rsplit(b')', 1)[1].split()[0]
        except OSError:
            break
        scans += 1
        missed += not found and state != b'Z'
    process.wait()
    assert scans > 10 and missed == 0, f"{missed} of {scans} scans missed the exec'ing process"


def test_it_dies_with_the_grader(mode, workdir, token):
    grader = subprocess.Popen([sys.executable, '-c', textwrap.dedent(f"""
        import sys, time
        from mgcourse.isolation import processes, sandbox
        sb = sandbox.start([sys.executable, '-c', 'import time; time.sleep(100)'],
                           workdir={str(workdir)!r},
                           env={{'PATH': {os.defpath!r}, 'SANDBOX_TEST_TOKEN': {token!r}}})
        print('started', flush=True)
        sys.stdin.readline()  # asked how the run is doing when it cannot be seen
        print(repr((sb.process.pid, sb.process.poll(), sb.output())), flush=True)
        time.sleep(100)
        """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert grader.stdout.readline() == 'started\n'
        started = time.monotonic()
        found = survivors(token)
        while not found and time.monotonic() < started + 60:
            time.sleep(0.02)
            found = survivors(token)
        seen = time.monotonic() - started
        if not found:
            # Seen in full suites: one scan found the launcher, a second one, made while it
            # exec'd the command, read its environment empty (see processes._environment). If
            # it is ever seen again, say what the run's first process is doing.
            grader.stdin.write('?\n')
            grader.stdin.flush()
            pid, code, output = ast.literal_eval(grader.stdout.readline())
            pytest.fail(f"the run is not seen after {seen:.0f} s: exit code {code}, output "
                        f"{output!r}, its first process: {_proc_state(pid)}")
        if seen > 10:
            warnings.warn(f"the run took {seen:.1f} s to be seen")
    finally:
        grader.kill()
        grader.wait()
    assert wait_for_no_survivors(token) == []


# A daemon of its own session that writes as fast as it can: after kill() or wait() returns,
# nothing of the run may still write. (Bubblewrap's namespace dies a few milliseconds after
# bubblewrap itself: returning then would let the writer outlive the sandbox.)
BUSY_DAEMON = """
    import os, subprocess, sys, time
    writer = '''
    import os
    fd = os.open('busy', os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    while True:
        os.write(fd, b'x')
    '''
    subprocess.Popen([sys.executable, '-c', writer], start_new_session=True)
    while not os.path.exists('busy') or os.path.getsize('busy') == 0:
        time.sleep(0.001)
    print('writing', flush=True)
    {end}
    """


def _written_after(sb, workdir, stop):
    busy = workdir / 'busy'
    deadline = time.monotonic() + 30
    while not (busy.exists() and busy.stat().st_size) and time.monotonic() < deadline:
        time.sleep(0.002)
    assert busy.exists(), sb.output()
    stop()
    size = busy.stat().st_size
    time.sleep(0.02)
    after = busy.stat().st_size - size
    busy.unlink()
    return after


@pytest.mark.parametrize('how', ['kill', 'wait'])
def test_no_process_of_the_sandbox_outlives_kill_or_wait(mode, run, workdir, token, how):
    trials = 20
    late = []
    for _ in range(trials):
        if how == 'kill':
            sb = run(BUSY_DAEMON.format(end='time.sleep(100)'))
            late.append(_written_after(sb, workdir, sb.kill))
        else:  # the command ends by itself and leaves its daemon behind
            sb = run(BUSY_DAEMON.format(end='time.sleep(0.05)'))
            late.append(_written_after(sb, workdir, lambda: sb.wait(60)))
    assert late == [0] * trials
    assert survivors(token) == []
    assert sb.survivors == []


def test_reaping_a_graders_runs_spares_the_runs_of_other_graders(mode, run, tmp_path, workdir):
    # Gradescope's and PrairieLearn's runner reap what their runs left before writing the
    # results (grade_in_container). Another grader on the same machine (a second course, a
    # parallel test) must keep its runs: reaping once killed them mid-check ("killed by
    # signal 9") in a correct hand-in graded beside the Gradescope tests.
    up = "import time; open('up', 'w').close(); time.sleep(100)"
    sb = run(up)
    if sb.user is None:
        pytest.skip("not root: runs have no user ids of their own, and nothing is reaped")
    deadline = time.monotonic() + 20
    while not (workdir / 'up').exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert (workdir / 'up').exists(), sb.output()
    other = tmp_path / 'other'
    other.mkdir()
    python = sys.executable if mode == 'on' else _python_for_others()
    reaper = subprocess.run([sys.executable, '-c', textwrap.dedent(f"""
        import os, time
        from mgcourse.isolation import processes, sandbox
        sb = sandbox.start([{python!r}, '-c', {up!r}], workdir={str(other)!r},
                           env={{'PATH': os.defpath}})
        deadline = time.monotonic() + 20
        while not os.path.exists({str(other / 'up')!r}) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert os.path.exists({str(other / 'up')!r}), sb.output()
        processes.reap_runs()
        assert sb.wait(10) is not None, 'its own run was not reaped'
        """)], capture_output=True, text=True, timeout=60)
    assert reaper.returncode == 0, reaper.stderr
    assert sb.process.poll() is None, "another grader's reaping ended this run"


def test_processes_with_no_environment_cost_a_scan_one_second_at_most():
    """Processes that emptied their environment for good look like ones in the middle of an
    exec: the scan that looks for a run's marker waits for them, once, not once each."""
    quiet = [subprocess.Popen(['sleep', '60'], env={}) for _ in range(5)]
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not all(
                Path(f'/proc/{p.pid}/cmdline').read_bytes().startswith(b'sleep') for p in quiet):
            time.sleep(0.01)
        started = time.monotonic()
        assert processes._running_with('SANDBOX_TEST_TOKEN=nobody') == []
        assert time.monotonic() - started < 4  # once each: 5 s
    finally:
        for p in quiet:
            p.kill()
            p.wait()
