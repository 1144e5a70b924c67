"""Finding and unpacking the students' hand-ins: every kind, every rule, every hostile case."""

import os
import stat
import zipfile
from pathlib import Path

import pytest

from mgcourse import paths
from mgcourse.batch import handins, submissions
from mgcourse.batch.submissions import collect, find, prepare, skipped
from mgcourse.battery import impl

GRADED = ('engine.py', 'nn.py', 'train.py')


def solution(name):
    return (paths.SOLUTIONS / name).read_bytes()


def package_dir(folder, names=GRADED):
    """The solutions' modules `names` in `folder`, as a student would hand them in."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(solution(name))
    return folder


def make_zip(path, files, prefix=''):
    """A zip at `path` holding `files` (name -> bytes, or name -> ZipInfo tweak via tuple)."""
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(prefix + name, data)
    return path


def solutions_zip(path, prefix='', names=GRADED, extra=None):
    files = {name: solution(name) for name in names}
    files.update(extra or {})
    return make_zip(path, files, prefix)


def touch(path, seconds):
    os.utime(path, (seconds, seconds), follow_symlinks=False)


def everything_below(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob('*'))


@pytest.fixture
def root(tmp_path):
    folder = tmp_path / 'SUBMISSIONS'
    folder.mkdir()
    return folder


@pytest.fixture
def work(tmp_path):
    return tmp_path / 'work'


def one(root, work, student):
    return prepare(student, find(root)[student], root, work)


def copied(sub):
    return {p.name: p.read_bytes() for p in sub.package.iterdir()}


def assert_linked_engine_refused(sub, other_link, work):
    """engine.py was a link: the skeleton's stands in; the other link was named, not followed."""
    assert sub.notes == [
        f'{other_link} is a symbolic link; it was not followed',
        'engine.py is a symbolic link; it was not graded',
        "engine.py was left out: the skeleton's engine.py was used, so its checks score 0"]
    assert copied(sub)['engine.py'] == (paths.SKELETON / 'engine.py').read_bytes()
    assert copied(sub)['nn.py'] == solution('nn.py')
    assert not any(p.is_symlink() for p in work.rglob('*'))


# ---------------------------------------------------------------- the three kinds

def test_a_folder_with_the_package_at_its_top(root, work):
    package_dir(root / 'alice')
    (root / 'alice' / 'notes.txt').write_text('my notes')
    sub = one(root, work, 'alice')
    assert (sub.student, sub.source, sub.kind, sub.problem, sub.notes) == \
        ('alice', 'alice/', 'folder', '', [])
    assert sub.package == work / 'alice' / 'package'
    assert copied(sub) == {name: solution(name) for name in GRADED}  # notes.txt is not copied


def test_a_nested_folder_the_shallowest_holding_package_files_is_graded(root, work):
    package_dir(root / 'alice' / 'micrograd_skeleton')
    old = package_dir(root / 'alice' / 'micrograd_skeleton' / 'old')
    (old / 'engine.py').write_text('OLD = True\n')
    (root / 'alice' / 'README.md').write_text('hi')
    sub = one(root, work, 'alice')
    assert sub.notes == []
    assert copied(sub)['engine.py'] == solution('engine.py')
    assert sorted(copied(sub)) == sorted(GRADED)


def test_two_package_folders_at_one_depth_the_fuller_one_is_graded(root, work):
    package_dir(root / 'alice' / 'a_draft', names=('engine.py',))
    package_dir(root / 'alice' / 'b_final')
    sub = one(root, work, 'alice')
    assert sorted(copied(sub)) == sorted(GRADED)
    assert sub.notes == ['several folders hold package files: b_final/ was graded, '
                         'a_draft/ was ignored']


def test_a_zip_with_the_package_in_a_folder_inside(root, work):
    solutions_zip(root / 'alice.zip', prefix='micrograd_skeleton/')
    sub = one(root, work, 'alice')
    assert (sub.source, sub.kind, sub.notes, sub.problem) == ('alice.zip', 'zip', [], '')
    assert copied(sub) == {name: solution(name) for name in GRADED}


