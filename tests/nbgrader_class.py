"""The sample class of the nbgrader round trip, shared by the serial (nbgrader's own autograde)
and the parallel (mgcourse autograde) tests, which must agree on EXPECTED exactly; and the
student who attacks the grader from the kernel, whom both autograde in their graded class."""

import hashlib
import json
import os
import re
import shutil
import stat
import uuid
from pathlib import Path

import nbformat

from mgcourse import paths
from mgcourse.isolation import isolated
from mgcourse.nbgrading import nbgrade

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
# uses about 0.5 s (bench/autograde.py --cpu-only: the imports and first plots; 05's PyTorch
# cell is not run when grading), and CPU time does not grow on a busy machine; short enough
# that the endless loop costs seconds, not ten. Wall time keeps the course's backstop.
CELL_CPU = 5
# The students who hand in every notebook: each of their check cells is compared with
# `mgcourse check` on the package they submitted.
EVERY_NOTEBOOK = ('correct', 'partial', 'empty', 'hostile')
CHECKSUM_WARNING = re.compile(r"Attribute 'checksum' for cell (\S+) has changed")


def copy_of_generated(generated, tmp):
    """A copy in tmp/course of the course with its assignment generated (conftest's
    generated_course fixture): (course folder, release folder)."""
    course = Path(shutil.copytree(generated, tmp / 'course'))
    return course, course / 'release' / nbgrade.ASSIGNMENT


def sample_course(generated, tmp):
    """What nbgrade.sample_course makes, in tmp/course from a copy of the generated course:
    one student of each kind of SAMPLE_CLASS, named after it. (course folder, release)"""
    course, release = copy_of_generated(generated, tmp)
    nbgrade.submit_sample_class(course)
    return course, release


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

    from mgcourse.nbgrading import nbautograde
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
    from mgcourse.nbgrading import nbautograde
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


# ---------------------------------------------------------------------------------------------
# A student who attacks the grader from the kernel (sandboxed_kernels.SandboxedKernelManager)
# ---------------------------------------------------------------------------------------------
#
# Once a class is graded, ATTACKER hands in the first notebook with one cell more, and a package
# with code at import, both written against the grader: at autograde time they try to append to
# the gradebook and rewrite its grades, overwrite CLASSMATE's submitted and autograded files,
# create files in the course folder, swap the attacker's own autograded notebook for a link to
# a file outside (so that nbgrader, writing the notebook, would write through it), and leave a
# daemon that goes on trying after the kernel is gone. attack() grades it in the class's course
# (test_nbgrader with plain nbgrader, test_nbautograde with `mgcourse autograde`), records what
# happened, and takes the attacker out again, gradebook and folders, so that the class's other
# tests see the class they expect, whatever order they run in.

ATTACKER = 'mallory'
CLASSMATE = 'correct'
NOTEBOOK = '01_derivatives'
HONEST = {**ZERO, NOTEBOOK: 4}  # the first notebook's four self-checks; nothing else handed in
MARK = 'written by a student\n'
DAEMON_SECONDS = 60  # it ends by itself, should it outlive its kernel
ATTEMPTS = 9  # 7 in the cell, 2 in the package
NBGRADERS_OWN = {'gradebook.db', '.nbgrader.log'}  # what nbgrader itself writes, besides the
# attacker's autograded folder


