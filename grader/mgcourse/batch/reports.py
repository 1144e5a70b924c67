"""What the batch grader writes besides the gradebook: feedback, Gradescope results, the class summary.

Everything here is a function of the gradebook (the dict of grades.json) and nothing else, so a
report can be made again at any time from grades.json alone. Messages in the gradebook may quote
the student's own code and output (an exception's text, a file name), so every page escapes all
of it: nothing a student writes can become markup, a link or a script.

    feedback_markdown(book, student)   the student's feedback as Markdown
    feedback_html(book, student)       the same as a standalone HTML page
    gradescope_results(book, student)  Gradescope's results.json, as a dict
    validate_gradescope(results)       what is wrong with a results.json, by Gradescope's spec
    class_summary(book, out_dir)       out_dir/summary.html and summary.png
    write_all(book, out_dir)           all of the above, as files (layout below)
    write_atomic(path, data)           write a file so that it is either old or new, never half

Layout written by write_all:
    out_dir/feedback/<student>.md, out_dir/feedback/<student>.html
    out_dir/gradescope/<student>/results.json
    out_dir/summary.html, out_dir/summary.png
where <student> is file_stem(student): the name itself when it is a plain file name.
"""

import hashlib
import html
import io
import json
import math
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

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

# Gradescope's autograder specification (gradescope-autograders.readthedocs.io/en/latest/specs/).
VISIBILITIES = ('hidden', 'after_due_date', 'after_published', 'visible')
FORMATS = ('text', 'simple_format', 'html', 'md', 'ansi')
STATUSES = ('passed', 'failed')
TOP_KEYS = {'score', 'execution_time', 'output', 'output_format', 'test_output_format',
            'test_name_format', 'visibility', 'stdout_visibility', 'extra_data', 'tests',
            'leaderboard'}
TEST_KEYS = {'score', 'max_score', 'status', 'name', 'name_format', 'number', 'output',
             'output_format', 'tags', 'visibility', 'extra_data'}

# A record with one of these statuses was not graded: it scores 0 and lists no checks.
UNGRADED = ('invalid', 'error')

MESSAGE_LIMIT = 20_000  # characters of one check's message kept in a report


class ReportError(Exception):
    """Some students' reports could not be made; the others were written."""


# ---------------------------------------------------------------------------------------------
# The gradebook, read into rows
# ---------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------
# The feedback as a document, and its two renderings
# ---------------------------------------------------------------------------------------------

@dataclass
class Span:
    """A run of text. kind: '' plain, 'code', 'strong', or a class name that HTML shows as
    <span class=...> and Markdown as plain text. ref: an in-page link ('#id'), HTML only."""
    text: str
    kind: str = ''
    ref: str = ''


@dataclass
class Cell:
    spans: list
    cls: str = ''


@dataclass
class Block:
    """tag: 'h1'..'h3', 'p', 'ul' (items: lists of spans), 'pre' (text), 'table' (head: the
    column names, items: rows of Cells), 'img' (text: the alt text, ref: the source)."""
    tag: str
    spans: list = field(default_factory=list)
    items: list = field(default_factory=list)
    head: list = field(default_factory=list)
    text: str = ''
    ref: str = ''
    cls: str = ''
    id: str = ''


def _anchor(check_id):
    return 'check-' + re.sub(r'[^A-Za-z0-9_.-]', '_', check_id)


def _hidden_mark(hidden):
    return [Span(' '), Span('(hidden check)', 'hidden-mark')] if hidden else []


