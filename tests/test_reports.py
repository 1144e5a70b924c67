"""The batch grader's reports (mgcourse/batch/reports/), made from a sample gradebook.

tests/reports/sample_grades.json is a class of six. Its results are what the battery and the
hidden checks (seed 731942085) said of the solutions with the catalogue's mistakes made in
them: alice assigns .grad in __add__ instead of adding into it, erin too and lists the biases
first in parameters(), carol squares tanh's input and leaves the biases out of parameters(),
dave has no __radd__ and no zero_grad (and one hidden check of his timed out), bob has it all
right but imported torch; frank's hand-in held nothing to grade.
"""

import copy
import html
import json
import os
import stat
from html.parser import HTMLParser
from pathlib import Path

import pytest

from mgcourse.batch.reports import feedback, gradescope_results, layout, rows, safe_files, summary
from mgcourse.battery import catalogue, checks, diagnosis

SAMPLE = Path(__file__).parent / 'reports' / 'sample_grades.json'
STUDENTS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank']
OVERWRITE_MD = ("Likely mistake: a node used more than once got the gradient of only one of its uses. "
                "In every \\_backward, add into .grad with +=, never assign it with = (lecture 01:22:28).")


@pytest.fixture(scope='module')
def sample():
    with open(SAMPLE, encoding='utf-8') as f:
        return json.load(f)


@pytest.fixture
def book(sample):
    """A copy each test may change."""
    return copy.deepcopy(sample)


@pytest.fixture(scope='module')
def written(sample, tmp_path_factory):
    out = tmp_path_factory.mktemp('reports')
    layout.write_all(sample, out)
    return out


def section(markdown, heading_start):
    """The text of the Markdown section whose heading starts with heading_start."""
    start = markdown.index(heading_start)
    level = heading_start.split(' ')[0]
    end = markdown.find(f"\n{level} ", start + 1)
    return markdown[start:end if end != -1 else None]


# ---------------------------------------------------------------------------------------------
# The sample gradebook itself
# ---------------------------------------------------------------------------------------------

def test_the_sample_gradebook_uses_the_catalogues_checks_and_diagnoses(sample):
    public = [c for c in sample['checks'] if not c['hidden']]
    assert [(c['id'], c['points']) for c in public] == [(e.id, e.points) for e in catalogue.all_checks()]
    for c in public:
        assert c['title'] == checks.REGISTRY[c['id']].title
        assert c['lecture'] == catalogue.by_id()[c['checkpoint']].lecture
    hidden = [c for c in sample['checks'] if c['hidden']]
    assert [c['id'] for c in hidden] == [
        'more_ops.hidden_expressions', 'loss.hidden_network', 'training.hidden_descent']
    for c in hidden:
        assert c['lecture'] == catalogue.by_id()[c['checkpoint']].lecture
    assert sum(c['points'] for c in sample['checks']) == 66
    assert sample['diagnoses'] == diagnosis.texts()
    ids = {c['id'] for c in sample['checks']}
    for name, rec in sample['students'].items():
        assert list(rec['checks']) == [c['id'] for c in sample['checks']], name
        used = {d for r in rec['checks'].values() for d in r['diagnoses']}
        assert used <= set(diagnosis.texts()), name
        assert set(rec['checks']) == ids
        if rec['status'] == 'graded':
            assert rec['total'] == sum(r['points'] for r in rec['checks'].values()), name
    assert {n: r['total'] for n, r in sample['students'].items()} == {
        'alice': 41, 'bob': 66, 'carol': 32, 'dave': 45, 'erin': 39, 'frank': 0}


# ---------------------------------------------------------------------------------------------
# Markdown feedback
# ---------------------------------------------------------------------------------------------

