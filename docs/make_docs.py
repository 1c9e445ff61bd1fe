"""Write the generated parts of the guides in docs/ (never edit them by hand).

    python docs/make_docs.py

Today one block: the detector table in docs/detectors.md, between ``<!-- detectors:start -->``
and ``<!-- detectors:end -->``, made from the detector registry (each detector's name,
``formula``, parameters, ``citation``, ``cost``, what it needs). tests/test_docs.py fails when
the block differs from what this script writes now.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

sys.path.insert(0, str(HERE.parent / "benchmarks"))

from readme_block import markers, replace_block  # noqa: E402

from llm_mia.backends import CAPABILITY_WORDS  # noqa: E402
from llm_mia.detectors import DETECTORS, REFERENCE, default_detector_names  # noqa: E402
from llm_mia.detectors import parameter_fields, parameter_problem  # noqa: E402
from llm_mia.evaluation import markdown_table  # noqa: E402

DETECTORS_MD = HERE / "detectors.md"
START, END = markers("detectors")


def _capability_order(capability: str) -> tuple[int, str]:
    """Capabilities in the order of :data:`~llm_mia.backends.CAPABILITY_WORDS`, any other after them by name."""
    known = list(CAPABILITY_WORDS)
    return (known.index(capability) if capability in known else len(known), capability)


def _cell(text: object) -> str:
    """``text`` on one line (a Markdown table cell; :func:`markdown_table` escapes its pipes)."""
    return " ".join(str(text).split())


def _code(text: object) -> str:
    return f"`{_cell(text)}`"


def _spell(value: object) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def detector_table() -> str:
    """The Markdown table of every registered detector, in registry order."""
    defaults = set(default_detector_names())
    header = ["id", "score (higher = more likely a member)", "parameters (defaults)", "in `default`", "uses labelled texts", "needs", "cost", "paper"]
    rows = []
    for name, cls in DETECTORS.items():
        params = ", ".join(_code(f"{f.name}={_spell(f.default)}") for f in parameter_fields(cls) if f.default is not dataclasses.MISSING)
        needs = [CAPABILITY_WORDS.get(c, c) for c in sorted(cls.requires, key=_capability_order)]
        if REFERENCE in cls.needs:
            needs.append("a reference model (`--reference-model`)")
        problem = parameter_problem(name)
        if problem:
            needs.append(problem)
        rows.append(
            [
                _code(name),
                _code(cls.formula),
                params or "none",
                "yes" if name in defaults else "no",
                "yes" if cls.uses_labels else "no",
                _cell("; ".join(needs)),
                _cell(cls.cost),
                _cell(cls.citation),
            ]
        )
    return markdown_table(header, rows) + "\n"


def with_detector_block(text: str) -> str:
    """``text`` (docs/detectors.md) with its detector block replaced by :func:`detector_table`."""
    return replace_block(text, "detectors", detector_table())


def detector_block(text: str) -> str:
    """What lies between the detector block's markers in ``text`` (for the test)."""
    return text.split(START, 1)[1].split(END, 1)[0].lstrip("\n")


def write_detector_block(path: Path = DETECTORS_MD) -> bool:
    """Rewrite the detector block of ``path``; True when it changed."""
    old = path.read_text()
    new = with_detector_block(old)
    if new != old:
        path.write_text(new)
    return new != old


def main() -> int:
    changed = write_detector_block()
    print(f"{DETECTORS_MD.relative_to(HERE.parent)}: {'rewritten' if changed else 'up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
