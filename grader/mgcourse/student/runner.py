"""The checkpoint runner: where the student is, what to do next, where the lecture explains it.

Progress is computed from the student's code every time (the battery, in a worker process);
nothing but the number of hints already shown is ever stored.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

from mgcourse import paths
from mgcourse.battery import catalogue, checks, diagnosis, harness
from mgcourse.battery.checks.base import Result
from mgcourse.battery.harness import Scored
from mgcourse.isolation import isolated

from .forked import can_fork, forked_launch


HINTS_SEEN = paths.ROOT / '.mgcourse' / 'hints.json'

# Checks that compare with PyTorch: importing torch alone takes seconds, so `mgcourse check`
# runs them only when asked (--torch); pytest and the graders always run them.
TORCH_CHECKS = ('more_ops.random_vs_torch',)
TORCH_SKIPPED = ("compared with PyTorch only when asked: `mgcourse check --torch` (it takes a "
                 "few seconds more; pytest and the graders always run it)")


@dataclass
class CheckpointState(Scored):
    checkpoint: catalogue.Checkpoint
    results: list
    status: str = ''        # 'passed', 'current' or 'not yet reached'

    @property
    def passed(self):
        return all(r.passed for r in self.results)

    @property
    def first_failure(self):
        return next((r for r in self.results if not r.passed), None)


@dataclass
class Progress(Scored):
    folder: Path
    states: list = field(default_factory=list)
    import_error: object = None
    only: set = None  # the checkpoints that were run, when not all of them

    @property
    def results(self):
        return [r for s in self.states for r in s.results]

    @property
    def done(self):
        return sum(1 for s in self.states if s.status == 'passed')

    @property
    def current(self):
        return next((s for s in self.states if s.status == 'current'), None)

    @property
    def all_passed(self):
        return self.import_error is None and all(s.passed for s in self.states)


def progress(folder=paths.SKELETON, only=None, on_result=None, torch=True, first=None,
             on_first=None, cancelled=None, launch='fork'):
    """Run the checkpoints (all, or those in `only`) on the folder and say where the student is.

    torch=False leaves out the comparison with PyTorch (TORCH_CHECKS: reported as skipped).
    first: a checkpoint id whose checks run before the others; on_first(Progress) is then
    called with its result alone, as soon as it is known (watch shows it while the rest runs).
    cancelled(), launch: see isolated.run; a cancelled run returns None. By default the
    worker is a fork of this process (where it can be), which answers sooner than a fresh
    Python; launch=None starts a fresh one."""
    if launch == 'fork':
        launch = forked_launch if can_fork() else None
    skip = () if torch else TORCH_CHECKS
    entries = [e for e in harness.selected(only) if e.id not in skip]
    if first is not None:
        entries.sort(key=lambda e: e.checkpoint != first)  # stable: course order otherwise
    first_ids = {e.id for e in entries if e.checkpoint == first}
    seen = []

    def result_in(result):
        seen.append(result)
        if on_result:
            on_result(result)
        if on_first and first_ids and {r.id for r in seen} == first_ids:
            on_first(_progress(folder, seen, None, {first}))

    report = isolated.run(folder, entries=entries, on_result=result_in, cancelled=cancelled,
                          launch=launch)
    if getattr(report, 'cancelled', False):
        return None
    for e in harness.selected(only):
        if e.id in skip:
            c = checks.REGISTRY[e.id]
            report.results.append(Result(c.id, c.checkpoint, c.name, c.title, 0, 0, True,
                                         TORCH_SKIPPED, 'skipped'))
    order = {e.id: i for i, e in enumerate(harness.selected(only))}
    report.results.sort(key=lambda r: order[r.id])
    return _progress(folder, report.results, report.import_error, only)


def _progress(folder, results, import_error, only):
    by_cp = {}
    for r in results:
        by_cp.setdefault(r.checkpoint, []).append(r)
    states = [CheckpointState(cp, by_cp[cp.id]) for cp in catalogue.load() if cp.id in by_cp]
    current_found = False
    for s in states:
        if not current_found and not s.passed:
            s.status = 'current'
            current_found = True
        elif s.passed:
            s.status = 'passed'
        else:
            s.status = 'not yet reached'
    return Progress(Path(folder), states, import_error, None if only is None else set(only))


def success_line(p):
    """What a run in which everything passed says: about what was run, and no more."""
    if p.only is None:
        return "Every checkpoint passes. Well done!"
    ids = [s.checkpoint.id for s in p.states]
    left = [cp.id for cp in catalogue.load() if cp.id not in ids]
    what = (f"Checkpoint {ids[0]} passes" if len(ids) == 1
            else f"Checkpoints {', '.join(ids)} pass")
    return what + (f"; run `mgcourse check` for all {len(catalogue.load())}." if left else ".")


def render_current(p, console):
    """One checkpoint's result, in a few lines (watch shows it while the others run)."""
    from rich.markup import escape

    s = p.states[0]
    cp = s.checkpoint
    verdict = 'passes' if s.passed else f"failing: {s.first_failure.id}"
    console.print(f"[bold]micrograd course: checkpoint {cp.id}[/], {escape(cp.title)}: "
                  f"{s.points} of {s.possible} points, {verdict}")
    if p.import_error is not None:
        console.print(f"[bold red]Fix this first:[/] your package does not import.\n"
                      f"  {escape(p.import_error.message)}")
    elif not s.passed:
        console.print(escape(wrap(_indent(s.first_failure.message), console.width)),
                      highlight=False, soft_wrap=True)
    console.print("[dim]checking the other checkpoints ...[/]")


