"""The controlled split on a tiny model: i.i.d. assignment, training, ground-truth evaluation."""

from __future__ import annotations

from dataclasses import replace

import pytest
from conftest import random_sentences

from llm_mia.bench import run_bench
from llm_mia.bench import ControlledConfig, assign
from llm_mia.errors import InputError


@pytest.fixture()
def pool_dir(tmp_path):
    root = tmp_path / "data" / "gutenberg_blind"
    for sub, seed in (("member", 1), ("nonmember", 2)):
        (root / sub).mkdir(parents=True)
        for i, t in enumerate(random_sentences(30, seed=seed, length=(10, 16))):
            (root / sub / f"{i}.txt").write_text(t)
    return tmp_path / "data"


def test_assignment_is_seeded_and_disjoint():
    pool = [f"text {i}" for i in range(50)]
    cfg = ControlledConfig(n_members_per_exposure=5, n_nonmembers=10, exposures=(1, 3))
    members, non = assign(pool, cfg)
    assert assign(pool, cfg) == (members, non)
    assert assign(pool, replace(cfg, seed=1)) != (members, non)
    everything = members[1] + members[3] + non
    assert len(set(everything)) == 20 and set(everything) <= set(pool)
    with pytest.raises(InputError, match="needs 20 excerpts"):
        assign(pool[:19], cfg)


def test_training_on_members_makes_them_detectable(tiny_model_dir, pool_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("LLM_MIA_CACHE", str(tmp_path / "cache"))
    cfg = ControlledConfig(
        base_model=str(tiny_model_dir), n_members_per_exposure=10, n_nonmembers=20, exposures=(1, 20), learning_rate=3e-3, batch_size=2, max_tokens=64
    )
    res = run_bench("controlled", data_dir=pool_dir, controlled=cfg, n_bootstrap=100, cache_dir=tmp_path / "stats")
    assert [s.split for s in res.splits] == ["controlled-x1", "controlled-x20"]
    assert res.labels_valid is True and "WARNING" not in res.table()
    ref = {s.split: next(r for r in s.evaluation.rows if r.detector == "ref").auroc for s in res.splits}
    assert ref["controlled-x20"] >= 0.9 and ref["controlled-x20"] >= ref["controlled-x1"]
    # a second run reuses the trained model (no retraining) and reproduces the numbers
    again = run_bench("controlled", data_dir=pool_dir, controlled=cfg, n_bootstrap=100, cache_dir=tmp_path / "stats")
    assert again.provenance["model_identity"] == res.provenance["model_identity"]
    assert [r.auroc for r in again.splits[1].evaluation.rows] == [r.auroc for r in res.splits[1].evaluation.rows]