def test_a_zip_made_on_windows_with_backslashes(root, work):
    solutions_zip(root / 'alice.zip', prefix='pkg\\')
    sub = one(root, work, 'alice')
    assert copied(sub) == {name: solution(name) for name in GRADED}
    assert everything_below(work) == ['alice', 'alice/package'] + \
        [f'alice/package/{n}' for n in sorted(GRADED)]


def test_loose_files_with_underscores_in_the_student_id(root, work):
    for name in GRADED:
        (root / f'jo_ann_{name}').write_bytes(solution(name))
    assert find(root) == {'jo_ann': [root / f'jo_ann_{n}' for n in sorted(GRADED)]}
    sub = one(root, work, 'jo_ann')
    assert (sub.kind, sub.source) == ('files', 'jo_ann_engine.py, jo_ann_nn.py, jo_ann_train.py')
    assert copied(sub) == {name: solution(name) for name in GRADED}


def test_the_unpacked_package_imports_and_runs(root, work):
    package_dir(root / 'alice' / 'pkg')
    sub = one(root, work, 'alice')
    mg = impl.load(sub.package)
    a = mg.Value(2.0) * mg.Value(-3.0) + 1.0
    a.backward()
    assert a.data == -5.0


def test_helper_modules_beside_the_package_are_copied_but_nothing_else(root, work):
    folder = package_dir(root / 'alice')
    (folder / '__init__.py').write_bytes(solution('__init__.py'))
    (folder / 'viz.py').write_bytes(solution('viz.py'))
    (folder / 'helpers.py').write_text('TWO = 2\n')
    (folder / 'my notes.py').write_text('not importable\n')
    (folder / 'data.csv').write_text('1,2\n')
    (folder / 'sub').mkdir()
    (folder / 'sub' / 'deep.py').write_text('X = 1\n')
    (folder / '__pycache__').mkdir()
    (folder / '__pycache__' / 'engine.cpython-311.pyc').write_bytes(b'\0' * 8)
    (folder / '.secret.py').write_text('hidden\n')
    sub = one(root, work, 'alice')
    assert sorted(copied(sub)) == ['__init__.py', 'engine.py', 'helpers.py', 'nn.py',
                                   'train.py', 'viz.py']
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o644 for p in sub.package.iterdir())


# ---------------------------------------------------------------- finding, and what is skipped

def test_find_groups_entries_by_student_and_ignores_hidden_ones(root):
    package_dir(root / 'alice')
    solutions_zip(root / 'bob.zip')
    (root / 'carol_nn.py').write_bytes(solution('nn.py'))
    (root / 'carol_engine.py').write_bytes(solution('engine.py'))
    solutions_zip(root / 'dave.ZIP')
    (root / '.DS_Store').write_bytes(b'junk')
    (root / '__pycache__').mkdir()
    (root / '.git').mkdir()
    assert find(root) == {
        'alice': [root / 'alice'],
        'bob': [root / 'bob.zip'],
        'carol': [root / 'carol_engine.py', root / 'carol_nn.py'],
        'dave': [root / 'dave.ZIP'],
    }
    assert skipped(root) == []


def test_unsafe_student_ids_and_stray_files_are_reported_not_graded(root, work):
    package_dir(root / 'José Ñ')
    solutions_zip(root / 'a b.zip')
    (root / '_engine.py').write_bytes(solution('engine.py'))
    (root / 'README.txt').write_text('grading notes')
    package_dir(root / 'ok-id.2@x+y_z')
    assert list(find(root)) == ['ok-id.2@x+y_z']
    assert skipped(root) == [
        "'José Ñ' was not graded: the student id 'José Ñ' may only use letters, digits and "
        ". _ @ + - (at most 100 of them), and may not start with a dot",
        "'README.txt' was not graded: it is not a folder, a .zip, or a file named "
        "STUDENT_engine.py, STUDENT_nn.py or STUDENT_train.py",
        "'_engine.py' was not graded: its name does not start with a student id",
        "'a b.zip' was not graded: the student id 'a b' may only use letters, digits and "
        ". _ @ + - (at most 100 of them), and may not start with a dot",
    ]
    subs = collect(root, work)
    assert [s.student for s in subs] == ['ok-id.2@x+y_z']
    assert everything_below(work)[:1] == ['ok-id.2@x+y_z']
    with pytest.raises(ValueError, match='not a safe student id'):
        prepare('../evil', [root / 'a b.zip'], root, work)