def command_for(checkpoint_id):
    return f"mgcourse check {checkpoint_id}"


# --------------------------------------------------------------------------------
# Hints: how many of each checkpoint's hints the student has asked for
# --------------------------------------------------------------------------------

def hints_seen(store=None):
    try:
        return json.loads(Path(store or HINTS_SEEN).read_text())
    except (OSError, ValueError):
        return {}


def next_hint(checkpoint_id, store=None):
    """(number, total, text) of the next hint of a checkpoint, and remember it was shown."""
    cp = catalogue.by_id()[checkpoint_id]
    seen = hints_seen(store)
    number = min(seen.get(checkpoint_id, 0) + 1, len(cp.hints))
    seen[checkpoint_id] = number
    store = Path(store or HINTS_SEEN)
    store.parent.mkdir(exist_ok=True)
    store.write_text(json.dumps(seen, indent=1))
    return number, len(cp.hints), cp.hints[number - 1]


def shown_hints(checkpoint_id, store=None):
    """The hints of a checkpoint shown so far (at least the first)."""
    cp = catalogue.by_id()[checkpoint_id]
    return list(cp.hints[:max(1, hints_seen(store).get(checkpoint_id, 0))])


# --------------------------------------------------------------------------------
# As data (check --json) and as text
# --------------------------------------------------------------------------------

def as_data(p, store=None):
    current = p.current
    data = {
        'implementation': str(p.folder),
        'points': p.points, 'possible': p.possible,
        'checkpoints_passed': p.done, 'checkpoints': len(p.states),
        'all_passed': p.all_passed,
        'import_error': None if p.import_error is None else {
            'message': p.import_error.message, 'file': p.import_error.filename,
            'line': p.import_error.lineno},
        'table': [{
            'id': s.checkpoint.id, 'title': s.checkpoint.title, 'lecture': s.checkpoint.lecture,
            'time': s.checkpoint.time, 'points': s.points, 'possible': s.possible,
            'status': s.status,
            'checks': [{'id': r.id, 'passed': r.passed, 'points': r.points, 'possible': r.possible,
                        'skipped': r.error == 'skipped', 'diagnoses': r.diagnoses}
                       for r in s.results],
        } for s in p.states],
        'next': None,
    }
    if current is not None:
        failure = current.first_failure
        data['next'] = {
            'checkpoint': current.checkpoint.id, 'title': current.checkpoint.title,
            'lecture': current.checkpoint.lecture,
            'failing_check': failure.id, 'message': failure.message,
            'hints': shown_hints(current.checkpoint.id, store),
            'command': command_for(current.checkpoint.id),
        }
    return data