def test_markdown_feedback_gives_the_total_notes_and_every_check(sample):
    md = feedback.feedback_markdown(sample, 'alice')
    assert md.startswith('# micrograd: feedback for alice\n')
    assert 'Total: **41 / 66**' in md
    assert 'Hand-in: `alice.zip`' in md
    assert '- 2 files besides engine.py and nn.py were ignored: notes.txt, scratch.ipynb' in md
    for c in sample['checks']:
        assert f"| `{c['id']}` |" in md, c['id']
    reuse = section(md, '## reuse')
    assert reuse.startswith('## reuse — A node used more than once (2 / 8)\n')
    assert 'Lecture: 01:22:28 fixing a backprop bug when one node is used multiple times' in reuse
    assert '| `reuse.a_plus_a` | b = a + a: a is used twice | 0 / 1 | failed: wrong values |' in reuse
    assert '| `reuse.a_times_a` | b = a \\* a: a is used twice | 1 / 1 | passed |' in reuse
    assert '## ops\\_backward — The backward function of each operation (8 / 8)' in md
    more_ops = section(md, '## more\\_ops')
    assert more_ops.startswith('## more\\_ops — More operations: exp, powers, division, and tanh broken up '
                               '(10 / 17)\n')
    assert ('| `more_ops.hidden_expressions` | hidden: random expressions drawn at grading time, against '
            'central differences (hidden check) | 0 / 3 | failed: wrong values |') in more_ops


def test_a_failure_shows_its_message_in_a_code_block_its_diagnosis_and_the_lecture(sample):
    md = feedback.feedback_markdown(sample, 'alice')
    failure = section(md, '### `reuse.a_plus_a`')
    assert failure.startswith('### `reuse.a_plus_a` — b = a + a: a is used twice\n\n'
                              '0 / 1 points — failed: wrong values\n')
    assert ('```text\n'
            'after b = a + a with a = 3, then b.backward():\n'
            '            node          data   grad wanted    grad yours\n'
            '               a           3.0           2.0           1.0   <- wrong\n'
            '               b           6.0           1.0           1.0\n'
            '```\n') in failure
    # the diagnosis once, outside the block; the message's header line is not repeated
    assert failure.count('Likely mistake:') == 1
    assert OVERWRITE_MD in failure
    assert 'checkpoint reuse (' not in md
    assert ('Rewatch the lecture from 01:22:28 (fixing a backprop bug when one node is used '
            'multiple times).') in failure
    assert '### `reuse.a_times_a`' not in md  # passed checks get no failure section


def test_hidden_checks_are_marked_and_their_messages_shown(sample):
    md = feedback.feedback_markdown(sample, 'alice')
    hidden = section(md, '### `more_ops.hidden_expressions`')
    assert hidden.startswith('### `more_ops.hidden_expressions` — hidden: random expressions drawn at '
                             'grading time, against central differences (hidden check)\n')
    assert 'the smallest one your code gets wrong (a hidden check, by central differences)' in hidden
    assert "    d = a + a; d.label = 'd'\n" in hidden
    assert '               a           0.1           2.0           1.0   <- wrong' in hidden
    assert OVERWRITE_MD in hidden
    assert 'Rewatch the lecture from 01:27:05 (breaking up a tanh, exercising with more operations).' in hidden
    assert ('| `loss.hidden_network` | hidden: a random network and dataset: outputs, loss and gradients '
            '(hidden check) | 3 / 3 | passed |') in feedback.feedback_markdown(sample, 'bob')


def test_each_kind_of_failure_is_named(sample):
    carol = feedback.feedback_markdown(sample, 'carol')
    assert 'Total: **32 / 66**' in carol
    assert ('| `training.converges` | training MLP(3, \\[4, 4, 1\\]) for 100 steps brings the loss '
            'below 0.01 | 0 / 2 | failed: raised an exception |') in carol
    assert ("Likely mistake: tanh's derivative is 1 - tanh(x)\\*\\*2: square the output t = tanh(x), "
            "not the input x.") in carol
    dave = feedback.feedback_markdown(sample, 'dave')
    assert section(dave, '### `training.hidden_descent`') == (
        '### `training.hidden_descent` — hidden: gradient descent on a random network and dataset '
        '(hidden check)\n\n0 / 2 points — failed: timed out\n\n```text\nyour code took longer than 10 s '
        'and was stopped: an endless loop, or a graph far too large?\n```\n\nRewatch the lecture from '
        '02:01:12 (doing gradient descent optimization manually, training the network).\n')


