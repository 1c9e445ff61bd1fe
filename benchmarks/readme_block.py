"""Write a generated table between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->`` in
benchmarks/README.md (the tables there are generated from result files, never edited)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parent / "README.md"


def update_readme(name: str, heading: str, md: str, section: str | None = None) -> None:
    """Replace block ``name`` with ``heading`` and the table ``md``; a README without the
    block gets ``section`` (a title and a paragraph) and the block appended."""
    text = README.read_text()
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    if start not in text:
        if section is None:
            raise SystemExit(f"{README} has no {start} block")
        text = text.rstrip("\n") + f"\n\n{section}\n\n{start}\n{end}\n"
    block = f"{start}\n{heading}\n\n{md}\n{end}"
    README.write_text(re.sub(re.escape(start) + ".*" + re.escape(end), lambda _: block, text, flags=re.S))
