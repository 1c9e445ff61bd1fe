"""The fast scorer against the slow reference, and the invariances it must keep."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import random_sentences
from reference import reference_scores, reference_token_stats

from llm_mia import Scorer, ScorerConfig, TokenStats, Unscorable, load_model, score_documents
from llm_mia.detectors import default_detector_names

TEXTS = random_sentences(6, seed=5, length=(3, 30)) + ["Hello, world! 123 ÄÖÜ ß é", "A b"]


def _scores(records):
    return np.array([[r.scores[k] for k in sorted(r.scores)] for r in records])


@pytest.mark.parametrize("model_fixture", ["tiny_lm", "tiny_bos_lm"])
def test_fast_path_matches_reference(model_fixture, request, tiny_bos_lm):
    lm = request.getfixturevalue(model_fixture)
    ref_lm = tiny_bos_lm if model_fixture == "tiny_lm" else request.getfixturevalue("tiny_lm")
    names = default_detector_names() + ["ref"]
    records = score_documents(TEXTS, model=lm, reference_model=ref_lm, detectors=names, use_cache=False)
    for text, rec in zip(TEXTS, records):
        assert rec.status == "ok"
        ids = lm.tokenizer(text)["input_ids"]
        stats = reference_token_stats(lm.model, ids, 256, None)
        lower = reference_token_stats(lm.model, lm.tokenizer(text.lower())["input_ids"], 256, None)
        ref = reference_token_stats(ref_lm.model, ref_lm.tokenizer(text)["input_ids"], 256, None)
        expected = reference_scores(text, stats, lower, ref)
        for name in names:
            assert rec.scores[name] == pytest.approx(expected[name], rel=1e-4, abs=1e-4), name


def test_token_stats_match_reference(tiny_lm):
    scorer = Scorer(tiny_lm, ScorerConfig(batch_size=3))
    for ts in scorer.score_texts(TEXTS):
        assert isinstance(ts, TokenStats)
        ref = np.array(reference_token_stats(tiny_lm.model, list(ts.token_ids), 256, None, top=True))
        np.testing.assert_allclose(ts.logprobs, ref[:, 0], rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(ts.dist_mean, ref[:, 1], rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(ts.dist_var, ref[:, 2], rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(ts.top_logprob, ref[:, 3], rtol=1e-4, atol=1e-4)
        assert np.all(ts.top_logprob >= ts.logprobs - 1e-6)
        assert ts.n_scored == ts.n_tokens - 1


def test_one_bos_only(tiny_bos_lm):
    ts = Scorer(tiny_bos_lm).score_texts(["River stone light."])[0]
    assert isinstance(ts, TokenStats)
    assert ts.token_ids[0] == tiny_bos_lm.tokenizer.bos_token_id
    assert (ts.token_ids == tiny_bos_lm.tokenizer.bos_token_id).sum() == 1


@pytest.mark.parametrize(
    "config",
    [
        ScorerConfig(batch_size=1),
        ScorerConfig(batch_size=5, padding_side="left"),
        ScorerConfig(batch_size=8, padding_side="right", chunk_elements=1),  # one row per head chunk
        ScorerConfig(batch_size=8, vocab_tile=7, chunk_elements=20),  # many tiles, 2 rows per chunk
        ScorerConfig(batch_size=4, vocab_tile=1),  # one vocabulary entry per tile
    ],
)
def test_invariant_to_batching_padding_and_chunking(tiny_lm, config):
    base = score_documents(TEXTS, model=tiny_lm, use_cache=False, config=ScorerConfig(batch_size=8))
    other = score_documents(TEXTS, model=tiny_lm, use_cache=False, config=config)
    np.testing.assert_allclose(_scores(base), _scores(other), rtol=1e-4, atol=1e-4)


def test_invariant_to_document_order(tiny_lm):
    base = score_documents(TEXTS, model=tiny_lm, use_cache=False)
    order = list(reversed(range(len(TEXTS))))
    shuffled = score_documents([TEXTS[i] for i in order], model=tiny_lm, use_cache=False)
    np.testing.assert_allclose(_scores(base)[order], _scores(shuffled), rtol=1e-4, atol=1e-4)


def test_full_logits_fallback_gives_same_stats(tiny_lm):
    fast = Scorer(tiny_lm)
    slow = Scorer(tiny_lm)
    slow.backend.head_ok = False  # as for a model whose head cannot be applied on its own
    for a, b in zip(fast.score_texts(TEXTS), slow.score_texts(TEXTS)):
        np.testing.assert_allclose(a.dist_var, b.dist_var, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(a.logprobs, b.logprobs, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("max_tokens,stride,padding", [(8, 3, "right"), (8, 7, "left"), (5, 1, "right"), (16, 8, "left")])
def test_sliding_window_scores_every_token_once(tiny_bos_lm, max_tokens, stride, padding):
    text = " ".join(random_sentences(4, seed=11))
    scorer = Scorer(tiny_bos_lm, ScorerConfig(max_tokens=max_tokens, stride=stride, batch_size=4, padding_side=padding))
    ts = scorer.score_texts([text])[0]
    assert isinstance(ts, TokenStats) and not ts.truncated
    ids = list(ts.token_ids)
    assert ids == tiny_bos_lm.tokenizer(text)["input_ids"] and len(ids) > 3 * max_tokens
    ref = np.array(reference_token_stats(tiny_bos_lm.model, ids, max_tokens, stride, top=True))
    assert ts.n_scored == len(ids) - 1
    np.testing.assert_allclose(ts.logprobs, ref[:, 0], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ts.dist_mean, ref[:, 1], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ts.dist_var, ref[:, 2], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ts.top_logprob, ref[:, 3], rtol=1e-4, atol=1e-4)


def test_windows_of_several_documents_batch_together(tiny_bos_lm):
    texts = [" ".join(random_sentences(3, seed=s)) for s in (1, 2, 3)] + ["River stone."]
    config = ScorerConfig(max_tokens=12, stride=6, batch_size=3)
    together = Scorer(tiny_bos_lm, config).score_texts(texts)
    for text, ts in zip(texts, together):
        alone = Scorer(tiny_bos_lm, config).score_texts([text])[0]
        np.testing.assert_allclose(ts.logprobs, alone.logprobs, rtol=1e-5, atol=1e-5)


def test_truncation_is_flagged(tiny_lm):
    text = " ".join(random_sentences(5, seed=3))
    ts = Scorer(tiny_lm, ScorerConfig(max_tokens=10)).score_texts([text])[0]
    assert ts.truncated and ts.n_tokens == 10 and ts.n_scored == 9
    rec = score_documents([text], model=tiny_lm, use_cache=False, config=ScorerConfig(max_tokens=10))[0]
    assert rec.truncated and rec.to_json()["truncated"] is True


def test_unscorable_texts_get_reasons(tiny_lm):
    out = Scorer(tiny_lm).score_texts(["", "   \n", "a", "River stone."])
    assert isinstance(out[0], Unscorable) and "empty" in out[0].reason
    assert isinstance(out[1], Unscorable) and "empty" in out[1].reason
    assert isinstance(out[2], Unscorable) and "too short" in out[2].reason
    assert isinstance(out[3], TokenStats)


def test_settings_errors(tiny_lm):
    from llm_mia.errors import InputError

    with pytest.raises(InputError, match="context length"):
        Scorer(tiny_lm, ScorerConfig(max_tokens=10_000))
    with pytest.raises(InputError, match="stride"):
        Scorer(tiny_lm, ScorerConfig(max_tokens=8, stride=8))
    with pytest.raises(ValueError):
        ScorerConfig(max_tokens=1)
    with pytest.raises(ValueError):
        ScorerConfig(vocab_tile=0)


def test_a_model_that_keeps_failing_stops_the_run(tiny_lm, monkeypatch):
    from llm_mia.errors import ScoringError

    scorer = Scorer(tiny_lm, ScorerConfig(batch_size=2))

    def broken(batch):
        raise RuntimeError("CUDA error: an illegal memory access (simulated)")

    monkeypatch.setattr(scorer.backend, "forward", broken)
    with pytest.raises(ScoringError, match="in a row"):
        scorer.score_texts(TEXTS)


def test_model_dir_loads_with_identity(tiny_model_dir):
    a = load_model(str(tiny_model_dir), device="cpu")
    b = load_model(str(tiny_model_dir), device="cpu")
    assert a.identity == b.identity and a.identity.startswith("dir:")
    assert a.tokenizer_identity == b.tokenizer_identity


def test_model_failures_split_the_batch_and_mark_only_the_failing_text(tiny_lm, monkeypatch):
    scorer = Scorer(tiny_lm, ScorerConfig(batch_size=8))
    real = scorer.backend.forward
    poison = TEXTS[2]
    poison_ids = scorer.tokenize([poison])[0]

    def fragile(batch):
        if len(batch) > 2:
            raise RuntimeError("out of memory (simulated)")
        if any(ids == poison_ids for ids, _ in batch):
            raise RuntimeError("CUDA error: device-side assert (simulated)")
        return real(batch)

    monkeypatch.setattr(scorer.backend, "forward", fragile)
    out = scorer.score_texts(TEXTS)
    assert isinstance(out[2], Unscorable) and "device-side assert" in out[2].reason
    expected = Scorer(tiny_lm).score_texts(TEXTS)
    for i, (a, b) in enumerate(zip(out, expected)):
        if i != 2:
            np.testing.assert_allclose(a.logprobs, b.logprobs, rtol=1e-5, atol=1e-5)


def _exact_stats(logits, targets):
    """float64 [lp, mu, var, top] over the whole vocabulary at once, with p log p = 0 where p = 0."""
    import torch

    logp = torch.log_softmax(logits.double(), -1)
    p = logp.exp()
    safe = torch.where(p > 0, logp, 0.0)
    mu = (p * safe).sum(-1)
    var = (p * torch.where(p > 0, safe - mu[:, None], 0.0) ** 2).sum(-1)
    return torch.stack([logp.gather(1, targets[:, None]).squeeze(1), mu, var, logp.amax(-1)], 1).numpy()


@pytest.mark.parametrize("tile", [1, 7, 10, 50, 64])
@pytest.mark.parametrize("chunk_elements", [1, 100, 10**6])
def test_tiles_merge_exactly_with_masked_logits(tile, chunk_elements, monkeypatch):
    import torch

    import llm_mia.backends.hf as scoring

    monkeypatch.setattr(scoring, "STATS_BLOCK_ROWS", 3)  # several row blocks per tile
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(37, 50, generator=g) * 4
    logits[4] = 0.0  # uniform: var 0
    logits[5, 10:20] = float("-inf")  # a whole tile of 10 masked
    logits[7, ::3] = float("-inf")  # scattered masked entries
    logits[9, :] = float("-inf")
    logits[9, 30] = 25.0  # one possible token: p = 1, mu = 0, var = 0
    targets = torch.randint(0, 50, (37,), generator=g)
    targets[5], targets[7], targets[9] = 25, 1, 30
    got = scoring.token_stats(logits, targets, scoring.logits_columns, 50, chunk_elements, tile).numpy()
    np.testing.assert_allclose(got, _exact_stats(logits, targets), rtol=1e-5, atol=1e-5)
