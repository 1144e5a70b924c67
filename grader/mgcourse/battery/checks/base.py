"""What a graded check is, and how one is run.

A check has two halves:
  probe(mg)       runs the student's code (mg is the loaded implementation) on inputs the
                  check chooses, and returns what it observed as plain data: numbers, lists,
                  dicts and strings, never the student's objects;
  judge(observed) compares that data with the oracle and raises Failed with a message
                  that shows expected and actual values, by node label.
Keeping the two apart lets a grader run the probe in an isolated process and the judge in
its own: the verdict is never decided by code the student wrote.
"""

import json
import traceback
from dataclasses import dataclass, field
from typing import Callable

from .. import catalogue, diagnosis
from ..impl import student_frame

REGISTRY = {}
# Probes that take their inputs from the grader and belong to no public check: the hidden
# checks (which live only in the grader's process) send their inputs to these by name.
PROBES = {}


class Failed(AssertionError):
    """A check's verdict: the implementation is wrong, and the message says how.

    kind: 'wrong' for a wrong value, 'not-implemented' for a TODO still raising,
    'exception' for an error in the student's code. diagnoses: ids of mistakes.toml's
    [diagnosis] that the observed values point to.
    """

    def __init__(self, message, kind='wrong', diagnoses=()):
        super().__init__(message)
        self.kind = kind
        self.diagnoses = list(diagnoses)


class Skip(Exception):
    """The check cannot run here (say, torch is not installed); it counts for nothing."""


@dataclass(frozen=True)
class Check:
    """A graded check. With `drive`, the grader chooses the inputs one by one: the probe is
    probe(mg, inputs), and drive(call) calls `call(inputs)` to run it and get the observed
    data, as often as it needs (a search for a failing example), then raises Failed or Skip.
    Without it, the probe chooses its own inputs: probe(mg), and judge(observed) decides.
    """
    checkpoint: str
    name: str
    title: str
    probe: Callable
    judge: Callable = None
    drive: Callable = None

    @property
    def id(self):
        return f"{self.checkpoint}.{self.name}"


def check(checkpoint, name, title):
    """Register a probe; its judge follows as a function decorated with `@<probe>.judge`."""

    def decorate(probe):
        def set_judge(judge):
            register(Check(checkpoint, name, title, probe, judge))
            return judge
        probe.judge = set_judge
        return probe

    return decorate


def register_probe(name, probe):
    """Make probe(mg, inputs) callable by name from a worker process."""
    if name in PROBES:
        raise ValueError(f"probe {name} is registered twice")
    PROBES[name] = probe
    return probe


def register(c):
    if c.id in REGISTRY:
        raise ValueError(f"check {c.id} is registered twice")
    REGISTRY[c.id] = c
    return c


# --------------------------------------------------------------------------------
# Observations: plain data only
# --------------------------------------------------------------------------------

def observe(x):
    """A number the student's code produced, as a real float; anything else as a description.

    Only int and float (and their subclasses, such as numpy's float64) count as numbers,
    and their value is read with float's own method, so an object that claims to equal
    everything, or overrides __float__, cannot pass as the right answer.
    """
    if isinstance(x, bool):
        return {'not_a_number': 'bool', 'repr': repr(x)}
    if isinstance(x, float):
        return float.__float__(x)
    if isinstance(x, int):
        return int.__float__(x)
    return {'not_a_number': type(x).__name__, 'repr': _short_repr(x)}


def _short_repr(x):
    try:
        text = repr(x)
    except Exception:  # noqa: BLE001 - a broken __repr__ is the student's, not ours
        text = f'<{type(x).__name__} object>'
    return text if len(text) <= 60 else text[:57] + '...'


def _article(word):
    return 'an' if word[:1].lower() in 'aeiou' else 'a'


def is_number(obs):
    return isinstance(obs, float)


def show(obs):
    """An observed value as it appears in a message."""
    if isinstance(obs, float):
        text = f"{obs:.6g}"
        return text if any(c in text for c in '.einf') else text + '.0'  # 1 -> 1.0
    if isinstance(obs, dict) and 'not_a_number' in obs:
        kind = obs['not_a_number']
        # A plain number is set apart only where the code should have returned a Value.
        wanted = 'a Value' if kind in ('float', 'int') else 'a number'
        return f"{obs['repr']} (returned {_article(kind)} {kind} where {wanted} was expected)"
    return repr(obs)


# --------------------------------------------------------------------------------
# Complete answers: what the grader asked for, no more and no fewer
# --------------------------------------------------------------------------------
# The judges take their inputs from the grader's own record and the answers from the reply;
# an answer with fewer items than asked for must not pass because zip() stops at the shorter
# list. These raise Failed naming what is missing or was not asked for.

def _names(items, limit=6):
    items = [str(i) for i in items]
    text = ', '.join(items[:limit])
    return text + (f" and {len(items) - limit} more" if len(items) > limit else '')


def answer_list(got, count, what, names=None):
    """got, when it is a list of exactly count items; else Failed. names: what each item is,
    for the message (by default, its index)."""
    if not isinstance(got, list):
        raise Failed(f"{what}: the grader asked for {count} values and got {show(got)}")
    if len(got) != count:
        names = list(names) if names is not None else [f"[{i}]" for i in range(count)]
        if len(got) < count:
            detail = f"missing: {_names(names[len(got):])}"
        else:
            detail = f"{len(got) - count} more than asked for"
        raise Failed(f"{what}: the grader asked for {count} values and got {len(got)} ({detail})")
    return got


