"""The copy of the course library that the student's side imports (the sandboxed workers, the
nbgrader kernels): without the private modules, with the worker's editions of the oracle and
the expression generator, and with their compiled files.
"""

import ast
import functools
import importlib.util
import py_compile
import shutil
from pathlib import Path

from mgcourse import paths

from . import flags


# What the student's process never sees of the course library: the hidden checks' code, the
# mistake catalogue (whose find/replace pairs quote the solutions), and the recorded visible
# search with PyTorch's gradients for each of its programs (the answers to them).
PRIVATE = ('hidden.py', 'grading.py', 'mistakes.toml', 'nbgrader_plugins.py',
           'recorded_searches.json', 'record_searches.py')


# Nothing in the sandbox computes an expected value: of the oracle and of the expression
# generator, the student's side gets only what builds what a probe is asked to build (and
# `close`, a comparison). Classes in BARE keep their fields and lose their methods: the
# worker's Expression holds an expression's inputs and build function, and cannot compute
# its gradients.
EDITIONS_HOME = 'battery'  # the folder of the modules below
WORKER_EDITIONS = {
    'oracle.py': {'Expression', 'close', 'flatten'},
    'randexpr.py': {'NUMBERS', 'EXPONENTS', 'MAX_ABS', 'MIN_DENOM', 'MIN_LOG', 'RELU_MARGIN',
                    'MAX_EXP', 'Op', '_away_from_zero', '_pow_ok', 'OPS', 'OP_NAMES',
                    'INPUT_LABELS', 'STEP_LETTERS', 'apply', 'output_label', 'program_size',
                    'step_code', 'describe', '_new_label', 'to_expression', 'to_code'},
}
BARE = {'Expression'}


def _defined(node):
    """The names a top-level statement defines."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return None


@functools.lru_cache(maxsize=16)
def worker_edition(name, source):
    """The module `name` of the library as the student's side gets it (WORKER_EDITIONS).
    Made once per source; its parse holds flags.PARSE_LOCK, since threads grade
    packages at once in mgcourse autograde."""
    keep = WORKER_EDITIONS[name]
    tree = flags.parse(source)
    body = [ast.Expr(ast.Constant(
        f"The worker's edition of {name}: only what builds what a probe is asked to build "
        "(see student_library.WORKER_EDITIONS); the grader keeps the rest."))]
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level and f"{node.module}.py" in WORKER_EDITIONS:
            node.names = [a for a in node.names if a.name in WORKER_EDITIONS[f"{node.module}.py"]]
            if node.names:
                body.append(node)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            body.append(node)
        elif (_defined(node) or {None}) <= keep:
            if isinstance(node, ast.ClassDef) and node.name in BARE:
                node.body = [n for n in node.body
                             if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
            body.append(node)
    return ast.unparse(ast.Module(body=body, type_ignores=[])) + '\n'


def runtime_library(dst):
    """A copy of the public course library for the student's side, at dst/mgcourse: without
    the private modules, and with the worker's editions of the oracle and the generator."""
    target = Path(dst) / 'mgcourse'
    shutil.copytree(paths.LIBRARY, target,
                    ignore=shutil.ignore_patterns('__pycache__', '*.pyc', *PRIVATE))
    for name in WORKER_EDITIONS:
        text = (paths.LIBRARY / EDITIONS_HOME / name).read_text(encoding='utf-8')
        (target / EDITIONS_HOME / name).write_text(worker_edition(name, text), encoding='utf-8')
    _compiled(paths.LIBRARY, target)
    return Path(dst)


def _compiled(library, target):
    """Give each module of the copy at target its compiled file: the library's own where the
    module was copied as it is (a copy keeps its source's time, so the file stays valid), a new
    one for each worker's edition. The student's processes never write bytecode
    (PYTHONDONTWRITEBYTECODE), so without them every worker and kernel would compile each
    module it imports, every time (about 25 ms a process). A private module has no copy, so
    its compiled file is never copied either."""
    for copied in target.rglob('*.py'):
        compiled = Path(importlib.util.cache_from_source(str(copied)))
        if copied.parent == target / EDITIONS_HOME and copied.name in WORKER_EDITIONS:
            py_compile.compile(str(copied), cfile=str(compiled), doraise=True)
            continue
        own = Path(importlib.util.cache_from_source(str(library / copied.relative_to(target))))
        if own.is_file():
            compiled.parent.mkdir(exist_ok=True)
            shutil.copy2(own, compiled)
