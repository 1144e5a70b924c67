"""Shared fixtures of the course's own tests."""

import shutil

import pytest

from mgcourse import battery, paths

# the shared helpers of the nbgrader tests assert too: their failures say what differed
pytest.register_assert_rewrite('nbgrader_class')


@pytest.fixture(scope='session')
def solutions_report():
    return battery.run(paths.SOLUTIONS)


@pytest.fixture(scope='session')
def skeleton_report():
    return battery.run(paths.SKELETON)


@pytest.fixture
def solutions_copy(tmp_path):
    """A scratch copy of the solutions, to change and grade."""
    dst = tmp_path / 'impl'
    shutil.copytree(paths.SOLUTIONS, dst, ignore=shutil.ignore_patterns('__pycache__'))
    return dst


def replace_once(folder, filename, old, new):
    """Replace one exact piece of text in a file of a copied implementation."""
    path = folder / filename
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} should occur once in {filename}"
    path.write_text(text.replace(old, new))


@pytest.fixture
def edit():
    return replace_once