def render(p, console, store=None):
    """The table and the next task, on a rich console."""
    from rich.markup import escape
    from rich.table import Table

    if p.import_error is not None:
        console.print(f"[bold red]Fix this first:[/] your package does not import.\n"
                      f"  {escape(p.import_error.message)}")
        line = _source_line(p.import_error.filename, p.import_error.lineno)
        if line:
            console.print(f"  [dim]{p.import_error.lineno:>4} |[/] {escape(line)}")
        console.print()
    table = Table(title=f"micrograd course: {p.done} of {len(p.states)} checkpoints, "
                        f"{p.points} of {p.possible} points", title_justify='left')
    table.add_column('checkpoint')
    table.add_column('what you build')
    table.add_column('points', justify='right')
    table.add_column('status')
    table.add_column('lecture')
    styles = {'passed': 'green', 'current': 'bold yellow', 'not yet reached': 'dim'}
    for s in p.states:
        style = styles[s.status]
        mark = {'passed': 'passed', 'current': '> current', 'not yet reached': 'not yet reached'}
        table.add_row(s.checkpoint.id, s.checkpoint.title, f"{s.points} / {s.possible}",
                      f"[{style}]{mark[s.status]}[/]", s.checkpoint.time)
    console.print(table)
    current = p.current
    if current is None:
        if p.all_passed:
            console.print(f"[bold green]{success_line(p)}[/]")
        return
    cp = current.checkpoint
    failure = current.first_failure
    console.print(f"\n[bold]Next: {cp.id}[/], {escape(cp.title)}")
    console.print(f"  {escape(where_explained(cp, failure))}")
    console.print(f"  Failing: {failure.id}\n")
    console.print(escape(wrap(_indent(failure.message), console.width)), highlight=False,
                  soft_wrap=True)
    console.print()
    hints = shown_hints(cp.id, store)
    for i, hint in enumerate(hints, 1):
        console.print(escape(wrap(f"  Hint {i} of {len(cp.hints)}: {hint}", console.width,
                                  indent='    ')), soft_wrap=True)
    if len(hints) < len(cp.hints):
        console.print(f"  [dim]More help: mgcourse hint {cp.id}[/]")
    console.print(f"  Run this checkpoint alone: [bold]{command_for(cp.id)}[/]")


def where_explained(cp, failure):
    """'In the lecture: 01:09:02 ...', or, for a failure in code the skeleton gives and the
    lecture does not teach, where in the skeleton to look."""
    places = diagnosis.skeleton_places()
    where = [places[d] for d in failure.diagnoses if d in places]
    if where:
        return f"Not in the lecture: see {where[0]}"
    return f"In the lecture: {cp.lecture}"


def wrap(text, width, indent=None):
    """text with each line longer than width broken between words, its continuation lines
    indented as the line itself (or by `indent`). Lines indented 8 spaces or more are code,
    and are left whole."""
    import textwrap

    out = []
    for line in text.splitlines():
        lead = line[:len(line) - len(line.lstrip())]
        if len(line) <= width or len(lead) >= 8:
            out.append(line)
            continue
        out.extend(textwrap.wrap(line, width=max(width - 1, 20), initial_indent='',
                                 subsequent_indent=lead if indent is None else indent,
                                 break_long_words=False, break_on_hyphens=False))
    return '\n'.join(out)


def _indent(text):
    return '\n'.join('    ' + line for line in text.splitlines())


def _source_line(filename, lineno):
    try:
        return Path(filename).read_text(errors='replace').splitlines()[lineno - 1].rstrip()
    except (OSError, TypeError, IndexError):
        return ''
