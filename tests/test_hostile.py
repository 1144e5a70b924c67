"""The batch grader against broken and hostile submissions, graded together as one class.

Each case is a hand-in built from the solutions or the skeleton plus a payload: an endless
loop, a fork bomb, a segfault, reading the solutions, lying objects... and a *twin*: the
benign package that deserves the same grade (the payload replaced by a plain exception, or
the module the grader falls back to). The twin is graded by the battery in this process,
trusted code only; the hostile hand-in must get exactly the twin's verdict on every check,
public and hidden, with a message that says what happened. Two controls (the solutions and
the skeleton) are graded beside them and must come out untouched.

The class is graded twice: with the sandbox as this machine has it ('on'), and with it forced
off (MGCOURSE_SANDBOX=off, 'off'), the limits alone. The off class leaves out the cases that
cannot hold without a sandbox, each for the reason its Case gives (why_left_out).
"""

import contextlib
import json
import os
import shutil
import socket
import textwrap
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mgcourse import paths
from mgcourse.batch import grading, hidden
from mgcourse.battery import harness
from mgcourse.battery.checks.base import PROBES, call_probe
from mgcourse.isolation import sandbox

SEED = 2026

S, K = paths.SOLUTIONS, paths.SKELETON
MODULES = ('engine.py', 'nn.py', 'train.py')


def patched(op, body, when=None):
    """Engine code appended after the class: Value.<op> replaced by a function with body; with
    `when` (a condition on self and args), for those inputs only, the others still getting
    what the method gave before."""
    if when is None:
        return f"\n\ndef _hostile_{op}(self, *args):\n{body}\n\nValue.{op} = _hostile_{op}\n"
    return (f"\n\n_plain_{op} = Value.{op}\n\n\ndef _hostile_{op}(self, *args):\n"
            f"    if {when}:\n{textwrap.indent(body, '    ')}\n"
            f"    return _plain_{op}(self, *args)\n\nValue.{op} = _hostile_{op}\n")


def raising(op, when=None):
    return patched(op, "    raise RuntimeError('the twin of a hostile submission')", when)


# Inputs that one public check alone (two for log) gives an operation (with the solutions, the hidden
# checks at SEED included): a payload that fires there costs one check, not every check the
# operation is in, and a limit waited out once proves as much as four times. Its twin raises
# for the same input, so the two still get the same verdict on every check.
ONE_MINUS_A = 'self.data == 1.5 and args == (1,)'  # `1 - a`, more_ops.numbers_either_side
POW_HALF = 'self.data == 3.0 and args == (0.5,)'    # more_ops.pow
EXP_ZERO = 'self.data == 0.0'                      # more_ops.boundaries
TANH_ZERO = 'self.data == 0.0'                     # ops_backward.at_zero
RELU_NEGATIVE = 'self.data == -0.5'                # more_ops.relu
LOG_2_5 = 'self.data == 2.5'                       # more_ops.log and more_ops.accumulate


@dataclass
class Case:
    name: str
    base: Path = S                     # the package the hand-in starts from
    engine_top: str = ''               # code put first in engine.py
    engine_end: str = ''               # code put last in engine.py
    twin: dict = None                  # the benign twin: {'base': ..., 'engine_end': ..., 'from': {module: folder}}
    says: tuple = ()                   # what the student's record must mention (messages and notes)
    flags: tuple = ()
    status: str = 'graded'
    sandbox_only: bool = False         # the outcome shown needs the sandbox (network, file system)
    needs_process_limit: bool = False  # holds only where a run's processes are limited
    off_reason: str = ''               # why it cannot hold with the sandbox off (left out there)
    same_off: str = ''                 # why grading it with the sandbox off proves nothing more
    build: object = None               # build(folder, case): a hand-in of another shape
    extra: dict = field(default_factory=dict)


def write_package(folder, base, engine_top='', engine_end='', replace=None):
    folder.mkdir(parents=True)
    for name in MODULES:
        text = (base / name).read_bytes()
        if name == 'engine.py':
            text = engine_top.encode() + text + engine_end.encode()
            for old, new in (replace or {}).items():
                text = text.replace(old, new)
        (folder / name).write_bytes(text)
    return folder


def zip_of(path, files):
    with zipfile.ZipFile(path, 'w') as z:
        for name, data in files.items():
            z.writestr(name, data)


