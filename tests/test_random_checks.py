"""The random searches replay what hypothesis would try on code that gets every expression
right: the student's code is asked the same expressions in the same order, and a wrong
engine gets the same message, word for word, as from hypothesis searching on its own."""

import json
import subprocess
import sys

import pytest

from mgcourse import paths
from mgcourse.batch import hidden, student_library
from mgcourse.battery import diagnosis, harness, randexpr
from mgcourse.battery.checks import random_checks
from mgcourse.battery.checks.base import Failed, local_call

SEARCHES = {'visible': dict(search=random_checks.SEARCH),
            'hidden': dict(search=hidden.HIDDEN_SEARCH, seed=20261202)}


def outcome(folder, replay, **search):
    """(the programs the code was asked, in order; the failure's kind and message, or None)."""
    loaded = harness.Loaded(folder)
    check = harness.checks.REGISTRY['more_ops.random_expressions']
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


def test_a_loaded_hypothesis_profile_does_not_reach_the_search(tmp_path, capsys):
    # hypothesis loads its `ci` profile where CI is set, and a grader's process may load any
    # other: the search, its verdict and what it prints stay those of the default profile.
    from hypothesis import Verbosity, settings
    mistake = next(m for m in diagnosis.mistakes() if m.id == 'relu-passes-negative')
    folder = diagnosis.make(mistake, tmp_path / 'impl')
    plain = outcome(folder, False, **SEARCHES['visible'])
    settings.register_profile('mgcourse-test-other', derandomize=True, max_examples=5,
                              verbosity=Verbosity.verbose)
    current = settings.get_current_profile_name()
    capsys.readouterr()
    settings.load_profile('mgcourse-test-other')
    try:
        assert outcome(folder, False, **SEARCHES['visible']) == plain
    finally:
        settings.load_profile(current)
    assert capsys.readouterr().out == ''


def test_the_worker_never_imports_hypothesis(tmp_path):
    # Only the grader draws programs; importing hypothesis cost every worker 0.3 s to start.
    runtime = student_library.runtime_library(tmp_path / 'runtime')
    script = ("import sys\nfrom mgcourse.isolation import worker\nfrom mgcourse.battery import checks\nfrom mgcourse.battery.impl import load\n"
              f"load({str(paths.SOLUTIONS)!r})\nprint(sorted(m for m in sys.modules if 'hypothesis' in m))")
    out = subprocess.run([sys.executable, '-I', '-c', f"import sys; sys.path.insert(0, {str(runtime)!r})\n"
                          + script], capture_output=True, text=True, check=True).stdout
    assert out.strip() == '[]'


def test_the_recorded_search_is_what_hypothesis_and_torch_give_here():
    from mgcourse.battery.checks import record_searches
    shipped = json.loads(random_checks.RECORDED.read_text(encoding='utf-8'))
    assert shipped == record_searches.record(), (
        "grader/mgcourse/battery/checks/recorded_searches.json is out of date: run "
        "`python -m mgcourse.battery.checks.record_searches` and commit it")
    assert len(next(iter(shipped['programs'].values()))) == random_checks.SEARCH['max_examples']


def random_searches_in_a_fresh_process(folder):
    """{check id: its result's message, or '' when it passed} for the two random searches
    on folder, graded in a fresh Python process; and the modules of hypothesis and torch that
    process imported."""
    script = (
        "import json, sys\nfrom mgcourse.battery import harness\n"
        f"loaded = harness.Loaded({str(folder)!r})\n"
        "got = {e.id: (lambda r: '' if r.passed else r.message)(harness.run_one(e, loaded))\n"
        "       for e in harness.selected() if e.id.startswith('more_ops.random')}\n"
        "print(json.dumps([got, sorted(m for m in ('hypothesis', 'torch') if m in sys.modules)]))")
    done = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True,
                          check=True, cwd=paths.ROOT)
    return json.loads(done.stdout)


def test_grading_correct_code_imports_neither_hypothesis_nor_torch():
    # The visible searches replay what is recorded, answers included: 3.2 s of CPU in a fresh
    # process before, 0.2 s with it (torch's import alone is 3.7 s).
    got, imported = random_searches_in_a_fresh_process(paths.SOLUTIONS)
    assert got == {'more_ops.random_expressions': '', 'more_ops.random_vs_torch': ''}
    assert imported == []


def test_a_wrong_engine_is_compared_with_pytorch_without_importing_it(tmp_path):
    # The comparison with PyTorch (no points) reports the smallest wrong program of the replay,
    # whose gradients are recorded; only the search by central differences shrinks further.
    mistake = next(m for m in diagnosis.mistakes() if m.id == 'sub-wrong-sign')
    messages, imported = random_searches_in_a_fresh_process(
        diagnosis.make(mistake, tmp_path / 'impl'))
    assert 'torch' not in imported
    shown = {check: message.split('`:\n\n', 1)[1].split('\n\n')[0]
             for check, message in messages.items()}
    vs_torch = shown['more_ops.random_vs_torch']
    replayed = [json.loads(t) for t in (json.dumps(random_checks.FIRST),
                                        *random_checks.tried_on_passing_code(random_checks.SEARCH))]
    codes = ['\n'.join('    ' + line for line in randexpr.to_code(p).splitlines()) for p in replayed]
    assert vs_torch in codes
    assert len(shown['more_ops.random_expressions'].splitlines()) <= len(vs_torch.splitlines())


def test_a_recording_of_another_version_is_not_replayed(monkeypatch, tmp_path):
    shipped = json.loads(random_checks.RECORDED.read_text(encoding='utf-8'))
    key = random_checks.search_key(random_checks.SEARCH, None)
    forged = dict(shipped, hypothesis='0.0.1', torch='0.0.1',
                  programs={key: [json.dumps(random_checks.FIRST)]},
                  torch_gradients={json.dumps(random_checks.FIRST): {'a': 0.0, 'b': 0.0}})
    (tmp_path / 'recorded.json').write_text(json.dumps(forged), encoding='utf-8')
    monkeypatch.setattr(random_checks, 'RECORDED', tmp_path / 'recorded.json')
    random_checks.recorded.cache_clear()
    try:
        assert random_checks.recorded() == {'programs': {}, 'torch': {}}
        tried = random_checks.tried_on_passing_code(random_checks.SEARCH)
        assert list(tried) == next(iter(shipped['programs'].values()))  # drawn here instead
    finally:
        random_checks.recorded.cache_clear()


def test_the_student_side_never_gets_the_recorded_answers(tmp_path):
    runtime = student_library.runtime_library(tmp_path / 'runtime')
    assert (runtime / 'mgcourse' / 'battery' / 'checks' / 'random_checks.py').exists()
    assert not list(runtime.rglob('recorded_searches.json'))
    assert not list(runtime.rglob('record_searches.py'))
