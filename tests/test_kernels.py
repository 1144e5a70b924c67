"""Kernels that start every time and cell limits a busy machine cannot turn against correct code
(mgcourse.nbgrading.kernels, and nbgrader_plugins.ExecuteWithinBudget, nbgrader's runner in the course).

Real kernels, real nbclient: a cell's limit is CPU time; a wall-time limit is a backstop, and a
notebook it stopped is run again once; a kernel that died before answering is started again;
kernels talk over IPC in a folder of their own, which goes with them; nbgrader's kernels run in
the sandbox, and where they cannot (the sandbox off, as root with a Python under /root), the
log says so once.
"""

import json
import logging
import os
import re
import signal
import sys
import threading
import time

import nbformat
import pytest

from mgcourse import paths
from mgcourse.handout import notebooks
from mgcourse.isolation import isolated, processes, sandbox
from mgcourse.nbgrading import forked_kernels, kernels, sandboxed_kernels

pytest.importorskip('nbclient')
pytest.importorskip('nbgrader')

from mgcourse.nbgrading.nbgrader_plugins import ExecuteWithinBudget  # noqa: E402 - after the skip


def notebook(*sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata['kernelspec'] = {'name': 'python3', 'display_name': 'Python 3', 'language': 'python'}
    return nb


def errors(cell):
    return [o for o in cell.outputs if o.output_type == 'error']


def test_an_endless_loop_is_stopped_by_its_cpu_time_and_says_so():
    nb = notebook('x = 1', 'while True:\n    x += 1', 'print("after")')
    with pytest.raises(notebooks.NotebookFailed) as failed:
        notebooks.execute(nb, paths.SOLUTIONS, cpu_timeout=2)
    assert failed.value.index == 1
    assert failed.value.ename == 'CellCPUTimeExceeded'
    assert 'more than 2 s of CPU time' in failed.value.evalue


def test_a_cell_that_waits_costs_no_cpu_time_and_is_not_stopped():
    # sleeping is what a cell on a busy machine looks like to the CPU limit: time passes, the
    # kernel's CPU time does not grow
    nb = notebooks.execute(notebook('import time\ntime.sleep(3)\nprint("slept")'),
                           paths.SOLUTIONS, cpu_timeout=1)
    assert nb.cells[0].outputs[0].text == 'slept\n'


def test_nbgraders_runner_records_an_endless_loop_and_runs_the_cells_after_it(tmp_path):
    # the kernel runs in the sandbox: its CPU time is read from its run's processes, not from
    # bubblewrap's, and it is interrupted by a message, which reaches it there
    nb = notebook('while True:\n    pass', 'print("after")')
    run = ExecuteWithinBudget(cpu_timeout=2, timeout=120)
    out, _ = run.preprocess(nb, {'metadata': {'path': str(tmp_path)}})
    assert [o.ename for o in errors(out.cells[0])] == ['CellCPUTimeExceeded']
    assert out.cells[1].outputs[0].text == 'after\n'
    assert 'wall_retry' not in out.metadata.get('mgcourse', {}), "CPU limits are not retried"


def test_only_a_cell_of_no_nbgrader_role_is_skipped_by_its_tag(tmp_path, caplog):
    # a self-check scores when it runs without an error: skipped, it would never fail
    nb = notebook('print("a demonstration")', 'assert False, "not answered"', 'x = 1',
                  'print("the setup ran")')
    for cell in nb.cells:
        cell.metadata['tags'] = ['autograde-skip']
    nb.cells[1].metadata['nbgrader'] = {'grade': True, 'grade_id': 'answer_test', 'points': 1,
                                        'locked': True, 'solution': False, 'schema_version': 3}
    nb.cells[3].metadata['nbgrader'] = {'grade': False, 'grade_id': 'setup', 'locked': True,
                                        'solution': False, 'schema_version': 3}
    run = ExecuteWithinBudget(cpu_timeout=30, timeout=120)
    with caplog.at_level(logging.WARNING):
        out, _ = run.preprocess(nb, {'metadata': {'path': str(tmp_path)}})
    assert out.cells[0].outputs == [] and out.cells[2].outputs == [], "skipped, as tagged"
    assert [o.evalue for o in errors(out.cells[1])] == ['not answered'], "run: it scores 0"
    assert out.cells[3].outputs[0].text == 'the setup ran\n'
    assert out.cells[1].metadata['tags'] == [] and out.cells[0].metadata['tags'] == ['autograde-skip']
    said = [r.getMessage() for r in caplog.records if 'autograde-skip' in r.getMessage()]
    assert len(said) == 2 and 'answer_test' in said[0] and 'setup' in said[1]


def slow_on_its_first_start():
    """A kernel manager class whose first kernel takes 6 s of wall time in SLOW_THE_FIRST_TIME
    (as on a busy machine), and whose later kernels do not. The grader's side keeps count: a
    kernel runs in the sandbox, in a fresh copy of the notebook's folder, and leaves nothing
    for the next one."""

    class SlowOnItsFirstStart(sandboxed_kernels.SandboxedKernelManager):
        starts = 0

        def format_kernel_cmd(self, extra_arguments=None):
            type(self).starts += 1
            return super().format_kernel_cmd(extra_arguments) + [
                f"--IPKernelApp.exec_lines=FIRST = {type(self).starts == 1}"]

    return SlowOnItsFirstStart


SLOW_THE_FIRST_TIME = "import time\nif FIRST:\n    time.sleep(6)\nanswer = 42"


def test_a_notebook_stopped_by_the_wall_clock_is_run_again_once_and_says_so(tmp_path):
    nb = notebook(SLOW_THE_FIRST_TIME, 'print(answer)')
    run = ExecuteWithinBudget(cpu_timeout=30, timeout=2,
                              kernel_manager_class=slow_on_its_first_start())
    out, resources = run.preprocess(nb, {'metadata': {'path': str(tmp_path)}, 'unique_key': 'nb'})
    assert not any(errors(cell) for cell in out.cells), "the second run is graded, and passed"
    assert resources['mgcourse_wall_retry'] is True  # FlagRetried flags it in the gradebook
    assert out.cells[1].outputs[0].text == '42\n'
    assert out.metadata['mgcourse']['wall_retry'] == {'first_run_stopped': [0],
                                                      'second_run_stopped': []}
    note = out.cells[0].outputs[-1]
    assert note.name == 'stderr' and 'run again once' in note.text and 'one graded' in note.text


def test_without_retries_the_wall_stop_is_marked_for_a_run_alone_later(tmp_path):
    manager = slow_on_its_first_start()
    nb = notebook(SLOW_THE_FIRST_TIME, 'print(answer)')
    run = ExecuteWithinBudget(cpu_timeout=30, timeout=2, retry_wall_timeouts=False,
                              kernel_manager_class=manager)
    out, _ = run.preprocess(nb, {'metadata': {'path': str(tmp_path)}, 'unique_key': 'nb'})
    assert 'CellTimeoutError' in [o.ename for o in errors(out.cells[0])]
    assert out.metadata['mgcourse']['wall_stopped'] == [0]
    # the run alone (mgcourse autograde's) is told what the first run lost, and says so
    again = ExecuteWithinBudget(cpu_timeout=30, timeout=2, retry_wall_timeouts=False,
                                first_run_stopped={'nb': [0]}, kernel_manager_class=manager)
    out, _ = again.preprocess(notebook(SLOW_THE_FIRST_TIME, 'print(answer)'),
                              {'metadata': {'path': str(tmp_path)}, 'unique_key': 'nb'})
    assert not any(errors(cell) for cell in out.cells)
    assert out.metadata['mgcourse']['wall_retry']['first_run_stopped'] == [0]
    assert 'run again once' in out.cells[0].outputs[-1].text


class DiesOnFirstStart(sandboxed_kernels.SandboxedKernelManager):
    """A kernel manager whose first kernel exits at once, as one that lost its port does."""

    starts = 0

    def format_kernel_cmd(self, extra_arguments=None):
        type(self).starts += 1
        if type(self).starts == 1:
            return [os.sys.executable, '-c', 'raise SystemExit(1)']
        return super().format_kernel_cmd(extra_arguments)


def test_a_kernel_that_died_before_answering_is_started_once_more(tmp_path):
    run = ExecuteWithinBudget(cpu_timeout=30, timeout=60, kernel_manager_class=DiesOnFirstStart)
    out, _ = run.preprocess(notebook('print(6 * 7)'), {'metadata': {'path': str(tmp_path)}})
    assert out.cells[0].outputs[0].text == '42\n'
    assert DiesOnFirstStart.starts == 2 and run.restarted_kernels == 1


def test_kernels_talk_over_ipc_in_a_folder_that_goes_with_them():
    km, kc = kernels.start_kernel()
    try:
        info = json.loads(open(km.connection_file).read())
        folder = os.path.dirname(km.connection_file)
        assert info['transport'] == 'ipc'
        assert info['ip'].startswith(folder + os.sep), "socket files in the kernel's own folder"
        assert len(f"{info['ip']}-{info['hb_port']}") < 100, "under the socket path limit"
        assert kc.execute_interactive('1 + 1', timeout=30)['content']['status'] == 'ok'
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    assert not os.path.exists(folder)


# nbgrader's own add_submission warns (SQLAlchemy's autoflush) while it builds the records
@pytest.mark.filterwarnings('ignore::sqlalchemy.exc.SAWarning')
def test_a_notebook_run_twice_is_flagged_in_the_gradebook(tmp_path, monkeypatch):
    from nbgrader.api import Gradebook

    from mgcourse.nbgrading.nbgrader_plugins import FlagRetried
    # a new gradebook runs `alembic`, found on PATH: this environment's
    monkeypatch.setenv('PATH', os.pathsep.join([os.path.dirname(sys.executable), os.environ['PATH']]))
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    with Gradebook(url) as gb:
        gb.add_assignment('hw')
        gb.add_notebook('one', 'hw')
        gb.add_notebook('two', 'hw')
        gb.add_student('ada')
        gb.add_submission('hw', 'ada')
    for name, retried in (('one', True), ('two', False)):
        resources = {'nbgrader': {'db_url': url, 'notebook': name, 'assignment': 'hw',
                                  'student': 'ada'}}
        if retried:
            resources['mgcourse_wall_retry'] = True
        FlagRetried().preprocess(nbformat.v4.new_notebook(), resources)
    with Gradebook(url) as gb:
        assert gb.find_submission_notebook('one', 'hw', 'ada').flagged is True
        assert gb.find_submission_notebook('two', 'hw', 'ada').flagged is False


def test_the_course_pipeline_flags_after_saving_the_grades():
    from nbgrader.preprocessors import SaveAutoGrades

    from mgcourse.nbgrading.nbgrader_plugins import (ExecuteWithinBudget, FlagRetried, GradePackage,
                                           ScorePackageChecks, package_pipeline)
    steps = package_pipeline([ExecuteWithinBudget, SaveAutoGrades])
    assert steps == [GradePackage, ExecuteWithinBudget, ScorePackageChecks, SaveAutoGrades,
                     FlagRetried]


@pytest.mark.parametrize('fork', ['on', 'off'])
def test_a_sandboxed_kernel_works_in_a_copy_of_its_folder_and_leaves_nothing_behind(
        tmp_path, monkeypatch, fork):
    # fork on: forked from the folder's zygote (forked_kernels), where it can be; off: a
    # Python of its own
    if not sandbox.bwrap_available():
        pytest.skip(f"the sandbox is off here: {sandbox.off_reason()}")
    monkeypatch.setenv(forked_kernels.ENV_SWITCH, fork)
    forked_kernels.stop()
    (tmp_path / 'data.txt').write_text('read me\n')
    (tmp_path / 'passwd').symlink_to('/etc/passwd')
    km, kc = kernels.start_kernel(sandboxed=True, cwd=str(tmp_path))
    sb = km.provisioner.sandboxed
    assert isinstance(sb, forked_kernels.ForkedKernel) == (
        fork == 'on' and forked_kernels._usable_here())
    try:
        out = []
        reply = kc.execute_interactive(
            "import os, subprocess, sys\n"
            "print(open('data.txt').read().strip(), os.path.lexists('passwd'))\n"
            "open('data.txt', 'w').write('changed')\n"
            "open('/tmp/left-by-the-kernel', 'w').write('x')\n"
            "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'],\n"
            "                 start_new_session=True)", timeout=60,
            output_hook=lambda m: out.append(m['content'].get('text', '')))
        assert reply['content']['status'] == 'ok'
        assert ''.join(out) == 'read me False\n', "the files, not the links"
        # a signal reaches the kernel, not bubblewrap (whose end would end the kernel)
        timer = threading.Timer(1.0, km.signal_kernel, [signal.SIGINT])
        timer.start()
        reply = kc.execute_interactive('while True:\n    pass', timeout=60)
        assert reply['content']['ename'] == 'KeyboardInterrupt'
        assert kc.execute_interactive('1', timeout=30)['content']['status'] == 'ok'
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    assert (tmp_path / 'data.txt').read_text() == 'read me\n', "it wrote its copy only"
    assert not os.path.exists(km._folder)
    if isinstance(sb, forked_kernels.ForkedKernel):
        zygote = sb._zygote
        assert zygote.kernel_processes() == [], "the sleeper it started is gone with it"
        # the next kernel of the folder is forked by the same zygote, in a /tmp emptied
        km, kc = kernels.start_kernel(sandboxed=True, cwd=str(tmp_path))
        try:
            assert km.provisioner.sandboxed._zygote is zygote
            assert printed(kc, "import os; print(os.path.exists('/tmp/left-by-the-kernel'))"
                           ) == 'False\n'
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
        forked_kernels.stop()  # as at the grading process's exit
        assert not zygote.base.exists()
    left = processes._running_as(sb.user) if sb.user is not None else processes._running_with(
        sb._marker)
    assert left == [], "nothing of the sandbox runs"


def forked_kernel(folder):
    """(manager, client) of a kernel forked by folder's zygote (skips where there is none)."""
    if not forked_kernels._usable_here():
        pytest.skip("kernels are forked only as root with bubblewrap")
    km, kc = kernels.start_kernel(sandboxed=True, cwd=str(folder))
    assert isinstance(km.provisioner.sandboxed, forked_kernels.ForkedKernel)
    return km, kc


def stop_kernel(km, kc):
    kc.stop_channels()
    km.shutdown_kernel(now=True)


def test_a_forked_kernel_plots_inline_and_counts_its_own_cpu_time_only(tmp_path):
    km, kc = forked_kernel(tmp_path)
    sb = km.provisioner.sandboxed
    try:
        started = sb.cpu_seconds()
        zygote_cpu = sum(map(isolated.process_cpu_seconds, sb._zygote.server_pids))
        assert 0 < started < zygote_cpu, "its start, not the zygote's imports"
        kinds = []
        reply = kc.execute_interactive(
            "import matplotlib.pyplot as plt\nplt.plot([0, 1], [1, 0])\nplt.show()", timeout=60,
            output_hook=lambda m: kinds.append((m['msg_type'], sorted(m['content'].get('data', {})))))
        assert reply['content']['status'] == 'ok'
        assert ('display_data', ['image/png', 'text/plain']) in kinds, kinds
        kc.execute_interactive("x = 0\nfor i in range(3_000_000):\n    x += i", timeout=120)
        assert sb.cpu_seconds() > started + 0.1, "the loop's time is the kernel's"
    finally:
        stop_kernel(km, kc)


def test_a_kernel_that_kills_its_zygote_costs_the_next_kernel_nothing(tmp_path):
    km, kc = forked_kernel(tmp_path)
    first = km.provisioner.sandboxed._zygote
    try:
        kc.execute("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)")  # its parent
        deadline = time.monotonic() + 60
        while first.sandboxed.process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert first.sandboxed.process.poll() is not None, "the zygote is dead"
    finally:
        stop_kernel(km, kc)
    km, kc = forked_kernel(tmp_path)  # a new zygote
    try:
        assert km.provisioner.sandboxed._zygote is not first
        assert printed(kc, "print(6 * 7)") == '42\n'
    finally:
        stop_kernel(km, kc)
    assert not first.base.exists(), "the dead zygote's folder is gone"
    # another folder (the next student) replaces the zygote, and the one before is gone
    other = tmp_path / 'other'
    other.mkdir()
    zygote = forked_kernels._CURRENT[0]
    km, kc = forked_kernel(other)
    stop_kernel(km, kc)
    assert forked_kernels._CURRENT[0] is not zygote and not zygote.base.exists()
    assert processes._running_as(zygote.user) == []


def test_a_zygote_that_does_not_start_leaves_kernels_starting_as_before(tmp_path, monkeypatch,
                                                                        caplog):
    if not forked_kernels._usable_here():
        pytest.skip("kernels are forked only as root with bubblewrap")
    forked_kernels.stop()
    monkeypatch.setattr(forked_kernels, 'ZYGOTE_MAIN', "raise SystemExit('no zygote today')")
    monkeypatch.setattr(forked_kernels, 'FAILED', [])
    monkeypatch.setattr(sandboxed_kernels, '_SAID', set())
    with caplog.at_level(logging.WARNING):
        for _ in range(2):
            km, kc = kernels.start_kernel(sandboxed=True, cwd=str(tmp_path))
            try:
                assert not isinstance(km.provisioner.sandboxed, forked_kernels.ForkedKernel)
                assert printed(kc, "print(6 * 7)") == '42\n'
            finally:
                stop_kernel(km, kc)
    said = [r.getMessage() for r in caplog.records if 'zygote' in r.getMessage()]
    assert len(said) == 1 and 'no zygote today' in said[0], said
    assert len(forked_kernels.FAILED) == 1, "tried once"


# What a kernel says of its debugger and its traceback mode.
DEBUGGER_AND_TRACEBACKS = (
    "import sys\n"
    "print(sys.modules.get('debugpy', 'absent'), '_pydevd_bundle' in sys.modules,\n"
    "      get_ipython().InteractiveTB.mode)")


def printed(kc, code):
    """What running code in the kernel printed."""
    out = []
    kc.execute_interactive(code, timeout=60,
                           output_hook=lambda m: out.append(m['content'].get('text', '')))
    return ''.join(out)


def test_the_courses_own_kernels_have_no_debugger_and_keep_ipythons_tracebacks():
    # the notebooks the course runs itself (their outputs are saved): only the debugger goes
    km, kc = kernels.start_kernel()
    try:
        said = printed(kc, DEBUGGER_AND_TRACEBACKS)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    assert said == 'None False Context\n'


def test_a_grading_kernel_has_no_debugger_and_prints_plain_tracebacks(tmp_path):
    # kernels.KERNEL_MAIN, KERNEL_OPTIONS: what a kernel costs to start, and a failing cell to
    # report, with nothing a grading run uses lost
    (tmp_path / 'helper.py').write_text("def f():\n    raise ValueError('deep down')\n")
    km, kc = kernels.start_kernel(sandboxed=True, cwd=str(tmp_path))
    try:
        assert printed(kc, DEBUGGER_AND_TRACEBACKS) == 'None False Plain\n'
        reply = kc.execute_interactive('import helper\nhelper.f()', timeout=60)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    assert reply['content']['ename'] == 'ValueError'
    text = re.sub(r'\x1b\[[0-9;]*m', '', '\n'.join(reply['content']['traceback']))
    assert 'helper.f()' in text and "raise ValueError('deep down')" in text, text
    assert text.rstrip().endswith('ValueError: deep down'), text


def test_without_bubblewrap_the_log_says_plainly_that_kernels_are_not_isolated(tmp_path,
                                                                                 monkeypatch,
                                                                                 caplog):
    # One kernel, started with the sandbox forced off, as nbgrader's autograde starts it:
    # here (root, a Python under /root) it cannot run as a user of its own, and the log says
    # so once, naming why; where it can, it says that instead. Either way the kernel runs.
    monkeypatch.setenv(sandbox.ENV_SWITCH, 'off')
    monkeypatch.setattr(sandboxed_kernels, '_SAID', set())
    (tmp_path / 'data.txt').write_text('read me\n')
    with caplog.at_level(logging.WARNING):
        for _ in range(2):
            km, kc = kernels.start_kernel(sandboxed=True, cwd=str(tmp_path))
            try:
                reply = kc.execute_interactive("print(open('data.txt').read())", timeout=60)
                assert reply['content']['status'] == 'ok'
                runs_as = km.provisioner.sandboxed.user
            finally:
                kc.stop_channels()
                km.shutdown_kernel(now=True)
    said = [r.getMessage() for r in caplog.records if 'kernels' in r.getMessage()]
    assert len(said) == 1, said
    if runs_as is None:
        assert 'NOT isolated' in said[0] and f'{sandbox.ENV_SWITCH}=off' in said[0]
        if os.geteuid() == 0:
            assert 'cannot be reached by other users' in said[0]
            assert sys.base_prefix in said[0] or sys.prefix in said[0]
    else:
        assert 'a user id of its own' in said[0]
