"""Write sample_grades.json, the gradebook tests/test_reports.py reads, from real results.

Each student's results are what the battery and the hidden checks (with the seed below) say of
the solutions with some of the catalogue's mistakes made in them; only dave's timeout and
frank's empty hand-in are written here by hand. Run it again when the checks' messages change:

    .venv/bin/python tests/reports/make_sample_grades.py

and update the values tests/test_reports.py expects. A run gives the same file every time: the
order in which backward() meets the nodes, which decides which reuse checks `=` for `+=` fails
(alice, erin), is the order of each Value's `_prev`, a tuple.
"""

import copy
import json
import shutil
import tempfile
from pathlib import Path

from mgcourse import paths
from mgcourse.batch import grading, hidden
from mgcourse.battery import diagnosis, harness
from mgcourse.battery.checks.base import PROBES, call_probe
from mgcourse.battery.impl import load

SEED = 731942085
OUT = Path(__file__).parent / 'sample_grades.json'
MISTAKES = {m.id: m for m in diagnosis.mistakes()}



def results(mistake_ids, order):
    """check id -> the gradebook's record of it, for the solutions with these mistakes."""
    folder = Path(tempfile.mkdtemp()) / 'impl'
    try:
        shutil.copytree(paths.SOLUTIONS, folder, ignore=shutil.ignore_patterns('__pycache__'))
        for mid in mistake_ids:
            m = MISTAKES[mid]
            path = folder / m.file
            path.write_text(path.read_text().replace(m.find, m.replace))
        found = {r.id: r for r in harness.run(folder).results}
        impl = load(folder)

        def call(probe, inputs):  # as the worker answers, through JSON
            return json.loads(json.dumps(call_probe(PROBES[probe], impl, inputs)))

        for h in hidden.HIDDEN:
            found[h.id] = hidden.run(h, SEED, call)
    finally:
        shutil.rmtree(folder.parent, ignore_errors=True)
    return {cid: {'points': found[cid].points, 'possible': found[cid].possible,
                  'passed': found[cid].passed, 'error': found[cid].error,
                  'message': found[cid].message, 'diagnoses': found[cid].diagnoses} for cid in order}


def main():
    listed = grading.check_list()
    order = [c['id'] for c in listed]
    possible = sum(c['points'] for c in listed)

    def student(name, submission, fingerprint, checks_, notes=(), flags=(), status='graded', seconds=4.0):
        total = 0.0 if status == 'invalid' else float(sum(c['points'] for c in checks_.values()))
        return {'student': name, 'status': status, 'submission': submission, 'fingerprint': fingerprint,
                'seed': SEED, 'total': total, 'possible': possible, 'notes': list(notes),
                'flags': list(flags), 'seconds': seconds, 'checks': checks_}

    dave = results(['training-without-zero-grad', 'no-radd'], order)
    dave['training.hidden_descent'].update(
        error='timeout', diagnoses=[],
        message='checkpoint training (02:01:12 doing gradient descent optimization manually, training '
                'the network): hidden: gradient descent on a random network and dataset\n'
                'your code took longer than 10 s and was stopped: an endless loop, or a graph far too large?')
    problem = 'frank.zip holds no engine.py or nn.py: it has only README.md and homework.pdf'
    frank = {c['id']: {'points': 0, 'possible': c['points'], 'passed': False, 'error': 'invalid',
                       'message': problem, 'diagnoses': []} for c in listed}
    students = {
        'alice': student('alice', 'alice.zip', '3f1a9c0e5b7d2468ace0135792468ace0135792468ace0135792468ace01357',
                         results(['add-overwrites'], order), seconds=4.2,
                         notes=['2 files besides engine.py and nn.py were ignored: notes.txt, scratch.ipynb']),
        'bob': student('bob', 'bob', '9b2e4d6f8a0c1e3f5a7b9c1d3e5f7a9b1c3d5e7f9a1b3c5d7e9f1a3b5c7d9e1f',
                       results([], order), flags=['imports-torch'], seconds=6.8,
                       notes=['engine.py imports torch: it is graded as usual, and your instructor will '
                              'look at it']),
        'carol': student('carol', 'carol.zip', 'c4a7e1b8d2f5a9c3e6b0d4f7a1c5e8b2d6f9a3c7e0b4d8f1a5c9e2b6d0f3a7c1',
                         results(['tanh-from-input', 'parameters-without-biases'], order), seconds=5.1),
        'dave': student('dave', 'dave', 'd0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1',
                        dave, seconds=13.9,
                        notes=['engine.py and nn.py were found in the subfolder micrograd/ and graded from there']),
        'erin': student('erin', 'erin.zip', 'e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4',
                        results(['add-overwrites', 'parameters-bias-first'], order), seconds=4.6),
        'frank': student('frank', 'frank.zip', 'f00dfacecafebeef0123456789abcdef0123456789abcdef0123456789abcdef',
                         frank, status='invalid', seconds=0.1, notes=[problem]),
    }
    book = {'course': 'micrograd-course', 'assignment': 'micrograd', 'sandbox': 'bubblewrap',
            'checks': listed, 'diagnoses': diagnosis.texts(), 'students': copy.deepcopy(students)}
    OUT.write_text(json.dumps(book, indent=1, ensure_ascii=False) + '\n', encoding='utf-8')
    for name, rec in students.items():
        print(f"{name:6} {rec['status']:8} {rec['total']:g} / {rec['possible']}")


if __name__ == '__main__':
    main()