def feedback_document(book, student):
    """(title, blocks): the student's feedback, whatever it is rendered as."""
    record, title, score, sentence, notes = _summary(book, student)
    doc = [Block('h1', [Span(title)]), Block('p', [Span('Total: '), Span(score, 'strong')], cls='total')]
    if sentence:
        doc.append(Block('p', [Span(sentence)]))
    if record.get('submission'):
        doc.append(Block('p', [Span('Hand-in: '), Span(_plain(record['submission']), 'code')]))
    if notes:
        doc += [Block('h2', [Span('Notes')]), Block('ul', items=[[Span(n)] for n in notes])]
    if record.get('status') in UNGRADED:
        return title, doc
    for cp_id, group in _groups(rows(book, student)):
        earned = sum(r.points for r in group)
        possible = sum(r.possible for r in group)
        doc.append(Block('h2', [Span(f"{_checkpoint_title(cp_id, group)} ({_num(earned)} / {_num(possible)})")]))
        lecture = _common_lecture(group)
        if lecture:
            doc.append(Block('p', [Span(f"Lecture: {lecture}")]))
        table = Block('table', head=['check', 'title', 'points', 'result'])
        for r in group:
            failed = r.status == 'failed'
            table.items.append([
                Cell([Span(r.id, 'code', ref=f"#{_anchor(r.id)}" if failed else '')]),
                Cell([Span(r.title)] + _hidden_mark(r.hidden)),
                Cell([Span(f"{_num(r.points)} / {_num(r.possible)}")], 'num'),
                Cell([Span(r.result)], r.status.replace(' ', '-'))])
        doc.append(table)
        for r in group:
            if r.status != 'failed':
                continue
            doc.append(Block('h3', [Span(r.id, 'code'), Span(f" — {r.title}")] + _hidden_mark(r.hidden),
                             id=_anchor(r.id)))
            doc.append(Block('p', [Span(f"{_num(r.points)} / {_num(r.possible)} points — {r.result}")],
                             cls='failed'))
            if r.message:
                doc.append(Block('pre', text=r.message))
            doc += [Block('p', [Span(f"Likely mistake: {words}")]) for words in r.likely]
            if r.lecture and not r.skeleton:
                doc.append(Block('p', [Span(_rewatch(r))], cls='muted'))
    return title, doc


_MD_SPECIAL = re.compile(r'([\\`*_\[\]<>|~&#])')


def md_escape(text):
    """Inline Markdown text: one line, every character that could become markup escaped."""
    return _MD_SPECIAL.sub(r'\\\1', re.sub(r'\s+', ' ', _plain(text)))


def _md_code(text):
    """An inline code span that holds any text (but a '|', which a table cell cannot hold)."""
    text = ' '.join(_plain(text).split())
    if '|' in text:
        return md_escape(text)
    ticks = max((len(m) for m in re.findall('`+', text)), default=0) + 1
    pad = ' ' if text.startswith('`') or text.endswith('`') else ''
    return f"{'`' * ticks}{pad}{text}{pad}{'`' * ticks}"


def _md_spans(spans):
    out = []
    for s in spans:
        if s.kind == 'code':
            out.append(_md_code(s.text))
        elif s.kind == 'strong':
            out.append(f"**{md_escape(s.text)}**")
        else:
            out.append(md_escape(s.text))
    return ''.join(out)


def to_markdown(blocks):
    out = []
    for b in blocks:
        if b.tag in ('h1', 'h2', 'h3'):
            out.append(f"{'#' * int(b.tag[1])} {_md_spans(b.spans)}")
        elif b.tag == 'p':
            out.append(_md_spans(b.spans))
        elif b.tag == 'ul':
            out.append('\n'.join(f"- {_md_spans(item)}" for item in b.items))
        elif b.tag == 'pre':
            fence = '`' * max(3, max((len(m) for m in re.findall('`+', b.text)), default=0) + 1)
            out.append(f"{fence}text\n{b.text}\n{fence}")
        elif b.tag == 'table':
            lines = ['| ' + ' | '.join(md_escape(h) for h in b.head) + ' |',
                     '|' + ' --- |' * len(b.head)]
            lines += ['| ' + ' | '.join(_md_spans(c.spans) for c in row) + ' |' for row in b.items]
            out.append('\n'.join(lines))
        elif b.tag == 'img':
            out.append(f"![{md_escape(b.text)}]({b.ref})")
    return '\n\n'.join(out) + '\n'


def _h(text):
    """Escaped text for an element's content or a quoted attribute."""
    return html.escape(_plain(text), quote=True)


def _attrs(cls='', id=''):
    return (f' class="{_h(cls)}"' if cls else '') + (f' id="{_h(id)}"' if id else '')


def _html_spans(spans):
    out = []
    for s in spans:
        text = _h(s.text)
        if s.kind == 'code':
            text = f"<code>{text}</code>"
        elif s.kind == 'strong':
            text = f"<strong>{text}</strong>"
        elif s.kind:
            text = f'<span class="{_h(s.kind)}">{text}</span>'
        if s.ref:
            text = f'<a href="{_h(s.ref)}">{text}</a>'
        out.append(text)
    return ''.join(out)


