"""Min-K% Prob and Min-K%++."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..types import TokenStats
from .base import LOGPROBS, MOMENTS, TARGET, Detector, DetectorInput, check_fraction, lowest_mean, register

DEFAULT_K = 0.2
SIGMA_EPS = 1e-6
"""Below this standard deviation a next-token distribution is treated as degenerate."""


@dataclass(frozen=True)
class _LowestFraction(Detector):
    """Mean of the max(1, floor(k*n)) smallest per-token values (``token_values``)."""

    k: float = DEFAULT_K

    def __post_init__(self) -> None:
        check_fraction(self.k)

    def token_values(self, stats: TokenStats) -> np.ndarray:
        raise NotImplementedError

    def score(self, inp: DetectorInput) -> float:
        return lowest_mean(self.token_values(inp.stats[TARGET]), self.k)


@register
@dataclass(frozen=True)
class MinK(_LowestFraction):
    """Mean of the lowest k-fraction of token log-probabilities.

    score = mean of the max(1, floor(k*n)) smallest lp_t over the n scored tokens.
    Non-members tend to contain a few outlier tokens with very low probability.

    Shi et al. (2024), "Detecting Pretraining Data from Large Language Models", ICLR.
    """

    name = "min_k"
    formula = "mean of the max(1, floor(k*n)) smallest lp_t"
    citation = "Shi et al. 2024, Detecting Pretraining Data from Large Language Models (ICLR)"

    def token_values(self, stats: TokenStats) -> np.ndarray:
        return stats.logprobs


@register
@dataclass(frozen=True)
class MinKPlusPlus(_LowestFraction):
    """Min-K% over token log-probabilities standardised by the model's own next-token distribution.

    z_t = (lp_t - mu_t) / sigma_t, with mu_t = E_{v~p(.|x_<t)}[log p(v|x_<t)] and
    sigma_t^2 = Var_{v~p(.|x_<t)}[log p(v|x_<t)] (probability-weighted moments);
    score = mean of the max(1, floor(k*n)) smallest z_t.
    Edge case: where sigma_t <= 1e-6 (a degenerate distribution: uniform over its support
    or a point mass, up to float32 rounding) z_t = 0: the token is exactly as likely as the
    distribution's typical token, so it carries no evidence either way.

    Zhang et al. (2025), "Min-K%++: Improved Baseline for Detecting Pre-Training Data from
    Large Language Models", ICLR.
    """

    name = "min_k_pp"
    formula = "mean of the max(1, floor(k*n)) smallest (lp_t - mu_t) / sigma_t"
    citation = "Zhang et al. 2025, Min-K%++ (ICLR)"
    requires = frozenset({LOGPROBS, MOMENTS})

    def token_values(self, stats: TokenStats) -> np.ndarray:
        return standardized_logprobs(stats)


def standardized_logprobs(stats: TokenStats) -> np.ndarray:
    """z_t = (lp_t - mu_t) / sigma_t, and 0 where sigma_t <= SIGMA_EPS (float64)."""
    return per_sigma(stats.logprobs.astype(np.float64) - stats.dist_mean.astype(np.float64), stats)


def per_sigma(values: np.ndarray, stats: TokenStats) -> np.ndarray:
    """``values`` (one per scored position) divided by sigma_t, the standard deviation of the
    log-probabilities under the position's next-token distribution; 0 where sigma_t <=
    SIGMA_EPS (a point mass or a uniform distribution: every possible token is as likely as
    any other, so a difference from the typical or the top token carries no evidence)."""
    sigma = np.sqrt(np.maximum(stats.dist_var.astype(np.float64), 0.0))
    degenerate = sigma <= SIGMA_EPS
    return np.where(degenerate, 0.0, values / np.where(degenerate, 1.0, sigma))
