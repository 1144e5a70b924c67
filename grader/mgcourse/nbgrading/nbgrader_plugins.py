"""nbgrader preprocessors for the course (configured in grader/nbgrader/nbgrader_config.py).

- StubSolutions (generate_assignment, in place of ClearSolutions): each solution region becomes
  the course's own stub (skeleton.render), a TODO line with the region's explanation and a
  `raise NotImplementedError` naming the exercise or checkpoint, instead of nbgrader's
  anonymous "YOUR CODE HERE".
- ClearOutputFromFirstExercise (generate_assignment, in place of ClearOutput): clears the
  outputs from the first exercise cell (the first solution or grade cell) on, so the graphs and
  plots before it stay visible and nothing after it gives an answer away.
- ExecuteWithinBudget (autograde, in place of Execute): nbgrader's Execute, where a cell's
  limit is CPU time (an endless loop costs the cell it is in), wall time is a backstop far
  above it with a budget for the whole notebook, a notebook stopped by a wall-time limit is
  run again once, and kernels start reliably, each in the sandbox (see the class).
The feedback's HideHiddenTests is in hidden_tests.py.
"""

import copy
import re
import time

import nbformat
from jupyter_core.utils import run_sync
from nbconvert.preprocessors import ClearOutputPreprocessor
from nbgrader import utils
from nbgrader.preprocessors import ClearOutput, ClearSolutions, Execute, NbGraderPreprocessor
from traitlets import Bool, Dict, Float, Unicode

from .cell_limits import CellLimits, wall_stopped_cells
from .sandboxed_kernels import SandboxedKernelManager

SKIP_TAG = 'autograde-skip'  # a cell the autograde does not run (ExecuteWithinBudget)


class StubSolutions(ClearSolutions):
    """ClearSolutions whose stub is the course's: it names the exercise or checkpoint."""

    def _replace_solution_region(self, cell, language):
        if cell.cell_type != 'code' or not any(
                self.begin_solution_delimeter in line for line in cell.source.split('\n')):
            return super()._replace_solution_region(cell, language)
        grade_id = cell.metadata.get('nbgrader', {}).get('grade_id', '?')
        # SkeletonError (a region without its '# exercise ...' line, an unclosed region)
        # stops generate_assignment with the cell named.
        from mgcourse.handout import skeleton  # generate_assignment only: a build step
        cell.source = skeleton.render(cell.source, f'cell {grade_id}').rstrip('\n')
        return True


def _is_exercise(cell):
    return utils.is_solution(cell) or utils.is_grade(cell)


class ClearOutputFromFirstExercise(ClearOutput):
    """ClearOutput that keeps the outputs of the cells before the first exercise."""

    def preprocess(self, nb, resources):
        first = next((i for i, cell in enumerate(nb.cells) if _is_exercise(cell)), len(nb.cells))
        for i, cell in enumerate(nb.cells):
            if i >= first:
                nb.cells[i], resources = ClearOutputPreprocessor.preprocess_cell(
                    self, cell, resources, i)
        return nb, resources