_CSS = """
body { font-family: system-ui, sans-serif; max-width: 62rem; margin: 2rem auto; padding: 0 1rem;
       color: #1d1d1f; line-height: 1.45; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; }
th, td { border: 1px solid #d0d0d7; padding: 0.25rem 0.6rem; text-align: left; vertical-align: top; }
th { background: #f3f3f6; }
td.num { text-align: right; white-space: nowrap; }
pre { background: #f6f6f9; border: 1px solid #e0e0e6; padding: 0.6rem; overflow-x: auto; }
h3 { border-left: 4px solid #a4161a; padding-left: 0.6rem; margin-top: 2rem; }
.passed { color: #17692b; } .failed { color: #a4161a; } .skipped, .not-graded, .muted { color: #6b6b76; }
.total { font-size: 1.3rem; } .hidden-mark { font-style: italic; color: #6b6b76; }
img, svg { max-width: 100%; height: auto; }
"""

# Everything on the pages is escaped; the policy is a second lock: no script runs, whatever.
_CSP = "script-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'"


def to_html(title, blocks):
    body = []
    for b in blocks:
        attrs = _attrs(b.cls, b.id)
        if b.tag in ('h1', 'h2', 'h3', 'p'):
            body.append(f"<{b.tag}{attrs}>{_html_spans(b.spans)}</{b.tag}>")
        elif b.tag == 'ul':
            body.append(f"<ul{attrs}>\n" + '\n'.join(f"<li>{_html_spans(i)}</li>" for i in b.items) + '\n</ul>')
        elif b.tag == 'pre':
            body.append(f"<pre{attrs}>{_h(b.text)}</pre>")
        elif b.tag == 'table':
            lines = [f"<table{attrs}>", '<tr>' + ''.join(f"<th>{_h(h)}</th>" for h in b.head) + '</tr>']
            lines += ['<tr>' + ''.join(f"<td{_attrs(c.cls)}>{_html_spans(c.spans)}</td>" for c in row) + '</tr>'
                      for row in b.items]
            body.append('\n'.join(lines + ['</table>']))
        elif b.tag == 'img':
            body.append(f'<p><img src="{_h(b.ref)}" alt="{_h(b.text)}"></p>')
    return ('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<title>{_h(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n'
            + '\n'.join(body) + '\n</body>\n</html>\n')


def feedback_markdown(book, student):
    return to_markdown(feedback_document(book, student)[1])


def feedback_html(book, student):
    return to_html(*feedback_document(book, student))


# ---------------------------------------------------------------------------------------------
# Gradescope
# ---------------------------------------------------------------------------------------------

def _test_output(row, status):
    parts = []
    if row.status == 'skipped':
        parts.append('skipped, counts for nothing' + (f": {row.message}" if row.message else ''))
    elif row.status == 'not graded':
        parts.append('not graded: ' + ('grading this hand-in did not finish' if status == 'error'
                                       else 'the submission holds nothing that could be graded'))
    elif row.status == 'failed':
        parts.append(row.result)
        if row.message:
            parts.append(row.message)
        parts += [f"Likely mistake: {words}" for words in row.likely]
        if row.lecture and not row.skeleton:
            parts.append(_rewatch(row))
    return '\n'.join(parts)