def attack_cell(course, canary, token):
    """The code of the attacker's extra cell: each attempt, and a report of how it went."""
    mate_sub = course / f'submitted/{CLASSMATE}/micrograd'
    mate_auto = course / f'autograded/{CLASSMATE}/micrograd'
    own = course / f'autograded/{ATTACKER}/micrograd/{NOTEBOOK}.ipynb'
    daemon_targets = [str(mate_sub / 'micrograd_skeleton/engine.py'),
                      str(mate_auto / f'{NOTEBOOK}.ipynb'), str(course / 'daemon-was-here.txt')]
    daemon = (f"import time\nend = time.monotonic() + {DAEMON_SECONDS}\n"
              "while time.monotonic() < end:\n"
              f"    for path in {daemon_targets!r}:\n"
              "        try:\n"
              f"            open(path, 'a').write({MARK!r})\n"
              "        except OSError:\n"
              "            pass\n"
              "    time.sleep(0.1)\n")
    return f"""# written against the grader
import json, os, sqlite3, subprocess, sys
import micrograd_skeleton.engine as _engine
_report = dict(getattr(_engine, 'ATTEMPTS', {{}}))

def _try(name, action):
    try:
        action()
        _report[name] = 'succeeded'
    except Exception as e:
        _report[name] = f'failed: {{type(e).__name__}}: {{e}}'

def _append(path):
    with open(path, 'a') as f:
        f.write({MARK!r})

def _rewrite_grades():
    db = sqlite3.connect('file:{course / 'gradebook.db'}?mode=rw', uri=True, timeout=2)
    db.execute('UPDATE grade SET auto_score = 0')
    db.commit()
    db.close()

def _swap_for_a_link():
    if os.path.lexists({str(own)!r}):
        os.remove({str(own)!r})
    os.symlink({str(canary)!r}, {str(own)!r})

_try('append to the gradebook', lambda: _append({str(course / 'gradebook.db')!r}))
_try("rewrite the gradebook's grades", _rewrite_grades)
_try("overwrite a classmate's submitted engine.py",
     lambda: open({str(mate_sub / 'micrograd_skeleton/engine.py')!r}, 'w').write({MARK!r}))
_try("overwrite a classmate's autograded notebook",
     lambda: open({str(mate_auto / f'{NOTEBOOK}.ipynb')!r}, 'w').write({MARK!r}))
_try("overwrite a classmate's autograded engine.py",
     lambda: open({str(mate_auto / 'micrograd_skeleton/engine.py')!r}, 'w').write({MARK!r}))
_try('create a file in the course folder',
     lambda: open({str(course / 'cell-was-here.txt')!r}, 'x').write({MARK!r}))
_try('swap its own autograded notebook for a link', _swap_for_a_link)
subprocess.Popen([sys.executable, '-c', {daemon!r}, {token!r}], start_new_session=True,
                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print('ATTEMPTS ' + json.dumps(_report, sort_keys=True))
"""


def package_attack(course):
    """What the attacker's engine.py does when it is imported."""
    targets = {'package: create a file in the course folder': str(course / 'package-was-here.txt'),
               "package: append to a classmate's submitted nn.py":
                   str(course / f'submitted/{CLASSMATE}/micrograd/micrograd_skeleton/nn.py')}
    return f"""

# --- written against the grader -------------------------------------------------------------
ATTEMPTS = {{}}
for _name, _path in {targets!r}.items():
    try:
        with open(_path, 'a') as _f:
            _f.write({MARK!r})
        ATTEMPTS[_name] = 'succeeded'
    except Exception as _e:
        ATTEMPTS[_name] = f'failed: {{type(_e).__name__}}'
"""


def tree(folder):
    """{path relative to folder: ('dir',) | ('link', target) | ('file', digest)}."""
    out = {}
    for where, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = os.path.join(where, name)
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode):
                what = ('link', os.readlink(path))
            elif stat.S_ISDIR(mode):
                what = ('dir',)
            else:
                what = ('file', hashlib.sha256(Path(path).read_bytes()).hexdigest())
            out[os.path.relpath(path, folder)] = what
    return out


def attackers_left(token):
    """The pids of processes whose command line carries token (the daemon, if it survived)."""
    found = []
    for entry in os.scandir('/proc'):
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if token.encode() in Path(entry.path, 'cmdline').read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def kill_attackers(token):
    for pid in attackers_left(token):
        try:
            os.kill(pid, 9)
        except OSError:
            pass


