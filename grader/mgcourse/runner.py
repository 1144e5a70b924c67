"""The checkpoint runner: where the student is, what to do next, where the lecture explains it.

Progress is computed from the student's code every time (the battery, in a worker process);
nothing but the number of hints already shown is ever stored.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

from . import catalogue, isolated, paths
from .battery import Scored

HINTS_SEEN = paths.ROOT / '.mgcourse' / 'hints.json'


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


def progress(folder=paths.SKELETON, only=None, on_result=None):
    """Run the checkpoints (all, or those in `only`) on the folder and say where the student is."""
    report = isolated.run(folder, only=only, on_result=on_result)
    by_cp = report.by_checkpoint()
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
    return Progress(Path(folder), states, report.import_error)


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
            console.print("[bold green]Every checkpoint passes. Well done![/]")
        return
    cp = current.checkpoint
    failure = current.first_failure
    console.print(f"\n[bold]Next: {cp.id}[/], {escape(cp.title)}")
    console.print(f"  In the lecture: {escape(cp.lecture)}")
    console.print(f"  Failing: {failure.id}\n")
    console.print(escape(_indent(failure.message)), highlight=False, soft_wrap=True)
    console.print()
    hints = shown_hints(cp.id, store)
    for i, hint in enumerate(hints, 1):
        console.print(f"  Hint {i} of {len(cp.hints)}: {escape(hint)}", soft_wrap=True)
    if len(hints) < len(cp.hints):
        console.print(f"  [dim]More help: mgcourse hint {cp.id}[/]")
    console.print(f"  Run this checkpoint alone: [bold]{command_for(cp.id)}[/]")


def _indent(text):
    return '\n'.join('    ' + line for line in text.splitlines())


def _source_line(filename, lineno):
    try:
        return Path(filename).read_text(errors='replace').splitlines()[lineno - 1].rstrip()
    except (OSError, TypeError, IndexError):
        return ''
