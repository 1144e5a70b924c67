"""Record what the visible random search tries on code that passes, with PyTorch's gradients
for each of those programs, in recorded_searches.json (see random_checks.RECORDED):

    python -m mgcourse.battery.checks.record_searches

Run it after changing the search's settings or the program strategy (randexpr.py), or after
upgrading hypothesis or torch (both pinned in pyproject.toml); tests/test_random_checks.py
fails while the file is out of date. A maintainer's tool: nothing imports it when grading.
"""

import json
import os
import sys

from . import random_checks
from .. import randexpr


def record():
    """The file's content, as recorded here and now."""
    programs = random_checks.record(random_checks.SEARCH, None)
    gradients = {text: randexpr.torch_gradients(json.loads(text))
                 for text in (json.dumps(random_checks.FIRST), *programs)}
    return {'about': "what the visible random search tries on code that passes, and PyTorch's "
                     "gradients for it; written by python -m mgcourse.battery.checks.record_searches",
            'hypothesis': random_checks.installed_version('hypothesis'),
            'torch': random_checks.installed_version('torch'),
            'programs': {random_checks.search_key(random_checks.SEARCH, None): list(programs)},
            'torch_gradients': gradients}


def write(path=random_checks.RECORDED):
    """Write record() to path atomically."""
    tmp = path.with_name(f'.{path.name}.tmp')
    tmp.write_text(json.dumps(record(), indent=1) + '\n', encoding='utf-8')
    os.replace(tmp, path)
    return path


if __name__ == '__main__':
    print(f"wrote {write()}")
    sys.exit(0)
