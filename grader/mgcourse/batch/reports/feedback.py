"""The student's feedback as a document, and its two renderings.

    feedback_markdown(book, student)   the student's feedback as Markdown
    feedback_html(book, student)       the same as a standalone HTML page
"""

import html
import re
from dataclasses import dataclass, field

from .rows import (UNGRADED, _checkpoint_title, _common_lecture, _groups, _num, _plain, _rewatch,
                   _summary, rows)


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
