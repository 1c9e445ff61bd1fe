"""Texts for ``llm-mia demo``: texts whose membership is known, from files every install has.

- Suspect: source code of old, stable modules of Python's standard library. CPython is
  on GitHub in countless copies and forks, and the embedded models were trained on public
  code, so these files are almost certainly members.
- Reference: llm-mia's own source code, written in 2026, after the embedded models were
  trained (SmolLM2: 2024, Gemma 3: 2025), so certainly non-members. A fixed snapshot ships
  with the package (``demo_data/llm_mia_source.txt``, the first ``DEMO_WORDS`` words of the
  source as of 2026-11-28), so the demo's figures do not move as the code changes.

Both are Python, but not of the same kind (different authors, decades, topics): the model-free
line of the report shows that a classifier tells them apart without the model, which is the
demo's lesson about choosing reference texts.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from ..errors import InputError

STDLIB_MODULES = ("textwrap", "shlex", "fnmatch", "glob", "colorsys", "bisect", "string", "copy", "sched", "getopt")
DEMO_WORDS = 3200
"""Words per side: 50 excerpts of 64 words, about a minute of scoring per side on 2 CPU cores."""
DEMO_EXCERPT_WORDS = 64
REFERENCE_SNAPSHOT = Path(__file__).resolve().parent / "demo_data" / "llm_mia_source.txt"


def _concatenate(files: list[Path], words: int) -> str:
    """The files one after another, cut at the end of the line on which the ``words``-th word falls."""
    return _first_words("\n".join(f.read_text(encoding="utf-8") for f in files), words)


def write_demo_texts(folder: str | Path, words: int = DEMO_WORDS) -> tuple[Path, Path]:
    """Write ``suspect/python_stdlib.txt`` and ``reference/llm_mia_source.txt`` under ``folder``."""
    stdlib = []
    for name in STDLIB_MODULES:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.origin or not spec.origin.endswith(".py") or not Path(spec.origin).is_file():
            continue
        stdlib.append(Path(spec.origin))
    ours = REFERENCE_SNAPSHOT.read_text(encoding="utf-8") if REFERENCE_SNAPSHOT.is_file() else ""
    if not stdlib or not ours:
        raise InputError("cannot find the Python source files the demo is built from")
    root = Path(folder)
    suspect, reference = root / "suspect" / "python_stdlib.txt", root / "reference" / "llm_mia_source.txt"
    for path, text in ((suspect, _concatenate(stdlib, words)), (reference, _first_words(ours, words))):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return suspect, reference


def _first_words(text: str, words: int) -> str:
    """``text`` cut at the end of the line on which its ``words``-th word falls."""
    kept: list[str] = []
    count = 0
    for line in text.splitlines(keepends=True):
        if count >= words:
            break
        kept.append(line)
        count += len(line.split())
    return "".join(kept)