def pairs(expected, got, what, names=None):
    """zip(expected, got), once got is a list of exactly len(expected) items."""
    expected = list(expected)
    return list(zip(expected, answer_list(got, len(expected), what, names)))


def answer_dict(got, keys, what):
    """got, when it is a dict with exactly these keys; else Failed naming the missing ones."""
    keys = list(keys)
    if not isinstance(got, dict):
        raise Failed(f"{what}: the grader asked for {_names(keys)} and got {show(got)}")
    missing = [k for k in keys if k not in got]
    extra = [k for k in got if k not in keys]
    if missing or extra:
        parts = ([f"missing: {_names(missing)}"] if missing else []) + (
            [f"not asked for: {_names(extra)}"] if extra else [])
        raise Failed(f"{what}: the grader asked for {_names(keys)} ({'; '.join(parts)})")
    return got


# The kinds of failure a reply from the student's process may name; any other kind it names
# (say 'skipped', which counts for nothing) is read as 'exception'. Only this process skips.
STUDENT_KINDS = ('not-implemented', 'exception')


def student_kind(kind):
    return kind if kind in STUDENT_KINDS else 'exception'


# --------------------------------------------------------------------------------
# Running a check
# --------------------------------------------------------------------------------

@dataclass
class Result:
    id: str
    checkpoint: str
    name: str
    title: str
    points: int          # earned
    possible: int
    passed: bool
    message: str = ''    # why it failed; empty when it passed
    error: str = ''      # 'not-implemented', 'exception', 'wrong', 'import' or 'skipped'
    diagnoses: list = field(default_factory=list)  # ids of the likely mistakes


def header(c, diagnoses=()):
    """The message's first line: the checkpoint, where the lecture explains it, the check. When
    the diagnoses name code the skeleton gives, which the lecture does not teach, no time in
    the video: the diagnosis says where in the skeleton to look."""
    if diagnosis.from_skeleton(diagnoses):
        return f"checkpoint {c.checkpoint}: {c.title}"
    cp = catalogue.by_id()[c.checkpoint]
    return f"checkpoint {c.checkpoint} ({cp.lecture}): {c.title}"


def run_probe(c, impl):
    """Run the probe; return (observed, None) or (None, (error kind, message))."""
    try:
        return c.probe(impl), None
    except KeyboardInterrupt:
        raise
    except BaseException as e:  # noqa: BLE001 - SystemExit from student code is a failure too
        return None, exception_message(e, impl.path)


def probe_inputs(c, impl, inputs):
    """Run a driven check's probe on one input; an exception comes back as data."""
    return call_probe(c.probe, impl, inputs)


def call_probe(probe, impl, inputs):
    """probe(impl, inputs), with an exception it raises returned as data."""
    try:
        return probe(impl, inputs)
    except KeyboardInterrupt:
        raise
    except BaseException as e:  # noqa: BLE001 - reported as data, like any observation
        kind, message = exception_message(e, impl.path)
        return {'raised': message, 'kind': kind}


def exception_message(e, folder):
    filename, lineno = student_frame(e, folder)
    where = ''
    if filename:
        where = f" (in {filename.rsplit('/', 1)[-1]}, line {lineno})"
    if isinstance(e, NotImplementedError):
        return 'not-implemented', f"not written yet{where}: {e}"
    if isinstance(e, RecursionError):
        return 'exception', (f"your code raised RecursionError{where}: the graph is deeper than "
                             "Python's recursion limit, or a node refers back to itself")
    detail = ''.join(traceback.format_exception_only(type(e), e)).strip()
    return 'exception', f"your code raised {detail}{where}"


class ProbeError(Exception):
    """The probe did not return: the student's code raised, hung or crashed."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind
        self.message = message


def local_call(c, impl):
    """call(inputs) that runs c's probe here, on the loaded implementation.

    What comes back goes through JSON, exactly as it would from an isolated process, so
    a probe that returns anything but plain data is caught by the course's own tests.
    """
    def call(inputs):
        if c.drive is not None:
            observed = probe_inputs(c, impl, inputs)
        else:
            observed, error = run_probe(c, impl)
            if error is not None:
                raise ProbeError(*error)
        return json.loads(json.dumps(observed))
    return call


def run_check(c, points, call):
    """Decide one check; never raises for a wrong implementation.

    call(inputs) runs the probe wherever the student's code lives (this process, or an
    isolated one) and returns the observed plain data, or raises ProbeError. Everything
    that decides the verdict happens here, in the caller's process.
    """
    diagnoses = []
    error = None
    try:
        if c.drive is not None:
            c.drive(call)
        else:
            c.judge(call(None))
    except ProbeError as e:
        error = (e.kind if e.kind != 'skipped' else 'exception', str(e.message))
        diagnoses = diagnosis.for_exception(error[1])
    except Failed as f:
        error = (f.kind if f.kind != 'skipped' else 'exception', str(f))
        diagnoses = f.diagnoses
    except Skip as s:
        return Result(c.id, c.checkpoint, c.name, c.title, 0, 0, True, str(s), 'skipped')
    if error is None:
        return Result(c.id, c.checkpoint, c.name, c.title, points, points, True)
    kind, message = error
    if diagnoses:
        message += '\n' + diagnosis.render(diagnoses)
    return Result(c.id, c.checkpoint, c.name, c.title, 0, points, False,
                  f"{header(c, diagnoses)}\n{message}", kind, diagnoses)
