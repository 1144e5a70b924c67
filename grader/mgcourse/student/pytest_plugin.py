"""The battery as pytest tests: one test item per graded check, grouped by checkpoint.

pytest collects the checkpoint catalogue (checkpoints.toml) itself: each checkpoint becomes a
group whose id is also a marker, each of its checks a test. So

    pytest                          grades micrograd_skeleton/ and ends with the score
    pytest --impl=solutions         grades another copy (the solutions, a submission)
    pytest -m reuse                 runs one checkpoint alone
    pytest -k "backward and diamond"

The test ids read grader/mgcourse/battery/checkpoints.toml::CHECKPOINT::CHECK.
"""

from pathlib import Path

import pytest

from mgcourse import paths
from mgcourse.battery import catalogue, harness
from mgcourse.isolation.cpulimit import cpu_limit

RESULTS = pytest.StashKey[list]()
LOADED = pytest.StashKey[harness.Loaded]()
# An endless loop costs one check: each check may use CPU_LIMIT seconds of CPU time (a
# correct check uses well under 2 s; a busy machine does not stretch CPU time), and
# pytest-timeout's wall-clock TIMEOUT is a backstop far above it, for code that waits.
CPU_LIMIT = 30
TIMEOUT = 600


def pytest_addoption(parser):
    group = parser.getgroup('micrograd course')
    group.addoption('--impl', metavar='PATH', default=None,
                    help='the implementation folder to grade (default: micrograd_skeleton/); '
                         'write it as --impl=PATH')
    group.addoption('--check-cpu', metavar='S', type=float, default=CPU_LIMIT,
                    help=f'the CPU seconds one check may use (default: {CPU_LIMIT})')


def pytest_configure(config):
    if '--impl' in config.invocation_params.args and config.rootpath != paths.ROOT:
        # pytest picks its root folder before it knows plugin options, so in `--impl PATH`
        # it took PATH for a test path, and would collect the wrong files.
        raise pytest.UsageError(
            f"pytest read the folder after --impl as a test path (it chose {config.rootpath} as "
            "its root). Write it with an equals sign: --impl=PATH")
    for cp in catalogue.load():
        config.addinivalue_line('markers', f"{cp.id}: checkpoint '{cp.title}' ({cp.lecture})")
    config.stash[RESULTS] = []


def impl_path(config):
    given = config.getoption('--impl')
    if given is None:
        return paths.SKELETON
    return (Path(config.invocation_params.dir) / given).resolve()


def loaded(config):
    if LOADED not in config.stash:
        config.stash[LOADED] = harness.Loaded(impl_path(config))
    return config.stash[LOADED]


def pytest_report_header(config):
    if config.rootpath == paths.ROOT:
        return f"micrograd course: grading {impl_path(config)}"
    return None


def pytest_collect_file(file_path, parent):
    if Path(file_path).resolve() == paths.CATALOGUE:
        return CatalogueFile.from_parent(parent, path=Path(file_path))
    return None


class CatalogueFile(pytest.File):
    def collect(self):
        for cp in catalogue.load():
            yield CheckpointGroup.from_parent(self, name=cp.id, checkpoint=cp)


class CheckpointGroup(pytest.Collector):
    def __init__(self, *, checkpoint, **kwargs):
        super().__init__(**kwargs)
        self.checkpoint = checkpoint
        self.add_marker(checkpoint.id)

    def collect(self):
        timed = self.config.pluginmanager.hasplugin('timeout')
        for entry in self.checkpoint.checks:
            item = CheckItem.from_parent(self, name=entry.name, entry=entry)
            if timed:
                item.add_marker(pytest.mark.timeout(TIMEOUT))
            yield item


class CheckFailure(Exception):
    def __init__(self, result):
        super().__init__(result.message)
        self.result = result


class CheckItem(pytest.Item):
    def __init__(self, *, entry, **kwargs):
        super().__init__(**kwargs)
        self.entry = entry

    def runtest(self):
        with cpu_limit(self.config.getoption('--check-cpu')):
            result = harness.run_one(self.entry, loaded(self.config))
        self.config.stash[RESULTS].append(result)
        if result.error == 'skipped':
            pytest.skip(result.message)
        if not result.passed:
            raise CheckFailure(result)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, CheckFailure):
            result = excinfo.value.result
            if result.error == 'import' and self.config.stash[RESULTS][0] is not result:
                return "not run: the package does not import (see the first failure)"
            return result.message
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        points = 'point' if self.entry.points == 1 else 'points'
        return self.path, None, f"{self.entry.id} ({self.entry.points} {points})"


def pytest_unconfigure(config):
    """The score, after pytest's own summary, so it is the last thing the student reads."""
    results = config.stash.get(RESULTS, [])
    tr = config.pluginmanager.get_plugin('terminalreporter')
    if not results or tr is None:
        return
    tr.write_sep('=', 'micrograd course: score')
    tr.write_line(f"graded: {impl_path(config)}")
    error = loaded(config).error
    if error is not None:
        tr.write_line(f"Fix this first, the package does not import: {error.message}", red=True)
    for line in harness.score_lines(results):
        tr.write_line(line, bold=line.startswith('Score'))