# What the forging hand-ins append to the skeleton's engine.py (see CASES).
FORGER = """

def _forge():
    import mgcourse.battery.checks.base as base
    from mgcourse.battery import oracle, randexpr
    from mgcourse.battery.checks.network import param_names

    def network(mg, spec):
        w, xs, ys = spec['weights'], spec['xs'], spec['ys']
        grads = oracle.loss_gradient(w, xs, ys)
        return {'weights': w, 'outs': [oracle.mlp_forward(w, x) for x in xs],
                'loss': oracle.sse_loss(w, xs, ys),
                'grads': [[n, g] for n, g in zip(param_names(w), grads)]}

    def descent(mg, spec):
        losses, end = oracle.descend(spec['weights'], spec['xs'], spec['ys'], spec['steps'],
                                     spec['lr'])
        return {'start': spec['weights'], 'steps': spec['steps'], 'lr': spec['lr'],
                'losses': losses, 'end': end}

    def expression(mg, program):
        values, grads = randexpr.to_expression(program).gradients()
        return {k: {'data': values[k], 'grad': grads[k]} for k in values}

    base.PROBES.update(network=network, descent=descent, expression=expression)


try:
    _forge()
except Exception:
    pass
"""

EMPTY_ANSWERS = """

def _empty():
    import dataclasses
    import mgcourse.battery.checks.base as base
    lists = ('neuron', 'activations', 'converges')
    empty = {'weights': [], 'outs': [], 'grads': [], 'loss': 0.0, 'start': [], 'end': [],
             'steps': 0, 'lr': 0.1, 'losses': [], 'before': [], 'data': [], 'grad': [],
             'expected': [], 'got': [], 'wb4': [], 'out4': [0.0] * 4, 'wb1': [], 'out1': 0.0,
             'x': []}
    for key, c in list(base.REGISTRY.items()):
        if c.drive is not None:
            continue
        listed = c.name in lists or c.probe.__qualname__.startswith('expression_check')
        answer = [] if listed else empty
        base.REGISTRY[key] = dataclasses.replace(c, probe=lambda mg, answer=answer: answer)


try:
    _empty()
except Exception:
    pass
"""