def gradescope_results(book, student, hidden_visibility='after_published'):
    """Gradescope's results.json for one student.

    Hidden checks get `hidden_visibility` ('after_published' by default: shown once the
    instructor publishes the grades; 'hidden' would keep them from the student for good, and
    Gradescope then hides the student's total too). Outputs are plain text, never rendered as
    markup; the top-level output is escaped HTML in Gradescope's 'simple_format'.
    """
    if hidden_visibility not in VISIBILITIES:
        raise ValueError(f"hidden_visibility must be one of {VISIBILITIES}")
    record, _, score, sentence, notes = _summary(book, student)
    status = record.get('status', 'graded')
    tests = []
    for cp_index, (_, group) in enumerate(_groups(rows(book, student)), 1):
        for check_index, r in enumerate(group, 1):
            test = {
                'name': f"{r.id}: {r.title}" + (' (hidden check)' if r.hidden else ''),
                'number': f"{cp_index}.{check_index}",
                'score': 0.0 if status in UNGRADED else r.points,
                'max_score': r.possible,
                'output': _test_output(r, status),
                'tags': [r.checkpoint] if r.checkpoint else [],
                'visibility': hidden_visibility if r.hidden else 'visible',
            }
            if r.status in ('passed', 'failed', 'not graded'):
                test['status'] = 'passed' if r.status == 'passed' else 'failed'
            tests.append(test)
    held_back = [t for t in tests if t['visibility'] != 'visible']
    lines = [sentence] if sentence else []
    if status in UNGRADED:
        lines.append(f"Total: {score}")
    elif held_back:
        # Gradescope keeps the total from the student while tests are held back; so does this.
        shown = [t for t in tests if t['visibility'] == 'visible']
        lines += [f"Public checks: {_num(sum(t['score'] for t in shown))} / "
                  f"{_num(sum(t['max_score'] for t in shown))}",
                  f"{len(held_back)} hidden checks are shown when your instructor publishes the grades."]
    else:
        lines.append(f"Total: {score}")
    lines += [f"Note: {n}" for n in notes]
    results = {
        'score': 0.0 if status in UNGRADED else _float(record.get('total')),
        'execution_time': round(_float(record.get('seconds'))),
        'output': html.escape('\n'.join(lines), quote=False),
        'output_format': 'simple_format',
        'test_output_format': 'text',
        'test_name_format': 'text',
        'stdout_visibility': 'hidden',
        'extra_data': {k: record[k] for k in ('status', 'fingerprint', 'seed') if k in record},
        'tests': tests,
    }
    return results


def _is_number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def validate_gradescope(results):
    """The problems of a results.json against Gradescope's specification; [] when it is valid.

    Beyond the spec's keys, types and allowed values it asks for consistency: no test scores
    above its max_score, and a top-level score equal to the sum of the tests' scores.
    """
    if not isinstance(results, dict):
        return ['results.json must hold a JSON object']
    problems = []
    try:
        json.dumps(results, allow_nan=False)
    except (TypeError, ValueError) as e:
        problems.append(f"not representable as JSON: {e}")
    for key in sorted(set(results) - TOP_KEYS):
        problems.append(f"unknown top-level key {key!r}")
    if 'score' in results and not _is_number(results['score']):
        problems.append(f"score must be a number, not {results['score']!r}")
    if 'execution_time' in results and not (_is_number(results['execution_time'])
                                            and results['execution_time'] >= 0):
        problems.append(f"execution_time must be a number of seconds, not {results['execution_time']!r}")
    if 'output' in results and not isinstance(results['output'], str):
        problems.append('output must be a string')
    for key in ('output_format', 'test_output_format', 'test_name_format'):
        if key in results and results[key] not in FORMATS:
            problems.append(f"{key} must be one of {', '.join(FORMATS)}, not {results[key]!r}")
    for key in ('visibility', 'stdout_visibility'):
        if key in results and results[key] not in VISIBILITIES:
            problems.append(f"{key} must be one of {', '.join(VISIBILITIES)}, not {results[key]!r}")
    if 'extra_data' in results and not isinstance(results['extra_data'], dict):
        problems.append('extra_data must be an object')
    tests = results.get('tests')
    if tests is None:
        tests = []
        if 'score' not in results:
            problems.append('neither a top-level score nor tests')
    elif not isinstance(tests, list):
        problems.append('tests must be a list')
        tests = []
    scores, maxima = [], []
    for i, test in enumerate(tests, 1):
        where = f"test {i}"
        if not isinstance(test, dict):
            problems.append(f"{where} must be an object")
            continue
        if isinstance(test.get('name'), str):
            where += f" ({test['name']})"
        for key in sorted(set(test) - TEST_KEYS):
            problems.append(f"{where}: unknown key {key!r}")
        score, maximum = test.get('score'), test.get('max_score')
        if score is None:
            if 'score' not in results:
                problems.append(f"{where}: no score, and no top-level score")
        elif not _is_number(score):
            problems.append(f"{where}: score must be a number, not {score!r}")
        else:
            scores.append(score)
        if maximum is not None:
            if not _is_number(maximum) or maximum < 0:
                problems.append(f"{where}: max_score must be a number >= 0, not {maximum!r}")
            else:
                maxima.append(maximum)
                if _is_number(score) and score > maximum + 1e-9:
                    problems.append(f"{where}: score {score} is above its max_score {maximum}")
        if 'status' in test and test['status'] not in STATUSES:
            problems.append(f"{where}: status must be 'passed' or 'failed', not {test['status']!r}")
        for key in ('name', 'output'):
            if key in test and not isinstance(test[key], str):
                problems.append(f"{where}: {key} must be a string")
        if 'number' in test and not (isinstance(test['number'], str) or _is_number(test['number'])):
            problems.append(f"{where}: number must be a string such as '1.1'")
        for key in ('name_format', 'output_format'):
            if key in test and test[key] not in FORMATS:
                problems.append(f"{where}: {key} must be one of {', '.join(FORMATS)}, not {test[key]!r}")
        if 'visibility' in test and test['visibility'] not in VISIBILITIES:
            problems.append(f"{where}: visibility must be one of {', '.join(VISIBILITIES)}, "
                            f"not {test['visibility']!r}")
        if 'tags' in test and not (isinstance(test['tags'], list)
                                   and all(isinstance(t, str) for t in test['tags'])):
            problems.append(f"{where}: tags must be a list of strings")
        if 'extra_data' in test and not isinstance(test['extra_data'], dict):
            problems.append(f"{where}: extra_data must be an object")
    board = results.get('leaderboard')
    if board is not None:
        if not isinstance(board, list):
            problems.append('leaderboard must be a list')
        else:
            for entry in board:
                if not (isinstance(entry, dict) and isinstance(entry.get('name'), str)
                        and (_is_number(entry.get('value')) or isinstance(entry.get('value'), str))
                        and entry.get('order', 'desc') in ('asc', 'desc')):
                    problems.append(f"leaderboard entry {entry!r} needs a name, a value and "
                                    "an order of 'asc' or 'desc'")
    top = results.get('score')
    if _is_number(top) and tests and len(scores) == len(tests):
        if abs(top - sum(scores)) > 1e-6:
            problems.append(f"the top-level score {top} is not the sum of the tests' scores {sum(scores)}")
        if len(maxima) == len(tests) and top > sum(maxima) + 1e-6:
            problems.append(f"the top-level score {top} is above the tests' max_score total {sum(maxima)}")
    return problems


