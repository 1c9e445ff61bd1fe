"""Metrics against brute force and hand-made cases."""

from __future__ import annotations

import numpy as np
import pytest

from llm_mia import auroc, bootstrap_ci, roc_curve, tpr_at_fpr
from llm_mia.evaluation import fpr_budget_too_small


def brute_auroc(y, s):
    pos, neg = s[y == 1], s[y == 0]
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def brute_tpr_at_fpr(y, s, budget):
    """Try every threshold (each distinct score and +inf); keep the best TPR with FPR <= budget."""
    best = 0.0
    for t in list(np.unique(s)) + [np.inf]:
        pred = s >= t
        fpr = (pred & (y == 0)).sum() / (y == 0).sum()
        tpr = (pred & (y == 1)).sum() / (y == 1).sum()
        if fpr <= budget:
            best = max(best, tpr)
    return best


@pytest.mark.parametrize("seed", range(5))
def test_against_brute_force_with_ties(seed):
    rng = np.random.default_rng(seed)
    n = 150
    y = rng.integers(0, 2, n)
    s = np.round(rng.normal(size=n) + 0.7 * y, 1)  # rounding makes ties
    assert auroc(y, s) == pytest.approx(brute_auroc(y, s), abs=1e-12)
    for budget in (0.0, 0.01, 0.05, 0.1, 0.3, 1.0):
        assert tpr_at_fpr(y, s, budget) == pytest.approx(brute_tpr_at_fpr(y, s, budget), abs=1e-12)
    fpr, tpr, thr = roc_curve(y, s)
    assert fpr[0] == 0 and tpr[0] == 0 and fpr[-1] == 1 and tpr[-1] == 1
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    assert np.trapezoid(tpr, fpr) == pytest.approx(brute_auroc(y, s), abs=1e-12)


def test_hand_made_cases():
    y = np.array([1, 1, 1, 0, 0, 0])
    assert auroc(y, np.array([3, 2, 1, -1, -2, -3.0])) == 1.0
    assert auroc(y, np.array([-3, -2, -1, 1, 2, 3.0])) == 0.0
    assert auroc(y, np.zeros(6)) == 0.5
    # members 0.9, 0.8, 0.3; non-members 0.85, 0.2, 0.1: 7 of 9 pairs won
    s = np.array([0.9, 0.8, 0.3, 0.85, 0.2, 0.1])
    assert auroc(y, s) == pytest.approx(7 / 9)
    # FPR 0 allows no non-member: only 0.9 lies above 0.85
    assert tpr_at_fpr(y, s, 0.0) == pytest.approx(1 / 3)
    # FPR 1/3 allows one false positive: threshold above 0.2 takes all members
    assert tpr_at_fpr(y, s, 1 / 3) == pytest.approx(1.0)
    # a budget just below 1/3 must not take the point at FPR 1/3 (no rounding up)
    assert tpr_at_fpr(y, s, 0.33) == pytest.approx(1 / 3)


def test_budget_flag():
    assert fpr_budget_too_small(0.001, 389)
    assert not fpr_budget_too_small(0.01, 389)
    assert fpr_budget_too_small(0.01, 99)
    assert not fpr_budget_too_small(0.01, 100)


def test_bootstrap_is_seeded_and_sensible():
    rng = np.random.default_rng(0)
    y = np.r_[np.ones(200), np.zeros(200)].astype(int)
    s = rng.normal(size=400) + 0.8 * y
    a = bootstrap_ci(y, s, "auroc", n_resamples=500, seed=3)
    b = bootstrap_ci(y, s, "auroc", n_resamples=500, seed=3)
    c = bootstrap_ci(y, s, "auroc", n_resamples=500, seed=4)
    assert a == b and a != c
    est = auroc(y, s)
    assert a[0] < est < a[1] and 0.02 < a[1] - a[0] < 0.15
    lo, hi = bootstrap_ci(y, s, "tpr", n_resamples=300, seed=0, budget=0.05)
    assert 0.0 <= lo <= tpr_at_fpr(y, s, 0.05) <= hi <= 1.0


def test_bad_inputs():
    with pytest.raises(ValueError, match="both classes"):
        auroc(np.ones(4, dtype=int), np.arange(4.0))
    with pytest.raises(ValueError, match="0 \\(non-member\\) or 1"):
        auroc(np.array([0, 2]), np.array([0.1, 0.2]))
    with pytest.raises(ValueError, match="finite"):
        auroc(np.array([0, 1]), np.array([0.1, np.nan]))