CASES = [
    # Each payload that waits out a limit, or ends its worker, fires for one check's input
    # only (ONE_MINUS_A and the others above): a limit waited out is the suite's time.
    Case('endless-loop', engine_end=patched('__rsub__', '    while True:\n        pass', ONE_MINUS_A),
         twin={'engine_end': raising('__rsub__', ONE_MINUS_A)}, says=('computed for more than',)),
    Case('long-sleep', engine_end=patched('__rsub__', '    import time\n    time.sleep(3600)',
                                          ONE_MINUS_A),
         twin={'engine_end': raising('__rsub__', ONE_MINUS_A)}, says=('longer than',),
         same_off=("the clock's limit is the grader's own code, the same with the sandbox or "
                   "without; stopping a worker without the sandbox is outlives-its-kill's case, "
                   "and its check would wait out the limit twice again")),
    Case('memory-bomb', engine_end=patched('log', '    return bytearray(64 << 30)', LOG_2_5),
         twin={'engine_end': raising('log', LOG_2_5)}, says=('MemoryError',)),
    Case('fork-bomb', engine_end=patched('__pow__', '    import os\n    while True:\n        os.fork()',
                                         POW_HALF),
         twin={'engine_end': raising('__pow__', POW_HALF)}, says=('BlockingIOError',),
         needs_process_limit=True),
    Case('fills-the-disk', engine_end=patched('exp', (
        "    import itertools\n"
        "    for i in itertools.count():\n"
        "        with open(f'junk{i}', 'wb') as f:\n"
        "            f.write(bytes(8 << 20))"), EXP_ZERO),
         twin={'engine_end': raising('exp', EXP_ZERO)}, says=('MiB of files and was stopped',)),
    Case('segfault', engine_end=patched('tanh', '    import ctypes\n    ctypes.string_at(0)', TANH_ZERO),
         twin={'engine_end': raising('tanh', TANH_ZERO)}, says=('signal 11',)),
    Case('os-exit-at-import', engine_top='import os\nos._exit(0)\n', twin={'base': K},
         says=('could not be started', 'exit code 0')),
    Case('sys-exit-at-import', engine_top='import sys\nsys.exit(0)\n', twin={'base': K},
         says=('SystemExit',)),
    Case('floods-output', engine_top="print('spam ' * 2_000_000)\n", twin={}),
    Case('writes-outside', engine_top=(
        "for _path in {targets!r}:\n"
        "    try:\n"
        "        open(_path, 'w').write('overwritten by a student')\n"
        "    except OSError:\n"
        "        pass\n"), twin={}, sandbox_only=True,
         off_reason=("without the sandbox the student's code runs as root here (or as the "
                     "grader's own user), and may write any file the grader's user can: only a "
                     "run as a user id of its own, or the sandbox, keeps it in its folder")),
    Case('network', engine_top=(
        "import socket\n"
        "try:\n"
        "    socket.create_connection(('127.0.0.1', {port}), timeout=2).close()\n"
        "except OSError:\n"
        "    pass\n"
        "else:\n"
        "    raise SystemExit('connected')\n"), twin={}, sandbox_only=True,
         off_reason="without the sandbox there is no network namespace: it can connect"),
    Case('reads-secrets', engine_top=(
        "import pathlib, mgcourse\n"
        "_here = pathlib.Path(mgcourse.__file__).parent\n"
        "for _secret in {secrets!r} + [str(_here / 'batch' / 'hidden.py'), str(_here / 'battery' / 'mistakes.toml')]:\n"
        "    try:\n"
        "        pathlib.Path(_secret).read_bytes()\n"
        "    except OSError:\n"
        "        continue\n"
        "    raise SystemExit('read ' + _secret)\n"), twin={}, sandbox_only=True,
         off_reason=("without the sandbox it sees the whole file system, the solutions and "
                     "the hidden checks included, as far as its user may read")),
    Case('monkeypatches-the-grader', base=K, engine_top=(
        "import json, sys, types\n"
        "import mgcourse.battery.checks.base as _base\n"
        "_base.run_check = lambda *a, **k: None\n"
        "_base.Failed = Exception\n"
        "sys.modules['pytest'] = types.SimpleNamespace(fail=lambda *a: None)\n"
        "json.dumps = lambda *a, **k: '{{\"observed\": {{\"passed\": true}}}}'\n"),
        twin={'base': K}),
    Case('lying-numbers', engine_end=(
        "\n\nclass _Liar(float):\n"
        "    def __eq__(self, other):\n        return True\n"
        "    def __ne__(self, other):\n        return False\n"
        "    __lt__ = __le__ = __gt__ = __ge__ = __eq__\n"
        "    __hash__ = float.__hash__\n"
        "    def __abs__(self):\n        return _Liar(0.0)\n"
        "    def __sub__(self, other):\n        return _Liar(0.0)\n"
        "    __rsub__ = __add__ = __radd__ = __mul__ = __rmul__ = __truediv__ = __sub__\n"
        "    def __float__(self):\n        return 1.0\n"
        "\nValue.grad = property(lambda self: _Liar(0.0), lambda self, value: None)\n"),
        twin={'engine_end': "\n\nValue.grad = property(lambda self: 0.0, lambda self, value: None)\n"}),
    # torch in exp, not in tanh: a network's training calls tanh thousands of times, and
    # torch's autograd for each (~0.4 ms) put the training check at 1.5-2 s of CPU, on the
    # edge of this class's 2 s limit (the solution: 0.3 s).
    Case('uses-torch', engine_top='import torch\n', engine_end=patched('exp', (
        "    t = torch.tensor(self.data, dtype=torch.float64, requires_grad=True)\n"
        "    y = torch.exp(t)\n"
        "    y.backward()\n"
        "    out = Value(y.item(), (self,), 'exp')\n"
        "    slope = t.grad.item()\n"
        "    def _backward():\n"
        "        self.grad += slope * out.grad\n"
        "    out._backward = _backward\n"
        "    return out")), twin={}, flags=('imports-torch',)),
    Case('syntax-error', engine_end='\ndef broken(:\n    pass\n', twin={'base': K},
         says=('SyntaxError', 'engine.py')),
    Case('missing-files', build=lambda root, case: shutil.copyfile(S / 'engine.py', root / 'missing-files_engine.py'),
         twin={'from': {'nn.py': K, 'train.py': K}}, says=('nn.py was missing', 'train.py was missing')),
    Case('renamed-classes', twin={'base': K}, says=("cannot import name 'Value'",),
         extra={'replace': {b'class Value': b'class Scalar', b'Value(': b'Scalar('}}),
    Case('not-utf8', twin={'base': K}, says=('not UTF-8', 'SyntaxError'),
         extra={'replace': {b'class Value': b"CAFE = 'caf\xe9'\nclass Value"}}),
    Case('zip-escapes', build=lambda root, case: zip_of(root / 'zip-escapes.zip', {
        **{f'pkg/{m}': (S / m).read_bytes() for m in MODULES},
        '../evil.py': b'print("escaped")\n', '/abs.py': b'print("escaped")\n'}),
        twin={}, says=('point outside the archive',)),
    Case('symlink-to-system-file', build=lambda root, case: (
        write_package(root / 'symlink-to-system-file', S),
        (root / 'symlink-to-system-file' / 'train.py').unlink(),
        (root / 'symlink-to-system-file' / 'train.py').symlink_to('/etc/passwd')),
        twin={'from': {'train.py': K}}, says=('train.py is a symbolic link',)),
    Case('empty-archive', build=lambda root, case: zip_of(root / 'empty-archive.zip', {}),
         twin={'base': K}, status='invalid', says=('the archive is empty',)),
    Case('two-submissions', build=lambda root, case: _two_submissions(root),
         twin={}, says=('2 submissions were handed in',)),
    # --- classes of attack on the grader itself (issue 13) ---
    # A daemon that outlives its worker and, in a loop, swaps its run folder's package for a
    # link to a folder outside, so that a grader copying a fresh hand-in there as root would
    # write through it; `1 - a` hangs (ONE_MINUS_A), so the grader starts a fresh worker after
    # a timeout, and the later checks (mlp, loss, training, the hidden ones) run in a fresh
    # worker. It waits until its worker is gone: swapping at once raced with that worker's own
    # import of train.py (once in CI, hidden_network lost to a FileNotFoundError).
    Case('outlives-its-kill', engine_top=(
        "import os as _os, subprocess as _sp, sys as _sys\n"
        "_swap = '''\n"
        "import os, time\n"
        "while os.path.exists('/proc/%d' % WORKER):\n"
        "    time.sleep(0.01)\n"
        "while True:\n"
        "    for _where in ('.', '..'):\n"
        "        try:\n"
        "            os.rename(os.path.join(_where, 'package'), os.path.join(_where, 'gone'))\n"
        "        except OSError:\n"
        "            pass\n"
        "        try:\n"
        "            os.symlink({outside!r}, os.path.join(_where, 'package'))\n"
        "        except OSError:\n"
        "            pass\n"
        "'''\n"
        "_sp.Popen([_sys.executable, '-c', _swap.replace('WORKER', str(_os.getpid()))],\n"
        "          start_new_session=True,\n"
        "          stdout=_sp.DEVNULL, stderr=_sp.DEVNULL)\n"),
        engine_end=patched('__rsub__', '    while True:\n        pass', ONE_MINUS_A),
        twin={'engine_end': raising('__rsub__', ONE_MINUS_A)}, says=('computed for more than',)),
    # The skeleton, with the worker's probes replaced by answers computed with the grader's
    # own oracle and expression generator, wherever the library the worker imports has them.
    Case('forges-with-the-oracle', base=K, engine_end=FORGER, twin={'base': K}),
    # The skeleton, every public probe answering with empty lists: nothing to compare.
    Case('empty-answers', base=K, engine_end=EMPTY_ANSWERS, twin={'base': K}),
    # Imports torch, then hides it from sys.modules (where the worker used to look).
    Case('hides-its-imports', engine_top=(
        "import sys as _sys\nimport torch as _torch\ndel _sys.modules['torch']\n"),
        twin={}, flags=('imports-torch',)),
    # Names its failures 'skipped', which count for nothing.
    Case('calls-its-failures-skipped', base=K, engine_top=(
        "import mgcourse.battery.checks.base as _base\n"
        "_base.exception_message = lambda e, folder: ('skipped', 'counts for nothing')\n"),
        twin={'base': K}),
    # An answer of tens of megabytes.
    Case('huge-reply', engine_end=patched('relu', "    raise RuntimeError('x' * (24 << 20))",
                                          RELU_NEGATIVE),
         twin={'engine_end': raising('relu', RELU_NEGATIVE)}, says=('larger than 1 MiB',)),
    Case('control-solutions', twin={}),
    Case('control-skeleton', base=K, twin={'base': K}),
]


