"""Extraction windows: how likely the model reproduces a passage's continuation from its prefix.

A text's token ids x_0..x_{n-1} (x_0 the tokenizer's BOS where it adds one, as everywhere in
llm-mia) are cut into windows k = 0, 1, ...: prefix x[kS, kS+P), suffix x[kS+P, kS+P+S), for
prefix length P, suffix length S and a step of S tokens, so the suffixes tile the text after
its first P tokens. The model is conditioned on the window's prefix only, never on earlier text.
Only whole windows count; the tokens after the last one are reported (``tail_tokens``).

These are exactly the positions the scorer's sliding-window mode scores with
``max_tokens = P + S`` and ``stride = S`` (every segment after the first is x[kS, kS+P+S) and
scores its last S tokens; the first scores all of x[0, P+S), whose last S positions see only
x[0, P)), so window statistics come from ordinary :class:`~llm_mia.types.TokenStats`: one
batched pass, exact in float32, cached like every other statistic (:func:`window_config`).
Where the tokenizer puts a BOS before every text, each window after the first is read after
it too (``ScorerConfig.window_bos``), as the model reads any text: a window's context is its
prefix and the start token, never earlier text. Every sequence built here from windows (the
controls, top-k, continuations) starts the same way (:meth:`Scorer.with_bos`).

Per window, from lp_t = log p(x_t | prefix, x_{kS+P..t-1}) and top_t = max_v log p(v | ...):

- ``log_pz = sum_t lp_t``: the log-probability of the suffix at temperature 1 (Carlini et al.,
  ICLR 2023, "Quantifying Memorization Across Neural Language Models"; Hayes et al., NAACL 2025,
  probabilistic discoverable extraction: ``p_z``);
- ``greedy``: how many suffix tokens are the model's argmax (lp_t == top_t: both come from the
  same float32 logits, so equality is exact; a tie counts as greedy), and ``longest_run``, the
  longest run of consecutive greedy tokens; ``greedy == S`` is greedy extraction;
- :func:`samples_needed`: the (n, p)-discoverability of Hayes et al.: the fewest samples n with
  1 - (1 - p_z)^n >= p.

The prior-aware control (:func:`prior_controls`, in the manner of Tiwari, Trachtenberg and Suh
2026, "Prior Aware Memorization"): the same suffix after unrelated prefixes of the collection. A
suffix the model reproduces because it is common (boilerplate, code idioms, a famous line) is
likely after any prefix; a memorized one is far likelier after its own.

Top-k sampling's p_z (Cooper et al. 2025's main scheme, k = 40): ``log p_z^(k) = sum_t
(lp_t - log M_t)`` when every suffix token is among the k most likely (``M_t`` the top-k
probability mass at t), else p_z^(k) = 0 (-inf). The statistics do not hold ``M_t`` or the
rank, so :func:`with_topk` runs one more pass over the windows on a backend with the exact
``topk`` capability (refused elsewhere, never approximated); not cached.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from ..errors import InputError, at_least
from ..types import TokenStats
from .scorer import Scorer, ScorerConfig

DEFAULT_PREFIX = 50
DEFAULT_SUFFIX = 50
"""Cooper et al. 2025's window: a 50-token prefix and a 50-token suffix."""
DEFAULT_CONTROL_PREFIXES = 8
"""Unrelated prefixes per window in the prior-aware control."""


@dataclass(frozen=True)
class WindowSettings:
    """``prefix`` (P) and ``suffix`` (S) lengths in tokens; windows step by S."""

    prefix: int = DEFAULT_PREFIX
    suffix: int = DEFAULT_SUFFIX

    def __post_init__(self) -> None:
        at_least("prefix", self.prefix, 1)
        at_least("suffix", self.suffix, 1)


def window_config(settings: WindowSettings, base: ScorerConfig | None = None) -> ScorerConfig:
    """The scorer settings whose statistics hold the windows: ``base`` (batch size, padding,
    kernel tiles) with ``max_tokens = P + S``, ``stride = S`` and ``window_bos``: each window
    read as a text of its own, after the tokenizer's BOS where it adds one."""
    return replace(base or ScorerConfig(), max_tokens=settings.prefix + settings.suffix, stride=settings.suffix, window_bos=True)