def test_an_invalid_hand_in_says_so_and_lists_no_checks(sample):
    md = feedback.feedback_markdown(sample, 'frank')
    assert 'Total: **0 / 66**' in md
    assert 'This hand-in holds nothing that could be graded, so it scores 0.' in md
    assert '- frank.zip holds no engine.py or nn.py: it has only README.md and homework.pdf' in md
    assert '| check |' not in md


def test_a_hand_in_the_grader_failed_on_scores_0_until_it_is_graded_again(book):
    book['students']['dave'] = {
        'student': 'dave', 'status': 'error', 'submission': '', 'fingerprint': '', 'seed': 731942085,
        'total': 0.0, 'possible': 66, 'flags': ['grader-error'], 'checks': {},
        'notes': ['the grader failed on this submission; it will be graded again on the next run: '
                  'OSError: [Errno 28] No space left on device'],
        'traceback': 'Traceback (most recent call last): ...'}
    md = feedback.feedback_markdown(book, 'dave')
    assert md == ('# micrograd: feedback for dave\n\nTotal: **0 / 66**\n\n'
                  'Grading this hand-in did not finish; your instructor will look at it.\n\n## Notes\n\n'
                  '- the grader failed on this submission; it will be graded again on the next run: '
                  'OSError: \\[Errno 28\\] No space left on device\n')
    results = gradescope_results.gradescope_results(book, 'dave')
    assert gradescope_results.validate_gradescope(results) == []
    assert results['score'] == 0.0 and len(results['tests']) == 46
    assert {t['output'] for t in results['tests']} == {'not graded: grading this hand-in did not finish'}
    assert 'Traceback' not in json.dumps(results) + md + feedback.feedback_html(book, 'dave')
    rates = {r['id']: (r['passed'], r['of']) for r in summary.pass_rates(book)}
    assert rates['reuse.a_plus_a'] == (2, 4)


def test_markdown_escapes_what_the_student_controls(book):
    rec = book['students']['alice']
    rec['notes'] = ['<img src=x onerror=alert(1)> [click](javascript:alert(1)) | `x`']
    rec['checks']['reuse.a_plus_a']['message'] = 'before\n```\n# not a heading\n```\nafter'
    md = feedback.feedback_markdown(book, 'alice')
    assert '- \\<img src=x onerror=alert(1)\\> \\[click\\](javascript:alert(1)) \\| \\`x\\`' in md
    assert '<img' not in md.replace('\\<img', '')
    # the block's fence is longer than any run of backticks in the message
    assert '````text\nbefore\n```\n# not a heading\n```\nafter\n````' in md


# ---------------------------------------------------------------------------------------------
# HTML feedback
# ---------------------------------------------------------------------------------------------

ALLOWED_TAGS = {'html', 'head', 'meta', 'title', 'style', 'body', 'h1', 'h2', 'h3', 'p', 'strong',
                'code', 'ul', 'li', 'section', 'table', 'tr', 'th', 'td', 'a', 'span', 'div', 'pre', 'img'}


class Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.attrs = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += attrs


def parse(page):
    p = Tags()
    p.feed(page)
    return p