def test_collect_gives_one_submission_per_student_sorted(root, work):
    package_dir(root / 'zoe')
    solutions_zip(root / 'adam.zip')
    (root / 'mia_train.py').write_bytes(solution('train.py'))
    make_zip(root / 'ben.zip', {})
    subs = collect(root, work)
    assert [(s.student, s.kind, s.package is not None) for s in subs] == [
        ('adam', 'zip', True), ('ben', 'zip', False), ('mia', 'files', True),
        ('zoe', 'folder', True)]
    assert sorted(os.listdir(work)) == ['adam', 'ben', 'mia', 'zoe']
    assert not (work / 'ben' / 'package').exists()  # nothing gradable leaves no package


# ---------------------------------------------------------------- missing modules

def test_a_missing_module_is_filled_from_the_skeleton_and_the_rest_still_imports(root, work):
    package_dir(root / 'alice', names=('engine.py', 'train.py'))
    sub = one(root, work, 'alice')
    assert sub.notes == ["nn.py was missing: the skeleton's nn.py was used, so its checks score 0"]
    assert copied(sub)['nn.py'] == (paths.SKELETON / 'nn.py').read_bytes()
    assert copied(sub)['engine.py'] == solution('engine.py')
    mg = impl.load(sub.package)  # the skeleton's nn.py imports the student's engine
    assert mg.nn.Value is mg.Value


def test_no_graded_module_at_all_is_a_problem(root, work):
    (root / 'alice').mkdir()
    (root / 'alice' / 'answers.txt').write_text('42')
    (root / 'alice' / 'main.py').write_text('print(1)\n')
    sub = one(root, work, 'alice')
    assert (sub.package, sub.problem) == (None, 'no engine.py, nn.py or train.py found')


def test_a_zip_inside_a_folder_is_not_unpacked_and_the_problem_says_so(root, work):
    (root / 'alice').mkdir()
    solutions_zip(root / 'alice' / 'handin.zip')
    sub = one(root, work, 'alice')
    assert sub.package is None
    assert sub.problem == ("no engine.py, nn.py or train.py found "
                           "(archives inside alice are not unpacked: 'handin.zip')")


# ---------------------------------------------------------------- empty and corrupt

def test_an_empty_zip_and_an_empty_folder_leave_nothing_to_grade(root, work):
    make_zip(root / 'ann.zip', {})
    make_zip(root / 'ben.zip', {'pkg/': b'', '.DS_Store': b'x', '__MACOSX/._engine.py': b'x'})
    (root / 'cat').mkdir()
    (root / 'cat' / 'empty_dir').mkdir()
    (root / 'cat' / '.hidden').write_text('x')
    subs = {s.student: s for s in collect(root, work)}
    assert subs['ann'].problem == 'nothing to grade: the archive is empty'
    assert subs['ben'].problem == 'nothing to grade: the archive is empty'
    assert subs['cat'].problem == 'nothing to grade: the folder is empty'
    assert all(s.package is None for s in subs.values())