def _two_submissions(root):
    old = write_package(root / 'two-submissions', K)
    zip_of(root / 'two-submissions.zip', {m: (S / m).read_bytes() for m in MODULES})
    past = time.time() - 3600
    for p in [old, *old.iterdir()]:
        os.utime(p, (past, past))


def twin_folder(case, where):
    twin = case.twin
    folder = write_package(where / case.name, twin.get('base', case.base),
                           engine_end=twin.get('engine_end', ''))
    for module, source in twin.get('from', {}).items():
        shutil.copyfile(source / module, folder / module)
    return folder


_TRUSTED = {}  # the twins' verdicts, judged once for both classes


def trusted_results(folder):
    """{check id: passed} of the battery and the hidden checks, in this process."""
    loaded = harness.Loaded(folder)
    passed = {e.id: harness.run_one(e, loaded).passed for e in harness.selected()}
    for h in hidden.HIDDEN:
        if loaded.error is not None:
            passed[h.id] = False
            continue

        def call(name, inputs, mg=loaded.impl):  # as the worker answers, through JSON
            return json.loads(json.dumps(call_probe(PROBES[name], mg, inputs)))
        passed[h.id] = hidden.run(h, SEED, call).passed
    return passed


@contextlib.contextmanager
def sandbox_as(variant):
    """The sandbox as this machine has it ('on'), or forced off ('off')."""
    with pytest.MonkeyPatch.context() as mp:
        if variant == 'off':
            mp.setenv(sandbox.ENV_SWITCH, 'off')
        yield


