"""The graded battery means something: all of it passes on the solutions, none of it on the skeleton."""

import pytest

from mgcourse.battery import catalogue, checks, harness

ENTRIES = catalogue.all_checks()
IDS = [e.id for e in ENTRIES]


def test_the_catalogue_and_the_registered_checks_agree():
    assert sorted(IDS) == sorted(checks.REGISTRY)
    assert len(IDS) == len(set(IDS))


def test_every_checkpoint_has_a_lecture_time_and_hints():
    for cp in catalogue.load():
        assert len(cp.time) == 8 and cp.time[2] == cp.time[5] == ':', cp.id
        assert 2 <= len(cp.hints) <= 3, cp.id
        assert cp.points > 0 and cp.checks, cp.id


def test_the_checkpoints_follow_the_lecture_order():
    times = [cp.time for cp in catalogue.load()]
    assert times == sorted(times)


@pytest.mark.parametrize('check_id', IDS)
def test_passes_on_the_solutions(solutions_report, check_id):
    result = next(r for r in solutions_report.results if r.id == check_id)
    if result.error == 'skipped':
        pytest.skip(result.message)
    assert result.passed, result.message
    points = next(e.points for e in ENTRIES if e.id == check_id)
    assert result.points == result.possible == points
    # Only the comparison with PyTorch counts for nothing: it runs only where torch is.
    assert points > 0 or check_id == 'more_ops.random_vs_torch'


def test_the_solutions_score_full_marks(solutions_report):
    skipped = sum(e.points for e in ENTRIES for r in solutions_report.results
                  if r.id == e.id and r.error == 'skipped')
    assert solutions_report.points == solutions_report.possible
    assert solutions_report.possible == sum(e.points for e in ENTRIES) - skipped
    assert harness.score_lines(solutions_report.results)[-1] == (
        f"Score: {solutions_report.possible} of {solutions_report.possible} points (100%)")


@pytest.mark.parametrize('check_id', IDS)
def test_fails_on_the_skeleton_naming_the_checkpoint(skeleton_report, check_id):
    result = next(r for r in skeleton_report.results if r.id == check_id)
    if result.error == 'skipped':
        pytest.skip(result.message)
    assert not result.passed
    assert result.points == 0
    assert result.error == 'not-implemented', result.message
    # The message names the check's own checkpoint, and the TODO it ran into names its own.
    assert result.message.startswith(f"checkpoint {result.checkpoint} (")
    assert 'not written yet' in result.message
    assert "in the lecture): " in result.message


def test_the_skeleton_scores_zero(skeleton_report):
    assert skeleton_report.points == 0
    assert harness.score_lines(skeleton_report.results)[-1] == (
        f"Score: 0 of {skeleton_report.possible} points (0%)")


def test_a_gradient_object_that_equals_everything_does_not_pass(solutions_copy, edit):
    # A grad that claims to equal any number, and to be close to it, must still fail.
    edit(solutions_copy, 'engine.py', "        self.grad = 0.0 ",
         "        self.grad = _Liar() ")
    (solutions_copy / 'engine.py').write_text((solutions_copy / 'engine.py').read_text() + '''

class _Liar(float):
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __lt__(self, other): return True
    def __le__(self, other): return True
    def __gt__(self, other): return True
    def __ge__(self, other): return True
    def __abs__(self): return 0.0
    def __sub__(self, other): return _Liar()
    def __rsub__(self, other): return _Liar()
    def __float__(self): return 0.0
    def __iadd__(self, other): return self
    def __add__(self, other): return self
    def __radd__(self, other): return self
''')
    report = harness.run(solutions_copy, only={'ops_backward', 'reuse'})
    assert report.points == 0, [r.id for r in report.results if r.passed]
    assert 'grad yours' in report.results[0].message


def test_a_grad_left_as_a_value_is_reported_as_not_a_number(solutions_copy, edit):
    # A classic slip: other instead of other.data makes the gradient a Value.
    edit(solutions_copy, 'engine.py', "self.grad += other.data * out.grad",
         "self.grad += other * out.grad")
    result = harness.run(solutions_copy, only={'ops_backward'}).results[1]
    assert result.id == 'ops_backward.mul' and not result.passed
    assert '(returned a Value where a number was expected)' in result.message


def test_an_import_error_fails_every_check_with_file_and_line(solutions_copy, edit):
    edit(solutions_copy, 'nn.py', "class Layer(Module):", "class Layer(Module)")
    report = harness.run(solutions_copy)
    assert report.import_error is not None
    assert report.import_error.message.startswith('nn.py, line ')
    assert 'SyntaxError' in report.import_error.message
    assert all(r.error == 'import' and not r.passed for r in report.results)


def test_an_exception_in_student_code_names_the_file_and_line(solutions_copy, edit):
    edit(solutions_copy, 'engine.py', "            self.grad += out.data * out.grad\n",
         "            self.grad += out.data * out.gradient\n")
    result = next(r for r in harness.run(solutions_copy, only={'more_ops'}).results
                  if r.id == 'more_ops.exp')
    assert result.error == 'exception'
    assert "AttributeError: 'Value' object has no attribute 'gradient'" in result.message
    assert '(in engine.py, line ' in result.message


def test_the_points_possible_do_not_depend_on_torch(solutions_report):
    # With torch or without, the same total: the one check that needs torch is worth 0.
    torch_checks = [e for e in ENTRIES if e.id == 'more_ops.random_vs_torch']
    assert [e.points for e in torch_checks] == [0]
    skipped = [r for r in solutions_report.results if r.error == 'skipped']
    assert all(r.possible == 0 for r in skipped)
    assert solutions_report.possible == sum(e.points for e in ENTRIES)


def test_a_plain_number_where_a_value_belongs_is_called_so():
    from mgcourse.battery.checks.base import show
    assert show({'not_a_number': 'float', 'repr': '6.03'}) == (
        '6.03 (returned a float where a Value was expected)')
    assert show({'not_a_number': 'generator', 'repr': '<generator>'}) == (
        '<generator> (returned a generator where a number was expected)')
    assert show({'not_a_number': 'int', 'repr': '3'}).endswith('an int where a Value was expected)')


def test_a_value_without_labels_gets_full_marks(solutions_copy, edit):
    # micrograd's own Value takes no label=: the checks must not need one (the lecture's
    # drawing does, the grading does not)
    edit(solutions_copy, 'engine.py', "    def __init__(self, data, _children=(), _op='', label=''):",
         "    def __init__(self, data, _children=(), _op=''):")
    edit(solutions_copy, 'engine.py', "        self.label = label\n", "")
    edit(solutions_copy, 'engine.py', "'_op', 'label')", "'_op')")
    report = harness.run(solutions_copy)
    assert [r.id for r in report.results if not r.passed] == []
    assert report.points == report.possible
