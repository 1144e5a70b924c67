"""The library's rooms (grader/mgcourse/*/) and the one way its imports flow.

The battery is shared by everything and imports nothing of the rest; the student's tools and the
batch grader build on it and on the isolation of student code; the nbgrader integration builds on
those; the hand-out builders and the command line sit on top. No module imports from a room above
its own, and what runs while a student checks or a class is graded never loads the hand-out
builders (nbgrader's generate_assignment, a build step, is the one use of them from below).
"""

import ast
import json
import subprocess
import sys

from mgcourse import paths
from mgcourse.battery.catalogue import tomllib  # tomli on Python 3.10

LIBRARY = paths.LIBRARY
# What each room may import of mgcourse (besides itself and mgcourse.paths).
MAY_IMPORT = {
    'battery': set(),
    'isolation': {'battery'},
    'student': {'battery', 'isolation'},
    'batch': {'battery', 'isolation'},
    'nbgrading': {'battery', 'isolation', 'batch', 'student', 'handout'},
    'handout': {'battery', 'isolation', 'batch', 'student', 'nbgrading'},
}
TOP = {'__init__', 'paths', 'cli'}
# What runs while a student checks their work or a class is graded, in every front-end
# (the command line too: `mgcourse check` must not load what only `mgcourse release` needs).
RUN_TIME = ('mgcourse.cli', 'mgcourse.student.runner', 'mgcourse.student.notebook',
            'mgcourse.student.pytest_plugin', 'mgcourse.isolation.worker',
            'mgcourse.batch.grading', 'mgcourse.nbgrading.nbautograde',
            'mgcourse.nbgrading.nbgrader_plugins')


def room_of(module):
    """'battery' for mgcourse.battery.checks.base; None for mgcourse itself and its top modules."""
    parts = module.split('.')
    return parts[1] if len(parts) > 1 and parts[1] in MAY_IMPORT else None


def imports(path):
    """The mgcourse modules (dotted, absolute) that the file at path imports."""
    package = list(path.relative_to(LIBRARY.parent).parts[:-1])  # what `from .` names
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split('.')[0] == 'mgcourse'}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                module = '.'.join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            if module.split('.')[0] == 'mgcourse':
                folder = LIBRARY.parent / module.replace('.', '/')
                # `from mgcourse.battery import oracle` imports a module; `from ..oracle
                # import close` a name of one
                found |= {f'{module}.{a.name}' if (folder / f'{a.name}.py').exists()
                          or (folder / a.name).is_dir() else module for a in node.names}
    return found


def test_every_module_lives_in_a_room_that_documents_itself():
    rooms = {p.parent.name for p in LIBRARY.glob('*/__init__.py')}
    assert rooms == set(MAY_IMPORT)
    assert {p.stem for p in LIBRARY.glob('*.py')} == TOP
    for room in rooms:
        doc = ast.get_docstring(ast.parse((LIBRARY / room / '__init__.py').read_text()))
        assert doc and 'import' in doc and len(doc.splitlines()) <= 3, room


def test_imports_flow_one_way():
    wrong = []
    for path in sorted(LIBRARY.rglob('*.py')):
        module = '.'.join(path.relative_to(LIBRARY.parent).with_suffix('').parts)
        room = room_of(module)
        if room is None and path.stem == 'cli':
            continue  # the command line may import every room
        for target in sorted(imports(path)):
            there = room_of(target)
            if target in ('mgcourse', 'mgcourse.paths') or there == room:
                continue
            if room is None or there is None or there not in MAY_IMPORT[room]:
                wrong.append(f'{module} imports {target}')
    assert wrong == []


def test_nothing_that_runs_when_grading_loads_the_hand_out_builders():
    script = (f"import importlib, json, sys\nfor m in {RUN_TIME!r}: importlib.import_module(m)\n"
              "print(json.dumps(sorted(m for m in sys.modules if m.startswith('mgcourse.'))))")
    loaded = json.loads(subprocess.run([sys.executable, '-c', script], capture_output=True,
                                       text=True, check=True).stdout)
    assert set(RUN_TIME) <= set(loaded)
    assert [m for m in loaded if m.startswith('mgcourse.handout')] == []


MAX_LINES = 430  # "about 400": a module a newcomer reads in one sitting


def test_no_module_is_longer_than_a_sitting():
    long = {str(p.relative_to(LIBRARY)): n for p in sorted(LIBRARY.rglob('*.py'))
            if (n := len(p.read_text(encoding='utf-8').splitlines())) > MAX_LINES}
    assert long == {}


def test_the_install_lists_every_package_of_the_library():
    # setuptools installs the packages pyproject.toml names; a room left out of the list would
    # be missing from a wheel, though an editable install finds it.
    config = tomllib.loads((paths.ROOT / 'pyproject.toml').read_text(encoding='utf-8'))
    listed = set(config['tool']['setuptools']['packages'])
    folders = {'.'.join(('mgcourse', *p.parent.relative_to(LIBRARY).parts))
               for p in LIBRARY.rglob('__init__.py')}
    assert folders - listed == set()