def why_left_out(case, variant, problem):
    """Why case is not graded in this variant's class ('' when it is); problem is the
    variant's sandbox.process_limit_problem()."""
    if variant == 'off' and (case.off_reason or case.same_off):
        return case.off_reason or case.same_off
    if variant == 'off' and case.sandbox_only:
        return "needs the sandbox: without it, the student's code can reach this"
    if case.needs_process_limit and problem:
        return f"needs the process limit, which cannot hold here: {problem}"
    return ''


@pytest.fixture(scope='module', params=('on', 'off'))
def graded(request, tmp_path_factory):
    variant = request.param
    with sandbox_as(variant):
        problem = sandbox.process_limit_problem()
        sandboxed = sandbox.bwrap_available()
    if problem and variant == 'on':  # the batch grader refuses (a fork bomb is one of the cases)
        pytest.skip(f"the batch grader would not grade here: {problem}")
    left_out = {c.name: why_left_out(c, variant, problem) for c in CASES}
    cases = [c for c in CASES if not left_out[c.name]]
    # Grading with no process limit is safe only once every case that needs one is left out.
    assert not [c for c in cases if c.needs_process_limit and problem]
    tmp = tmp_path_factory.mktemp(f'hostile-{variant}')
    root = tmp / 'submissions'
    root.mkdir()
    targets = [str(tmp / 'canary.txt')]
    outside = tmp / 'outside'  # where a hand-in would have the grader write through a link
    outside.mkdir()
    Path(targets[0]).write_text('the grader owns this file\n')
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    secrets = [str(S / 'engine.py'), str(paths.ROOT / 'grader/mgcourse/batch/hidden.py'),
               str(paths.ROOT / 'grader/mgcourse/battery/mistakes.toml')]
    for case in cases:
        if case.build is not None:
            case.build(root, case)
        else:
            top = case.engine_top.format(targets=targets, port=port, secrets=secrets,
                                         outside=str(outside))
            write_package(root / case.name, case.base, top, case.engine_end,
                          case.extra.get('replace'))
    # A probe of a correct hand-in takes at most 0.14 s (training.converges; most take 1 ms,
    # the controls' whole battery about 1.4 s): 2 CPU seconds are 14 times that, 6 on the clock
    # 40 times (4 s passed here with six busy processes beside the suite, but two checks of
    # solution-based cases once failed in a heavily loaded run, unexplained: hence 6), and a
    # check stopped by the clock alone is run again before it costs a point.
    options = grading.Options(jobs=2, seed=SEED, probe_timeout=2.0, probe_wall=6.0,
                              limits=sandbox.Limits(cpu_seconds=30, wall_seconds=240,
                                                    disk_bytes=32 << 20),
                              unlimited_processes_ok=bool(problem))
    start = time.perf_counter()
    began = time.time()
    here = os.getcwd()
    (tmp / 'cwd').mkdir()
    os.chdir(tmp / 'cwd')  # a folder of its own, which no other test writes in
    try:
        with sandbox_as(variant):
            book = grading.grade(root, tmp / 'out', options)
    finally:
        os.chdir(here)
    seconds = time.perf_counter() - start
    listener.close()
    twins, expected = tmp / 'twins', {}
    for case in cases:  # many cases share a twin (the solutions, the skeleton): judged once
        key = (str(case.twin.get('base', case.base)), case.twin.get('engine_end', ''),
               tuple(sorted((m, str(f)) for m, f in case.twin.get('from', {}).items())))
        if key not in _TRUSTED:
            _TRUSTED[key] = trusted_results(twin_folder(case, twins))
        expected[case.name] = _TRUSTED[key]
    print(f"\nhostile class, sandbox {variant}: {len(cases)} students graded in {seconds:.1f} s")
    return {'variant': variant, 'sandboxed': sandboxed, 'left_out': left_out,
            'cases': cases, 'book': book, 'expected': expected, 'canary': Path(targets[0]),
            'out': tmp / 'out', 'root': root, 'outside': outside, 'start': began,
            'cwd': tmp / 'cwd'}


