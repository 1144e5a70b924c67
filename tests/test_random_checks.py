"""The random searches replay what hypothesis would try on code that gets every expression
right: the student's code is asked the same expressions in the same order, and a wrong
engine gets the same message, word for word, as from hypothesis searching on its own."""

import json
import subprocess
import sys

import pytest

from mgcourse import battery, diagnosis, grading, hidden, paths
from mgcourse.checks import random_checks
from mgcourse.checks.base import Failed, local_call

SEARCHES = {'visible': dict(search=random_checks.SEARCH),
            'hidden': dict(search=hidden.HIDDEN_SEARCH, seed=20261202)}


def outcome(folder, replay, **search):
    """(the programs the code was asked, in order; the failure's kind and message, or None)."""
    loaded = battery.Loaded(folder)
    check = battery.checks.REGISTRY['more_ops.random_expressions']
    call = local_call(check, loaded.impl)
    asked = []

    def recording(program):
        asked.append(json.dumps(program))
        return call(program)
    drive = random_checks.searching(random_checks._central_differences, 'a test', replay=replay,
                                    **search)
    try:
        drive(recording)
    except Failed as f:
        return asked, (f.kind, str(f))
    return asked, None


@pytest.mark.parametrize('which', SEARCHES)
def test_correct_code_is_asked_what_hypothesis_would_ask_it(which):
    replayed, verdict = outcome(paths.SOLUTIONS, True, **SEARCHES[which])
    searched, same_verdict = outcome(paths.SOLUTIONS, False, **SEARCHES[which])
    assert verdict is None and same_verdict is None
    assert replayed == searched
    # The first small expression, then each program of the search once (hypothesis draws
    # some twice; a program asked already is not asked again).
    tried = random_checks.tried_on_passing_code(SEARCHES[which]['search'],
                                                SEARCHES[which].get('seed'))
    assert len(tried) == SEARCHES[which]['search']['max_examples']
    assert len(set(replayed)) == len(replayed)
    assert set(replayed) == {json.dumps(random_checks.FIRST), *tried}


# relu's mistake shows in few expressions (found late in the search), the order's in most.
@pytest.mark.parametrize('mistake_id, which', [('relu-passes-negative', 'visible'),
                                               ('relu-passes-negative', 'hidden'),
                                               ('topo-forward-order', 'visible')])
def test_a_wrong_engine_gets_the_message_hypothesis_gives_it(mistake_id, which, tmp_path):
    mistake = next(m for m in diagnosis.mistakes() if m.id == mistake_id)
    folder = diagnosis.make(mistake, tmp_path / 'impl')
    replayed, verdict = outcome(folder, True, **SEARCHES[which])
    searched, same_verdict = outcome(folder, False, **SEARCHES[which])
    assert verdict is not None and verdict[0] == 'wrong'
    assert verdict == same_verdict
    # Nothing is asked twice: the replay's programs are not asked again by the search.
    assert len(set(replayed)) == len(replayed)


def test_the_worker_never_imports_hypothesis(tmp_path):
    # Only the grader draws programs; importing hypothesis cost every worker 0.3 s to start.
    runtime = grading.runtime_library(tmp_path / 'runtime')
    script = ("import sys\nfrom mgcourse import worker, checks\nfrom mgcourse.impl import load\n"
              f"load({str(paths.SOLUTIONS)!r})\nprint(sorted(m for m in sys.modules if 'hypothesis' in m))")
    out = subprocess.run([sys.executable, '-I', '-c', f"import sys; sys.path.insert(0, {str(runtime)!r})\n"
                          + script], capture_output=True, text=True, check=True).stdout
    assert out.strip() == '[]'
