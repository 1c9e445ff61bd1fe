"""CAMIA's one-pass signals (issue 11): checked by hand and against a float64 computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import random_sentences

from llm_mia import score_documents
from llm_mia.backends import MockBackend
from llm_mia.detectors import TARGET, DetectorInput, make_detector
from llm_mia.detectors import above_running_mean, lempel_ziv_phrases, quantised
from llm_mia.types import TokenStats


def stats(lp, ids=None):
    lp = np.asarray(lp, dtype=np.float32)
    ids = np.arange(len(lp) + 1) if ids is None else np.asarray(ids)
    return TokenStats(ids, lp, np.zeros_like(lp), np.zeros_like(lp))


def score(st, **params):
    return make_detector("camia", **params).score(DetectorInput("x", {TARGET: st}))


def test_lempel_ziv_parse_by_hand():
    # 1 / 0 / 01 / 11 / 10 / 110 / 00 / 010: the example of the Lempel-Ziv complexity literature
    assert lempel_ziv_phrases(np.array([int(c) for c in "1001111011000010"])) == 8
    assert lempel_ziv_phrases(np.array([1, 1, 1, 1])) == 2  # 1 / 11 / (1: no new phrase)
    assert lempel_ziv_phrases(np.array([], dtype=int)) == 0


def test_quantisation_by_hand():
    assert quantised(np.array([-2.0, -2.0]), 3).tolist() == [0, 0]
    levels = quantised(np.array([-9.9, -5.0, -0.01, -9.0]), 3)
    assert levels.tolist() == [0, 1, 2, 0]
    assert quantised(np.array([0.0, -1.0]), 2).tolist() == [1, 0]


def test_signals_by_hand():
    lp = [-3.0, -2.0, -4.0, -1.0, -0.5]
    # running means before t: -3, -2.5, -3, -2.5 -> beaten at t = 1, 3, 4: 3 of 4
    assert above_running_mean(np.array(lp)) == pytest.approx(0.75)
    assert score(stats(lp)) == pytest.approx(0.75)
    assert score(stats(lp), cut=3) == pytest.approx(0.5)  # -3, -2, -4: beaten at t = 1 only
    assert score(stats(lp), signal="count_above") == pytest.approx(2 / 5)
    assert score(stats(lp), signal="count_above", tau=-2.0) == pytest.approx(3 / 5)
    # ids 0 | 7 7 8 7 9: 3 distinct of 5 scored -> diversity 0.6; mean lp = -2.1
    assert score(stats(lp, [0, 7, 7, 8, 7, 9]), signal="calibrated_loss") == pytest.approx(-2.1 / 0.6)
    flat = score(stats([-1.0] * 8), signal="lz")  # one level: 0 / 00 / 000 / (00)
    assert flat == pytest.approx(-3 / 8)
    assert score(stats([-1.0]), signal="count_above_pre") == 0.0


def test_bad_parameters_are_refused():
    for params, words in [({"signal": "slope"}, "signal must be one of"), ({"cut": -1}, "cut must be"), ({"bins": 1}, "bins must be")]:
        with pytest.raises(ValueError, match=words):
            make_detector("camia", **params)


def test_camia_through_the_pipeline_matches_a_float64_computation():
    backend = MockBackend()
    texts = random_sentences(5, seed=21)
    specs = ["camia", "camia:signal=count_above:cut=50:tau=-4", "camia:signal=lz:cut=60:bins=4", "camia:signal=calibrated_loss"]
    records = score_documents(texts, model=backend, detectors=specs, use_cache=False)
    for text, rec in zip(texts, records):
        ids = [256, *text.encode()]
        lp = [backend.logp[a, b] for a, b in zip(ids[:-1], ids[1:])]
        beaten = [lp[t] > sum(lp[:t]) / t for t in range(1, len(lp))]
        assert rec.scores["camia"] == pytest.approx(sum(beaten) / len(beaten), abs=1e-9)
        assert rec.scores["camia:cut=50:signal=count_above:tau=-4.0"] == pytest.approx(sum(v >= -4 for v in lp[:50]) / 50)
        assert rec.scores["camia:signal=calibrated_loss"] == pytest.approx((sum(lp) / len(lp)) / (len(set(ids[1:])) / len(lp)), rel=1e-6)
        lz = rec.scores["camia:bins=4:cut=60:signal=lz"]
        assert -1.0 <= lz < 0 and math.isclose(lz * 60, round(lz * 60))
