"""The gradebook (the dict of grades.json) read into rows, one per check, for every report.

Messages in the gradebook may quote the student's own code and output (an exception's text, a
file name), so every page made from these rows escapes all of it: nothing a student writes can
become markup, a link or a script.
"""

import math
import re
from dataclasses import dataclass, field


# What each error kind of a check means, in the words shown to the student.
KIND_WORDS = {
    '': 'passed',
    'wrong': 'wrong values',
    'not-implemented': 'not written yet',
    'exception': 'raised an exception',
    'import': 'the package did not import',
    'timeout': 'timed out',
    'crash': 'crashed',
    'skipped': 'skipped (counts for nothing)',
    'invalid': 'not graded',
    'missing': 'no result recorded',
}

# A record with one of these statuses was not graded: it scores 0 and lists no checks.
UNGRADED = ('invalid', 'error')

MESSAGE_LIMIT = 20_000  # characters of one check's message kept in a report

_CONTROL = re.compile('[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]')


def _plain(value):
    """Text fit for any page and for JSON: no control characters, no lone surrogates."""
    text = '' if value is None else str(value)
    text = text.replace('\r\n', '\n').replace('\r', '\n')
    return _CONTROL.sub('\ufffd', text)


def _float(x):
    """A number from the gradebook, or 0.0 for anything that is not a finite one."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return 0.0
    return x if math.isfinite(x) else 0.0


def _num(x):
    """48.0 -> '48', 47.5 -> '47.5'."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return _plain(x)
    if not math.isfinite(x):
        return str(x)
    if x == int(x):
        return str(int(x))
    return f"{x:.2f}".rstrip('0').rstrip('.')


@dataclass
class Row:
    """One check of one student, ready to show."""
    id: str
    title: str
    checkpoint: str
    lecture: str
    hidden: bool
    points: float
    possible: float
    kind: str                  # the error kind; '' when passed
    message: str               # without its header line and its 'Likely mistake' lines
    likely: list = field(default_factory=list)   # the diagnoses' words
    skeleton: bool = False     # the mistake is in code the skeleton gives: no time to rewatch

    @property
    def status(self):
        if self.kind == 'skipped' and not self.possible:  # only the grader skips: 0 of 0
            return 'skipped'
        if self.kind == 'invalid':
            return 'not graded'
        return 'passed' if self.kind == '' else 'failed'

    @property
    def result(self):
        """'passed', or what went wrong, e.g. 'failed: wrong values'."""
        if self.status == 'failed':
            return f"failed: {KIND_WORDS.get(self.kind, self.kind)}"
        return KIND_WORDS.get(self.kind, self.status)


def _clean_message(message, check, likely):
    """The message without what the page shows apart: its first line when it repeats the
    check's checkpoint and title, and its 'Likely mistake' lines."""
    lines = _plain(message).split('\n')
    head = f"checkpoint {check.get('checkpoint', '')} ("
    if lines and (lines[0].startswith(head) and lines[0].endswith(f"): {check.get('title', '')}")
                  or _points_at_skeleton(message, check)):
        lines = lines[1:]
    shown = {f"Likely mistake: {words}" for words in likely}
    text = '\n'.join(line.rstrip() for line in lines if line not in shown).strip('\n')
    if len(text) > MESSAGE_LIMIT:
        cut = len(text) - MESSAGE_LIMIT
        text = text[:MESSAGE_LIMIT] + f"\n... ({cut} more characters cut)"
    return text


def _points_at_skeleton(message, check):
    """Whether the message's first line names no time in the video: the check found a mistake in
    code the skeleton gives, and its diagnosis says where in the skeleton to look."""
    first = _plain(message).split('\n', 1)[0]
    return first == f"checkpoint {check.get('checkpoint', '')}: {check.get('title', '')}"


def _kind(result):
    if result.get('passed') and result.get('error', '') in ('', None):
        return ''
    kind = result.get('error') or 'wrong'
    return _plain(kind)


def rows(book, student):
    """The student's checks in course order, then any check the book does not list."""
    record = book['students'][student]
    results = record.get('checks') or {}
    words = book.get('diagnoses') or {}
    ungraded = record.get('status') in UNGRADED
    listed = list(book.get('checks') or [])
    known = {c['id'] for c in listed}
    listed += [{'id': cid, 'checkpoint': cid.split('.')[0], 'title': cid}
               for cid in results if cid not in known]
    out = []
    for check in listed:
        cid = check['id']
        result = results.get(cid)
        if result is None:
            result = {'points': 0, 'possible': check.get('points', 0), 'passed': False,
                      'error': 'invalid' if ungraded else 'missing'}
        likely = [_plain(words.get(d, d)) for d in dict.fromkeys(result.get('diagnoses') or [])]
        out.append(Row(
            id=_plain(cid), title=_plain(check.get('title', cid)),
            checkpoint=_plain(check.get('checkpoint', '')), lecture=_plain(check.get('lecture', '')),
            hidden=bool(check.get('hidden')),
            points=_float(result.get('points')), possible=_float(result.get('possible')),
            kind=_kind(result), message=_clean_message(result.get('message', ''), check, likely),
            likely=likely, skeleton=_points_at_skeleton(result.get('message', ''), check)))
    return out


def _groups(rows_):
    """[(checkpoint, [rows])] in the order the checkpoints first appear."""
    groups = {}
    for r in rows_:
        groups.setdefault(r.checkpoint, []).append(r)
    return list(groups.items())


def _checkpoint_title(cp_id, group):
    if all(r.hidden for r in group):
        return 'Hidden checks'
    try:
        from mgcourse.battery import catalogue
        cp = catalogue.by_id().get(cp_id)
    except Exception:  # noqa: BLE001 - a title is a nicety; the report stands without it
        cp = None
    return f"{cp_id} — {cp.title}" if cp else cp_id


def _common_lecture(group):
    lectures = {r.lecture for r in group}
    return lectures.pop() if len(lectures) == 1 else ''


def _summary(book, student):
    """(record, title line, total line, status sentence or '', notes)."""
    record = book['students'][student]
    status = record.get('status', 'graded')
    total = 0 if status in UNGRADED else record.get('total', 0)
    score = f"{_num(total)} / {_num(record.get('possible', 0))}"
    course = _plain(book.get('assignment') or book.get('course') or 'assignment')
    title = f"{course}: feedback for {_plain(student)}"
    sentence = ''
    if status == 'invalid':
        sentence = "This hand-in holds nothing that could be graded, so it scores 0."
    elif status == 'error':
        sentence = "Grading this hand-in did not finish; your instructor will look at it."
    notes = [_plain(n) for n in record.get('notes') or []]
    return record, title, score, sentence, notes


def _rewatch(row):
    """'Rewatch the lecture from 01:22:28 (fixing a backprop bug ...).', or '' without a lecture."""
    match = re.fullmatch(r'(\d+:\d\d(?::\d\d)?)\s+(.+)', row.lecture, re.S)
    if match:
        return f"Rewatch the lecture from {match[1]} ({match[2]})."
    return f"Rewatch: {row.lecture}." if row.lecture else ''