class ExecuteWithinBudget(CellLimits, Execute):
    """Execute, with limits that a busy machine cannot turn against a correct notebook.

    - Each cell may use `cpu_timeout` seconds of CPU time (cell_limits.CellLimits): the limit meant
      for an endless loop, which costs the cell it is in (CellCPUTimeExceeded, 0 points).
    - Wall time is a backstop far above that: a cell's limit is the smaller of `timeout` and
      what is left of `notebook_timeout` (the whole notebook); once the budget is spent, each
      remaining cell has `after_budget` seconds.
    - A notebook in which a wall-time limit stopped a cell is run again once from the start,
      in a fresh kernel (`retry_wall_timeouts`); the second run is the one graded, and the
      notebook says so in its metadata (mgcourse.wall_retry) and in a note under the cell
      that was stopped, which the feedback shows. `mgcourse autograde` turns the retry off in
      its parallel processes and grades such a student again alone, once the others are done.
    - Kernels run in the sandbox, in a scratch copy of the notebook's folder, and can write
      nothing else (sandboxed_kernels.SandboxedKernelManager); they talk over IPC in a folder of their
      own, so two starting at once never take each other's ports; one that dies before it
      answers is started once more.
    - A cell tagged `autograde-skip` is not run: a demonstration that scores nothing and costs
      time (notebook 05's comparison with PyTorch, whose import alone is 1.7 s of CPU). Only a
      cell of no nbgrader role may be skipped: a student who tags a graded self-check (whose
      points come from running without an error) or a locked cell finds the tag dropped and
      the cell run, and the log says so. nbgrader restores a locked cell's source, not its
      tags, and without this an unanswered notebook with its self-checks tagged scored them.
    - A check cell (`check('CHECKPOINT')`, graded on the submitted package outside the kernel)
      is not run either: what it would print is replaced anyway, and its battery run in the
      kernel cost a correct student about 3 s of CPU (2.2 s in notebook 05 alone).
    - Nor is a cell of IPython's autoreload magics alone (the notebooks' first cell): nothing
      changes on disk while a notebook is graded, and `%autoreload 2` has every later cell look
      at each loaded module first, 0.1 to 0.3 s of CPU a notebook.
    """

    skip_cells_with_tag = Unicode(
        SKIP_TAG, help="Cells with this tag are not run when grading.").tag(config=True)

    cpu_timeout = Float(
        60.0, allow_none=True,
        help="CPU seconds one cell may use (None: no CPU limit).").tag(config=True)
    notebook_timeout = Float(
        600.0, help="Wall seconds for all the cells of one notebook together.").tag(config=True)
    after_budget = Float(
        2.0, help="Seconds for each cell once the notebook's budget is spent.").tag(config=True)
    retry_wall_timeouts = Bool(
        True, help="Run a notebook again once when a wall-time limit stopped one of its "
                   "cells.").tag(config=True)
    first_run_stopped = Dict(
        {}, help="{notebook: [cell indices]} that a wall-time limit stopped in an earlier run "
                 "of this submission (mgcourse autograde sets it when it grades a student again "
                 "alone): this run is the retry, and says so.").tag(config=True)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault('kernel_manager_class', SandboxedKernelManager)
        super().__init__(*args, **kwargs)

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        if _is_check_cell(cell) or only_autoreload(cell):  # see the class
            return cell
        return await super().async_execute_cell(cell, cell_index, execution_count, store_history)

    execute_cell = run_sync(async_execute_cell)  # what nbconvert's preprocess_cell calls

    def _run_within_budget(self, nb, resources, km):
        deadline = time.monotonic() + self.notebook_timeout

        def cell_timeout(cell):
            left = deadline - time.monotonic()
            limit = max(left, self.after_budget)
            return limit if self.timeout is None or self.timeout < 0 else min(self.timeout, limit)

        self.timeout_func = cell_timeout
        try:
            return super().preprocess(nb, resources, km)
        finally:
            self.timeout_func = None

    def _run_every_nbgrader_cell(self, nb):
        """Drop the skip tag from each cell that nbgrader grades, locks or expects an answer
        in: only cells of no nbgrader role are skipped (see the class)."""
        for cell in nb.cells:
            tags = cell.metadata.get('tags', [])
            if self.skip_cells_with_tag in tags and cell.metadata.get('nbgrader'):
                cell.metadata['tags'] = [t for t in tags if t != self.skip_cells_with_tag]
                self.log.warning("Cell %s is tagged %s, which is ignored on a cell nbgrader "
                                 "grades or locks: it is run.",
                                 cell.metadata['nbgrader'].get('grade_id', '?'),
                                 self.skip_cells_with_tag)

    def preprocess(self, nb, resources=None, km=None):
        self._run_every_nbgrader_cell(nb)
        original = copy.deepcopy(nb)
        name = (resources or {}).get('unique_key', 'notebook')
        nb, resources = self._run_within_budget(nb, resources, km)
        stopped = wall_stopped_cells(nb)
        if name in self.first_run_stopped:  # this run is the retry
            resources['mgcourse_wall_retry'] = True
            return _noted(nb, self.first_run_stopped[name], stopped), resources
        if not stopped:
            return nb, resources
        if not self.retry_wall_timeouts:
            nb.metadata.setdefault('mgcourse', {})['wall_stopped'] = stopped
            return nb, resources
        self.log.warning("%s: a wall-time limit stopped cell(s) %s; running it again once.",
                         name, ', '.join(map(str, stopped)))
        again, resources = self._run_within_budget(original, resources, None)
        resources['mgcourse_wall_retry'] = True
        return _noted(again, stopped, wall_stopped_cells(again)), resources


class FlagRetried(NbGraderPreprocessor):
    """autograde, after SaveAutoGrades: a notebook that ExecuteWithinBudget ran a second time
    (a wall-time limit stopped it on the first run) is flagged in the gradebook, where the
    formgrader shows it, besides the note its feedback carries."""

    def preprocess(self, nb, resources):
        if resources.get('mgcourse_wall_retry'):
            from nbgrader.api import Gradebook
            info = resources['nbgrader']
            with Gradebook(info['db_url']) as gb:
                gb.find_submission_notebook(info['notebook'], info['assignment'],
                                            info['student']).flagged = True
                gb.db.commit()
            self.log.warning("%s: run twice (a wall-time limit stopped it first); flagged in "
                             "the gradebook.", info['notebook'])
        return nb, resources


