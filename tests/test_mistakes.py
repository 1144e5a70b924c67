"""Every mistake of the catalogue (grader/mgcourse/mistakes.toml) is caught, where it belongs,
and diagnosed by name. A mistake added to the catalogue is tested here without new code."""

import shutil

import pytest

from mgcourse import battery, catalogue, diagnosis, paths

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


def make(mistake, folder):
    """A copy of the solutions with the mistake made in it."""
    shutil.copytree(paths.SOLUTIONS, folder, ignore=shutil.ignore_patterns('__pycache__'))
    path = folder / mistake.file
    text = path.read_text()
    assert text.count(mistake.find) == 1, f"{mistake.id}: its text must occur once in {mistake.file}"
    path.write_text(text.replace(mistake.find, mistake.replace))
    return folder


@pytest.mark.parametrize('mistake', MISTAKES, ids=[m.id for m in MISTAKES])
def test_the_mistake_is_caught_in_its_checkpoint_and_diagnosed(mistake, tmp_path):
    upto = set(ORDER[:ORDER.index(mistake.checkpoint) + 1])
    report = battery.run(make(mistake, tmp_path / 'impl'), only=upto)
    failed = [r for r in report.results if r.checkpoint == mistake.checkpoint and not r.passed]
    assert failed, f"{mistake.id} ({mistake.title}) passes every check of {mistake.checkpoint}"
    words = diagnosis.texts()[mistake.diagnosis]
    assert any(f"Likely mistake: {words}" in r.message for r in failed), (
        f"{mistake.id}: no failure of {mistake.checkpoint} says '{mistake.diagnosis}':\n\n"
        + '\n\n'.join(r.message for r in failed))