def test_a_corrupt_zip_is_a_problem(root, work):
    good = solutions_zip(root / 'alice.zip').read_bytes()
    (root / 'alice.zip').write_bytes(good[:len(good) // 2])
    (root / 'bob.zip').write_bytes(b'this is not a zip at all')
    subs = {s.student: s for s in collect(root, work)}
    for s in subs.values():
        assert s.package is None
        assert s.problem.startswith('not a valid zip file: ')
    assert 'File is not a zip file' in subs['bob'].problem


def test_a_zip_whose_bytes_are_damaged_inside_an_entry(root, work):
    path = solutions_zip(root / 'alice.zip', extra={'helpers.py': b'X = 1\n' * 50})
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo('engine.py')
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 5
    data[start:start + 20] = bytes(b ^ 0xff for b in data[start:start + 20])
    path.write_bytes(bytes(data))
    sub = one(root, work, 'alice')
    assert sub.package is not None
    assert sub.notes[0].startswith('engine.py could not be read (')
    assert sub.notes[0].endswith('); it was not graded')
    assert sub.notes[1] == ("engine.py was left out: the skeleton's engine.py was used, "
                            "so its checks score 0")
    assert copied(sub)['nn.py'] == solution('nn.py')


# ---------------------------------------------------------------- hostile archives

def test_zip_entries_pointing_outside_are_never_extracted(root, work, tmp_path):
    solutions_zip(root / 'mallory.zip', extra={
        '../evil.py': b'EVIL = 1\n', '/abs.py': b'ABS = 1\n', 'pkg/../../up.py': b'UP = 1\n',
        'C:/win.py': b'WIN = 1\n', '..\\back.py': b'BACK = 1\n'})
    sub = one(root, work, 'mallory')
    assert sub.notes == ["the archive entries '../evil.py', '/abs.py', 'pkg/../../up.py', "
                         "'C:/win.py', '..\\\\back.py' point outside the archive; "
                         "they were not extracted"]
    assert sorted(copied(sub)) == sorted(GRADED)
    everywhere = {p.name for p in tmp_path.rglob('*.py')}
    assert not everywhere & {'evil.py', 'abs.py', 'up.py', 'win.py', 'back.py'}
    assert not Path('/abs.py').exists()


def test_a_zip_symlink_entry_is_skipped(root, work):
    with zipfile.ZipFile(root / 'mallory.zip', 'w') as z:
        for name in ('nn.py', 'train.py'):
            z.writestr(name, solution(name))
        for name, target in (('engine.py', '/etc/passwd'), ('secrets', '/home')):
            link = zipfile.ZipInfo(name)
            link.create_system = 3  # Unix, whose mode bits say "symbolic link"
            link.external_attr = (stat.S_IFLNK | 0o777) << 16
            z.writestr(link, target)
    assert_linked_engine_refused(one(root, work, 'mallory'), 'secrets', work)


def test_an_archive_that_would_unpack_too_big_is_refused(root, work):
    with zipfile.ZipFile(root / 'bomb.zip', 'w', zipfile.ZIP_DEFLATED) as z:
        z.writestr('engine.py', solution('engine.py'))
        z.writestr('zeros.bin', bytes(21 * handins.MB))  # compresses to ~20 KB
    assert (root / 'bomb.zip').stat().st_size < handins.MB
    sub = one(root, work, 'bomb')
    assert sub.package is None
    assert sub.problem == ('the archive would unpack to 21.0 MB, more than the 20 MB allowed; '
                           'it was not unpacked')
    assert not (work / 'bomb' / 'package').exists()


def test_an_archive_that_lies_about_a_size_unpacks_no_more_than_it_declares(root, work):
    path = make_zip(root / 'liar.zip', {'engine.py': b'#' * (50 * handins.MB),
                                        'nn.py': solution('nn.py'),
                                        'train.py': solution('train.py')})
    data = bytearray(path.read_bytes())
    central = data.index(b'PK\x01\x02')  # engine.py's entry in the central directory
    data[central + 24:central + 28] = (1000).to_bytes(4, 'little')  # its uncompressed size
    path.write_bytes(bytes(data))
    with zipfile.ZipFile(path) as z:
        assert z.getinfo('engine.py').file_size == 1000
    sub = one(root, work, 'liar')
    assert sub.notes[0] == ("engine.py could not be read (Bad CRC-32 for file 'engine.py'); "
                            "it was not graded")
    assert copied(sub)['engine.py'] == (paths.SKELETON / 'engine.py').read_bytes()
    assert sum(p.stat().st_size for p in work.rglob('*') if p.is_file()) < handins.MB


def test_an_archive_with_too_many_entries_is_refused(root, work):
    files = {name: solution(name) for name in GRADED}
    files.update({f'junk/{i}.txt': b'' for i in range(1000)})
    make_zip(root / 'many.zip', files)
    sub = one(root, work, 'many')
    assert sub.problem == ('the archive has 1003 entries, more than the 1000 allowed; '
                           'it was not unpacked')


def test_a_file_over_one_megabyte_is_not_copied(root, work):
    big = solution('engine.py') + b'#' * (handins.MB + 10) + b'\n'
    make_zip(root / 'alice.zip', {'engine.py': big, 'nn.py': solution('nn.py'),
                                  'train.py': solution('train.py'), 'huge.py': big})
    sub = one(root, work, 'alice')
    assert sub.notes == [
        'engine.py is 1.01 MB, more than the 1 MB allowed for one file; it was not graded',
        'huge.py is 1.01 MB, more than the 1 MB allowed for one file; it was not copied',
        "engine.py was left out: the skeleton's engine.py was used, so its checks score 0"]
    assert sorted(copied(sub)) == sorted(GRADED)


def test_only_refused_modules_is_a_problem_naming_the_reasons(root, work, tmp_path):
    (root / 'mallory').mkdir()
    (root / 'mallory' / 'engine.py').symlink_to('/etc/passwd')
    sub = one(root, work, 'mallory')
    assert sub.package is None
    assert sub.problem == ('no usable engine.py, nn.py or train.py: '
                           'engine.py is a symbolic link; it was not graded')


# ---------------------------------------------------------------- symbolic links in folders

def test_a_symlinked_module_in_a_folder_is_not_followed(root, work):
    folder = package_dir(root / 'mallory', names=('nn.py', 'train.py'))
    (folder / 'engine.py').symlink_to('/etc/passwd')
    (folder / 'solutions').symlink_to(paths.SOLUTIONS)
    assert_linked_engine_refused(one(root, work, 'mallory'), 'solutions', work)


def test_a_symlinked_folder_is_named_when_nothing_else_is_found(root, work):
    (root / 'mallory').mkdir()
    (root / 'mallory' / 'pkg').symlink_to(paths.SOLUTIONS)
    sub = one(root, work, 'mallory')
    assert (sub.package, sub.problem) == (None, 'no engine.py, nn.py or train.py found')
    assert sub.notes == ['pkg is a symbolic link; it was not followed']


def test_a_hand_in_that_is_a_symlink_is_not_graded(root, work):
    (root / 'mallory').symlink_to(paths.SOLUTIONS)
    (root / 'eve.zip').symlink_to(root / 'nowhere.zip')
    assert find(root) == {'eve': [root / 'eve.zip'], 'mallory': [root / 'mallory']}
    subs = {s.student: s for s in collect(root, work)}
    assert subs['mallory'].package is None
    assert subs['mallory'].problem == 'mallory is a symbolic link; it was not graded'
    assert subs['eve'].kind == 'zip'
    assert subs['eve'].problem == 'eve.zip is a symbolic link; it was not graded'
    before = subs['mallory'].fingerprint
    (root / 'mallory').unlink()
    (root / 'mallory').symlink_to(paths.SKELETON)
    assert submissions.fingerprint('mallory', [root / 'mallory'], root) != before


# ---------------------------------------------------------------- text encodings

def test_a_non_utf8_module_is_copied_as_is_with_a_note(root, work):
    bad = b'"""A\xff engine"""\n' + solution('engine.py')
    make_zip(root / 'alice.zip', {'engine.py': bad, 'nn.py': solution('nn.py'),
                                  'train.py': solution('train.py')})
    sub = one(root, work, 'alice')
    assert sub.notes == ['engine.py is not UTF-8 (invalid byte 0xff at offset 4, line 1): '
                         'it was copied as it is, and fails to import if Python cannot read it']
    assert copied(sub)['engine.py'] == bad
    with pytest.raises(impl.ImplError, match='SyntaxError'):
        impl.load(sub.package)


def test_a_declared_latin1_module_is_fine(root, work):
    folder = package_dir(root / 'alice')
    latin = b'# -*- coding: latin-1 -*-\n# caf\xe9\n' + solution('engine.py')
    (folder / 'engine.py').write_bytes(latin)
    (folder / 'helpers.py').write_bytes(b'# -*- coding: ascii -*-\nX = "\xe9"\n')
    sub = one(root, work, 'alice')
    assert sub.notes == ['helpers.py is not ascii text, as its coding line declares '
                         '(invalid byte 0xe9 at offset 29, line 2): '
                         'it was copied as it is, and fails to import if Python cannot read it']
    assert impl.load(sub.package).Value(3.0).data == 3.0


# ---------------------------------------------------------------- two hand-ins

def test_of_two_hand_ins_the_most_recent_is_graded(root, work):
    package_dir(root / 'bob')
    solutions_zip(root / 'bob.zip', names=('engine.py',))
    for p in (root / 'bob').iterdir():
        touch(p, 1_700_000_000)
    touch(root / 'bob', 1_700_000_000)
    touch(root / 'bob.zip', 1_700_000_100)
    sub = one(root, work, 'bob')
    assert (sub.source, sub.kind) == ('bob.zip', 'zip')
    assert sub.notes[0] == ('2 submissions were handed in: bob.zip (modified 2023-11-14 22:15:00 '
                            'UTC) was graded, being the most recently modified; bob/ (modified '
                            '2023-11-14 22:13:20 UTC) was ignored')
    # A file changed inside the folder makes the folder the newest.
    touch(root / 'bob' / 'nn.py', 1_700_000_200)
    sub = one(root, work, 'bob')
    assert sub.source == 'bob/'
    assert sorted(copied(sub)) == sorted(GRADED)


def test_a_zip_and_loose_files_ties_go_to_the_name_that_sorts_last(root, work):
    solutions_zip(root / 'bob.zip')
    (root / 'bob_engine.py').write_bytes(solution('engine.py'))
    for p in root.iterdir():
        touch(p, 1_700_000_000)
    sub = one(root, work, 'bob')
    assert sub.source == 'bob_engine.py'  # 'bob_' sorts after 'bob.'
    assert sub.kind == 'files'
    assert sub.notes[0].endswith('bob.zip (modified 2023-11-14 22:13:20 UTC) was ignored')
    assert sub.notes[1:] == [
        "nn.py was missing: the skeleton's nn.py was used, so its checks score 0",
        "train.py was missing: the skeleton's train.py was used, so its checks score 0"]


# ---------------------------------------------------------------- fingerprints and re-runs

def test_the_fingerprint_tells_a_changed_hand_in(root, work):
    folder = package_dir(root / 'alice')
    first = one(root, work, 'alice').fingerprint
    assert len(first) == 64
    assert submissions.fingerprint('alice', find(root)['alice'], root) == first
    touch(folder / 'nn.py', 1_600_000_000)              # a new time alone changes nothing
    (folder / '__pycache__').mkdir()                    # nor does Python's cache
    (folder / '__pycache__' / 'nn.cpython-311.pyc').write_bytes(b'x')
    assert one(root, work, 'alice').fingerprint == first
    (folder / 'nn.py').write_bytes(solution('nn.py') + b'\n# edited\n')
    assert one(root, work, 'alice').fingerprint != first
    (folder / 'nn.py').write_bytes(solution('nn.py'))
    assert one(root, work, 'alice').fingerprint == first
    (folder / 'nn.py').rename(folder / 'nn_old.py')     # names count too
    assert one(root, work, 'alice').fingerprint != first


def test_the_fingerprint_changes_when_another_hand_in_is_graded(root, work):
    solutions_zip(root / 'bob.zip')
    (root / 'bob_nn.py').write_bytes(solution('nn.py'))
    touch(root / 'bob.zip', 1_700_000_000)
    touch(root / 'bob_nn.py', 1_600_000_000)
    first = one(root, work, 'bob')
    touch(root / 'bob_nn.py', 1_800_000_000)
    second = one(root, work, 'bob')
    assert (first.source, second.source) == ('bob.zip', 'bob_nn.py')
    assert first.fingerprint != second.fingerprint


def test_preparing_again_starts_from_a_fresh_package(root, work):
    folder = package_dir(root / 'alice')
    (folder / 'helpers.py').write_text('X = 1\n')
    one(root, work, 'alice')
    (work / 'alice' / 'scratch.txt').write_text('the grader may keep things here')
    (folder / 'helpers.py').unlink()
    sub = one(root, work, 'alice')
    assert sorted(copied(sub)) == sorted(GRADED)
    assert (work / 'alice' / 'scratch.txt').exists()
