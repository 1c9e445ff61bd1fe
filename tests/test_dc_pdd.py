"""DC-PDD (issue 11) and the token frequency tables it needs: checked by hand, against a float64
reference on a real model, and refused for a table of another tokenizer."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from conftest import random_sentences
from reference import reference_token_stats

from llm_mia import Scorer, score_documents
from llm_mia.backends import MockBackend
from llm_mia.cli import main
from llm_mia.detectors import TARGET, DetectorInput, make_detector
from llm_mia.detectors import first_occurrences
from llm_mia.errors import InputError
from llm_mia.io import FrequencyTable, build_table, load_table, save_table
from llm_mia.backends import LoadedTokenizer, tokenizer_identity
from llm_mia.types import TokenStats


def write_table(tmp_path, counts, identity="utf8-bytes+bos", name="t.json"):
    path = tmp_path / name
    save_table(FrequencyTable(np.asarray(counts, dtype=np.int64), identity), path)
    return str(path)


def test_dc_pdd_by_hand(tmp_path):
    # scored ids 5, 7, 5, 9 with p = 0.5, 0.25, 0.8, 0.1; counts 5 -> 3, 9 -> 6 (N = 9, |V| = 10)
    # f5 = 4/19, f7 = 1/19, f9 = 7/19; the second 5 is not a first occurrence
    counts = np.zeros(10)
    counts[5], counts[9] = 3, 6
    table = write_table(tmp_path, counts)
    st = TokenStats(np.array([0, 5, 7, 5, 9]), np.log([0.5, 0.25, 0.8, 0.1]).astype(np.float32), np.zeros(4), np.zeros(4))
    alphas = [0.5 * math.log(19 / 4), 0.25 * math.log(19), 0.1 * math.log(19 / 7)]  # 0.779, 0.736, 0.0999
    uncapped = make_detector("dc_pdd", table=table, a=1.0).score(DetectorInput("x", {TARGET: st}))
    assert uncapped == pytest.approx(sum(alphas) / 3, rel=1e-6)
    capped = make_detector("dc_pdd", table=table).score(DetectorInput("x", {TARGET: st}))  # a = 0.01 caps all three
    assert capped == pytest.approx(0.01)
    assert make_detector("dc_pdd", table=table, a=0.5).score(DetectorInput("x", {TARGET: st})) == pytest.approx((0.5 + 0.5 + alphas[2]) / 3, rel=1e-6)
    np.testing.assert_array_equal(first_occurrences(np.array([3, 3, 1, 3, 2, 1])), [0, 2, 4])


def test_dc_pdd_needs_a_table_and_a_positive_cap(tmp_path):
    with pytest.raises(InputError, match="dc_pdd:table=PATH"):
        score_documents(["x"], model="test-backend", detectors=["dc_pdd"], use_cache=False)
    with pytest.raises(ValueError, match="a must be positive"):
        make_detector("dc_pdd", table="t.json", a=0.0)
    with pytest.raises(InputError, match="does not exist"):
        score_documents(["some text"], model="test-backend", detectors=["dc_pdd:table=" + str(tmp_path / "no.json")], use_cache=False)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "llm-mia token frequencies v1", "tokenizer_identity": "x", "vocab_size": 3, "ids": [5], "counts": [1]}))
    with pytest.raises(InputError, match="damaged"):
        load_table(bad)
    (tmp_path / "other.json").write_text("[1, 2]")
    with pytest.raises(InputError, match="not a token frequency table"):
        load_table(tmp_path / "other.json")


def test_a_table_of_another_tokenizer_is_refused_before_scoring(tmp_path):
    table = write_table(tmp_path, np.ones(257), identity="another tokenizer")
    backend = MockBackend()
    with pytest.raises(InputError, match="built with another tokenizer than test-backend"):
        score_documents(["some text here"], model=backend, detectors=["loss", f"dc_pdd:table={table}"], use_cache=False)
    assert backend.calls == 0


def test_table_building_counts_tokens_without_special_tokens(tmp_path):
    backend = MockBackend()
    table = build_table(["abca", "", "b" * 10], backend, max_tokens=5)
    assert table.vocab_size == 257 and table.n_documents == 3 and table.n_tokens == 4 + 5
    assert table.counts[ord("a")] == 2 and table.counts[ord("b")] == 6 and table.counts[256] == 0  # no BOS counted
    path = write_table(tmp_path, table.counts)
    again = load_table(path)
    np.testing.assert_array_equal(again.counts, table.counts)
    np.testing.assert_allclose(again.frequencies(np.array([ord("a"), 300])), [3 / (9 + 257), 1 / (9 + 257)])
    with pytest.raises(InputError, match="no tokens"):
        build_table(["", ""], backend)


def test_dc_pdd_through_the_pipeline_matches_a_direct_computation(tmp_path):
    backend = MockBackend()
    corpus = random_sentences(30, seed=5)
    table = build_table(corpus, backend)
    path = write_table(tmp_path, table.counts)
    texts = random_sentences(5, seed=6) + ["aaaa aaaa"]
    records = score_documents(texts, model=backend, detectors=[f"dc_pdd:table={path}:a=0.05"], use_cache=False)
    freq = (table.counts + 1.0) / (table.counts.sum() + 257)
    for text, rec in zip(texts, records):
        ids = [256, *text.encode()]
        seen, alphas = set(), []
        for prev, tok in zip(ids[:-1], ids[1:]):
            if tok not in seen:
                seen.add(tok)
                alphas.append(min(math.exp(backend.logp[prev, tok]) * -math.log(freq[tok]), 0.05))
        assert rec.scores[f"dc_pdd:a=0.05:table={path}"] == pytest.approx(sum(alphas) / len(alphas), rel=1e-5)


def test_dc_pdd_matches_a_float64_reference_on_a_real_model(tiny_lm, tmp_path):
    source = LoadedTokenizer("tiny", tiny_lm.tokenizer, tiny_lm.tokenizer_identity)
    assert source.tokenizer_identity == tokenizer_identity(tiny_lm.tokenizer)
    table = build_table(random_sentences(40, seed=7), source)
    path = write_table(tmp_path, table.counts, identity=tiny_lm.tokenizer_identity)
    texts = random_sentences(4, seed=8)
    records = score_documents(texts, model=tiny_lm, detectors=[f"dc_pdd:table={path}:a=1"], use_cache=False)
    scorer = Scorer(tiny_lm)
    for text, rec in zip(texts, records):
        ids = scorer.tokenize([text])[0]
        ref = np.array(reference_token_stats(tiny_lm.model, ids, 256, None))
        scored = np.asarray(ids[1:])
        _, first = np.unique(scored, return_index=True)
        f = (table.counts[scored[first]] + 1.0) / (table.n_tokens + table.vocab_size)
        want = np.mean(np.minimum(np.exp(ref[first, 0]) * -np.log(f), 1.0))
        (value,) = rec.scores.values()
        assert value == pytest.approx(want, rel=1e-4)


def test_freq_build_on_the_command_line(tmp_path, capsys):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"text": t}) + "\n" for t in random_sentences(20, seed=9)) + '{"text": ""}\n')
    out = tmp_path / "table.json"
    assert main(["freq", "build", str(corpus), "--model", "test-backend", "-o", str(out), "--no-progress"]) == 0
    said = capsys.readouterr().out
    assert "from 20 documents" in said and "1 row(s) without text skipped" in said
    assert load_table(out).tokenizer == "test-backend"
    assert main(["freq", "build", str(corpus), "--model", "test-backend", "-o", str(out), "--no-progress"]) == 2  # exists
    assert main(["freq", "build", str(corpus), "--model", "test-backend", "-o", str(corpus), "--force", "--no-progress"]) == 2  # its input
    docs = tmp_path / "docs.jsonl"
    docs.write_text("".join(json.dumps({"text": t, "label": i % 2}) + "\n" for i, t in enumerate(random_sentences(6, seed=10))))
    scores = tmp_path / "s.jsonl"
    assert (
        main(["score", str(docs), "-o", str(scores), "--model", "test-backend", "--no-cache", "--no-progress", "--detectors", f"loss,dc_pdd:table={out}"]) == 0
    )
    rows = [json.loads(line) for line in scores.read_text().splitlines()]
    assert all(isinstance(r["scores"][f"dc_pdd:table={out}"], float) for r in rows)