# ---------------------------------------------------------------------------------------------
# The class summary
# ---------------------------------------------------------------------------------------------

def _graded(book):
    return {name: rec for name, rec in sorted(book['students'].items())
            if isinstance(rec, dict) and rec.get('status', 'graded') == 'graded'}


def _results(rec):
    """A record's check results; {} when the record has none a report could read."""
    checks_ = rec.get('checks') if isinstance(rec, dict) else None
    if not isinstance(checks_, dict):
        return {}
    return {cid: r for cid, r in checks_.items() if isinstance(r, dict)}


def pass_rates(book):
    """Per check, in course order: how many graded students passed it, of how many it ran for."""
    graded = _graded(book)
    out = []
    for check in book.get('checks') or []:
        ran = passed = 0
        for rec in graded.values():
            result = _results(rec).get(check['id'])
            if result is None or (result.get('error') == 'skipped' and not result.get('possible')):
                continue
            ran += 1
            passed += bool(result.get('passed'))
        out.append({'id': check['id'], 'title': check.get('title', ''), 'hidden': bool(check.get('hidden')),
                    'passed': passed, 'of': ran})
    return out


def mistake_counts(book):
    """Per diagnosis seen: the graded students it was seen for, and the checks that saw it;
    most students first."""
    words = book.get('diagnoses') or {}
    seen = {}
    for name, rec in _graded(book).items():
        for cid, result in _results(rec).items():
            for d in result.get('diagnoses') or []:
                entry = seen.setdefault(d, {'id': d, 'text': words.get(d, d), 'students': [], 'checks': {}})
                if name not in entry['students']:
                    entry['students'].append(name)
                entry['checks'][cid] = entry['checks'].get(cid, 0) + 1
    return sorted(seen.values(), key=lambda e: (-len(e['students']), e['id']))


def _possible(book):
    return sum(_float(c.get('points')) for c in book.get('checks') or [])


