"""A mistake in code that only the skeleton gives (the reflected operations, the neuron's
nonlin option) is pointed at in the skeleton, file and name, never at a time in the video,
which does not teach it: in the check's message (pytest, the notebooks' check()), in
`mgcourse check`, and in the batch grader's feedback and Gradescope results."""

import io
import re

import pytest

from mgcourse.batch import grading
from mgcourse.batch.reports import feedback, gradescope_results
from mgcourse.battery import diagnosis, harness
from mgcourse.isolation import sandbox
from mgcourse.student import runner

TIME = re.compile(r'\b\d\d:\d\d:\d\d\b')
NO_RSUB = ("    def __rsub__(self, other):   # other - self\n"
           "        return (-self) + other\n")
RSUB_WORDS = ("Likely mistake: a plain number on the left of - (1 - a) needs Value.__rsub__, the "
              "reflected method of -. See __rsub__ in the skeleton's engine.py, which gives it.")


@pytest.fixture
def no_rsub(solutions_copy, edit):
    edit(solutions_copy, 'engine.py', NO_RSUB, '')
    return solutions_copy


def test_a_missing_rsub_names_it_in_the_skeleton_and_no_lecture_time(no_rsub):
    # (with PyTorch installed, the comparison with it, worth no points, fails the same way)
    failed = [r for r in harness.run(no_rsub, only={'more_ops'}).failed()
              if r.id != 'more_ops.random_vs_torch']
    assert [r.id for r in failed] == ['more_ops.numbers_either_side',
                                      'more_ops.random_expressions']
    for r in failed:
        assert r.diagnoses == ['reflected-sub']
        assert RSUB_WORDS in r.message
        assert not TIME.search(r.message), r.message
        assert r.message.startswith(f"checkpoint more_ops: {r.title}\n")


def test_mgcourse_check_says_where_in_the_skeleton_instead_of_in_the_lecture(no_rsub):
    from rich.console import Console
    out = io.StringIO()
    runner.render(runner.progress(no_rsub, torch=False), Console(file=out, width=200))
    text = out.getvalue()
    assert "Next: more_ops" in text
    assert "  Not in the lecture: see __rsub__ in the skeleton's engine.py, which gives it\n" in text
    assert "In the lecture:" not in text


def test_the_feedback_and_gradescope_results_have_nothing_to_rewatch(no_rsub, tmp_path):
    hand_ins = tmp_path / 'class'
    hand_ins.mkdir()
    no_rsub.rename(hand_ins / 'rosa')
    options = grading.Options(jobs=1, seed=5,
                              unlimited_processes_ok=bool(sandbox.process_limit_problem()))
    book = grading.grade(hand_ins, tmp_path / 'out', options)
    lost = {c for c, r in book['students']['rosa']['checks'].items() if r['points'] < r['possible']}
    assert lost == {'more_ops.numbers_either_side', 'more_ops.random_expressions',
                    'more_ops.hidden_expressions'}
    md = feedback.feedback_markdown(book, 'rosa')
    torch_failed = not book['students']['rosa']['checks'].get(
        'more_ops.random_vs_torch', {'passed': True})['passed']
    assert md.count("See \\_\\_rsub\\_\\_ in the skeleton's engine.py") == (
        len(lost) + torch_failed), md
    assert "Rewatch" not in md
    assert "Lecture: 01:27:05" in md  # the checkpoint's own line stays
    outputs = {t['name'].split(':')[0]: t['output']
               for t in gradescope_results.gradescope_results(book, 'rosa')['tests']}
    for check_id in lost:
        assert RSUB_WORDS in outputs[check_id] and not TIME.search(outputs[check_id])


def test_the_lectures_neuron_without_nonlin_points_at_the_todo_of_neuron_call(solutions_copy, edit):
    edit(solutions_copy, 'nn.py',
         "        if self.nonlin == 'tanh':\n            return act.tanh()\n"
         "        if self.nonlin == 'relu':\n            return act.relu()\n        return act\n",
         "        return act.tanh()\n")
    failed = harness.run(solutions_copy, only={'mlp'}).failed()
    assert [r.id for r in failed] == ['mlp.activations']
    assert failed[0].diagnoses == ['nonlin-ignored']
    assert "See the TODO of Neuron.__call__ in the skeleton's nn.py" in failed[0].message
    assert not TIME.search(failed[0].message), failed[0].message


def test_other_mistakes_still_point_at_the_lecture(solutions_copy, edit):
    edit(solutions_copy, 'engine.py', "            self.grad += 1.0 * out.grad\n",
         "            self.grad = 1.0 * out.grad\n")
    failed = harness.run(solutions_copy, only={'reuse'}).failed()
    assert failed and all('(01:22:28 ' in r.message.splitlines()[0] for r in failed)
    assert not diagnosis.from_skeleton([d for r in failed for d in r.diagnoses])
