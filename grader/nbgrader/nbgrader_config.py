"""nbgrader configuration of the micrograd course (tested with nbgrader 0.9.6).

Run nbgrader's commands in this folder (grader/nbgrader/), in the environment where the course
is installed (`pip install -e '.[instructor,notebooks]'`): the preprocessors below come from
mgcourse, and the notebooks' checks import mgcourse too.

The assignment 'micrograd' is source/micrograd/: the lecture notebooks with their solutions,
and micrograd_skeleton/, a generated copy of the student's package (the skeleton, never the
solutions; `mgcourse.nbgrading.nbgrade.sync_package()` writes it and a test fails when it drifts).
nbgrader copies every other file of the source folder to students as it is, so the package
students receive is the skeleton; at autograde, the package files are left out of nbgrader's
"overwrite with the instructor's version" step, so the student's own package is graded.
"""

import os

from mgcourse.nbgrading import nbgrade
from mgcourse.nbgrading.hidden_tests import HideHiddenTests
from mgcourse.nbgrading.nbgrader_plugins import (ClearOutputFromFirstExercise, ExecuteWithinBudget,
                                       StubSolutions, package_pipeline, pipeline,
                                       sanitize_pipeline)
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.converters import Autograde, GenerateAssignment
from nbgrader.preprocessors import ClearOutput, ClearSolutions, Execute, GetGrades

c = get_config()  # noqa: F821 - defined by traitlets when it loads this file

HERE = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.course_id = nbgrade.COURSE_ID
c.CourseDirectory.root = HERE
c.CourseDirectory.db_url = 'sqlite:///' + os.path.join(HERE, 'gradebook.db')
# nbgrader's defaults, and hypothesis's example database (the more_ops check writes it in the
# kernel's folder at autograde), which would otherwise be copied into the feedback folders.
c.CourseDirectory.ignore = ['.ipynb_checkpoints', '*.pyc', '__pycache__', 'feedback', '.hypothesis']

# The release: nbgrader's own pipeline with two of its steps replaced (see nbgrader_plugins):
# stubs that name the exercise or checkpoint, and the outputs before the first exercise kept.
c.GenerateAssignment.preprocessors = pipeline(GenerateAssignment, 'preprocessors', {
    ClearSolutions: StubSolutions, ClearOutput: ClearOutputFromFirstExercise})

# Autograde: the student's package files are theirs, not replaced by the source folder's.
c.Autograde.exclude_overwriting = {nbgrade.ASSIGNMENT: nbgrade.package_files()}
# Time limits (see nbgrader_plugins.ExecuteWithinBudget, which replaces Execute in nbgrader's
# autograde pipeline): a cell may use 60 s of CPU time (ExecuteWithinBudget.cpu_timeout), and
# an endless loop costs that cell. The slowest graded cell of a correct hand-in uses about
# 0.5 s, so a machine 4x slower is still far inside it, and a busy machine does not change CPU
# time. Wall time is only a backstop: 300 s a cell (Execute.timeout), 600 s a notebook
# (ExecuteWithinBudget.notebook_timeout, which mgcourse autograde also reads); a notebook that
# hits one is run again once before the limit costs points. Its kernels run in the sandbox,
# in a scratch copy of the student's autograded folder, and can write nothing of the course
# (sandboxed_kernels.SandboxedKernelManager).
c.Execute.timeout = 300
c.Execute.interrupt_on_timeout = True
# The cells that grade the student's package (grade_id check_CHECKPOINT) get their points from
# the grader, not from the kernel: GradePackage grades the submitted package files, sandboxed,
# before the student's code runs; ScorePackageChecks, after Execute, turns each such cell's
# output into the battery's lines and points (nbgrader's partial credit). See nbgrade.py.
c.Autograde.autograde_preprocessors = package_pipeline(pipeline(
    Autograde, 'autograde_preprocessors', {Execute: ExecuteWithinBudget}))
# Sanitizing: a hidden-test cell handed in as released is not "changed" (RestoreHiddenTests),
# so nbgrader's checksum warning is left for students who edited a locked cell.
c.Autograde.sanitize_preprocessors = sanitize_pipeline(pipeline(
    Autograde, 'sanitize_preprocessors', {}))

# Feedback: hidden tests show their name, points and message, never their source or traceback.
c.GenerateFeedback.preprocessors = [HideHiddenTests, GetGrades, CSSHTMLHeaderPreprocessor]
