"""Gradescope's results.json for one student, and what is wrong with one by Gradescope's spec.

    gradescope_results(book, student)  Gradescope's results.json, as a dict
    validate_gradescope(results)       what is wrong with a results.json, by Gradescope's spec
"""

import html
import json
import math

from .rows import UNGRADED, _float, _groups, _num, _rewatch, _summary, rows


# Gradescope's autograder specification (gradescope-autograders.readthedocs.io/en/latest/specs/).
VISIBILITIES = ('hidden', 'after_due_date', 'after_published', 'visible')
FORMATS = ('text', 'simple_format', 'html', 'md', 'ansi')
STATUSES = ('passed', 'failed')
TOP_KEYS = {'score', 'execution_time', 'output', 'output_format', 'test_output_format',
            'test_name_format', 'visibility', 'stdout_visibility', 'extra_data', 'tests',
            'leaderboard'}
TEST_KEYS = {'score', 'max_score', 'status', 'name', 'name_format', 'number', 'output',
             'output_format', 'tags', 'visibility', 'extra_data'}

def _test_output(row, status):
    parts = []
    if row.status == 'skipped':
        parts.append('skipped, counts for nothing' + (f": {row.message}" if row.message else ''))
    elif row.status == 'not graded':
        parts.append('not graded: ' + ('grading this hand-in did not finish' if status == 'error'
                                       else 'the submission holds nothing that could be graded'))
    elif row.status == 'failed':
        parts.append(row.result)
        if row.message:
            parts.append(row.message)
        parts += [f"Likely mistake: {words}" for words in row.likely]
        if row.lecture and not row.skeleton:
            parts.append(_rewatch(row))
    return '\n'.join(parts)


def gradescope_results(book, student, hidden_visibility='after_published'):
    """Gradescope's results.json for one student.

    Hidden checks get `hidden_visibility` ('after_published' by default: shown once the
    instructor publishes the grades; 'hidden' would keep them from the student for good, and
    Gradescope then hides the student's total too). Outputs are plain text, never rendered as
    markup; the top-level output is escaped HTML in Gradescope's 'simple_format'.
    """
    if hidden_visibility not in VISIBILITIES:
        raise ValueError(f"hidden_visibility must be one of {VISIBILITIES}")
    record, _, score, sentence, notes = _summary(book, student)
    status = record.get('status', 'graded')
    tests = []
    for cp_index, (_, group) in enumerate(_groups(rows(book, student)), 1):
        for check_index, r in enumerate(group, 1):
            test = {
                'name': f"{r.id}: {r.title}" + (' (hidden check)' if r.hidden else ''),
                'number': f"{cp_index}.{check_index}",
                'score': 0.0 if status in UNGRADED else r.points,
                'max_score': r.possible,
                'output': _test_output(r, status),
                'tags': [r.checkpoint] if r.checkpoint else [],
                'visibility': hidden_visibility if r.hidden else 'visible',
            }
            if r.status in ('passed', 'failed', 'not graded'):
                test['status'] = 'passed' if r.status == 'passed' else 'failed'
            tests.append(test)
    held_back = [t for t in tests if t['visibility'] != 'visible']
    lines = [sentence] if sentence else []
    if status in UNGRADED:
        lines.append(f"Total: {score}")
    elif held_back:
        # Gradescope keeps the total from the student while tests are held back; so does this.
        shown = [t for t in tests if t['visibility'] == 'visible']
        lines += [f"Public checks: {_num(sum(t['score'] for t in shown))} / "
                  f"{_num(sum(t['max_score'] for t in shown))}",
                  f"{len(held_back)} hidden checks are shown when your instructor publishes the grades."]
    else:
        lines.append(f"Total: {score}")
    lines += [f"Note: {n}" for n in notes]
    results = {
        'score': 0.0 if status in UNGRADED else _float(record.get('total')),
        'execution_time': round(_float(record.get('seconds'))),
        'output': html.escape('\n'.join(lines), quote=False),
        'output_format': 'simple_format',
        'test_output_format': 'text',
        'test_name_format': 'text',
        'stdout_visibility': 'hidden',
        'extra_data': {k: record[k] for k in ('status', 'fingerprint', 'seed') if k in record},
        'tests': tests,
    }
    return results


