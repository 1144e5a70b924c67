"""Run the graded battery against an implementation folder, in this process.

This is the library API the front-ends share: the pytest plugin runs one check per test
item with `run_one`, the self-tests and the checkpoint runner call `run` for a whole report.
"""

from dataclasses import dataclass, field
from pathlib import Path

from . import catalogue, checks
from .checks.base import Result, local_call, run_check
from .impl import ImplError, load


class Scored:
    """Points earned and possible, for anything that has `results`."""

    @property
    def points(self):
        return sum(r.points for r in self.results)

    @property
    def possible(self):
        return sum(r.possible for r in self.results)


@dataclass
class Report(Scored):
    impl: Path
    results: list = field(default_factory=list)
    import_error: ImplError = None

    def by_checkpoint(self):
        """checkpoint id -> its results, in course order."""
        out = {}
        for r in self.results:
            out.setdefault(r.checkpoint, []).append(r)
        return out

    def failed(self):
        return [r for r in self.results if not r.passed]


class Loaded:
    """An implementation folder, imported once; or the error that stopped its import."""

    def __init__(self, path):
        self.path = Path(path)
        self.error = None
        self.impl = None
        try:
            self.impl = load(self.path)
        except ImplError as e:
            self.error = e


def import_failure(entry, error):
    """The result of a check that could not run because the package does not import."""
    c = checks.REGISTRY[entry.id]
    return Result(c.id, c.checkpoint, c.name, c.title, 0, entry.points, False,
                  f"the package could not be imported: {error.message}", 'import')


def run_one(entry, loaded):
    """Run the check of one catalogue entry against a Loaded implementation, in this process."""
    c = checks.REGISTRY[entry.id]
    if loaded.error is not None:
        return import_failure(entry, loaded.error)
    return run_check(c, entry.points, local_call(c, loaded.impl))


def selected(only=None):
    """The catalogue's check entries, in course order; `only` limits them to checkpoint ids."""
    return [e for cp in catalogue.load() if only is None or cp.id in only for e in cp.checks]


def run(impl_path, only=None):
    """Every check (or those of the checkpoints in `only`) against the folder impl_path."""
    loaded = Loaded(impl_path)
    report = Report(Path(impl_path), import_error=loaded.error)
    for entry in selected(only):
        report.results.append(run_one(entry, loaded))
    return report


def score_lines(results):
    """The score table: points per checkpoint, then the total."""
    per = {}
    for r in results:
        if r.error == 'skipped':
            continue
        earned, possible = per.get(r.checkpoint, (0, 0))
        per[r.checkpoint] = (earned + r.points, possible + r.possible)
    cps = catalogue.by_id()
    lines = []
    for cp_id, (earned, possible) in per.items():
        cp = cps[cp_id]
        mark = 'passed' if earned == possible else ''
        lines.append(f"  {cp_id:<13} {earned:>2} / {possible:<2} {mark:<7} {cp.lecture}")
    total = sum(e for e, _ in per.values())
    possible = sum(p for _, p in per.values())
    percent = 100 * total // possible if possible else 0
    lines.append(f"Score: {total} of {possible} points ({percent}%)")
    return lines