def test_html_feedback_holds_the_same_as_the_markdown(sample):
    page = feedback.feedback_html(sample, 'alice')
    assert page.startswith('<!DOCTYPE html>\n<html lang="en">')
    assert '<title>micrograd: feedback for alice</title>' in page
    assert '<p class="total">Total: <strong>41 / 66</strong></p>' in page
    assert '<li>2 files besides engine.py and nn.py were ignored: notes.txt, scratch.ipynb</li>' in page
    assert '<h2>reuse — A node used more than once (2 / 8)</h2>' in page
    assert ('<pre>after b = a + a with a = 3, then b.backward():\n'
            '            node          data   grad wanted    grad yours\n'
            '               a           3.0           2.0           1.0   &lt;- wrong\n') in page
    words = diagnosis.texts()['overwrite']
    assert f"<p>Likely mistake: {words}</p>" in page
    assert page.count('<span class="hidden-mark">(hidden check)</span>') == 3 + 3  # rows + failures
    assert ('<p class="muted">Rewatch the lecture from 01:27:05 (breaking up a tanh, exercising with '
            'more operations).</p>') in page
    assert '<a href="#check-reuse.a_plus_a"><code>reuse.a_plus_a</code></a>' in page
    assert '<h3 id="check-reuse.a_plus_a"><code>reuse.a_plus_a</code> — b = a + a: a is used twice</h3>' in page
    carol = feedback.feedback_html(sample, 'carol')
    assert f"Likely mistake: {html.escape(diagnosis.texts()['tanh-input'])}" in carol


def test_html_feedback_cannot_carry_a_script(book):
    hostile = '<script>alert("pwned")</script>'
    rec = book['students'].pop('alice')
    rec['notes'] = ['"><script>alert(1)</script>', '<a href="javascript:alert(1)">x</a>']
    rec['checks']['reuse.a_plus_a']['message'] = f"your code raised ValueError: {hostile}\n<img src=x onerror=alert(2)>"
    rec['checks']['reuse.a_plus_a']['diagnoses'] = ['<svg onload=alert(3)>']
    rec['submission'] = '<iframe src=//evil>.zip'
    book['students']['<b onmouseover=alert(4)>mallory</b>'] = rec
    page = feedback.feedback_html(book, '<b onmouseover=alert(4)>mallory</b>')
    assert '&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;' in page
    assert '&lt;img src=x onerror=alert(2)&gt;' in page
    assert 'Likely mistake: &lt;svg onload=alert(3)&gt;' in page
    parsed = parse(page)
    assert set(parsed.tags) <= ALLOWED_TAGS
    assert 'script' not in parsed.tags and 'img' not in parsed.tags and 'iframe' not in parsed.tags
    assert not [a for a in parsed.attrs if a[0].startswith('on')]
    assert not [a for a in parsed.attrs if a[0] == 'href' and not a[1].startswith('#')]
    assert "script-src 'none'" in page  # and the page forbids scripts besides


def test_control_characters_and_broken_text_cannot_break_a_page(book):
    rec = book['students']['alice']
    rec['checks']['reuse.a_plus_a']['message'] = 'bell\x07 nul\x00 esc\x1b[31m lone \udc80 end\r\nnext'
    page = feedback.feedback_html(book, 'alice')
    assert 'bell\ufffd nul\ufffd esc\ufffd[31m lone \ufffd end\nnext' in page
    page.encode('utf-8')  # no lone surrogate left
    results = gradescope_results.gradescope_results(book, 'alice')
    json.dumps(results, ensure_ascii=False).encode('utf-8')


def test_a_huge_message_is_cut(book):
    book['students']['alice']['checks']['reuse.a_plus_a']['message'] = 'x' * 50_000
    md = feedback.feedback_markdown(book, 'alice')
    assert 'x' * rows.MESSAGE_LIMIT + '\n... (30000 more characters cut)' in md
    assert 'x' * (rows.MESSAGE_LIMIT + 1) not in md


# ---------------------------------------------------------------------------------------------
# Gradescope
# ---------------------------------------------------------------------------------------------

