"""From the values a check observed to the mistake that most likely produced them.

Every rule here reads numbers (expected and actual gradients, how often a node is used, the
text of an exception), never the student's source. The words of each diagnosis are data, in
mistakes.toml, shared with the mistake catalogue that the course's tests use.
"""

import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .oracle import close

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

MISTAKES = Path(__file__).resolve().parent / 'mistakes.toml'


@dataclass(frozen=True)
class Mistake:
    id: str
    title: str
    checkpoint: str
    diagnosis: str
    file: str
    find: str
    replace: str


@lru_cache(maxsize=None)
def _data():
    with open(MISTAKES, 'rb') as f:
        return tomllib.load(f)


def texts():
    """diagnosis id -> its words; for a diagnosis of code the skeleton gives, ending with where
    in the skeleton to look."""
    where = skeleton_places()
    return {i: f"{words} See {where[i]}." if i in where else words
            for i, words in _data()['diagnosis'].items()}


def skeleton_places():
    """diagnosis id -> where in the skeleton its code is, for the mistakes in code the skeleton
    gives and the lecture does not teach (mistakes.toml's [skeleton])."""
    return dict(_data().get('skeleton', {}))


def from_skeleton(ids):
    """Whether these diagnoses name code the skeleton gives, not the lecture: then a message
    points at the skeleton instead of a time in the video."""
    where = skeleton_places()
    return any(i in where for i in ids)


def make(mistake, folder):
    """A copy of the solutions in folder, with the mistake made in it. Returns folder."""
    import shutil

    from mgcourse.paths import SOLUTIONS
    folder = Path(folder)
    shutil.copytree(SOLUTIONS, folder, ignore=shutil.ignore_patterns('__pycache__'))
    path = folder / mistake.file
    text = path.read_text(encoding='utf-8')
    if text.count(mistake.find) != 1:
        raise ValueError(f"{mistake.id}: its text must occur once in {mistake.file}")
    path.write_text(text.replace(mistake.find, mistake.replace), encoding='utf-8')
    return folder


def public_text():
    """mistakes.toml without its [[mistake]] entries, whose find/replace pairs quote the
    solutions: the diagnoses' words alone, for what leaves the instructor's hands."""
    text = MISTAKES.read_text(encoding='utf-8')
    cut = text.find('\n[[mistake]]')
    return text if cut < 0 else text[:cut + 1]


def mistakes():
    """The mistake catalogue, in file order."""
    return [Mistake(**m) for m in _data()['mistake']]


def render(ids):
    """The lines a failing check adds for its diagnoses (at most two, most specific first)."""
    words = texts()
    unique = list(dict.fromkeys(ids))[:2]
    return '\n'.join(f"Likely mistake: {words[i]}" for i in unique)


def _same(a, b):
    return close(a, b, rel=1e-6, abs_tol=1e-9)


NOT_AN_OBJECT = {'complex', 'NoneType', 'str', 'bool', 'list', 'tuple', 'dict', 'set', None}


@dataclass
class Row:
    """One node of an expression check: what it should be and what the student's code gave."""
    label: str
    want: float
    got: object      # a float, or a description when it was not a number
    uses: int        # how many operations use this node
    index: int       # creation order: larger is closer to the output

    @property
    def wrong(self):
        return not close(self.got, self.want, rel=1e-5, abs_tol=1e-6)


def for_gradients(rows, output, seed=None, predicted=None, shares=None):
    """Diagnoses for the gradients of one expression, most specific first.

    rows: Row per named node; output: the output's label; seed: the out.grad a check set by
    hand before calling _backward itself (None when it called backward()); predicted: for a
    diagnosis id, the gradients that mistake would give, {label: value}; shares: for each
    reused node, the gradient each of its uses sends (so its grad is their sum).
    """
    wrong = [r for r in rows if r.wrong]
    if not wrong:
        return []
    if any(not isinstance(r.got, float) for r in rows):
        # A grad that holds an object (a Value: .data was forgotten) has that diagnosis; a
        # built-in that is not a float (a complex power of a negative number, None) names
        # no cause: the table shows it.
        kinds = {r.got.get('not_a_number') for r in rows if isinstance(r.got, dict)}
        return [] if kinds & NOT_AN_OBJECT else ['not-a-number']
    found = []
    by_label = {r.label: r for r in rows}
    for diagnosis, values in (predicted or {}).items():
        if all(_same(by_label[label].got, v) for label, v in values.items()):
            found.append(diagnosis)
    scale = 1.0 if seed is None else seed
    if _overwritten(wrong, scale, shares or {}):
        found.append('overwrite')
    if seed is None:
        if not _same(by_label[output].got, 1.0):
            found.append('seed')
        if _seeded_everywhere(rows, wrong, output):
            found.append('seed-everywhere')
    elif seed != 1.0 and all(_same(r.got, r.want / seed) for r in wrong):
        found.append('chain-rule')
    if found:
        return list(dict.fromkeys(found))
    # Nothing specific: say what the numbers show.
    for r in wrong:
        if r.want != 0 and _same(r.got, -r.want):
            found.append('negative')
        elif r.want != 0 and _same(r.got, 2 * r.want):
            found.append('double')
        elif r.want != 0 and _same(r.got, r.want / 2):
            found.append('half')
        elif r.got == 0.0 and r.want != 0:
            found.append('zero')
    return list(dict.fromkeys(found))


def _overwritten(wrong, scale, shares):
    """= instead of +=: the wrong node nearest the output (the first to go wrong, since its
    users are right) is a reused node that holds exactly what one of its uses sent. A node
    that lost a share for another reason (a statement missing) is ruled out by the nodes
    used once: those nearest the output would be wrong too."""
    if not wrong:
        return False
    first = max(wrong, key=lambda r: r.index)
    if first.uses < 2:
        return False
    return any(_same(first.got, scale * part) for part in shares.get(first.label, []))


def _seeded_everywhere(rows, wrong, output):
    """Every node's grad started at 1.0: then every node but the output is off, each by at
    least 1.0 more where the gradients are positive, and one nearest the output by exactly 1.0."""
    others = [r for r in rows if r.label != output]
    if not others or len(wrong) != len(others):
        return False
    first = max(wrong, key=lambda r: r.index)
    return _same(first.got - first.want, 1.0)


REFLECTED = re.compile(r"unsupported operand type\(s\) for (\*\*|[-+*/]): '(int|float)' and '\w+'")
# The reflected method each operator needs with a plain number on its left: the skeleton
# gives these four; ** (2 ** a) would need __rpow__, which the course never asks for.
REFLECTED_BY_OPERATOR = {'+': 'reflected-add', '-': 'reflected-sub', '*': 'reflected-mul',
                         '/': 'reflected-div'}


def for_exception(message):
    """Diagnoses from the text of an exception the student's code raised."""
    m = REFLECTED.search(message)
    if m:
        return [REFLECTED_BY_OPERATOR.get(m.group(1), 'reflected')]
    return []


def matching(got, alternatives):
    """The ids of the alternatives {id: values} that the observed values match.

    got and each alternative's values are lists of floats of the same length.
    """
    return [i for i, values in alternatives.items()
            if len(values) == len(got) and all(_same(g, v) for g, v in zip(got, values))]
