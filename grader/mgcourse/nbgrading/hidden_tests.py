"""Feedback without hidden tests (generate_feedback, before GetGrades).

HideHiddenTests, in the autograded notebook a feedback page is made from, removes the
hidden-test regions of the test cells and cuts the error output of those cells down to its last
line (`AssertionError: the diagnostic message`), since IPython's traceback quotes the cell's
source around the failing line.
"""

from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import List, Unicode

BEGIN_HIDDEN = 'BEGIN HIDDEN TESTS'
END_HIDDEN = 'END HIDDEN TESTS'


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
    # configurable, as in nbgrader's GetGrades: the HTML exporter sets it for every step of
    # generate_feedback, and NbGraderPreprocessor's own copy is not (a warning, once a run)
    display_data_priority = List(['text/html', 'application/pdf', 'text/latex', 'image/svg+xml',
                                  'image/png', 'image/jpeg', 'text/plain']).tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != 'code' or BEGIN_HIDDEN not in cell.source:
            return cell, resources
        cell.source = remove_hidden_regions(cell.source, self.placeholder)
        for output in cell.get('outputs', []):
            if output.output_type == 'error':
                # the exception's type and message (the diagnostic) stay; the frames go
                output.traceback = [f"{output.ename}: {output.evalue}"]
        return cell, resources