def test_gradescope_results_follow_the_spec_and_add_up(sample):
    for name in STUDENTS:
        results = gradescope_results.gradescope_results(sample, name)
        assert gradescope_results.validate_gradescope(results) == [], name
        assert json.loads(json.dumps(results)) == results
    results = gradescope_results.gradescope_results(sample, 'alice')
    assert results['score'] == 41.0
    assert results['execution_time'] == 4
    tests = results['tests']
    assert len(tests) == 46
    assert sum(t['score'] for t in tests) == 41.0
    assert sum(t['max_score'] for t in tests) == 66.0
    assert [t['number'] for t in tests[:7]] == ['1.1', '1.2', '1.3', '1.4', '1.5', '1.6', '2.1']
    assert results['test_output_format'] == 'text' and results['test_name_format'] == 'text'
    assert results['stdout_visibility'] == 'hidden'
    assert results['extra_data'] == {'status': 'graded', 'seed': 731942085,
                                     'fingerprint': sample['students']['alice']['fingerprint']}
    a_plus_a = next(t for t in tests if t['name'].startswith('reuse.a_plus_a'))
    assert a_plus_a == {
        'name': 'reuse.a_plus_a: b = a + a: a is used twice', 'number': '3.1', 'score': 0.0,
        'max_score': 1.0, 'status': 'failed', 'tags': ['reuse'], 'visibility': 'visible',
        'output': a_plus_a['output']}
    assert a_plus_a['output'].startswith('failed: wrong values\nafter b = a + a with a = 3')
    assert '   a           3.0           2.0           1.0   <- wrong' in a_plus_a['output']
    assert f"Likely mistake: {diagnosis.texts()['overwrite']}" in a_plus_a['output']
    assert a_plus_a['output'].endswith('Rewatch the lecture from 01:22:28 (fixing a backprop bug when '
                                       'one node is used multiple times).')
    passed = next(t for t in tests if t['name'].startswith('reuse.a_times_a'))
    assert (passed['score'], passed['max_score'], passed['status'], passed['output']) == (1.0, 1.0, 'passed', '')


def test_hidden_checks_wait_for_publication_and_the_total_with_them(sample):
    results = gradescope_results.gradescope_results(sample, 'alice')
    hidden = [t for t in results['tests'] if t['visibility'] != 'visible']
    assert [t['name'] for t in hidden] == [
        f"{c['id']}: {c['title']} (hidden check)" for c in sample['checks'] if c['hidden']]
    assert {t['visibility'] for t in hidden} == {'after_published'}
    assert [(t['number'], t['score'], t['max_score']) for t in hidden] == [
        ('4.13', 0.0, 3.0), ('6.3', 0.0, 3.0), ('8.6', 0.0, 2.0)]
    assert "d = a + a; d.label = 'd'" in hidden[0]['output']
    # Gradescope hides the total while tests are held back; the output does not give it away
    assert results['output'] == (
        'Public checks: 41 / 58\n'
        '3 hidden checks are shown when your instructor publishes the grades.\n'
        'Note: 2 files besides engine.py and nn.py were ignored: notes.txt, scratch.ipynb')
    never = gradescope_results.gradescope_results(sample, 'alice', hidden_visibility='hidden')
    assert {t['visibility'] for t in never['tests'] if 'hidden check' in t['name']} == {'hidden'}
    assert gradescope_results.validate_gradescope(never) == []
    shown = gradescope_results.gradescope_results(sample, 'alice', hidden_visibility='visible')
    assert shown['output'].startswith('Total: 41 / 66\n')
    with pytest.raises(ValueError):
        gradescope_results.gradescope_results(sample, 'alice', hidden_visibility='later')


def test_an_invalid_hand_in_scores_0_with_the_problem_in_the_output(book):
    frank = book['students']['frank']
    frank['total'] = 12.0  # even a record that claims points cannot give it any
    frank['checks']['ops_backward.add']['points'] = 1
    results = gradescope_results.gradescope_results(book, 'frank')
    assert gradescope_results.validate_gradescope(results) == []
    assert results['score'] == 0.0
    assert {t['score'] for t in results['tests']} == {0.0}
    assert sum(t['max_score'] for t in results['tests']) == 66.0
    assert results['output'] == (
        'This hand-in holds nothing that could be graded, so it scores 0.\n'
        'Total: 0 / 66\n'
        'Note: frank.zip holds no engine.py or nn.py: it has only README.md and homework.pdf')
    assert results['tests'][0]['output'] == 'not graded: the submission holds nothing that could be graded'


