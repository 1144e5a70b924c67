"""nbgrader preprocessors for the course (configured in grader/nbgrader/nbgrader_config.py).

- StubSolutions (generate_assignment, in place of ClearSolutions): each solution region becomes
  the course's own stub (skeleton.render), a TODO line with the region's explanation and a
  `raise NotImplementedError` naming the exercise or checkpoint, instead of nbgrader's
  anonymous "YOUR CODE HERE".
- ClearOutputFromFirstExercise (generate_assignment, in place of ClearOutput): clears the
  outputs from the first exercise cell (the first solution or grade cell) on, so the graphs and
  plots before it stay visible and nothing after it gives an answer away.
- HideHiddenTests (generate_feedback, before GetGrades): in the autograded notebook a feedback
  page is made from, removes the hidden-test regions of the test cells and cuts the error
  output of those cells down to its last line (`AssertionError: the diagnostic message`), since
  IPython's traceback quotes the cell's source around the failing line.
- ExecuteWithinBudget (autograde, in place of Execute): nbgrader's Execute, with a time budget
  for the whole notebook on top of the per-cell timeout, so an endless loop costs the cell it
  is in, and a notebook of many slow cells cannot hold up the class.
"""

import time

from nbconvert.preprocessors import ClearOutputPreprocessor
from nbgrader import utils
from nbgrader.preprocessors import ClearOutput, ClearSolutions, Execute, NbGraderPreprocessor
from traitlets import Float, Unicode

from . import skeleton

BEGIN_HIDDEN = 'BEGIN HIDDEN TESTS'
END_HIDDEN = 'END HIDDEN TESTS'


class StubSolutions(ClearSolutions):
    """ClearSolutions whose stub is the course's: it names the exercise or checkpoint."""

    def _replace_solution_region(self, cell, language):
        if cell.cell_type != 'code' or not any(
                self.begin_solution_delimeter in line for line in cell.source.split('\n')):
            return super()._replace_solution_region(cell, language)
        grade_id = cell.metadata.get('nbgrader', {}).get('grade_id', '?')
        # SkeletonError (a region without its '# exercise ...' line, an unclosed region)
        # stops generate_assignment with the cell named.
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


def remove_hidden_regions(source, placeholder):
    """The source without its hidden-test regions, each replaced by the placeholder line
    (indented as the region's first line). Raises ValueError on an unclosed region."""
    out, inside = [], False
    for line in source.split('\n'):
        if BEGIN_HIDDEN in line:
            if inside:
                raise ValueError(f"nested {BEGIN_HIDDEN}")
            inside = True
            indent = line[:len(line) - len(line.lstrip())]
            out.append(indent + placeholder)
        elif END_HIDDEN in line:
            if not inside:
                raise ValueError(f"{END_HIDDEN} without {BEGIN_HIDDEN}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{BEGIN_HIDDEN} is never closed")
    return '\n'.join(out)


class HideHiddenTests(NbGraderPreprocessor):
    """Feedback without hidden tests: their source, and the traceback that quotes it, go."""

    placeholder = Unicode(
        '# (hidden tests: graded, not shown)',
        help="The line that replaces each hidden-test region in the feedback").tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != 'code' or BEGIN_HIDDEN not in cell.source:
            return cell, resources
        cell.source = remove_hidden_regions(cell.source, self.placeholder)
        for output in cell.get('outputs', []):
            if output.output_type == 'error':
                # the exception's type and message (the diagnostic) stay; the frames go
                output.traceback = [f"{output.ename}: {output.evalue}"]
        return cell, resources


class ExecuteWithinBudget(Execute):
    """Execute, where each cell's time limit is the smaller of `timeout` (per cell) and what is
    left of `notebook_timeout` (the whole notebook). A cell stopped at its limit gets nbgrader's
    CellTimeoutError and scores 0; the cells after it still run. Once the budget is spent,
    each remaining cell has `after_budget` seconds: enough for quick asserts, too little for
    anything slow."""

    notebook_timeout = Float(
        600.0, help="Seconds for all the cells of one notebook together.").tag(config=True)
    after_budget = Float(
        2.0, help="Seconds for each cell once the notebook's budget is spent.").tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
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
