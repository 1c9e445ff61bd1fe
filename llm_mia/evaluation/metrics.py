"""Metrics over (y_true, y_score): label 1 = member, higher score = more likely member.

- ``auroc``: the probability that a random member outscores a random non-member, ties
  counting one half (the Mann-Whitney U statistic divided by n1 * n0).
- ``tpr_at_fpr``: the best true-positive rate over all thresholds "score >= t" whose
  false-positive rate does not exceed the budget (never the nearest point above it).
  With n0 non-members at most floor(budget * n0) false positives are allowed; when that is
  0 the figure is a TPR at zero FPR, and :func:`fpr_budget_too_small` flags it.
- ``bootstrap_ci``: a percentile interval from a stratified bootstrap (members and
  non-members resampled separately, so every resample keeps both classes), seeded.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import stats

N_BOOTSTRAP = 1000
"""Default number of bootstrap resamples everywhere."""


def _split(y_true: np.ndarray, y_score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true)
    s = np.asarray(y_score, dtype=np.float64)
    if y.shape != s.shape or y.ndim != 1:
        raise ValueError("y_true and y_score must be 1-d arrays of the same length")
    if not np.all(np.isin(y, (0, 1))):
        raise ValueError("labels must be 0 (non-member) or 1 (member)")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores must be finite")
    pos, neg = s[y == 1], s[y == 0]
    if pos.size == 0 or neg.size == 0:
        raise ValueError(f"need both classes: {pos.size} member(s), {neg.size} non-member(s)")
    return pos, neg


def _split_for_bootstrap(y_true: np.ndarray, y_score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pos, neg = _split(y_true, y_score)
    if pos.size < 2 or neg.size < 2:
        raise ValueError(f"a bootstrap needs at least 2 members and 2 non-members; got {pos.size} and {neg.size}")
    return pos, neg


def auroc_stat(pos: np.ndarray, neg: np.ndarray, axis: int = -1) -> np.ndarray:
    """AUROC of ``pos`` over ``neg`` from mid-ranks along ``axis`` (ties count 1/2), vectorised
    over the other axes; no input checks (see :func:`auroc`)."""
    n1, n0 = pos.shape[axis], neg.shape[axis]
    ranks = stats.rankdata(np.concatenate([pos, neg], axis=axis), axis=axis)
    u = np.take(ranks, np.arange(n1), axis=axis).sum(axis=axis) - n1 * (n1 + 1) / 2.0
    return u / (n1 * n0)


def allowed_false_positives(budget: float, n_nonmembers: int) -> int:
    """floor(budget * n0): false positives a threshold may produce within the budget."""
    return int(math.floor(budget * n_nonmembers + 1e-9))


def tpr_stat(pos: np.ndarray, neg: np.ndarray, budget: float, axis: int = -1) -> np.ndarray:
    """Best TPR with FPR <= budget, vectorised along ``axis``.

    With k = floor(budget * n0) allowed false positives, the lowest admissible threshold lies
    just above the (k+1)-th largest non-member score v; members scoring > v are detected.
    """
    pos, neg = np.moveaxis(pos, axis, -1), np.moveaxis(neg, axis, -1)
    n0 = neg.shape[-1]
    k = allowed_false_positives(budget, n0)
    if k >= n0:
        return np.ones(pos.shape[:-1])
    v = np.sort(neg, axis=-1)[..., n0 - 1 - k]
    return (pos > v[..., None]).mean(axis=-1)


def auroc(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """Area under the ROC curve (ties count 1/2)."""
    pos, neg = _split(y_true, y_score)
    return float(auroc_stat(pos, neg))


def tpr_at_fpr(y_true: np.ndarray, y_score: np.ndarray, budget: float) -> float:
    """Best TPR over thresholds with FPR <= ``budget``."""
    if not 0.0 <= budget <= 1.0:
        raise ValueError("the FPR budget must be in [0, 1]")
    pos, neg = _split(y_true, y_score)
    return float(tpr_stat(pos, neg, budget))


def fpr_budget_too_small(budget: float, n_nonmembers: int) -> bool:
    """True when the budget admits no false positive at all (budget * n0 < 1)."""
    return allowed_false_positives(budget, n_nonmembers) == 0


def roc_curve(y_true: np.ndarray, y_score: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds) for the rule "member if score >= threshold".

    Thresholds are the distinct scores in decreasing order, preceded by +inf (the point (0, 0)).
    """
    pos, neg = _split(y_true, y_score)
    s = np.concatenate([pos, neg])
    y = np.concatenate([np.ones(pos.size), np.zeros(neg.size)])
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last_of_tie = np.r_[np.nonzero(np.diff(s))[0], s.size - 1]
    tps = np.cumsum(y)[last_of_tie]
    fps = (last_of_tie + 1) - tps
    fpr = np.r_[0.0, fps / neg.size]
    tpr = np.r_[0.0, tps / pos.size]
    return fpr, tpr, np.r_[np.inf, s[last_of_tie]]


def bootstrap_ci(
    y_true: np.ndarray,
    y_score: np.ndarray,
    statistic: str | Callable[[np.ndarray, np.ndarray, int], np.ndarray],
    *,
    n_resamples: int = N_BOOTSTRAP,
    confidence: float = 0.95,
    seed: int = 0,
    budget: float = 0.01,
) -> tuple[float, float]:
    """Percentile confidence interval from a stratified, seeded bootstrap.

    ``statistic`` is "auroc", "tpr" (at FPR ``budget``) or a vectorised function
    ``f(members, non_members, axis)``.
    """
    pos, neg = _split_for_bootstrap(y_true, y_score)
    fn: Callable[..., np.ndarray]
    if statistic == "auroc":
        fn = auroc_stat
    elif statistic == "tpr":
        fn = lambda p, n, axis=-1: tpr_stat(p, n, budget, axis)  # noqa: E731
    elif callable(statistic):
        fn = statistic
    else:
        raise ValueError(f"unknown statistic {statistic!r}")
    res = stats.bootstrap(
        (pos, neg),
        fn,
        n_resamples=n_resamples,
        confidence_level=confidence,
        method="percentile",
        vectorized=True,
        rng=np.random.default_rng(seed),
        batch=max(1, min(n_resamples, 20_000_000 // (pos.size + neg.size + 1))),
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)