def test_the_top_level_output_is_escaped_for_gradescopes_simple_format(book):
    book['students']['bob']['notes'] = ['<script>alert(1)</script> & more']
    results = gradescope_results.gradescope_results(book, 'bob')
    assert results['output_format'] == 'simple_format'
    assert 'Note: &lt;script&gt;alert(1)&lt;/script&gt; &amp; more' in results['output']


def test_a_skipped_check_counts_for_nothing_everywhere(book):
    bob = book['students']['bob']
    bob['checks']['more_ops.random_vs_torch'] = {
        'points': 0, 'possible': 0, 'passed': True, 'error': 'skipped',
        'message': 'PyTorch is not installed here', 'diagnoses': []}
    bob['total'], bob['possible'] = 66.0, 66
    results = gradescope_results.gradescope_results(book, 'bob')
    assert gradescope_results.validate_gradescope(results) == []
    skipped = next(t for t in results['tests'] if t['name'].startswith('more_ops.random_vs_torch'))
    assert (skipped['score'], skipped['max_score']) == (0.0, 0.0)
    assert 'status' not in skipped
    assert skipped['output'] == 'skipped, counts for nothing: PyTorch is not installed here'
    assert '| 0 / 0 | skipped (counts for nothing) |' in feedback.feedback_markdown(book, 'bob')
    rate = next(r for r in summary.pass_rates(book) if r['id'] == 'more_ops.random_vs_torch')
    assert (rate['passed'], rate['of']) == (0, 4)


def test_validate_gradescope_names_each_problem():
    good = {'score': 3.0, 'tests': [{'name': 'a', 'score': 1.0, 'max_score': 1.0, 'visibility': 'visible'},
                                    {'name': 'b', 'score': 2.0, 'max_score': 2.0, 'status': 'passed'}]}
    assert gradescope_results.validate_gradescope(good) == []
    assert gradescope_results.validate_gradescope({'score': 1}) == []
    assert gradescope_results.validate_gradescope({'tests': [{'score': 1}]}) == []

    def problems(change):
        results = copy.deepcopy(good)
        change(results)
        return gradescope_results.validate_gradescope(results)

    assert problems(lambda r: r['tests'][1].update(score=3.0)) == [
        'test 2 (b): score 3.0 is above its max_score 2.0',
        "the top-level score 3.0 is not the sum of the tests' scores 4.0"]
    assert problems(lambda r: r.update(score=5.0)) == [
        "the top-level score 5.0 is not the sum of the tests' scores 3.0",
        "the top-level score 5.0 is above the tests' max_score total 3.0"]
    assert problems(lambda r: r['tests'][0].update(visibility='private')) == [
        'test 1 (a): visibility must be one of hidden, after_due_date, after_published, visible, '
        "not 'private'"]
    assert problems(lambda r: r.update(stdout_visibility='always')) == [
        "stdout_visibility must be one of hidden, after_due_date, after_published, visible, not 'always'"]
    assert problems(lambda r: r.update(grade=3)) == ["unknown top-level key 'grade'"]
    assert problems(lambda r: r['tests'][0].update(points=1)) == ["test 1 (a): unknown key 'points'"]
    assert problems(lambda r: r['tests'][0].update(status='ok')) == [
        "test 1 (a): status must be 'passed' or 'failed', not 'ok'"]
    assert problems(lambda r: r.update(score='3')) == ["score must be a number, not '3'"]
    assert problems(lambda r: r['tests'][0].update(max_score=-1)) == [
        'test 1 (a): max_score must be a number >= 0, not -1']
    assert problems(lambda r: r.update(output_format='pdf')) == [
        "output_format must be one of text, simple_format, html, md, ansi, not 'pdf'"]
    nan = problems(lambda r: r.update(score=float('nan')))
    assert nan[0].startswith('not representable as JSON') and 'score must be a number, not nan' in nan
    assert problems(lambda r: (r.pop('score'), r['tests'][0].pop('score'))) == [
        'test 1 (a): no score, and no top-level score']
    assert gradescope_results.validate_gradescope({}) == ['neither a top-level score nor tests']
    assert gradescope_results.validate_gradescope([]) == ['results.json must hold a JSON object']


