"""The class summary: pass rates, the mistakes found, a plot.

    class_summary(book, out_dir)       out_dir/summary.html and summary.png
"""

import io
import math
from pathlib import Path

from .feedback import Block, Cell, Span, _hidden_mark, to_html
from .rows import UNGRADED, _float, _num, _plain
from .safe_files import file_stem, write_atomic


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
