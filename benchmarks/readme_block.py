"""Write a generated table between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->`` in
benchmarks/README.md (the tables there are generated from result files, never edited), or in
any Markdown text (:func:`replace_block`; docs/make_docs.py writes the guides' blocks so)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parent / "README.md"


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def replace_block(text: str, name: str, body: str) -> str:
    """``text`` with what lies between block ``name``'s markers replaced by ``body`` (which ends
    with a newline); SystemExit when ``text`` has no such block."""
    start, end = markers(name)
    if start not in text or end not in text:
        raise SystemExit(f"no {start} ... {end} block")
    return re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: f"{start}\n{body}{end}", text, count=1, flags=re.S)


def update_readme(name: str, heading: str, md: str, section: str | None = None) -> None:
    """Replace block ``name`` with ``heading`` and the table ``md``; a README without the
    block gets ``section`` (a title and a paragraph) and the block appended."""
    text = README.read_text()
    start, end = markers(name)
    if start not in text:
        if section is None:
            raise SystemExit(f"{README} has no {start} block")
        text = text.rstrip("\n") + f"\n\n{section}\n\n{start}\n{end}\n"
    README.write_text(replace_block(text, name, f"{heading}\n\n{md}\n"))
