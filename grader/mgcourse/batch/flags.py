"""Flags: what the grader reads in the files it grades (the imports of note, such as torch),
marked in the gradebook; the package is graded all the same.
"""

import ast
import re
import threading
from pathlib import Path


# Modules of note: a package that asks one of them for its gradients has not computed them
# itself. Marked in the gradebook (graded all the same).
NOTED_MODULES = ('torch', 'numpy', 'jax', 'tensorflow')


def _noted(name):
    top = name.split('.', 1)[0] if isinstance(name, str) else None
    return top if top in NOTED_MODULES else None


# CPython 3.11's parser keeps its recursion depth in state that threads share: two ast.parse
# calls at once can fail with "SystemError: AST constructor recursion depth mismatch" (seen
# when mgcourse autograde grades two packages at once, in threads, on a busy machine). Every
# ast.parse of the grader's holds this lock.
PARSE_LOCK = threading.Lock()


def parse(source):
    """ast.parse, one call at a time across threads (see PARSE_LOCK)."""
    with PARSE_LOCK:
        return ast.parse(source)


def noted_imports(package):
    """The modules of note that the package's .py files import, found by the grader itself:
    import statements, and strings naming such a module (`__import__('torch')`,
    `importlib.import_module('numpy')`). Never what the student's process says of itself.
    A file that does not parse is searched for `import torch` and the like as text."""
    found = set()
    for path in sorted(Path(package).glob('*.py')):
        if path.is_symlink() or not path.is_file():
            continue
        data = path.read_bytes()
        try:
            tree = parse(data)
        except (SyntaxError, ValueError):
            found.update(m.decode() for m in re.findall(
                rb'(?:^|[\s;])(?:import|from)\s+(' + b'|'.join(m.encode() for m in NOTED_MODULES)
                + rb')\b', data))
            continue
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module]
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                names = [node.value]
            found.update(filter(None, map(_noted, names)))
    return sorted(found)
