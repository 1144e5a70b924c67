"""Random expressions: hypothesis writes them, the student's code differentiates them.

The expressions mix every operation of the engine and reuse nodes often (see randexpr.py).
Hypothesis runs in the grader's process: it picks an expression, the probe runs it through
the student's Value and reports data and gradients as plain data, the grader compares them
with its oracle. When one is wrong, hypothesis shrinks it to the smallest expression that is
still wrong, and the message shows it as code to paste into a notebook.
"""

import functools
import json
import threading
import warnings
from importlib import metadata
from pathlib import Path
from random import Random

from .. import randexpr
from .base import Check, Failed, ProbeError, Skip, register, register_probe
from .expressions import _judge_expression, _probe_expression

# A search's settings, as plain data: hypothesis is imported where a search runs, in the
# grader's process, never by the worker that only answers probes (it costs 0.3 s to import).
SEARCH = {'max_examples': 150, 'derandomize': True}


def _find(search, condition, seed):
    """hypothesis.find over random programs with the settings `search`; None when no program
    meets condition.

    Every phase but `explain`: once an example fails, that phase traces each run that follows
    (sys.settrace, on Python before 3.12) to say which lines it took, which find() never
    reports. The trace made shrinking slower several times over, the student's code and
    the oracle alike, and PyTorch's first import inside it cost 8 s instead of 2.5. The
    programs tried and the one found are the same without it.

    The settings start from hypothesis's default profile, not the current one: a profile
    loaded in the grader's process (hypothesis loads its `ci` profile where CI is set) would
    otherwise reach the searches, and the same code must get the same verdict anywhere."""
    from hypothesis import HealthCheck, Phase, find, settings
    from hypothesis.errors import NoSuchExample
    try:
        return find(randexpr.programs(), condition,
                    settings=settings(settings.get_profile('default'), database=None,
                                      deadline=None,
                                      phases=[p for p in Phase if p is not Phase.explain],
                                      suppress_health_check=list(HealthCheck), **search),
                    random=None if seed is None else Random(seed))
    except NoSuchExample:
        return None


def probe(mg, program):
    return _probe_expression(mg, randexpr.to_expression(program), None, 1.0)


def _verdict(program, observed, oracle):
    """None when the student's gradients agree with the oracle, else Failed."""
    expr = randexpr.to_expression(program)
    try:
        message, diagnoses = _judge_expression(expr, observed, None, 1.0, oracle(program))
    except Failed as f:
        return f
    return Failed(message, diagnoses=diagnoses) if message else None


# a * b + a: two inputs, one of them reused.
FIRST = {'inputs': [['a', 0.5], ['b', -1.5]],
         'steps': [['d', 'mul', ['a', 'b'], None], ['e', 'add', ['d', 'a'], None]]}


# What hypothesis tries on code that gets every expression right, by search settings and
# seed. The programs hypothesis draws depend only on its version, its seed and the answers its
# condition gave so far, so for such code they are the same every time: drawn once per
# process (0.6 s of CPU for 150, most of a search's cost), then replayed.
_TRIED_ON_PASSING_CODE = {}
_TRIED_LOCK = threading.Lock()

# The visible search's programs, and PyTorch's gradients for them, are recorded once and
# shipped (record_searches.py writes this file): grading code that gets them all right then
# imports neither hypothesis nor torch in the grader's process (0.5 s and 3.7 s of CPU, here).
# Each part is used only with the version of hypothesis or torch it was recorded with. The
# file is the grader's: the student's side never gets it (student_library.PRIVATE).
RECORDED = Path(__file__).with_name('recorded_searches.json')


