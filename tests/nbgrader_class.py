"""The sample class of the nbgrader round trip, shared by the serial (nbgrader's own autograde)
and the parallel (mgcourse autograde) tests, which must agree on EXPECTED exactly."""

import re
from pathlib import Path

import nbformat

from mgcourse import isolated, nbgrade

# The points of each notebook's test cells (see their nbgrader metadata).
MAX_SCORES = {
    '01_derivatives': 4, '02_value_and_graph': 1, '03_backprop_by_hand': 4, '04_backward': 25,
    '05_more_ops_and_pytorch': 15, '06_mlp_and_training': 19, '07_challenge': 4,
}
TOTAL = sum(MAX_SCORES.values())
ZERO = {name: 0 for name in MAX_SCORES}
# What each sample submission scores, notebook by notebook (see nbgrade.SAMPLE_CLASS).
# partial loses its slope self-check's point (a hidden test catches it), and on its check cells
# what `mgcourse check` gives its package (= in __mul__, no zero_grad): reuse 5/8,
# more_ops 11/14, loss 1/3, training 1/8; endless hands in the first notebook only (the others score
# 0) and loses the slope point too: slope is never defined. empty and hostile score nothing.
EXPECTED = {
    'correct': MAX_SCORES,
    'partial': {**MAX_SCORES, '01_derivatives': 3, '04_backward': 22,
                '05_more_ops_and_pytorch': 12, '06_mlp_and_training': 10},
    'endless': {**ZERO, '01_derivatives': 3},
    'empty': ZERO,
    'hostile': ZERO,
}
# The CPU seconds a cell may use in the tests: the costliest graded cell of a correct hand-in
# uses about 0.8 s (bench/autograde.py --cpu-only: 07's training; 05's PyTorch cell is not run
# when grading), 1.2 s where the packages are not compiled, and CPU time does not grow on a
# busy machine; short enough that the endless loop costs seconds, not ten. Wall time keeps the
# course's backstop.
CELL_CPU = 5
# The students who hand in every notebook: each of their check cells is compared with
# `mgcourse check` on the package they submitted.
EVERY_NOTEBOOK = ('correct', 'partial', 'empty', 'hostile')
CHECKSUM_WARNING = re.compile(r"Attribute 'checksum' for cell (\S+) has changed")


def sample_course(tmp):
    """nbgrade.sample_course in tmp/course: (course folder, release folder)."""
    return nbgrade.sample_course(tmp / 'course')


def mgcourse_check(package):
    """What `mgcourse check` gives a package: {checkpoint: (points, {check id: points})}."""
    out = {}
    for r in isolated.run(package).results:
        points, checks = out.get(r.checkpoint, (0, {}))
        out[r.checkpoint] = (points + r.points, {**checks, r.id: r.points})
    return out


def check_cells(course, student):
    """{checkpoint: (score in the gradebook, the checks' points in the autograded cell)} of
    the student's check cells."""
    from nbgrader.api import Gradebook

    from mgcourse import nbautograde
    found = {}
    graded = course / 'autograded' / student / nbgrade.ASSIGNMENT
    with Gradebook(nbautograde.db_url(course), nbgrade.COURSE_ID) as gb:
        for path in sorted(graded.glob('*.ipynb')):
            for cell in nbformat.read(path, as_version=4).cells:
                grade_id = cell.metadata.get('nbgrader', {}).get('grade_id')
                cp = nbgrade.checkpoint_of(grade_id)
                if cp is not None:
                    grade = gb.find_grade(grade_id, path.stem, nbgrade.ASSIGNMENT, student)
                    found[cp] = (grade.score, cell.metadata['mgcourse']['checks'])
    return found


def assert_check_cells_are_mgcourse_check(course, student):
    """Each check cell's score in the gradebook, and each check's points in it, are what
    `mgcourse check` gives the package the student submitted."""
    want = mgcourse_check(nbgrade.submitted_package(course, student))
    got = check_cells(course, student)
    assert sorted(got) == sorted(cp for cp in want if f'check_{cp}' in CHECK_CELLS), student
    for cp, (score, checks) in got.items():
        assert score == want[cp][0], (
            f"{student}, {cp}: nbgrader {score}, mgcourse check {want[cp][0]}\n"
            + '\n'.join(f"    {where}: {text}" for where, text in lost_points(course, student)))
        assert checks == want[cp][1], f"{student}, {cp}"
    return got


def _check_cell_ids():
    ids = set()
    for path in nbgrade.source_folder().glob('*.ipynb'):
        for cell in nbformat.read(path, as_version=4).cells:
            grade_id = cell.metadata.get('nbgrader', {}).get('grade_id', '')
            if nbgrade.checkpoint_of(grade_id):
                ids.add(grade_id)
    return ids


CHECK_CELLS = _check_cell_ids()


def assert_scores(course, expected=None):
    """The gradebook's scores are expected (default EXPECTED); when not, the message shows,
    for each student who differs, what their autograded notebooks say in the cells that lost
    points (a check cell's battery lines, a test cell's error), so a failure explains itself."""
    from mgcourse import nbautograde
    expected = EXPECTED if expected is None else expected
    got = nbautograde.scores(course)
    if got == expected:
        return
    lines = []
    for student in sorted(set(got) | set(expected)):
        if got.get(student) != expected.get(student):
            lines.append(f"{student}: got {got.get(student)}, want {expected.get(student)}")
            lines += [f"    {where}: {text}" for where, text in lost_points(course, student)]
    raise AssertionError('\n'.join(lines))


def lost_points(course, student):
    """[(notebook/cell, what its outputs say)] of the student's graded cells that scored less
    than their points, from the autograded notebooks."""
    out = []
    graded = Path(course) / 'autograded' / student / nbgrade.ASSIGNMENT
    if not graded.is_dir():
        return [('autograded/', f'no folder {graded}')]
    for path in sorted(graded.glob('*.ipynb')):
        for cell in nbformat.read(path, as_version=4).cells:
            meta = cell.metadata.get('nbgrader', {})
            if not meta.get('grade'):
                continue
            text = []
            for o in cell.get('outputs', []):
                if o.get('output_type') == 'error':
                    text.append(f"{o.get('ename')}: {o.get('evalue')}")
                elif o.get('output_type') == 'stream':
                    text.append(o.get('text', ''))
            mg = cell.metadata.get('mgcourse', {})
            if mg and mg.get('points') == mg.get('possible'):
                continue
            if not mg and not any(o.get('output_type') == 'error' for o in cell.get('outputs', [])):
                continue
            out.append((f"{path.stem}/{meta.get('grade_id')}", ' | '.join(text)[-1500:]))
    return out


def checksum_warnings(log):
    """{student: the cells nbgrader's autograde log says were changed}, from the
    'Sanitizing .../submitted/STUDENT/...' line before each warning."""
    found, student = {}, None
    for line in log.splitlines():
        m = re.search(r'Sanitizing \S*submitted/([^/]+)/', line)
        if m:
            student = m.group(1)
            found.setdefault(student, [])
        m = CHECKSUM_WARNING.search(line)
        if m:
            found.setdefault(student, []).append(m.group(1))
    return found