def _plot(book):
    """The summary's picture as PNG bytes: the score histogram and the pass rate per check."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    graded = _graded(book)
    totals = [_float(rec.get('total')) for rec in graded.values()]
    rates = pass_rates(book)
    possible = max([_possible(book)] + [_float(rec.get('possible')) for rec in graded.values()])
    bar_height = max(1.5, 0.24 * len(rates) + 0.8)
    fig = Figure(figsize=(10, 3.6 + bar_height), dpi=100)
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(2, 1, height_ratios=[3.0, bar_height])
    hist = fig.add_subplot(grid[0, 0])
    if totals and possible > 0:
        bins = min(12, max(1, int(math.ceil(possible))))
        edges = [possible * i / bins for i in range(bins + 1)]
        hist.hist(totals, bins=edges, color='#3a6ea5', edgecolor='white')
        hist.set_xlim(0, possible)
    else:
        hist.text(0.5, 0.5, 'no graded submissions', ha='center', va='center', transform=hist.transAxes)
    hist.set_title(f"Scores of the {len(totals)} graded submissions")
    hist.set_xlabel(f"points (of {_num(possible)})")
    hist.set_ylabel('students')
    hist.yaxis.get_major_locator().set_params(integer=True)
    bars = fig.add_subplot(grid[1, 0])
    if rates:
        ys = list(range(len(rates)))
        values = [100 * r['passed'] / r['of'] if r['of'] else 0 for r in rates]
        colors = ['#8a5a9e' if r['hidden'] else '#3a6ea5' for r in rates]
        bars.barh(ys, values, color=colors)
        for y, r in zip(ys, rates):
            bars.text(101, y, f"{r['passed']}/{r['of']}", va='center', fontsize=7)
        bars.set_yticks(ys)
        bars.set_yticklabels([r['id'] for r in rates], fontsize=8)
        bars.set_xlim(0, 108)
        bars.set_xticks([0, 20, 40, 60, 80, 100])
        bars.set_ylim(len(rates) - 0.5, -0.5)
    else:
        bars.text(0.5, 0.5, 'no checks', ha='center', va='center', transform=bars.transAxes)
    bars.set_title('Pass rate per check (hidden checks in purple)')
    bars.set_xlabel('% of graded submissions that passed')
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format='png', metadata={'Software': None})
    return buf.getvalue()


def _percent(passed, of):
    return f"{round(100 * passed / of)}%" if of else '-'


def summary_document(book, plot_missing=''):
    """(title, blocks): the class summary; it shows summary.png from its own folder, or says
    why there is no plot (plot_missing)."""
    students = book['students']
    graded = _graded(book)
    possible = _possible(book)
    title = f"{_plain(book.get('course', ''))} · {_plain(book.get('assignment', ''))}: class summary"
    doc = [Block('h1', [Span(title)])]
    totals = sorted(_float(rec.get('total')) for rec in graded.values())
    if totals:
        mid = len(totals) // 2
        median = totals[mid] if len(totals) % 2 else (totals[mid - 1] + totals[mid]) / 2
        doc.append(Block('p', [Span(
            f"{len(totals)} graded submissions of {len(students)}; mean score "
            f"{_num(sum(totals) / len(totals))} / {_num(possible)}, median {_num(median)}, lowest "
            f"{_num(totals[0])}, highest {_num(totals[-1])}. Sandbox: {book.get('sandbox', 'unknown')}.")]))
    else:
        doc.append(Block('p', [Span(f"No graded submissions among {len(students)}.")]))

    doc.append(Block('h2', [Span('Students by status')]))
    by_status = {}
    for name, rec in sorted(students.items()):
        status = _plain(rec.get('status', 'graded')) if isinstance(rec, dict) else 'unreadable'
        by_status.setdefault(status, []).append(name)
    doc.append(Block('table', head=['status', 'students', 'who'], items=[
        [Cell([Span(status)]), Cell([Span(str(len(names)))], 'num'), Cell([Span(', '.join(names))])]
        for status, names in by_status.items()]))

    if plot_missing:
        doc.append(Block('p', [Span(f"No plot: {plot_missing}")], cls='muted'))
    else:
        doc.append(Block('img', text='A histogram of the scores, and the pass rate of each check',
                         ref='summary.png'))

    doc += [Block('h2', [Span('Pass rate per check')]),
            Block('p', [Span("Over the graded submissions; a check skipped for a student is left out "
                             "of that student's count.")])]
    doc.append(Block('table', head=['check', 'title', 'passed', 'rate'], items=[
        [Cell([Span(r['id'], 'code')]), Cell([Span(r['title'])] + _hidden_mark(r['hidden'])),
         Cell([Span(f"{r['passed']} of {r['of']}")], 'num'),
         Cell([Span(_percent(r['passed'], r['of']))], 'num')]
        for r in pass_rates(book)]))

    doc.append(Block('h2', [Span('Mistakes diagnosed')]))
    counts = mistake_counts(book)
    if counts:
        doc.append(Block('table', head=['diagnosis', 'what it means', 'students', 'seen by the checks'], items=[
            [Cell([Span(m['id'], 'code')]), Cell([Span(m['text'])]),
             Cell([Span(f"{len(m['students'])} of {len(graded)}: {', '.join(m['students'])}")]),
             Cell([Span(', '.join(f"{cid} ({n})" for cid, n in m['checks'].items()))])]
            for m in counts]))
    else:
        doc.append(Block('p', [Span('No mistake was diagnosed.')]))

    doc.append(Block('h2', [Span('Students')]))
    table = Block('table', head=['student', 'status', 'total', 'flags', 'notes'])
    for name, rec in sorted(students.items()):
        if not isinstance(rec, dict):
            rec = {'status': 'unreadable'}
        total = 0 if rec.get('status') in UNGRADED else rec.get('total', 0)
        table.items.append([
            Cell([Span(name, ref=f"feedback/{file_stem(name)}.html")]),
            Cell([Span(rec.get('status', 'graded'))]),
            Cell([Span(f"{_num(total)} / {_num(rec.get('possible', possible))}")], 'num'),
            Cell([Span(', '.join(_plain(f) for f in rec.get('flags') or []))]),
            Cell([Span(' / '.join(_plain(n) for n in rec.get('notes') or []))])])
    doc.append(table)
    return title, doc


def summary_html(book, plot_missing=''):
    return to_html(*summary_document(book, plot_missing))


def class_summary(book, out_dir):
    """Write out_dir/summary.png and out_dir/summary.html; return the page's path."""
    out_dir = Path(out_dir)
    try:
        png = _plot(book)
    except ImportError:
        missing = 'it needs matplotlib (pip install matplotlib, or the course\'s [instructor] extra).'
    else:
        missing = ''
        write_atomic(out_dir / 'summary.png', png)
    page = out_dir / 'summary.html'
    write_atomic(page, summary_html(book, plot_missing=missing))
    return page


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------

