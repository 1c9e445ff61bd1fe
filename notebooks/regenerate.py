"""Run every notebook top to bottom and save its outputs (the one command that regenerates them):

    python notebooks/regenerate.py            # all notebooks
    python notebooks/regenerate.py quickstart.ipynb

Each notebook runs in a fresh temporary folder (what it writes stays out of the repository, and
its outputs show no workspace paths), with ``$LLM_MIA_DATA`` pointing at the benchmark data
(default ``../shared/data``). ``tests/test_notebooks.py`` runs them again and fails when the
saved outputs differ from a fresh run (:func:`comparable`), hold a workspace path, or show
anything on stderr (warnings, progress bars).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
NOTEBOOKS = sorted(HERE.glob("*.ipynb"))


def data_dir() -> str:
    return os.environ.get("LLM_MIA_DATA", str(HERE.parent.parent / "shared" / "data"))


def execute(path: Path) -> Any:
    """The notebook at ``path``, run in a temporary folder; returns the executed notebook."""
    import nbclient
    import nbformat

    nb = nbformat.read(path, as_version=4)
    before = os.environ.get("LLM_MIA_DATA")
    os.environ["LLM_MIA_DATA"] = data_dir()  # the kernel inherits the environment
    try:
        with tempfile.TemporaryDirectory(prefix="llm-mia-notebook-") as work:
            nbclient.NotebookClient(nb, timeout=1200, kernel_name="python3", resources={"metadata": {"path": work}}).execute()
    finally:
        if before is None:
            os.environ.pop("LLM_MIA_DATA", None)
        else:
            os.environ["LLM_MIA_DATA"] = before
    for cell in nb.cells:
        cell.get("metadata", {}).pop("execution", None)  # timestamps
    return nb


def comparable(nb: Any) -> list[list[tuple[str, str]]]:
    """Per code cell, what a reader sees that a rerun must reproduce: stream text, Markdown,
    and the plain-text form of results and displays (figures and HTML pages compare by kind
    only: their bytes hold render details and run dates)."""
    out = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        seen = []
        for o in cell.get("outputs", []):
            kind = o.get("output_type")
            if kind == "stream":
                seen.append((f"stream:{o.get('name')}", "".join(o.get("text", ""))))
            elif kind in ("execute_result", "display_data"):
                data = o.get("data", {})
                rich = ",".join(sorted(k for k in data if k != "text/plain"))
                shown = data.get("text/markdown") or ("" if rich.startswith("image/") else data.get("text/plain", ""))
                seen.append((f"{kind}[{rich}]", "".join(shown)))
            else:
                seen.append((kind, "".join(o.get("traceback", [])) if kind == "error" else ""))
        out.append(seen)
    return out


def problems(nb: Any) -> list[str]:
    """What must never be in saved outputs: errors, stderr, workspace paths."""
    found = []
    home = str(Path.home())
    for i, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        for o in cell.get("outputs", []):
            text = str(o)
            if o.get("output_type") == "error":
                found.append(f"cell {i}: an error: {o.get('ename')}: {o.get('evalue')}")
            if o.get("output_type") == "stream" and o.get("name") == "stderr":
                found.append(f"cell {i}: stderr: {''.join(o.get('text', ''))[:200]!r}")
            for path in {str(HERE.parent), home, tempfile.gettempdir() + "/"}:
                if path in text:
                    found.append(f"cell {i}: a workspace path ({path}) in an output")
    return found


def main(names: list[str]) -> int:
    import nbformat

    paths = [HERE / n for n in names] if names else NOTEBOOKS
    bad = 0
    for path in paths:
        nb = execute(path)
        issues = problems(nb)
        for issue in issues:
            print(f"{path.name}: {issue}", file=sys.stderr)
        bad += bool(issues)
        nbformat.write(nb, path)
        print(f"{path.name}: outputs saved", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