def _noted(nb, first_stopped, stopped):
    """The second run of a notebook, saying so: in its metadata (mgcourse.wall_retry) and in a
    note under each cell that the first run's wall-time limit stopped."""
    nb.metadata.setdefault('mgcourse', {})['wall_retry'] = {
        'first_run_stopped': list(first_stopped), 'second_run_stopped': stopped}
    for index in first_stopped:
        if 0 <= index < len(nb.cells) and nb.cells[index].cell_type == 'code':
            nb.cells[index].outputs.append(nbformat.v4.new_output(
                'stream', name='stderr', text=retry_note(index in stopped)))
    return nb


def retry_note(stopped_again):
    """The note under a cell that a wall-time limit stopped on the first run."""
    first = ("Note from the grader: on the first run, this cell was stopped by its wall-time "
             "limit (the machine may have been busy), so the notebook was run again once, "
             "from the start. ")
    return first + ("It was stopped again: the grade is the second run's.\n" if stopped_again
                    else "This is the second run, and it is the one graded.\n")


def pipeline(converter, trait, replaced):
    """nbgrader's own default list of preprocessors for converter.trait, with each class that is
    a key of `replaced` swapped for its value; an error if nbgrader's list lacks one of them."""
    steps = converter.class_traits()[trait].make_dynamic_default()
    missing = [old.__name__ for old in replaced if old not in steps]
    if missing:
        raise RuntimeError(f"nbgrader's {converter.__name__}.{trait} has no {', '.join(missing)} "
                           "step to replace: this nbgrader is not the one the course was made for")
    return [replaced.get(step, step) for step in steps]


def notebook_budget():
    """ExecuteWithinBudget's notebook_timeout, as nbgrader_config.py leaves it (the default)."""
    return ExecuteWithinBudget.class_traits()['notebook_timeout'].default_value


# --------------------------------------------------------------------------------
# The package's checks, graded outside the kernel (see nbgrade.py)
# --------------------------------------------------------------------------------

def _checkpoint_of_cell(cell):
    """The checkpoint a check cell grades (None for any other cell)."""
    from . import nbgrade
    if cell.cell_type == 'code' and utils.is_grade(cell):
        return nbgrade.checkpoint_of(cell.metadata['nbgrader'].get('grade_id'))
    return None


AUTORELOAD = re.compile(r'%(load_ext\s+autoreload|autoreload(\s+\w+)?)')


def only_autoreload(cell):
    """Whether a code cell holds autoreload's magics and nothing else (comments aside)."""
    lines = [line.strip() for line in cell.source.splitlines()]
    lines = [line for line in lines if line and not line.startswith('#')]
    return cell.cell_type == 'code' and bool(lines) and all(map(AUTORELOAD.fullmatch, lines))


def _is_check_cell(cell):
    return _checkpoint_of_cell(cell) is not None


def _check_cells(nb):
    for cell in nb.cells:
        cp = _checkpoint_of_cell(cell)
        if cp is not None:
            yield cell, cp


class GradePackage(NbGraderPreprocessor):
    """autograde, before Execute: the battery's verdicts on the student's submitted package.

    The first time a student's notebook with a check cell comes by, and so before any code of
    that student has run in a kernel, the package files of their submission are graded by the
    grader, sandboxed (nbgrade.grade_package); the verdicts are kept for the student's other
    notebooks. With `results` (a JSON file of {student: entry}, as `mgcourse autograde` writes
    it before any kernel starts), the verdicts are read from there instead."""

    results = Unicode(
        '', help="A JSON file with the package verdicts of the students, graded beforehand "
        "(empty: grade the package here)").tag(config=True)
    unlimited_processes_ok = Bool(
        False, help="Grade the package even where no process limit can hold (a disposable "
        "machine only)").tag(config=True)

    _graded = {}  # (course, student) -> entry: one grading per student and process

    def preprocess(self, nb, resources):
        if not any(True for _ in _check_cells(nb)):
            return nb, resources
        from nbgrader.coursedir import CourseDirectory

        from mgcourse.batch import grading
        from . import nbgrade
        student = resources['nbgrader']['student']
        coursedir = CourseDirectory(config=self.config)
        key = (coursedir.root, student)
        if key not in self._graded:
            entry = None
            if self.results:
                import json
                with open(self.results, encoding='utf-8') as f:
                    entry = json.load(f).get(student)
            if entry is None:
                folder = nbgrade.submitted_package(
                    coursedir.root, student, resources['nbgrader']['assignment'])
                options = grading.Options(unlimited_processes_ok=self.unlimited_processes_ok)
                entry = nbgrade.grade_package(folder, options)  # tried twice on an error
                if entry['status'] == 'error':  # never a silent 0: nbgrader reports the error
                    raise nbgrade.NbgraderFailed(
                        f"the package of {student} could not be graded: "
                        + '; '.join(entry.get('notes', [])))
            self._graded[key] = entry
        resources['mgcourse_package'] = self._graded[key]
        return nb, resources


