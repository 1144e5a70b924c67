"""The checkpoint catalogue: checkpoints.toml read into plain objects."""

import sys
from dataclasses import dataclass
from functools import lru_cache

from mgcourse.paths import CATALOGUE

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


@dataclass(frozen=True)
class CheckEntry:
    checkpoint: str
    name: str
    points: int

    @property
    def id(self):
        return f"{self.checkpoint}.{self.name}"


@dataclass(frozen=True)
class Checkpoint:
    id: str
    title: str
    time: str
    chapter: str
    hints: tuple
    checks: tuple

    @property
    def points(self):
        return sum(c.points for c in self.checks)

    @property
    def lecture(self):
        """The lecture chapter with its time in the video, e.g. '01:22:28 fixing a backprop bug ...'."""
        return f"{self.time} {self.chapter}"


@lru_cache(maxsize=None)
def load(path=CATALOGUE):
    """The checkpoints, in course order."""
    with open(path, 'rb') as f:
        raw = tomllib.load(f)
    checkpoints = []
    for cp in raw['checkpoint']:
        checks = tuple(CheckEntry(cp['id'], c['id'], int(c['points'])) for c in cp['checks'])
        checkpoints.append(Checkpoint(cp['id'], cp['title'], cp['time'], cp['chapter'],
                                      tuple(cp['hints']), checks))
    ids = [cp.id for cp in checkpoints]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{path}: a checkpoint id is used twice: {ids}")
    return tuple(checkpoints)


def by_id():
    return {cp.id: cp for cp in load()}


def all_checks():
    return [c for cp in load() for c in cp.checks]
