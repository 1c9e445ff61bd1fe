"""WBC (issue 11): window votes checked by hand and against a float64 loop, on the test backend
with a reference of the same tokenizer; a different tokenization is skipped, not misaligned."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import random_sentences

from llm_mia import Scorer, score_documents
from llm_mia.backends import MockBackend
from llm_mia.detectors import REFERENCE, TARGET, DetectorInput, DetectorSkip, make_detector
from llm_mia.types import TokenStats


def stats(lp, ids=None):
    lp = np.asarray(lp, dtype=np.float32)
    return TokenStats(np.arange(len(lp) + 1) if ids is None else np.asarray(ids), lp, np.zeros_like(lp), np.ones_like(lp))


def test_wbc_by_hand():
    target = stats([-1.0, -5.0, -1.0, -1.0])  # losses 1 5 1 1
    ref = stats([-2.0, -2.0, -2.0, -2.0])  # losses 2 2 2 2
    inp = DetectorInput("x", {TARGET: target, REFERENCE: ref})
    # w=1: 3 of 4 tokens win; w=2: sums 6,6,2 vs 4,4,4 -> 1 of 3; w=9 -> cut to 4: 8 vs 8 -> 0 (ties lose)
    assert make_detector("wbc", windows="1").score(inp) == pytest.approx(0.75)
    assert make_detector("wbc", windows="2").score(inp) == pytest.approx(1 / 3)
    assert make_detector("wbc", windows="1,2,9").score(inp) == pytest.approx((0.75 + 1 / 3 + 0.0) / 3)
    other = DetectorInput("x", {TARGET: target, REFERENCE: stats([-2.0] * 4, ids=[9, 1, 2, 3, 4])})
    with pytest.raises(DetectorSkip, match="tokenizes this text differently"):
        make_detector("wbc").score(other)
    with pytest.raises(ValueError, match="comma-separated whole numbers"):
        make_detector("wbc", windows="2,x")


def test_wbc_matches_a_float64_loop():
    texts = random_sentences(8, seed=111)
    target, reference = MockBackend(1), MockBackend(2)  # one tokenizer (UTF-8 bytes), two models
    records = score_documents(texts, model=target, reference_model=reference, detectors=["wbc:windows=1,3,7,50"], use_cache=False)
    for text, rec in zip(texts, records):
        (t,) = Scorer(target).score_texts([text])
        (r,) = Scorer(reference).score_texts([text])
        tl, rl = -t.logprobs.astype(np.float64), -r.logprobs.astype(np.float64)
        votes = []
        for w in (1, 3, 7, 50):
            w = min(w, len(tl))
            wins = [rl[i : i + w].sum() > tl[i : i + w].sum() for i in range(len(tl) - w + 1)]
            votes.append(sum(wins) / len(wins))
        assert rec.scores["wbc:windows=1,3,7,50"] == pytest.approx(np.mean(votes), abs=1e-12)


def test_a_skipped_wbc_says_why_in_the_evaluation():
    from llm_mia.evaluation import evaluate
    from llm_mia.types import Reason, ScoreRecord

    why = "the reference model tokenizes this text differently: no token-by-token comparison"
    records = [ScoreRecord(f"d{i}", i % 2, 10, "ok", None, {"loss": i / 7, "wbc": None}, notes={"wbc": Reason("undefined", why)}) for i in range(8)]
    row = {r.detector: r for r in evaluate(records, n_bootstrap=20).rows}["wbc"]
    assert row.auroc is None and row.excluded == {f"no score: {why}": 8} and "has 0 and 0" in (row.problem or "")