# ---------------------------------------------------------------------------------------------
# The class summary
# ---------------------------------------------------------------------------------------------

def test_pass_rates_and_mistakes_are_counted_over_the_graded_hand_ins(sample):
    rates = {r['id']: (r['passed'], r['of']) for r in summary.pass_rates(sample)}
    assert rates['reuse.a_plus_a'] == (3, 5)
    assert rates['reuse.a_times_a'] == (5, 5)
    assert rates['more_ops.random_expressions'] == (1, 5)
    assert rates['more_ops.hidden_expressions'] == (1, 5)
    assert rates['parameters.order'] == (3, 5)
    assert rates['training.converges'] == (3, 5)
    assert list(rates) == [c['id'] for c in sample['checks']]
    counts = summary.mistake_counts(sample)
    assert [(m['id'], m['students']) for m in counts] == [
        ('overwrite', ['alice', 'erin']), ('loss-rises', ['carol']), ('params-bias-first', ['erin']),
        ('params-no-bias', ['carol']), ('reflected-add', ['dave']), ('tanh-input', ['carol'])]
    assert counts[0]['checks']['reuse.a_plus_a'] == 2
    assert counts[0]['text'] == diagnosis.texts()['overwrite']


def rate_cells(text, check_id):
    """The passed and rate cells of a check's row in the summary's pass-rate table."""
    row = next(line for line in text.splitlines()
               if line.startswith('<tr>') and f'>{check_id}<' in line.split('</td>')[0])
    return '</td>'.join(row.split('</td>')[2:4]) + '</td>'


def test_class_summary_writes_a_plot_and_a_page_that_states_the_rates(sample, tmp_path):
    page = summary.class_summary(sample, tmp_path)
    assert page == tmp_path / 'summary.html'
    png = (tmp_path / 'summary.png').read_bytes()
    assert png[:8] == b'\x89PNG\r\n\x1a\n'
    assert len(png) > 10_000
    width, height = int.from_bytes(png[16:20], 'big'), int.from_bytes(png[20:24], 'big')
    assert width == 1000 and height > 1000  # a bar for each of the 40 checks
    text = page.read_text(encoding='utf-8')
    assert '<img src="summary.png"' in text
    assert rate_cells(text, 'reuse.a_plus_a') == '<td class="num">3 of 5</td><td class="num">60%</td>'
    assert rate_cells(text, 'more_ops.random_expressions') == (
        '<td class="num">1 of 5</td><td class="num">20%</td>')
    assert rate_cells(text, 'more_ops.hidden_expressions').startswith('<td class="num">1 of 5</td>')
    assert 'reuse.a_plus_a: 3 of 5' not in text, "the passed column does not repeat the check id"
    assert '<td>2 of 5: alice, erin</td>' in text
    assert ('<tr><td>graded</td><td class="num">5</td><td>alice, bob, carol, dave, erin</td></tr>\n'
            '<tr><td>invalid</td><td class="num">1</td><td>frank</td></tr>') in text
    assert ('5 graded submissions of 6; mean score 44.6 / 66, median 41, lowest 32, highest 66. '
            'Sandbox: bubblewrap.') in text
    assert '<td><a href="feedback/bob.html">bob</a></td><td>graded</td><td class="num">66 / 66</td>' \
           '<td>imports-torch</td>' in text
    assert set(parse(text).tags) <= ALLOWED_TAGS