def installed_version(dist):
    """The installed version of the distribution dist, without importing it; None if absent."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def search_key(search, seed):
    """The name of a search by its settings and seed, in RECORDED and in this process."""
    return json.dumps([sorted(search.items()), seed])


@functools.lru_cache(maxsize=None)
def recorded():
    """What RECORDED holds that holds here: {'programs': {search_key: program texts},
    'torch': {program text: PyTorch's gradients}}, each empty where the file was recorded
    with another version of hypothesis or torch than the one installed (or is missing)."""
    try:
        data = json.loads(RECORDED.read_text(encoding='utf-8'))
    except (OSError, ValueError):
        return {'programs': {}, 'torch': {}}
    same = {dist: data.get(dist) == installed_version(dist) for dist in ('hypothesis', 'torch')}
    return {'programs': ({k: tuple(v) for k, v in data['programs'].items()}
                         if same['hypothesis'] else {}),
            'torch': data['torch_gradients'] if same['torch'] else {}}


def record(search, seed=None):
    """The programs, as JSON text and in order, that find() with these settings and seed
    tries when every one of them passes, drawn here by hypothesis."""
    tried = []

    def passes(program):
        tried.append(json.dumps(program))
        return False
    _find(search, passes, seed)
    return tuple(tried)


def tried_on_passing_code(search, seed=None):
    """record(search, seed): recorded in RECORDED, or drawn once in this process."""
    key = search_key(search, seed)
    shipped = recorded()['programs'].get(key)
    if shipped is not None:
        return shipped
    with _TRIED_LOCK:
        if key not in _TRIED_ON_PASSING_CODE:
            _TRIED_ON_PASSING_CODE[key] = record(search, seed)
        return _TRIED_ON_PASSING_CODE[key]


def searching(oracle, name, search=SEARCH, seed=None, replay=True, shrink=True):
    """A drive function: search for the smallest expression whose gradients are wrong.
    With a seed, the expressions tried are drawn from it (the hidden checks); without, the
    same ones every run (derandomized). replay=False leaves out the replay of what
    hypothesis tries on passing code (the tests compare the two). shrink=False asks every
    program of that replay and reports the smallest wrong one, without asking hypothesis for
    smaller ones: the verdict is the same (the replay alone decides it), the expression shown
    may be a little larger."""

    def drive(call):
        # Every failure seen is kept: a student's bug can depend on the order in which a
        # set of children is walked (the lecture's `_prev` is a set, and a student may keep
        # one), and then the same expression need not fail twice.
        failures = {}
        stopped = []
        passed = set()    # the programs the student's code got right, as JSON text

        def fails(program):
            # The student's process hung or crashed, or the code is not written yet (any
            # expression shows that): end the search, without asking the student's code again.
            if stopped or any(f.kind == 'not-implemented' for _, f in failures.values()):
                return True
            text = json.dumps(program)
            if text in passed or text in failures:   # asked already (see the replay below)
                return text in failures
            try:
                observed = call(program)
            except ProbeError as e:
                stopped.append(e)
                return True
            failure = _verdict(program, observed, oracle)
            if failure is not None:
                failures[text] = (program, failure)
            else:
                passed.add(text)
            return failure is not None

        # One small expression first: code that is not written yet fails on any, and then
        # the search (and shrinking) would only repeat that.
        if fails(FIRST) and not stopped and failures[json.dumps(FIRST)][1].kind == 'not-implemented':
            raise failures[json.dumps(FIRST)][1]
        # The programs hypothesis would try if the code got them all right, in its order:
        # when it does, the search would end there, with nothing found. At the first wrong
        # one, hypothesis searches for real (the same programs up to it, asked only once)
        # and shrinks what it finds.
        if not shrink:
            for text in tried_on_passing_code(search, seed):
                if fails(json.loads(text)) and text not in failures:
                    break  # stopped, or not written yet
            if not failures and not stopped:
                return
        elif replay and all(not fails(json.loads(text))
                            for text in tried_on_passing_code(search, seed)):
            return
        else:
            from hypothesis.errors import HypothesisException
            try:
                if _find(search, fails, seed) is None:
                    return
            except HypothesisException:
                if not failures and not stopped:  # not the student's doing: let it be seen
                    raise
        if stopped:
            raise stopped[0]
        smallest, failure = min(failures.values(),
                                key=lambda pf: (randexpr.program_size(pf[0]), json.dumps(pf[0])))
        code = '\n'.join('    ' + line for line in randexpr.to_code(smallest).splitlines())
        raise Failed(f"among random expressions, the smallest one your code gets wrong "
                     f"({name}); paste it in a notebook after "
                     f"`from micrograd_skeleton import Value`:\n\n{code}\n\n{failure}",
                     failure.kind, failure.diagnoses)

    return drive


def _central_differences(program):
    return None  # _judge_expression then uses the expression's own central differences


def _torch(program):
    known = recorded()['torch'].get(json.dumps(program))
    if known is not None:  # recorded with the torch installed here
        return known
    try:
        with warnings.catch_warnings():
            # torch warns once that it cannot use numpy, which the course does not need.
            warnings.filterwarnings('ignore', message='Failed to initialize NumPy')
            return randexpr.torch_gradients(program)
    except ImportError:
        raise Skip("PyTorch is not installed, so this comparison is skipped "
                   "(pip install torch==2.13.0 to run it)") from None


register_probe('expression', probe)

register(Check('more_ops', 'random_expressions',
               "random expressions with reused nodes, against central differences",
               probe, drive=searching(_central_differences, 'checked by central differences')))

# The comparison with PyTorch is worth no points and comes right after the search above, which
# shrinks what it finds: it reports the smallest wrong one of the programs it replays, whose
# gradients RECORDED holds, so that grading a wrong engine does not import torch (2 s of CPU
# in every grader's process, each nbgrader autograde of a student among them) to shrink.
register(Check('more_ops', 'random_vs_torch',
               "random expressions with reused nodes, against PyTorch in double precision",
               probe, drive=searching(_torch, "checked against PyTorch's gradients",
                                      shrink=False)))
