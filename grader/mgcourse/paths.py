"""Where the course's folders are, relative to this checkout."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS = ROOT / 'solutions'
SKELETON = ROOT / 'micrograd_skeleton'
LIBRARY = Path(__file__).resolve().parent  # the mgcourse package
CATALOGUE = LIBRARY / 'battery' / 'checkpoints.toml'
