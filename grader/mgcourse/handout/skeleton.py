"""Generate the student's skeleton from the solutions.

Every region of a solution file between the lines `### BEGIN SOLUTION` and
`### END SOLUTION` (nbgrader's markers) becomes a TODO. The region must open with a line

    # checkpoint ID: what to compute

followed by comment lines that explain it, up to a bare `#` line or the first line of
code. A notebook's own exercise, which no package checkpoint grades, opens instead with

    # exercise ID (hh:mm:ss): what to compute

naming the time in the lecture where it is explained. In the skeleton the region is replaced by that paragraph, under a TODO line, and a `raise NotImplementedError` whose message names
the checkpoint, its lecture time and what to compute. Everything outside the regions is
copied as it is.
"""

import os
import re
import subprocess
import tempfile
from pathlib import Path

from mgcourse import paths
from mgcourse.battery import catalogue

BEGIN = '### BEGIN SOLUTION'
END = '### END SOLUTION'
CHECKPOINT_LINE = re.compile(r'#\s*checkpoint\s+(\w+)\s*:\s*(.+)$')
EXERCISE_LINE = re.compile(r'#\s*exercise\s+(\w+)\s*\((\d\d:\d\d:\d\d)\)\s*:\s*(.+)$')


class SkeletonError(ValueError):
    pass


def render(text, filename='<text>'):
    """The skeleton version of one solution file's text."""
    checkpoints = catalogue.by_id()
    out = []
    lines = text.splitlines(keepends=True)
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.strip() == END:
            raise SkeletonError(f"{filename}:{i + 1}: {END} without {BEGIN}")
        if line.strip() != BEGIN:
            out.append(line)
            i += 1
            continue
        start = i
        indent = line[:len(line) - len(line.lstrip())]
        i += 1
        region = []
        while i < len(lines) and lines[i].strip() != END:
            if lines[i].strip() == BEGIN:
                raise SkeletonError(f"{filename}:{i + 1}: {BEGIN} inside another solution region")
            region.append(lines[i])
            i += 1
        if i == len(lines):
            raise SkeletonError(f"{filename}:{start + 1}: {BEGIN} is never closed by {END}")
        i += 1  # past END
        out.extend(_stub(region, indent, checkpoints, f"{filename}:{start + 2}"))
    return ''.join(out)


def _stub(region, indent, checkpoints, where):
    first = region[0].strip() if region else ''
    m = CHECKPOINT_LINE.match(first)
    e = EXERCISE_LINE.match(first)
    if m:
        kind, cp_id, task = 'checkpoint', m.group(1), m.group(2).strip().rstrip('.')
        if cp_id not in checkpoints:
            raise SkeletonError(f"{where}: checkpoint {cp_id!r} is not in {paths.CATALOGUE.name}")
        time = checkpoints[cp_id].time
    elif e:
        kind, cp_id, time, task = 'exercise', e.group(1), e.group(2), e.group(3).strip().rstrip('.')
    else:
        raise SkeletonError(f"{where}: a solution region must open with '# checkpoint ID: what to "
                            f"compute' or '# exercise ID (hh:mm:ss): ...'; found {first!r}")
    explanation = []
    for line in region[1:]:
        if not line.strip().startswith('#') or line.strip() == '#':
            break
        explanation.append(line)
    message = f"{kind} {cp_id} ({time} in the lecture): {task}"
    return ([f"{indent}# TODO ({kind} {cp_id}): {task}.\n"] + explanation
            + [f"{indent}raise NotImplementedError(\n{indent}    {message!r})\n"])


def solution_lines(texts):
    """The code lines inside the solution regions of these texts that stand nowhere outside
    them (stripped; comments, which the stubs keep, are not counted): what must never reach
    a student."""
    inside, outside = set(), set()
    for text in texts:
        in_region = False
        for line in text.splitlines():
            line = line.strip()
            if line == BEGIN:
                in_region = True
            elif line == END:
                in_region = False
            elif line and not line.startswith('#'):
                (inside if in_region else outside).add(line)
    return inside - outside


def generate(src=paths.SOLUTIONS):
    """{file name: skeleton text} for every .py file of the solutions folder."""
    return {p.name: render(p.read_text(encoding='utf-8'), p.name)
            for p in sorted(Path(src).glob('*.py'))}


def write(dst=paths.SKELETON, src=paths.SOLUTIONS, force=False):
    """Write the skeleton; remove .py files that the solutions no longer have. Returns the names.

    Nothing is touched unless all of it can be done: without solutions (the student
    release has none) this raises SkeletonError; so it does when a file of dst holds work
    of its own (see `edited`), unless force. Each file is written whole or not at all."""
    dst = Path(dst)
    files = _sources(src)
    if not force:
        kept = edited(dst, src, files)
        if kept:
            raise SkeletonError(
                f"{dst} has changes of its own in {', '.join(kept)}: nothing was written. "
                "Regenerating would replace them with the empty skeleton; to do it all "
                "the same, run `mgcourse skeleton --force` (copy your work elsewhere first)")
    dst.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        write_atomic(dst / name, text)
    for stale in dst.glob('*.py'):
        if stale.name not in files:
            stale.unlink()
    return sorted(files)


def _sources(src):
    """generate(src), or SkeletonError when there are no solutions to generate from."""
    src = Path(src)
    if not src.is_dir() or not any(src.glob('*.py')):
        raise SkeletonError(
            f"there are no solutions in {src} to generate the skeleton from (the student "
            "release has none): nothing was written")
    return generate(src)


def write_atomic(path, text):
    """Write text to path whole or not at all: a temporary file beside it, then os.replace."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f'.{path.name}.', suffix='.tmp')
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def edited(dst=paths.SKELETON, src=paths.SOLUTIONS, files=None):
    """The .py files of dst that write() would replace or remove and that are not a generated
    skeleton: neither what the generator makes from the solutions now nor what it made from
    the solutions of the last commit (a skeleton left behind by an edit of the solutions).
    Those hold someone's work."""
    files = generate(src) if files is None else files
    dst = Path(dst)
    found = []
    for path in sorted(dst.glob('*.py')):
        text = path.read_text(encoding='utf-8', errors='replace')
        if files.get(path.name) == text:
            continue
        committed = _committed_solution(Path(src), path.name)
        try:
            if committed is not None and render(committed, path.name) == text:
                continue
        except SkeletonError:
            pass
        found.append(path.name)
    return found


def _committed_solution(src, name):
    """The text of solutions/NAME at git's HEAD, or None (no git, no such file)."""
    try:
        done = subprocess.run(['git', 'show', f'HEAD:./{name}'], cwd=src, capture_output=True,
                              timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.decode('utf-8', 'replace') if done.returncode == 0 else None


def drift(dst=paths.SKELETON, src=paths.SOLUTIONS):
    """The skeleton files that differ from what generate() produces now (empty: up to date)."""
    files = generate(src)
    dst = Path(dst)
    changed = [name for name, text in files.items()
               if not (dst / name).is_file() or (dst / name).read_text(encoding='utf-8') != text]
    extra = [p.name for p in dst.glob('*.py') if p.name not in files]
    return sorted(changed + extra)
