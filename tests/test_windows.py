"""Extraction windows (llm_mia.scoring.windows) against a slow, obvious reference: each window
run through the model alone, from its prefix, in float64."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import random_sentences

from llm_mia import InputError, Scorer, StatsCache
from llm_mia.backends import BOS, MockBackend
from llm_mia.errors import SettingError
from llm_mia.scoring import ScorerConfig, WindowSettings, samples_needed, window_config, window_stats, with_topk
from llm_mia.types import TokenStats


def _reference(lm, ids: list[int], settings: WindowSettings) -> list[tuple[int, float, int, int]]:
    """(start, log p_z, greedy tokens, longest greedy run) per whole window, each window's
    prefix + suffix fed to the model on its own."""
    import torch

    p, s = settings.prefix, settings.suffix
    out = []
    for start in range(0, len(ids) - p - s + 1, s):
        window = torch.tensor([ids[start : start + p + s]])
        with torch.no_grad():
            logp = torch.log_softmax(lm.model(window).logits[0].double(), dim=-1)  # [P+S, V]
        rows = logp[p - 1 : p + s - 1]  # predictions of the suffix tokens
        target = window[0, p : p + s]
        lp = rows[torch.arange(s), target]
        hit = (rows.argmax(dim=-1) == target).tolist()
        run = best = 0
        for h in hit:
            run = run + 1 if h else 0
            best = max(best, run)
        out.append((start, float(lp.sum()), sum(hit), best))
    return out


def test_windows_match_each_window_run_alone(tiny_lm):
    settings = WindowSettings(prefix=9, suffix=7)
    text = " ".join(random_sentences(12, seed=81))
    (stats,) = Scorer(tiny_lm, window_config(settings)).score_texts([text])
    got = window_stats(stats, settings)
    want = _reference(tiny_lm, stats.token_ids.tolist(), settings)
    assert got.n_windows == len(want) >= 8
    assert got.starts.tolist() == [w[0] for w in want]
    np.testing.assert_allclose(got.log_pz, [w[1] for w in want], rtol=1e-5)
    assert got.greedy.tolist() == [w[2] for w in want] and got.longest_run.tolist() == [w[3] for w in want]
    assert got.tail_tokens == stats.n_tokens - 9 - 7 * got.n_windows


def _topk_reference(lm, ids: list[int], settings: WindowSettings, k: int) -> list[float]:
    """Top-k log p_z per whole window from the full float64 distribution: the suffix token's
    probability renormalized over the k most likely, or -inf when it is not among them."""
    import torch

    p, s = settings.prefix, settings.suffix
    out = []
    for start in range(0, len(ids) - p - s + 1, s):
        window = torch.tensor([ids[start : start + p + s]])
        with torch.no_grad():
            logp = torch.log_softmax(lm.model(window).logits[0].double(), dim=-1)[p - 1 : p + s - 1]
        total = 0.0
        for row, target in zip(logp, window[0, p:].tolist()):
            top = row.topk(k).values
            if row[target] < top[-1]:
                total = -math.inf
                break
            total += float(row[target] - torch.logsumexp(top, 0))
        out.append(total)
    return out


@pytest.mark.parametrize("k, tile", [(5, 7), (40, 4096), (2, 1)])
def test_topk_pz_matches_the_full_distribution(tiny_trained, k, tile):
    """Top-k p_z from tiles of the vocabulary (7 and 1 entries: the running top k is merged
    across many tiles) equals the top k of the whole float64 distribution, on a model fitted
    on member sentences (whose windows stay inside a small top k) and on held-out ones (which
    fall outside: p_z = 0)."""
    lm, members, held_out = tiny_trained
    settings = WindowSettings(prefix=4, suffix=4)
    scorer = Scorer(lm, replace_tile(window_config(settings), tile))
    text = " ".join(members[:6] + held_out[:6])
    (stats,) = scorer.score_texts([text])
    (got,) = with_topk(scorer, [stats], [window_stats(stats, settings)], k)
    want = np.array(_topk_reference(lm, stats.token_ids.tolist(), settings, k))
    assert got.top_k == k and got.topk_log_pz is not None
    assert (np.isinf(got.topk_log_pz) == np.isinf(want)).all()
    finite = np.isfinite(want)
    assert finite.any()
    np.testing.assert_allclose(got.topk_log_pz[finite], want[finite], rtol=1e-4, atol=1e-4)
    assert (got.topk_log_pz[finite] >= got.log_pz[finite] - 1e-4).all()  # renormalized over the top k: never less likely
    if k < 40:
        assert not finite.all()


def replace_tile(config: ScorerConfig, tile: int) -> ScorerConfig:
    from dataclasses import replace

    return replace(config, vocab_tile=tile)


def test_topk_on_the_test_backend_and_refused_without_the_capability():
    """The test backend's exact top-k agrees with its own table; a backend that cannot give
    exact top-k is refused, not approximated."""
    from llm_mia.backends import LOGPROBS, TOP1

    settings = WindowSettings(prefix=6, suffix=5)
    backend = MockBackend()
    scorer = Scorer(backend, window_config(settings))
    (stats,) = scorer.score_texts(["the quick brown fox jumps over the lazy dog " * 3])
    windows = window_stats(stats, settings)
    (got,) = with_topk(scorer, [stats], [windows], 257)
    np.testing.assert_allclose(got.topk_log_pz, windows.log_pz, rtol=1e-5)  # k = the whole vocabulary: plain p_z
    ids = stats.token_ids.tolist()
    lp = backend.logp
    want = []
    for start in windows.starts.tolist():
        total = 0.0
        for t in range(start + 6, start + 11):
            row = lp[ids[t - 1]]
            top = np.sort(row)[::-1][:20]
            total = -math.inf if row[ids[t]] < top[-1] or total == -math.inf else total + row[ids[t]] - np.log(np.exp(top).sum())
        want.append(total)
    (got20,) = with_topk(scorer, [stats], [windows], 20)
    np.testing.assert_allclose(got20.topk_log_pz, want, rtol=1e-5)
    narrow = Scorer(MockBackend(capabilities=frozenset({LOGPROBS, TOP1})), window_config(settings))
    with pytest.raises(SettingError, match="refused, not approximated"):
        with_topk(narrow, [stats], [windows], 40)


def _greedy_chain(backend: MockBackend, length: int) -> str | None:
    """A text of printable ASCII in which every byte after the first is the test backend's
    argmax after the byte before, or None when the argmax leaves printable ASCII."""
    for first in range(ord("a"), ord("z") + 1):
        chain = [first]
        while len(chain) < length and 32 <= (nxt := int(np.argmax(backend.logp[chain[-1]]))) < 127:
            chain.append(nxt)
        if len(chain) == length:
            return bytes(chain).decode("ascii")
    return None


def test_a_greedy_text_is_greedy_in_every_window():
    settings = WindowSettings(prefix=5, suffix=4)
    backend, text = next((b, t) for b in map(MockBackend, range(40)) if (t := _greedy_chain(b, 60)) is not None)
    (stats,) = Scorer(backend, window_config(settings)).score_texts([text])
    got = window_stats(stats, settings)
    assert got.n_windows == (61 - 5) // 4  # BOS + 60 bytes
    assert got.all_greedy.all() and (got.longest_run == 4).all()
    expected = [sum(backend.logp[a, b] for a, b in zip(stats.token_ids[k + 4 : k + 8], stats.token_ids[k + 5 : k + 9])) for k in got.starts]
    np.testing.assert_allclose(got.log_pz, expected, rtol=1e-6)
    (other,) = Scorer(backend, window_config(settings)).score_texts(["a text that the test backend does not predict"])
    assert window_stats(other, settings).greedy.max() < 4


@pytest.mark.parametrize(("n_tokens", "windows", "tail"), [(8, 0, 8), (9, 1, 0), (12, 1, 3), (13, 2, 0)])
def test_only_whole_windows_count(n_tokens, windows, tail):
    settings = WindowSettings(prefix=5, suffix=4)
    (stats,) = Scorer(MockBackend(0), window_config(settings)).score_texts(["x" * (n_tokens - 1)])  # BOS + bytes
    got = window_stats(stats, settings)
    assert (stats.n_tokens, got.n_windows, got.tail_tokens) == (n_tokens, windows, tail)
    assert stats.token_ids[0] == BOS and got.starts.tolist() == [4 * k for k in range(windows)]


def test_statistics_that_cannot_hold_windows_are_refused():
    n = 20
    base = dict(
        token_ids=np.zeros(n, dtype=np.int64), logprobs=np.zeros(n - 1, np.float32), dist_mean=np.zeros(n - 1, np.float32), dist_var=np.zeros(n - 1, np.float32)
    )
    with pytest.raises(InputError, match="top-1"):
        window_stats(TokenStats(**base), WindowSettings(5, 4))
    with pytest.raises(InputError, match="truncated"):
        window_stats(TokenStats(**base, truncated=True, top_logprob=np.zeros(n - 1, np.float32)), WindowSettings(5, 4))
    with pytest.raises(InputError, match="prefix"):
        WindowSettings(prefix=0)


def test_windows_are_cached_like_every_statistic(tmp_path):
    settings = WindowSettings(prefix=5, suffix=4)
    texts = ["the first text of this test", "and a second one, a little longer than the first"]
    first = Scorer(MockBackend(3), window_config(settings), cache=StatsCache(tmp_path))
    a = [window_stats(s, settings) for s in first.score_texts(texts)]
    again = Scorer(MockBackend(3), window_config(settings), cache=StatsCache(tmp_path))
    b = [window_stats(s, settings) for s in again.score_texts(texts)]
    assert first.forward_passes > 0 and again.forward_passes == 0
    assert all(np.array_equal(x.log_pz, y.log_pz) and np.array_equal(x.greedy, y.greedy) for x, y in zip(a, b))


def test_samples_needed():
    assert samples_needed(math.log(0.5), 0.9) == 4  # 1 - 0.5^4 = 0.94 >= 0.9 > 1 - 0.5^3
    assert samples_needed(0.0, 0.99) == 1 and samples_needed(-math.inf, 0.5) == math.inf
    n = samples_needed(math.log(1e-12), 0.5)
    assert abs(n - math.log(2) / 1e-12) / n < 1e-6  # log(1 - p_z) kept exact for a tiny p_z
    with pytest.raises(InputError):
        samples_needed(-1.0, 1.0)


def test_score_sequences_gives_the_positions_asked_for(tiny_lm):
    """Token-id sequences through the scorer: the same statistics as the text's own pass where
    the sequence is the text, batched in any order; bad sequences refused."""
    scorer = Scorer(tiny_lm)
    texts = random_sentences(5, seed=83)
    full = scorer.score_texts(texts)
    seqs = [(s.token_ids.tolist(), 3) for s in full]
    got = scorer.score_sequences(seqs)
    for s, arr in zip(full, got):
        np.testing.assert_allclose(arr[:, 0], s.logprobs[2:], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(arr[:, 3], s.top_logprob[2:], rtol=1e-5, atol=1e-6)
    with pytest.raises(InputError, match="cannot be scored from position"):
        scorer.score_sequences([([1, 2, 3], 3)])


def test_the_prior_control_scores_the_suffix_after_unrelated_prefixes():
    """With the test backend (a bigram model) every number is known: the suffix after another
    prefix differs only in its first token's probability, given that prefix's last token."""
    from llm_mia.scoring import prior_controls, unrelated_windows

    settings = WindowSettings(prefix=5, suffix=4)
    backend = MockBackend(2)
    scorer = Scorer(backend, window_config(settings))
    texts = random_sentences(4, seed=84)
    stats = scorer.score_texts(texts)
    windows = [window_stats(s, settings) for s in stats]
    candidates = [(0, 0), (1, 2), (3, 1)]
    controls = prior_controls(scorer, stats, windows, candidates, n_prefixes=6, seed=5)
    for (doc, k), control in zip(candidates, controls):
        ids = stats[doc].token_ids
        start = int(windows[doc].starts[k])
        suffix = ids[start + 5 : start + 9]
        chain = sum(backend.logp[a, b] for a, b in zip(suffix[:-1], suffix[1:]))
        others = unrelated_windows(windows, doc, k, 6, seed=5)
        assert len(others) == control.n_prefixes == 6
        assert all(e != doc or abs(j - k) * 4 >= 9 for e, j in others)  # no token shared with the window
        after = [backend.logp[stats[e].token_ids[int(windows[e].starts[j]) + 4], suffix[0]] + chain for e, j in others]
        assert control.log_prior == pytest.approx(np.logaddexp.reduce(after) - np.log(6), rel=1e-6)
        assert control.log_pz == pytest.approx(windows[doc].log_pz[k]) and control.lift == pytest.approx(control.log_pz - control.log_prior)
    assert unrelated_windows(windows, 0, 0, 6, seed=5) == unrelated_windows(windows, 0, 0, 6, seed=5) != unrelated_windows(windows, 0, 0, 6, seed=6)


def test_the_prior_control_tells_memorized_from_unseen(tiny_trained):
    """A model fitted on member sentences: a member window's suffix is far likelier after its
    own prefix than after other sentences' prefixes; a held-out sentence's is not."""
    from llm_mia.scoring import prior_controls

    lm, members, held_out = tiny_trained
    settings = WindowSettings(prefix=4, suffix=4)
    scorer = Scorer(lm, window_config(settings))

    def lifts(texts):
        stats = scorer.score_texts(texts)
        windows = [window_stats(s, settings) for s in stats]
        candidates = [(d, k) for d, w in enumerate(windows) for k in range(w.n_windows)]
        return np.array([c.lift for c in prior_controls(scorer, stats, windows, candidates, n_prefixes=8)])

    member, unseen = lifts(members), lifts(held_out[:20])
    assert np.median(member) > np.median(unseen) + 3.0, (np.median(member), np.median(unseen))  # nats (measured: 7.2 against -2.5)


def test_first_tokens_keeps_the_windows_inside_them():
    """The statistics of a text's first n tokens have exactly the windows that end within them,
    with the same numbers."""
    from llm_mia.scoring import first_tokens

    settings = WindowSettings(prefix=6, suffix=5)
    scorer = Scorer(MockBackend(), window_config(settings))
    (stats,) = scorer.score_texts(["a rather long sentence about windows and tokens, " * 3])
    whole = window_stats(stats, settings)
    cut = window_stats(first_tokens(stats, 40), settings)
    inside = whole.starts + 11 <= 40
    assert cut.n_windows == int(inside.sum()) < whole.n_windows
    np.testing.assert_array_equal(cut.log_pz, whole.log_pz[inside])
    assert first_tokens(stats, stats.n_tokens + 5) is stats


def test_the_windows_of_a_model_with_a_bos_start_with_it(tiny_bos_lm):
    """A tokenizer that puts a BOS before every text: each window after the first is read after
    it too (as a text of its own), the first has it as its first token; the statistics equal
    each window run alone so, and differ from windows read without it. The top-k pass and the
    prior control build their sequences the same way."""
    import torch

    from llm_mia.scoring import prior_controls

    settings = WindowSettings(prefix=6, suffix=5)
    scorer = Scorer(tiny_bos_lm, window_config(settings))
    assert scorer.bos_id() == 0 and scorer.with_bos([5, 6]) == ([0, 5, 6], 1) and scorer.with_bos([0, 5]) == ([0, 5], 0)
    (stats,) = scorer.score_texts([" ".join(random_sentences(10, seed=82))])
    ids = stats.token_ids.tolist()
    got = window_stats(stats, settings)
    want = []
    for start in got.starts.tolist():
        window = ids[start : start + 11] if start == 0 else [0, *ids[start : start + 11]]
        lead = len(window) - 11
        with torch.no_grad():
            logp = torch.log_softmax(tiny_bos_lm.model(torch.tensor([window])).logits[0].double(), dim=-1)
        rows = logp[lead + 5 : lead + 10]
        want.append(float(rows[torch.arange(5), torch.tensor(window[lead + 6 :])].sum()))
    assert got.n_windows >= 5
    np.testing.assert_allclose(got.log_pz, want, rtol=1e-5)
    plain = window_stats(Scorer(tiny_bos_lm, replace_bos(window_config(settings))).score_texts([" ".join(random_sentences(10, seed=82))])[0], settings)
    assert plain.log_pz[0] == pytest.approx(got.log_pz[0], rel=1e-6) and not np.allclose(plain.log_pz[1:], got.log_pz[1:], rtol=1e-3)
    (top,) = with_topk(scorer, [stats], [got], 100_000)  # k above the vocabulary: plain p_z, through the same sequences
    np.testing.assert_allclose(top.topk_log_pz, got.log_pz, rtol=1e-5)
    (ctl,) = prior_controls(scorer, [stats], [got], [(0, 0)], n_prefixes=1)
    assert ctl.n_prefixes == 1 and math.isfinite(ctl.log_prior)


def replace_bos(config: ScorerConfig) -> ScorerConfig:
    from dataclasses import replace

    return replace(config, window_bos=False)