class ScorePackageChecks(NbGraderPreprocessor):
    """autograde, after Execute, before SaveAutoGrades: each check cell's output becomes the
    battery's lines for its checkpoint, ending with its points, which nbgrader records as the
    cell's partial credit; the cell's metadata keeps each check's points
    (metadata.mgcourse.battery.checks). What the cell printed in the kernel is dropped."""

    def preprocess(self, nb, resources):
        from nbformat.v4 import new_output

        from . import nbgrade
        entry = resources.get('mgcourse_package')
        for cell, cp in _check_cells(nb):
            if entry is None:
                raise RuntimeError("ScorePackageChecks without GradePackage before it")
            points, possible, text = nbgrade.checkpoint_report(entry, cp)
            text += ("(graded by the course's grader on the package files you submitted, "
                     "outside this notebook)\n")
            cell.outputs = [
                new_output('stream', name='stdout', text=text),
                new_output('execute_result', data={'text/plain': f'{points:g}'},
                           execution_count=cell.get('execution_count')),
            ]
            cell.metadata['mgcourse'] = {
                'checkpoint': cp, 'points': points, 'possible': possible,
                'checks': {c['id']: entry['checks'].get(c['id'], {}).get('points', 0)
                           for c in nbgrade.ids_of(cp)}}
        return nb, resources


def package_pipeline(steps, execute=ExecuteWithinBudget):
    """An autograde pipeline with GradePackage before its Execute step, ScorePackageChecks
    right after it, and FlagRetried after SaveAutoGrades."""
    from nbgrader.preprocessors import SaveAutoGrades
    for step in (execute, SaveAutoGrades):
        if step not in steps:
            raise RuntimeError(f"no {step.__name__} step in the autograde pipeline")
    i = steps.index(execute)
    steps = steps[:i] + [GradePackage, execute, ScorePackageChecks] + steps[i + 1:]
    j = steps.index(SaveAutoGrades) + 1
    return steps[:j] + [FlagRetried] + steps[j:]


class RestoreHiddenTests(NbGraderPreprocessor):
    """autograde's sanitizing, before OverwriteCells: a locked cell handed in exactly as it was
    released (its hidden tests cut out by ClearHiddenTests) gets its source back from the
    gradebook, hidden tests included.

    nbgrader records a cell's checksum before the release cuts the hidden tests out, so
    without this step OverwriteCells finds every untouched hidden-test cell "changed" and warns
    (the warning it gives when a student edits a locked cell). A cell that differs from its
    released form in any other way is left to OverwriteCells, which warns and restores it."""

    def preprocess(self, nb, resources):
        from nbformat import NotebookNode
        from nbgrader.api import Gradebook, MissingEntry
        from nbgrader.preprocessors import ClearHiddenTests

        cut = ClearHiddenTests(config=self.config)
        notebook = resources['nbgrader']['notebook']
        assignment = resources['nbgrader']['assignment']
        with Gradebook(resources['nbgrader']['db_url']) as gb:
            for cell in nb.cells:
                grade_id = cell.get('metadata', {}).get('nbgrader', {}).get('grade_id')
                if not grade_id:
                    continue
                try:
                    source = gb.find_source_cell(grade_id, notebook, assignment)
                except MissingEntry:
                    continue
                if (not source.locked or cell.cell_type != source.cell_type
                        or cut.begin_test_delimeter not in source.source):
                    continue
                released = NotebookNode(cell_type=source.cell_type, source=source.source,
                                        metadata={})
                cut._remove_hidden_test_region(released)
                if cell.source == released.source:
                    cell.source = source.source
        return nb, resources


def sanitize_pipeline(steps):
    """autograde's sanitizing pipeline with RestoreHiddenTests right before OverwriteCells."""
    from nbgrader.preprocessors import OverwriteCells
    if OverwriteCells not in steps:
        raise RuntimeError("no OverwriteCells step in nbgrader's sanitizing pipeline")
    i = steps.index(OverwriteCells)
    return steps[:i] + [RestoreHiddenTests] + steps[i:]
