"""Gap-K% (issue 11) and the top-1 statistic it needs: exact against float64 references,
checked by hand, cached under a new statistics version, refused by a backend without it."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
from conftest import random_sentences
from reference import reference_token_stats

from llm_mia import Scorer, StatsCache, score_documents
from llm_mia.backends import LOGPROBS, MOMENTS, MockBackend
from llm_mia.detectors import TARGET, DetectorInput, make_detector
from llm_mia.detectors import window_means
from llm_mia.errors import InputError
from llm_mia.types import TokenStats


def stats(lp, var, top):
    lp = np.asarray(lp, dtype=np.float32)
    return TokenStats(np.arange(len(lp) + 1), lp, np.zeros_like(lp), np.asarray(var, np.float32), top_logprob=np.asarray(top, np.float32))


def test_gap_k_by_hand():
    # gaps g = (lp - top) / sqrt(var): [-1, -2, 0, -4, -0.5]; window 3 means: [-1, -2, -1.5];
    # k = 0.4 of 3 -> floor(1.2) = 1 lowest: -2
    st = stats([-2.0, -3.0, -1.0, -5.0, -1.5], [1.0, 1.0, 4.0, 1.0, 4.0], [-1.0, -1.0, -1.0, -1.0, -0.5])
    det = make_detector("gap_k", k=0.4, window=3)
    assert det.score(DetectorInput("x", {TARGET: st})) == pytest.approx(-2.0)
    assert make_detector("gap_k", k=1.0, window=1).score(DetectorInput("x", {TARGET: st})) == pytest.approx(-7.5 / 5)
    # fewer tokens than the window: the gaps themselves; a degenerate position counts 0
    short = stats([-2.0, -1.0], [1.0, 0.0], [-1.0, -1.0])
    assert make_detector("gap_k", k=1.0, window=3).score(DetectorInput("x", {TARGET: short})) == pytest.approx(-0.5)
    np.testing.assert_allclose(window_means(np.arange(5.0), 2), [0.5, 1.5, 2.5, 3.5])


def test_gap_k_matches_a_float64_reference(tiny_lm):
    texts = random_sentences(6, seed=101)
    records = score_documents(texts, model=tiny_lm, detectors=["gap_k"], use_cache=False)
    scorer = Scorer(tiny_lm)
    for text, rec in zip(texts, records):
        ref = np.array(reference_token_stats(tiny_lm.model, scorer.tokenize([text])[0], 256, None, top=True))
        g = (ref[:, 0] - ref[:, 3]) / np.sqrt(ref[:, 2])
        m = np.convolve(g, np.ones(3) / 3, mode="valid") if len(g) >= 3 else g
        want = np.sort(m)[: max(1, int(len(m) * 0.2))].mean()
        assert rec.scores["gap_k"] == pytest.approx(want, rel=1e-4, abs=1e-5)


def test_the_test_backend_gives_the_top1_column_exactly():
    backend = MockBackend()
    (st,) = Scorer(backend).score_texts(["abc"])
    np.testing.assert_allclose(st.top_logprob, backend.logp[[256, 97, 98]].max(axis=1), rtol=1e-6)


def test_a_backend_without_the_top1_column_is_refused_for_gap_k():
    narrow = MockBackend(capabilities=frozenset({LOGPROBS, MOMENTS}))
    with pytest.raises(InputError, match="gap_k needs the top-1 log-probability at each position"):
        score_documents(["some text here"], model=narrow, detectors=["gap_k"], use_cache=False)


def test_the_cache_keeps_the_top1_column_and_an_older_database_is_upgraded(tmp_path):
    old = sqlite3.connect(tmp_path / "stats.sqlite")  # a database as version 1 wrote it
    old.execute(
        "CREATE TABLE stats (key TEXT PRIMARY KEY, truncated INTEGER NOT NULL, token_ids BLOB NOT NULL, "
        "logprobs BLOB NOT NULL, dist_mean BLOB NOT NULL, dist_var BLOB NOT NULL, checksum TEXT)"
    )
    old.execute("INSERT INTO stats VALUES ('k', 0, ?, ?, ?, ?, 'x')", (np.arange(3).astype("<i8").tobytes(), *(np.zeros(2, "<f4").tobytes(),) * 3))
    old.commit()
    old.close()
    cache = StatsCache(tmp_path)
    assert cache.get_many(["k"]) == {} and "older llm-mia" in cache.bad[0][1]  # recomputed, never misread
    texts = random_sentences(3, seed=102)
    first = Scorer(MockBackend(), cache=cache).score_texts(texts)
    again = Scorer(MockBackend(), cache=cache).score_texts(texts)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a.top_logprob, b.top_logprob)
    cache.close()