def _is_number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def validate_gradescope(results):
    """The problems of a results.json against Gradescope's specification; [] when it is valid.

    Beyond the spec's keys, types and allowed values it asks for consistency: no test scores
    above its max_score, and a top-level score equal to the sum of the tests' scores.
    """
    if not isinstance(results, dict):
        return ['results.json must hold a JSON object']
    problems = []
    try:
        json.dumps(results, allow_nan=False)
    except (TypeError, ValueError) as e:
        problems.append(f"not representable as JSON: {e}")
    for key in sorted(set(results) - TOP_KEYS):
        problems.append(f"unknown top-level key {key!r}")
    if 'score' in results and not _is_number(results['score']):
        problems.append(f"score must be a number, not {results['score']!r}")
    if 'execution_time' in results and not (_is_number(results['execution_time'])
                                            and results['execution_time'] >= 0):
        problems.append(f"execution_time must be a number of seconds, not {results['execution_time']!r}")
    if 'output' in results and not isinstance(results['output'], str):
        problems.append('output must be a string')
    for key in ('output_format', 'test_output_format', 'test_name_format'):
        if key in results and results[key] not in FORMATS:
            problems.append(f"{key} must be one of {', '.join(FORMATS)}, not {results[key]!r}")
    for key in ('visibility', 'stdout_visibility'):
        if key in results and results[key] not in VISIBILITIES:
            problems.append(f"{key} must be one of {', '.join(VISIBILITIES)}, not {results[key]!r}")
    if 'extra_data' in results and not isinstance(results['extra_data'], dict):
        problems.append('extra_data must be an object')
    tests = results.get('tests')
    if tests is None:
        tests = []
        if 'score' not in results:
            problems.append('neither a top-level score nor tests')
    elif not isinstance(tests, list):
        problems.append('tests must be a list')
        tests = []
    scores, maxima = [], []
    for i, test in enumerate(tests, 1):
        where = f"test {i}"
        if not isinstance(test, dict):
            problems.append(f"{where} must be an object")
            continue
        if isinstance(test.get('name'), str):
            where += f" ({test['name']})"
        for key in sorted(set(test) - TEST_KEYS):
            problems.append(f"{where}: unknown key {key!r}")
        score, maximum = test.get('score'), test.get('max_score')
        if score is None:
            if 'score' not in results:
                problems.append(f"{where}: no score, and no top-level score")
        elif not _is_number(score):
            problems.append(f"{where}: score must be a number, not {score!r}")
        else:
            scores.append(score)
        if maximum is not None:
            if not _is_number(maximum) or maximum < 0:
                problems.append(f"{where}: max_score must be a number >= 0, not {maximum!r}")
            else:
                maxima.append(maximum)
                if _is_number(score) and score > maximum + 1e-9:
                    problems.append(f"{where}: score {score} is above its max_score {maximum}")
        if 'status' in test and test['status'] not in STATUSES:
            problems.append(f"{where}: status must be 'passed' or 'failed', not {test['status']!r}")
        for key in ('name', 'output'):
            if key in test and not isinstance(test[key], str):
                problems.append(f"{where}: {key} must be a string")
        if 'number' in test and not (isinstance(test['number'], str) or _is_number(test['number'])):
            problems.append(f"{where}: number must be a string such as '1.1'")
        for key in ('name_format', 'output_format'):
            if key in test and test[key] not in FORMATS:
                problems.append(f"{where}: {key} must be one of {', '.join(FORMATS)}, not {test[key]!r}")
        if 'visibility' in test and test['visibility'] not in VISIBILITIES:
            problems.append(f"{where}: visibility must be one of {', '.join(VISIBILITIES)}, "
                            f"not {test['visibility']!r}")
        if 'tags' in test and not (isinstance(test['tags'], list)
                                   and all(isinstance(t, str) for t in test['tags'])):
            problems.append(f"{where}: tags must be a list of strings")
        if 'extra_data' in test and not isinstance(test['extra_data'], dict):
            problems.append(f"{where}: extra_data must be an object")
    board = results.get('leaderboard')
    if board is not None:
        if not isinstance(board, list):
            problems.append('leaderboard must be a list')
        else:
            for entry in board:
                if not (isinstance(entry, dict) and isinstance(entry.get('name'), str)
                        and (_is_number(entry.get('value')) or isinstance(entry.get('value'), str))
                        and entry.get('order', 'desc') in ('asc', 'desc')):
                    problems.append(f"leaderboard entry {entry!r} needs a name, a value and "
                                    "an order of 'asc' or 'desc'")
    top = results.get('score')
    if _is_number(top) and tests and len(scores) == len(tests):
        if abs(top - sum(scores)) > 1e-6:
            problems.append(f"the top-level score {top} is not the sum of the tests' scores {sum(scores)}")
        if len(maxima) == len(tests) and top > sum(maxima) + 1e-6:
            problems.append(f"the top-level score {top} is above the tests' max_score total {sum(maxima)}")
    return problems