def attack(course, grade):
    """Hand in the attacker's work in a graded course, autograde it with grade(course, student),
    and take it out again. Returns what the checks below need."""
    from nbgrader.api import Gradebook, MissingEntry

    from mgcourse.nbgrading import nbautograde
    course = Path(os.path.realpath(course))
    token = f'mgcourse-kernel-attack-{uuid.uuid4().hex}'  # in the daemon's command line
    outside = course.parent / 'outside'  # where the attacker's link points
    outside.mkdir()
    canary = outside / 'canary.txt'
    canary.write_text('the grader owns this file\n')
    work = course.parent / ATTACKER
    work.mkdir()
    nb = nbformat.read(nbgrade.source_folder(course) / f'{NOTEBOOK}.ipynb', as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(attack_cell(course, canary, token)))
    nbformat.write(nb, work / f'{NOTEBOOK}.ipynb')
    folder = nbgrade.submit(course, ATTACKER, work, paths.SOLUTIONS)
    with open(folder / nbgrade.PACKAGE / 'engine.py', 'a', encoding='utf-8') as f:
        f.write(package_attack(course))
    before, scores_before = tree(course), nbautograde.scores(course)
    try:
        grade(course, ATTACKER)
        left = attackers_left(token)
    finally:
        kill_attackers(token)  # should the daemon have outlived its kernel (it must not)
    after, scores_after = tree(course), nbautograde.scores(course)
    own = course / f'autograded/{ATTACKER}/micrograd/{NOTEBOOK}.ipynb'
    report = f'no autograded notebook at {own}'
    if own.exists():  # through the link, if the attack made one: where nbgrader wrote
        try:
            cell = nbformat.read(own, as_version=4).cells[-1]
        except Exception as e:  # noqa: BLE001 - whatever is there, say what
            report = f'not a notebook at {own}: {e}'
        else:
            text = ''.join(o.get('text', '') for o in cell.outputs if o.output_type == 'stream')
            lines = [line for line in text.splitlines() if line.startswith('ATTEMPTS ')]
            report = json.loads(lines[0][len('ATTEMPTS '):]) if lines else text
    found = {'before': before, 'after': after, 'scores_before': scores_before,
             'scores_after': scores_after, 'left': left, 'report': report,
             'own_is_a_file': own.is_file() and not own.is_symlink(),
             'canary': canary.read_text(), 'outside': sorted(p.name for p in outside.iterdir()),
             'gradebook': (course / 'gradebook.db').read_bytes()}
    with Gradebook(nbautograde.db_url(course), nbgrade.COURSE_ID) as gb:
        try:
            gb.remove_student(ATTACKER)
        except MissingEntry:  # nbgrader never got as far as recording the student
            pass
    for where in ('submitted', 'autograded'):
        if (course / where / ATTACKER).is_symlink():
            (course / where / ATTACKER).unlink()
        else:
            shutil.rmtree(course / where / ATTACKER, ignore_errors=True)
    return found


def assert_every_attempt_failed(found):
    assert isinstance(found['report'], dict), found['report']
    assert len(found['report']) == ATTEMPTS, found['report']
    assert {k: v for k, v in found['report'].items() if not v.startswith('failed')} == {}


def assert_only_nbgrader_wrote_in_the_course(found):
    before, after = found['before'], found['after']
    changed = sorted(p for p in before if p not in NBGRADERS_OWN and after.get(p) != before[p])
    assert changed == [], "changed or removed: these must be byte for byte as they were"
    new = sorted(p for p in set(after) - set(before) if p not in NBGRADERS_OWN)
    assert [p for p in new if p.split(os.sep)[:2] != ['autograded', ATTACKER]] == []
    assert [p for p in new if after[p][0] == 'link'] == []
    assert MARK.encode() not in found['gradebook']


def assert_nothing_written_through_a_link(found):
    assert found['canary'] == 'the grader owns this file\n', "written through the link"
    assert found['outside'] == ['canary.txt']
    assert found['own_is_a_file'], "the autograded notebook is a link"


def assert_classmates_keep_their_scores(found):
    others = {s: v for s, v in found['scores_after'].items() if s != ATTACKER}
    assert others == found['scores_before'] and others[CLASSMATE] == MAX_SCORES
    assert found['scores_after'][ATTACKER] == HONEST, "what its honest cells earn"


def assert_no_process_outlived_the_autograde(found):
    assert found['left'] == [], "a process the kernel started outlived the autograde"


# What both round trips (test_nbgrader, test_nbautograde) assert of the attack, each a test.
ATTACK_CHECKS = (assert_every_attempt_failed, assert_only_nbgrader_wrote_in_the_course,
                 assert_nothing_written_through_a_link, assert_classmates_keep_their_scores,
                 assert_no_process_outlived_the_autograde)
