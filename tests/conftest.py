"""Shared fixtures of the course's own tests."""

import fcntl
import os
import shutil

import pytest

from mgcourse import paths
from mgcourse.battery import harness

# the shared helpers of the nbgrader tests assert too: their failures say what differed
pytest.register_assert_rewrite('nbgrader_class')


@pytest.fixture(scope='session')
def solutions_report():
    return harness.run(paths.SOLUTIONS)


@pytest.fixture(scope='session')
def skeleton_report():
    return harness.run(paths.SKELETON)


@pytest.fixture(scope='session')
def generated_course(tmp_path_factory):
    """A scratch copy of the nbgrader course with the assignment generated (nbgrader
    generate_assignment, 4 s of CPU), made once for the whole run: the xdist workers share it
    in the run's temporary folder, the first to ask builds it under a lock. Never changed:
    a test copies it (copy_of_generated) before submitting to it."""
    from mgcourse.nbgrading import nbgrade
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get('PYTEST_XDIST_WORKER') else base
    course = shared / 'generated' / 'course'
    with open(shared / 'generated.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        if not (shared / 'generated' / 'done').exists():
            shutil.rmtree(shared / 'generated', ignore_errors=True)  # a build cut short
            nbgrade.generate(nbgrade.scratch_copy(course))
            (shared / 'generated' / 'done').touch()
    return course


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


# The order in which pytest-xdist hands out whole files (--dist loadfile: each worker is
# given the next file in this order once it is down to its last test, one file ahead), once
# told not to reorder them by their number of tests. Measured on a 2-core machine (the CPU and
# wall seconds of each file in the suite's own run): the files that grade with two
# processes at once (hostile, nbautograde) go first to one worker, and the files that mostly
# wait on a clock or a kernel (sandbox, kernels, isolated, gradescope) to the other beside
# them, filling the core they leave idle; then the long single-process files (the serial
# nbgrader class, the batch grader, the saturated machine held to one core, the demo), and
# the short ones fill in at the end, so that neither worker finishes a long file alone.
FILE_ORDER = ('test_hostile.py', 'test_sandbox.py', 'test_nbautograde.py', 'test_kernels.py',
              'test_isolated.py', 'test_gradescope.py', 'test_nbgrader.py', 'test_grading.py',
              'test_saturated.py', 'test_demo.py', 'test_mistakes.py', 'test_set_order.py',
              'test_notebooks.py', 'test_prairielearn.py', 'test_pytest_frontend.py',
              'test_browser.py', 'test_skeleton_pointers.py')


def pytest_configure(config):
    if hasattr(config.option, 'loadscopereorder'):  # pytest-xdist's --no-loadscope-reorder
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(FILE_ORDER)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: files stay whole
