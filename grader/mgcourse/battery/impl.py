"""Load an implementation of the course package (the skeleton, the solutions, a student's copy).

An implementation is a folder with `engine.py`, `nn.py`, `train.py` (and `viz.py`,
`__init__.py`). Each folder is imported under a name of its own, so several of them can
live in one process (the self-tests load the solutions and the skeleton side by side).
Inside the folder, `nn.py` imports `from .engine import Value`, which works under any name.
"""

import importlib
import importlib.util
import itertools
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

MODULES = ('engine', 'nn', 'train')
_counter = itertools.count()


class ImplError(Exception):
    """The implementation could not be imported: the first thing a student must fix."""

    def __init__(self, message, filename=None, lineno=None):
        super().__init__(message)
        self.message = message
        self.filename = filename
        self.lineno = lineno


@dataclass
class Impl:
    """The student's modules, as the checks use them: mg.Value, mg.nn.MLP, mg.train.train."""
    path: Path
    package: ModuleType
    engine: ModuleType
    nn: ModuleType
    train: ModuleType

    @property
    def Value(self):
        return self.engine.Value


def load(path):
    """Import the implementation in folder `path`; raise ImplError naming the file and line."""
    path = Path(path).resolve()
    missing = [f'{m}.py' for m in MODULES if not (path / f'{m}.py').is_file()]
    if missing:
        raise ImplError(f"{path} has no {', '.join(missing)}")
    alias = f'_mgcourse_impl_{next(_counter)}'
    # A bare package object: the folder's own __init__.py is not run, so a broken draw_dot
    # import or a missing graphviz cannot stop the graded modules from loading.
    package = ModuleType(alias)
    package.__path__ = [str(path)]
    package.__file__ = str(path / '__init__.py')
    sys.modules[alias] = package
    modules = {}
    # While the folder loads, its modules also answer to their bare names, so `from engine
    # import Value` in nn.py (as in a folder run as a script) gets the same Value class as
    # `from .engine import Value`, in every front-end alike (nothing else is put on sys.path).
    bare = {name: sys.modules.get(name) for name in MODULES}
    try:
        for name in MODULES:
            modules[name] = importlib.import_module(f'{alias}.{name}')
            sys.modules[name] = modules[name]
    except SyntaxError as e:
        raise ImplError(f"{Path(e.filename or '?').name}, line {e.lineno}: SyntaxError: {e.msg}",
                        e.filename, e.lineno) from e
    except BaseException as e:  # noqa: BLE001 - anything the student's import does is reported
        if isinstance(e, KeyboardInterrupt):
            raise
        filename, lineno = student_frame(e, path)
        where = f"{Path(filename).name}, line {lineno}: " if filename else ''
        raise ImplError(f"{where}importing the package raised {type(e).__name__}: {e}",
                        filename, lineno) from e
    finally:
        for name, module in bare.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
    return Impl(path, package, modules['engine'], modules['nn'], modules['train'])


def student_frame(exc, folder):
    """(filename, line) of the innermost traceback frame inside the student's folder."""
    folder = Path(folder).resolve()
    found = (None, None)
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if Path(filename).resolve().parent == folder:
            found = (filename, tb.tb_lineno)
        tb = tb.tb_next
    return found