_PLAIN_NAME = re.compile(r'[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}')


def file_stem(student):
    """The student's name as a file name: itself when plain, else a cleaned name with a short
    hash, so that no two students share a file and no name can leave its folder."""
    name = str(student)
    if _PLAIN_NAME.fullmatch(name) and '..' not in name:
        return name
    cleaned = re.sub(r'[^A-Za-z0-9._@+-]+', '_', name).strip('._')[:60] or 'student'
    digest = hashlib.sha256(name.encode('utf-8', 'surrogatepass')).hexdigest()[:10]
    return f"{cleaned}-{digest}"


def write_atomic(path, data):
    """Write data (str as UTF-8, or bytes) to path through a temporary file in the same folder,
    then rename it into place: a reader sees the old file or the new one, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode('utf-8', 'replace')
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix='.tmp', dir=path.parent)
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:
        folder = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(folder)
    except OSError:
        pass
    finally:
        os.close(folder)


def write_all(book, out_dir):
    """Every report of the gradebook under out_dir (layout in this module's docstring).

    A student whose reports cannot be made does not stop the others: the rest are written,
    the summary too, and then ReportError names what failed.
    """
    out_dir = Path(out_dir)
    failed = []
    for name in sorted(book['students']):
        stem = file_stem(name)
        try:
            title, doc = feedback_document(book, name)
            markdown, page = to_markdown(doc), to_html(title, doc)
            results = json.dumps(gradescope_results(book, name), indent=2, ensure_ascii=False) + '\n'
        except Exception as e:  # noqa: BLE001 - one broken record must not stop the class
            failed.append(f"{name}: {type(e).__name__}: {e}")
            continue
        write_atomic(out_dir / 'feedback' / f"{stem}.md", markdown)
        write_atomic(out_dir / 'feedback' / f"{stem}.html", page)
        write_atomic(out_dir / 'gradescope' / stem / 'results.json', results)
    class_summary(book, out_dir)
    if failed:
        raise ReportError("reports could not be made for: " + '; '.join(failed))
