"""Every mistake of the catalogue (grader/mgcourse/battery/mistakes.toml) is caught, where it belongs,
and diagnosed by name. A mistake added to the catalogue is tested here without new code."""

import subprocess
import sys

import pytest

from mgcourse import paths
from mgcourse.battery import catalogue, diagnosis, harness

MISTAKES = diagnosis.mistakes()
ORDER = [cp.id for cp in catalogue.load()]


def test_the_catalogue_holds_at_least_25_distinct_mistakes():
    assert len(MISTAKES) >= 25
    assert len({m.id for m in MISTAKES}) == len(MISTAKES)
    assert len({(m.file, m.find, m.replace) for m in MISTAKES}) == len(MISTAKES)


def test_every_mistake_names_a_known_checkpoint_and_diagnosis():
    texts = diagnosis.texts()
    for m in MISTAKES:
        assert m.checkpoint in ORDER, m.id
        assert m.diagnosis in texts, m.id


make = diagnosis.make  # a copy of the solutions with the mistake made in it


@pytest.mark.parametrize('mistake', MISTAKES, ids=[m.id for m in MISTAKES])
def test_the_mistake_is_caught_in_its_checkpoint_and_diagnosed(mistake, tmp_path):
    # The checkpoint's checks in order, until one fails with the diagnosis: the checks after it
    # (often the random searches, which shrink what they find) could only add more failures.
    words = diagnosis.texts()[mistake.diagnosis]
    loaded = harness.Loaded(make(mistake, tmp_path / 'impl'))
    failed = []
    for entry in harness.selected({mistake.checkpoint}):
        result = harness.run_one(entry, loaded)
        if not result.passed:
            failed.append(result)
            if f"Likely mistake: {words}" in result.message:
                break
    assert failed, f"{mistake.id} ({mistake.title}) passes every check of {mistake.checkpoint}"
    assert any(f"Likely mistake: {words}" in r.message for r in failed), (
        f"{mistake.id}: no failure of {mistake.checkpoint} says '{mistake.diagnosis}':\n\n"
        + '\n\n'.join(r.message for r in failed))


def random_failure(mistake, folder, check):
    report = harness.run(make(mistake, folder), only={'more_ops'})
    result = next(r for r in report.results if r.id == f'more_ops.{check}')
    if result.error == 'skipped':
        pytest.skip(result.message)
    return result


@pytest.mark.parametrize('check', ['random_expressions', 'random_vs_torch'])
@pytest.mark.parametrize('mistake_id', ['mul-overwrites', 'sub-wrong-sign', 'topo-forward-order'])
def test_random_expressions_fail_with_code_that_reproduces_the_mistake(mistake_id, check, tmp_path):
    mistake = next(m for m in MISTAKES if m.id == mistake_id)
    result = random_failure(mistake, tmp_path / 'impl', check)
    assert not result.passed and result.error == 'wrong', result.message
    code = result.message.split('from micrograd_skeleton import Value`:\n\n', 1)[1].split('\n\n')[0]
    code = '\n'.join(line[4:] for line in code.splitlines())
    # random_expressions shrinks what it finds; random_vs_torch reports the smallest wrong
    # one of the programs it replays (test_random_checks), seen up to 7 lines long
    longest = 5 if check == 'random_expressions' else 7
    assert code.endswith('.backward()') and len(code.splitlines()) <= longest, code
    # Pasted as it is, the code reproduces the wrong gradient with the mistaken Value ...
    wrong, right = {}, {}
    for folder, grads in ((tmp_path / 'impl', wrong), (paths.SOLUTIONS, right)):
        from mgcourse.battery.impl import load
        namespace = {'Value': load(folder).Value}
        exec(code, namespace)
        grads.update({k: v.grad for k, v in namespace.items() if hasattr(v, 'grad')})
    # ... and the right one gives other numbers, those of the message's "grad wanted".
    assert wrong != pytest.approx(right)


@pytest.mark.parametrize('mistake_id', ['mul-overwrites', 'topo-no-visited-set', 'update-up-the-gradient'])
def test_plain_pytest_on_a_mistaken_copy_shows_the_diagnosis(mistake_id, tmp_path):
    mistake = next(m for m in MISTAKES if m.id == mistake_id)
    folder = make(mistake, tmp_path / 'impl')
    proc = subprocess.run([sys.executable, '-m', 'pytest', '-p', 'no:cacheprovider', f'--impl={folder}'],
                          cwd=paths.ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    assert f"Likely mistake: {diagnosis.texts()[mistake.diagnosis]}" in proc.stdout
    assert proc.stdout.rstrip().splitlines()[-1].startswith('Score: ')


def first_failure(folder):
    """The first check, in course order, that fails on the folder (None when all pass)."""
    loaded = harness.Loaded(folder)
    for entry in harness.selected():
        result = harness.run_one(entry, loaded)
        if not result.passed:
            return result
    return None


@pytest.mark.parametrize('mistake', MISTAKES, ids=[m.id for m in MISTAKES])
def test_the_mistake_first_fails_in_its_own_checkpoint(mistake, tmp_path):
    # Graded in course order, as a student meets the checkpoints: no check of an earlier
    # checkpoint fails because of it, and its first failure carries the catalogue's diagnosis.
    result = first_failure(make(mistake, tmp_path / 'impl'))
    assert result is not None, f"{mistake.id} passes the whole battery"
    assert result.checkpoint == mistake.checkpoint, (
        f"{mistake.id} belongs to {mistake.checkpoint} but first fails in {result.id}:\n"
        f"{result.message}")


def test_the_mutation_tool_knows_where_every_diagnosis_places_its_mistake():
    # tools/mutate.py counts a mutant's diagnosis as named right only where WHERE says the
    # diagnosis places the mistake; a diagnosis missing there would be counted as wrong
    import importlib.util
    spec = importlib.util.spec_from_file_location('mutate', paths.ROOT / 'tools' / 'mutate.py')
    mutate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mutate)
    known = set(mutate.WHERE) | mutate.NUMBERS_ONLY
    assert set(diagnosis.texts()) - known == set()
