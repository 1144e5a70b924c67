"""What the lecture notebooks call: check a checkpoint of the student's package from a cell.

    from mgcourse.student.notebook import check
    check('ops_backward')

grades the package that `import micrograd_skeleton` finds (the student's), prints one line per
check, and raises CheckpointFailed with the first failure's message when any check fails, so
the cell shows red and running the notebook top to bottom stops there. What it prints is
for the student: nbgrader's points for the cell come from the grader (see check()).
"""

import importlib
import os
from pathlib import Path

from mgcourse.battery import catalogue


class CheckpointFailed(AssertionError):
    pass


def package_folder(name='micrograd_skeleton'):
    """The folder of the package the notebook imports."""
    module = importlib.import_module(name)
    return Path(module.__file__).resolve().parent


def check(checkpoint, package='micrograd_skeleton'):
    """Run one checkpoint's checks on the student's package; raise when one fails.

    Under nbgrader's autograde, nothing runs here: the grader grades the submitted package
    itself, outside the kernel, and writes this cell's output and points (nbgrader_plugins)."""
    cp = catalogue.by_id()[checkpoint]
    if os.environ.get('NBGRADER_EXECUTION') == 'autograde':
        print(f"checkpoint {checkpoint}: graded by the course's grader, outside this notebook")
        return
    # Imported here, not at the top: the battery brings hypothesis (0.1 s of CPU), which a
    # notebook graded by nbgrader never needs, in each of its kernels.
    from mgcourse.battery import harness
    report = harness.run(package_folder(package), only={checkpoint})
    for r in report.results:
        mark = 'skipped' if r.error == 'skipped' else ('passed' if r.passed else 'FAILED')
        print(f"  {mark:<7} {r.id} ({r.points}/{r.possible})")
    failed = report.failed()
    if failed:
        raise CheckpointFailed(f"checkpoint {checkpoint}, '{cp.title}' ({cp.lecture}): "
                               f"{len(failed)} of {len(report.results)} checks failed. The first:\n\n"
                               f"{failed[0].message}")
    print(f"checkpoint {checkpoint} passed: {report.points} of {report.possible} points.")