@dataclass(frozen=True)
class WindowStats:
    """The whole windows of one text, in text order (arrays of one entry per window)."""

    starts: np.ndarray
    """Token offset of each window's prefix in the text's token ids (0, S, 2S, ...)."""
    log_pz: np.ndarray
    """log p_z of each suffix (float64 sum of float32 token log-probabilities)."""
    greedy: np.ndarray
    """Suffix tokens that are the model's argmax."""
    longest_run: np.ndarray
    """Longest run of consecutive argmax tokens in each suffix."""
    settings: WindowSettings
    tail_tokens: int
    """Tokens after the last whole window (scored by no window)."""
    topk_log_pz: np.ndarray | None = None
    """log p_z of each suffix under top-``top_k`` sampling (-inf: a token outside the top k); None: not computed."""
    top_k: int | None = None

    @property
    def n_windows(self) -> int:
        return int(self.starts.shape[0])

    @property
    def all_greedy(self) -> np.ndarray:
        """Windows whose whole suffix is the greedy continuation of the prefix."""
        return self.greedy == self.settings.suffix


def window_stats(stats: TokenStats, settings: WindowSettings) -> WindowStats:
    """The windows of a text from its statistics under :func:`window_config` (a text of fewer
    than P + S tokens has none). Raises :class:`InputError` for statistics that cannot hold
    them: truncated ones, or ones without the top-1 log-probability."""
    if stats.truncated:
        raise InputError("window statistics need every token scored: score with window_config(settings) (sliding windows), not truncated")
    if stats.top_logprob is None:
        raise InputError("window statistics need the top-1 log-probability of each position (a backend with the top1 capability)")
    p, s = settings.prefix, settings.suffix
    n = stats.n_tokens
    count = max(0, (n - p) // s)  # window k needs tokens up to k*S + P + S <= n
    starts = np.arange(count, dtype=np.int64) * s
    # suffix positions t = kS+P .. kS+P+S-1; position t is entry t-1 of the per-position arrays
    idx = (starts[:, None] + p - 1) + np.arange(s)[None, :]  # [windows, S]
    lp = stats.logprobs[idx].astype(np.float64)
    hit = stats.logprobs[idx] >= stats.top_logprob[idx]
    return WindowStats(
        starts=starts,
        log_pz=lp.sum(axis=1),
        greedy=hit.sum(axis=1).astype(np.int64),
        longest_run=_longest_runs(hit),
        settings=settings,
        tail_tokens=n - (p + count * s) if count else n,
    )


def with_topk(scorer: Scorer, stats: Sequence[TokenStats], windows: Sequence[WindowStats], k: int) -> list[WindowStats]:
    """``windows`` (of the texts with ``stats``) with their top-k log p_z: every window's prefix
    and suffix scored again as one sequence by ``scorer.score_sequences(..., topk=k)`` (a
    backend without exact top-k is refused: :class:`~llm_mia.errors.SettingError`). A window
    the model fails on gets NaN."""
    spans = [(d, k_, int(w.starts[k_])) for d, w in enumerate(windows) for k_ in range(w.n_windows)]
    sequences = []
    for d, _, start in spans:
        p, s = windows[d].settings.prefix, windows[d].settings.suffix
        ids, lead = scorer.with_bos(stats[d].token_ids[start : start + p + s].tolist())
        sequences.append((ids, p + lead))
    scored = scorer.score_sequences(sequences, topk=k) if sequences else []
    values = [np.full(w.n_windows, np.nan) for w in windows]
    for (d, j, start), out in zip(spans, scored):
        if isinstance(out, np.ndarray):
            p, s = windows[d].settings.prefix, windows[d].settings.suffix
            lp = stats[d].logprobs[start + p - 1 : start + p + s - 1].astype(np.float64)
            inside = out[:, 1] > 0.5
            values[d][j] = float((lp - out[:, 0].astype(np.float64)).sum()) if inside.all() else -math.inf
    return [replace(w, topk_log_pz=v, top_k=k) for w, v in zip(windows, values)]


def first_tokens(stats: TokenStats, n: int) -> TokenStats:
    """The statistics of a text's first ``n`` tokens only (the windows of a text of which only
    those were trained on, as the controlled split's copy); ``stats`` itself when it is no longer."""
    at_least("n", n, 2)
    if stats.n_tokens <= n:
        return stats
    cut = n - 1  # per-position arrays hold one entry per token after the first
    return replace(
        stats,
        token_ids=stats.token_ids[:n],
        logprobs=stats.logprobs[:cut],
        dist_mean=stats.dist_mean[:cut],
        dist_var=stats.dist_var[:cut],
        top_logprob=None if stats.top_logprob is None else stats.top_logprob[:cut],
    )


def _longest_runs(hit: np.ndarray) -> np.ndarray:
    """Per row of a boolean [rows, S] array, the longest run of True."""
    out = np.zeros(hit.shape[0], dtype=np.int64)
    run = np.zeros(hit.shape[0], dtype=np.int64)
    for j in range(hit.shape[1]):  # S columns (50), not tokens of the text
        run = np.where(hit[:, j], run + 1, 0)
        out = np.maximum(out, run)
    return out


def samples_needed(log_pz: float, p: float) -> float:
    """The fewest samples n with ``1 - (1 - p_z)^n >= p`` (Hayes et al.'s (n, p)-discoverable
    extraction): ``ceil(log(1 - p) / log(1 - p_z))``; 1 when p_z = 1, infinity when p_z = 0.
    ``p`` in (0, 1)."""
    if not 0 < p < 1:
        raise InputError(f"p must be in (0, 1), not {p!r}")
    if log_pz >= 0:
        return 1.0
    if log_pz == -math.inf:
        return math.inf
    per_sample = math.log1p(-math.exp(log_pz))  # log(1 - p_z), exact for tiny p_z
    return float(max(1, math.ceil(math.log1p(-p) / per_sample)))


@dataclass(frozen=True)
class PriorControl:
    """One window's suffix after its own prefix and after unrelated ones.

    ``log_prior = log((1/m) sum_j p(suffix | prefix_j))`` over the m unrelated prefixes that
    could be scored (the model's prior for the suffix, estimated); ``lift = log_pz - log_prior``
    in nats: how much likelier the suffix is after its own prefix (m = 0: no estimate, NaN)."""

    log_pz: float
    log_prior: float
    n_prefixes: int

    @property
    def lift(self) -> float:
        return self.log_pz - self.log_prior


def unrelated_windows(windows: Sequence[WindowStats], doc: int, k: int, n: int, seed: int = 0) -> list[tuple[int, int]]:
    """Up to ``n`` windows ``(text, window)`` whose tokens share none with window ``k`` of text
    ``doc`` (another text's, or the same text's at least (P + S) / S windows away), drawn
    without replacement with a generator seeded by ``(seed, doc, k)``: the same draw in any order."""
    p, s = windows[doc].settings.prefix, windows[doc].settings.suffix
    pool = [(e, j) for e, w in enumerate(windows) for j in range(w.n_windows) if e != doc or abs(j - k) * s >= p + s]
    if len(pool) <= n:
        return pool
    rng = np.random.default_rng([seed, doc, k])
    return [pool[i] for i in sorted(rng.choice(len(pool), n, replace=False))]


def prior_controls(
    scorer: Scorer,
    stats: Sequence[TokenStats],
    windows: Sequence[WindowStats],
    candidates: Sequence[tuple[int, int]],
    n_prefixes: int = DEFAULT_CONTROL_PREFIXES,
    seed: int = 0,
) -> list[PriorControl]:
    """The prior-aware control of each candidate window ``(text, window)``: its suffix scored
    after the prefixes of :func:`unrelated_windows` (one batched pass, :meth:`Scorer.score_sequences`).
    ``stats`` and ``windows`` are the collection's (:func:`window_stats` of each text's statistics)."""
    at_least("n_prefixes", n_prefixes, 1)
    owner: list[int] = []  # the candidate of each sequence
    sequences: list[tuple[list[int], int]] = []
    for c, (doc, k) in enumerate(candidates):
        w = windows[doc]
        p, s = w.settings.prefix, w.settings.suffix
        start = int(w.starts[k])
        suffix = stats[doc].token_ids[start + p : start + p + s].tolist()
        for e, j in unrelated_windows(windows, doc, k, n_prefixes, seed):
            other = int(windows[e].starts[j])
            owner.append(c)
            ids, lead = scorer.with_bos(stats[e].token_ids[other : other + p].tolist() + suffix)
            sequences.append((ids, p + lead))
    scored = scorer.score_sequences(sequences)
    per: list[list[float]] = [[] for _ in candidates]
    for c, out in zip(owner, scored):
        if isinstance(out, np.ndarray):
            per[c].append(float(out[:, 0].astype(np.float64).sum()))
    result = []
    for (doc, k), values in zip(candidates, per):
        log_prior = float(np.logaddexp.reduce(values) - math.log(len(values))) if values else math.nan
        result.append(PriorControl(float(windows[doc].log_pz[k]), log_prior, len(values)))
    return result
