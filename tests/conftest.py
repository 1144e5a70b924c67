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


# The test files that take longest, longest first (measured with --durations on a 2-core
# machine). pytest-xdist hands each worker whole files (--dist loadfile) in collection order,
# once told not to reorder them by their number of tests: the long files then start first and
# the short ones fill in around them, instead of one worker finishing a long file alone at
# the end of the run while the other core idles.
LONGEST_FIRST = ('test_hostile.py', 'test_nbgrader.py', 'test_nbautograde.py', 'test_grading.py',
                 'test_mistakes.py', 'test_saturated.py', 'test_demo.py', 'test_set_order.py',
                 'test_isolated.py', 'test_notebooks.py', 'test_prairielearn.py',
                 'test_gradescope.py', 'test_sandbox.py', 'test_skeleton_pointers.py')


def pytest_configure(config):
    if hasattr(config.option, 'loadscopereorder'):  # pytest-xdist's --no-loadscope-reorder
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: files stay whole
