"""The student release: `mgcourse release OUT` writes the hand-out a course gives its students.

    OUT/README.md                 how to start, the checkpoints, the commands
    OUT/pyproject.toml            the package and the course library, installable with pip
    OUT/micrograd_skeleton/       the package to fill in (generated from the solutions)
    OUT/exercises/*.ipynb         the lecture notebooks, as nbgrader released them
    OUT/grader/course.sh          set up and show the checkpoint table
    OUT/grader/mgcourse/          the public checks and the checkpoint runner

Left out: the solutions, the hidden checks, the mistake catalogue's find/replace pairs (which
quote the solutions; the diagnoses' words stay), the nbgrader course, the batch grader and its
sandbox, the instructor's commands, the course's own tests and benchmarks. The release's
battery fails every graded check until the student fills the skeleton in.
"""

import shutil
from pathlib import Path

from mgcourse import paths
from mgcourse.battery import catalogue, diagnosis
from mgcourse.battery.catalogue import tomllib  # tomli on Python 3.10

from . import skeleton

# The course library's modules that stay with the instructor.
INSTRUCTOR_ONLY = ('hidden.py', 'grading.py', 'gradescope.py', 'release.py', 'reports',
                   'sandbox.py', 'limits.py', 'own_users.py', 'processes.py', 'sandboxed.py',
                   'submissions.py', 'handins.py', 'handin_files.py', 'unpacking.py', 'flags.py',
                   'student_library.py',
                   'nbgrade.py', 'nbautograde.py',
                   'nbgrader_plugins.py', 'sampleclass.py', 'prairielearn.py')

README = """# micrograd course: learn backpropagation by building it

You build, step by step, the autograd engine and the small neural-network library of Andrej
Karpathy's lecture *"The spelled-out intro to neural networks and backpropagation: building
micrograd"*. A battery of checks tells you, checkpoint by checkpoint, what is right, what is
wrong, and where in the video it is explained.

## Start

Requirements: Python 3.10 to 3.13 and bash (Linux, macOS, or WSL on Windows).

```bash
bash grader/course.sh        # set up .venv, then show the checkpoint table and your next task
```

Then `source .venv/bin/activate`, and:

```bash
mgcourse check               # the table, your points, the next task with its hint
mgcourse check CHECKPOINT    # one checkpoint alone
mgcourse hint                # the next hint for the current checkpoint
mgcourse watch               # check again every time you save a file of your package
pytest                       # the same checks as plain pytest, ending with your score
mgcourse lab                 # the notebooks that walk through the lecture, in JupyterLab
```

## What you write

Your code goes in `micrograd_skeleton/`: `engine.py` (the `Value` class), `nn.py` (`Neuron`,
`Layer`, `MLP`) and `train.py` (the loss and the training loop). Every place you write is
marked `# TODO (checkpoint ...)` with the math it needs, and raises `NotImplementedError` until
you replace that line. Do the checkpoints in this order:

| checkpoint | what you build | points | in the video |
|---|---|---|---|
{table}

Your code runs in a separate process, so an endless loop or a crash costs the check it happens
in, with a message saying so. When the numbers your code produces point to a known mistake, the
check says so ("Likely mistake: ..."), from the values alone. Your instructor may also grade
your package with checks of their own, on inputs you have not seen: make it right for any
input, not only for the ones here.
"""


def _table():
    return '\n'.join(f"| `{cp.id}` | {cp.title} | {cp.points} | {cp.time} |"
                     for cp in catalogue.load())


def _toml_list(items):
    return '[' + ', '.join(f'"{i}"' for i in items) + ']'


def pyproject():
    """The release's pyproject.toml: the course's, without the instructor's extras."""
    with open(paths.ROOT / 'pyproject.toml', 'rb') as f:
        project = tomllib.load(f)['project']
    extras = project.get('optional-dependencies', {})
    return f"""[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "micrograd-course-student"
version = "{project['version']}"
description = "{project['description']}"
readme = "README.md"
requires-python = "{project['requires-python']}"
dependencies = {_toml_list(project['dependencies'])}

[project.optional-dependencies]
notebooks = {_toml_list(extras.get('notebooks', []))}
torch = {_toml_list(extras.get('torch', []))}

[project.scripts]
mgcourse = "mgcourse.cli:main"

[project.entry-points.pytest11]
mgcourse = "mgcourse.student.pytest_plugin"

[tool.setuptools]
package-dir = {{ "mgcourse" = "grader/mgcourse", "micrograd_skeleton" = "micrograd_skeleton" }}
packages = ["mgcourse", "mgcourse.battery", "mgcourse.battery.checks", "mgcourse.isolation",
            "mgcourse.student", "mgcourse.batch", "mgcourse.nbgrading", "mgcourse.handout",
            "micrograd_skeleton"]

[tool.setuptools.package-data]
"mgcourse.battery" = ["*.toml"]

[tool.pytest.ini_options]
testpaths = ["grader/mgcourse/battery/checkpoints.toml"]
"""


def build(out):
    """Write the release into the folder out (which must not exist yet, or be empty)."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty; the release goes into a new folder")
    out.mkdir(parents=True, exist_ok=True)
    (out / 'README.md').write_text(README.format(table=_table()), encoding='utf-8')
    (out / 'pyproject.toml').write_text(pyproject(), encoding='utf-8')
    (out / '.gitignore').write_text('.venv/\n__pycache__/\n*.egg-info/\n.hypothesis/\n'
                                    '.ipynb_checkpoints/\n', encoding='utf-8')
    skeleton.write(dst=out / 'micrograd_skeleton')
    (out / 'exercises').mkdir()
    for nb in sorted((paths.ROOT / 'exercises').glob('*.ipynb')):
        shutil.copyfile(nb, out / 'exercises' / nb.name)
    library = out / 'grader' / 'mgcourse'
    shutil.copytree(paths.LIBRARY, library,
                    ignore=shutil.ignore_patterns('__pycache__', '*.pyc', *INSTRUCTOR_ONLY))
    (library / 'battery' / 'mistakes.toml').write_text(diagnosis.public_text(), encoding='utf-8')
    shutil.copy2(paths.ROOT / 'grader' / 'course.sh', out / 'grader' / 'course.sh')
    return out