def test_a_class_with_nothing_graded_still_gets_a_summary(book, tmp_path):
    book['students'] = {'frank': book['students']['frank']}
    text = summary.class_summary(book, tmp_path).read_text(encoding='utf-8')
    assert 'No graded submissions among 1.' in text
    assert rate_cells(text, 'reuse.a_plus_a') == '<td class="num">0 of 0</td><td class="num">-</td>'
    assert 'No mistake was diagnosed.' in text
    assert (tmp_path / 'summary.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------

def tree(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob('*') if p.is_file())


def test_write_all_writes_the_whole_tree(sample, written):
    assert tree(written) == sorted(
        [f"feedback/{n}.md" for n in STUDENTS] + [f"feedback/{n}.html" for n in STUDENTS]
        + [f"gradescope/{n}/results.json" for n in STUDENTS] + ['summary.html', 'summary.png'])
    assert (written / 'feedback' / 'alice.md').read_text(encoding='utf-8') == \
        feedback.feedback_markdown(sample, 'alice')
    assert (written / 'feedback' / 'carol.html').read_text(encoding='utf-8') == \
        feedback.feedback_html(sample, 'carol')
    for name in STUDENTS:
        results = json.loads((written / 'gradescope' / name / 'results.json').read_text(encoding='utf-8'))
        assert gradescope_results.validate_gradescope(results) == []
        assert results['score'] == sample['students'][name]['total']
    mode = stat.S_IMODE((written / 'summary.html').stat().st_mode)
    assert mode == 0o644


def test_write_all_again_gives_the_same_bytes(sample, written, tmp_path):
    layout.write_all(sample, tmp_path)
    for rel in tree(written):
        assert (tmp_path / rel).read_bytes() == (written / rel).read_bytes(), rel


def test_a_students_name_cannot_lead_a_file_out_of_its_folder(book, tmp_path):
    rec = book['students'].pop('alice')
    book['students'] = {'../../escape': rec, '..': copy.deepcopy(rec), 'a/b': copy.deepcopy(rec),
                        'Zoë Ng': copy.deepcopy(rec)}
    out = tmp_path / 'out'
    layout.write_all(book, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['out']
    stems = [safe_files.file_stem(n) for n in book['students']]
    assert len(set(stems)) == 4
    for stem in stems:
        assert '/' not in stem and not stem.startswith('.')
        assert (out / 'feedback' / f"{stem}.md").is_file()
        assert (out / 'gradescope' / stem / 'results.json').is_file()
    assert safe_files.file_stem('alice') == 'alice'
    assert safe_files.file_stem('a/b').startswith('a_b-')
    assert safe_files.file_stem('Zoë Ng').startswith('Zo_Ng-')
    assert 'href="feedback/a_b-' in (out / 'summary.html').read_text(encoding='utf-8')


def test_one_unreadable_record_does_not_stop_the_others(book, tmp_path):
    book['students']['dave']['checks'] = ['not', 'a', 'dict']
    with pytest.raises(layout.ReportError, match=r'dave: AttributeError'):
        layout.write_all(book, tmp_path)
    assert not (tmp_path / 'feedback' / 'dave.md').exists()
    for name in ['alice', 'bob', 'carol', 'erin', 'frank']:
        assert (tmp_path / 'feedback' / f"{name}.md").is_file()
        assert (tmp_path / 'gradescope' / name / 'results.json').is_file()
    assert rate_cells((tmp_path / 'summary.html').read_text(encoding='utf-8'),
                      'reuse.a_plus_a').startswith('<td class="num">2 of 4</td>')


def test_write_atomic_replaces_a_file_whole_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / 'sub' / 'results.json'
    safe_files.write_atomic(target, 'first ✓\n')
    assert target.read_bytes() == 'first ✓\n'.encode('utf-8')
    safe_files.write_atomic(target, b'\x00\x01second')
    assert target.read_bytes() == b'\x00\x01second'
    assert os.listdir(target.parent) == ['results.json']
    with pytest.raises(TypeError):
        safe_files.write_atomic(target, 12345)  # not str or bytes: fails while writing the temporary
    assert target.read_bytes() == b'\x00\x01second'
    assert os.listdir(target.parent) == ['results.json']
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
