"""The statistics cache: no forward pass for cached texts, and resuming after an interruption."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import random_sentences

from llm_mia import Scorer, ScorerConfig, StatsCache, score_documents

TEXTS = random_sentences(10, seed=21)


def test_second_run_does_no_forward_pass(tiny_lm, tmp_path, monkeypatch):
    first = Scorer(tiny_lm, ScorerConfig(batch_size=4), cache=StatsCache(tmp_path))
    a = first.score_texts(TEXTS)
    assert first.forward_passes == 3
    second = Scorer(tiny_lm, ScorerConfig(batch_size=4), cache=StatsCache(tmp_path))

    def boom(*args, **kwargs):
        raise AssertionError("the model was called")

    monkeypatch.setattr(tiny_lm.model, "forward", boom)
    monkeypatch.setattr(tiny_lm.model.base_model, "forward", boom)
    b = second.score_texts(TEXTS)
    assert second.forward_passes == 0
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.logprobs, y.logprobs)
        np.testing.assert_array_equal(x.dist_var, y.dist_var)
        np.testing.assert_array_equal(x.token_ids, y.token_ids)


def test_identical_texts_are_scored_once(tiny_lm):
    scorer = Scorer(tiny_lm, ScorerConfig(batch_size=1))
    out = scorer.score_texts([TEXTS[0], TEXTS[1], TEXTS[0], TEXTS[0]])
    assert scorer.forward_passes == 2
    np.testing.assert_array_equal(out[0].logprobs, out[3].logprobs)


def test_other_detectors_reuse_the_cache(tiny_lm, tmp_path):
    score_documents(TEXTS, model=tiny_lm, detectors=["loss"], cache_dir=tmp_path)
    n = len(StatsCache(tmp_path))
    score_documents(TEXTS, model=tiny_lm, detectors=["min_k", "min_k_pp", "zlib"], cache_dir=tmp_path)
    assert len(StatsCache(tmp_path)) == n == len(TEXTS)


def test_settings_key_the_cache(tiny_lm, tmp_path):
    Scorer(tiny_lm, ScorerConfig(max_tokens=6), cache=StatsCache(tmp_path)).score_texts(TEXTS)
    other = Scorer(tiny_lm, ScorerConfig(max_tokens=7), cache=StatsCache(tmp_path))
    other.score_texts(TEXTS)
    assert other.forward_passes > 0


def test_weights_changed_in_place_do_not_reuse_the_cache(tiny_model_dir, tmp_path):
    import torch

    from llm_mia import load_model

    lm = load_model(str(tiny_model_dir), device="cpu")
    before = score_documents(TEXTS[:3], model=lm, detectors=["loss"], cache_dir=tmp_path)
    identity = lm.current_identity()
    with torch.no_grad():
        lm.model.transformer.wte.weight.mul_(0.5)  # as a fine-tuning step would
    assert lm.current_identity() != identity
    after = score_documents(TEXTS[:3], model=lm, detectors=["loss"], cache_dir=tmp_path)
    assert all(a.scores["loss"] != b.scores["loss"] for a, b in zip(before, after))
    assert len(StatsCache(tmp_path)) == 6


def test_interrupted_run_resumes(tiny_lm, tmp_path, monkeypatch):
    scorer = Scorer(tiny_lm, ScorerConfig(batch_size=2), cache=StatsCache(tmp_path))
    real = scorer.backend.forward
    calls = {"n": 0}

    def flaky(batch):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(batch)

    monkeypatch.setattr(scorer.backend, "forward", flaky)
    with pytest.raises(KeyboardInterrupt):
        scorer.score_texts(TEXTS)
    assert len(StatsCache(tmp_path)) == 4  # two finished batches of two
    resumed = Scorer(tiny_lm, ScorerConfig(batch_size=2), cache=StatsCache(tmp_path))
    resumed.score_texts(TEXTS)
    assert resumed.forward_passes == 3  # only the 6 texts not yet cached
