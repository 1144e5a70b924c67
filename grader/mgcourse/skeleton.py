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

import re
from pathlib import Path

from . import catalogue, paths

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


def write(dst=paths.SKELETON, src=paths.SOLUTIONS):
    """Write the skeleton; remove .py files that the solutions no longer have. Returns the names."""
    dst = Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    files = generate(src)
    for name, text in files.items():
        (dst / name).write_text(text, encoding='utf-8')
    for stale in dst.glob('*.py'):
        if stale.name not in files:
            stale.unlink()
    return sorted(files)


def drift(dst=paths.SKELETON, src=paths.SOLUTIONS):
    """The skeleton files that differ from what generate() produces now (empty: up to date)."""
    files = generate(src)
    dst = Path(dst)
    changed = [name for name, text in files.items()
               if not (dst / name).is_file() or (dst / name).read_text(encoding='utf-8') != text]
    extra = [p.name for p in dst.glob('*.py') if p.name not in files]
    return sorted(changed + extra)