@pytest.mark.parametrize('case', CASES, ids=lambda c: c.name)
def test_each_submission_gets_its_twins_grade_and_a_clear_message(graded, case):
    why = graded['left_out'][case.name]
    if why:
        pytest.skip(f"left out with the sandbox {graded['variant']}: {why}")
    if case.sandbox_only and not graded['sandboxed']:
        pytest.skip("needs the sandbox: without it, the student's code can reach this")
    record = graded['book']['students'][case.name]
    assert record['status'] == case.status
    got = {check: r['passed'] for check, r in record['checks'].items()}
    want = graded['expected'][case.name]
    # on a difference: each check's (twin passed, hand-in passed, what the hand-in was told)
    assert got == want, {c: (want[c], got.get(c), record['checks'].get(c, {}).get('message', '')[:600])
                         for c in want if got.get(c) != want[c]}
    points = {c['id']: c['points'] for c in graded['book']['checks']}
    assert record['total'] == sum(points[c] for c, ok in want.items() if ok)
    text = '\n'.join(record['notes'] + [r['message'] for r in record['checks'].values()])
    for words in case.says:
        assert words in text, f"{case.name}: no {words!r} in what the student is told"
    # Only the grader skips a check, and a skipped check is worth nothing either way.
    assert not [c for c, r in record['checks'].items() if r['error'] == 'skipped' and r['possible']]
    assert set(case.flags) <= set(record['flags'])
    if not case.flags:
        assert not record['flags'], record['flags']


def test_the_controls_are_untouched_by_their_neighbours(graded):
    students = graded['book']['students']
    full = sum(c['points'] for c in graded['book']['checks'])
    assert students['control-solutions']['total'] == full
    assert students['control-skeleton']['total'] == 0


def test_nothing_outside_the_sandbox_was_written(graded):
    if not graded['sandboxed'] and any(c.sandbox_only for c in graded['cases']):
        pytest.skip("writes-outside was graded without the sandbox, which lets it write here")
    assert graded['canary'].read_text() == 'the grader owns this file\n'
    assert not (graded['root'].parent / 'evil.py').exists()
    assert not Path('/abs.py').exists()


def test_the_grader_wrote_nothing_through_a_link_of_the_hand_in(graded):
    assert list(graded['outside'].iterdir()) == []


def test_grading_left_no_file_in_the_current_folder(graded):
    assert list((graded['cwd']).iterdir()) == [], "nothing at all in the grader's current folder"


def test_the_class_has_a_report_for_every_student(graded):
    out = graded['out']
    reports = sorted(p.stem for p in (out / 'feedback').glob('*.html'))
    assert reports == sorted(c.name for c in graded['cases'])
    assert (out / 'summary.png').stat().st_size > 1000


def test_the_gradebook_says_how_the_class_was_sandboxed(graded):
    assert graded['book']['sandbox'] == ('bubblewrap' if graded['sandboxed'] else 'off')
    if graded['variant'] == 'off':
        assert not graded['sandboxed']
