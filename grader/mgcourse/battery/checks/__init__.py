"""The graded checks. Importing this package registers every check in REGISTRY."""

from . import engine_checks, nn_checks, random_checks  # noqa: F401 - imported to register their checks
from .base import REGISTRY, Check, Failed, Result, run_check

__all__ = ['REGISTRY', 'Check', 'Failed', 'Result', 'run_check']
