"""Gap-K%: the gap between each token and the model's top-1 prediction, smoothed, lowest k%."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..backends import TOP1
from .base import LOGPROBS, MOMENTS, TARGET, Detector, DetectorInput, DetectorSkip, check_fraction, lowest_mean, register
from .min_k import per_sigma


def window_means(values: np.ndarray, window: int) -> np.ndarray:
    """Means of every run of ``window`` consecutive values (n - window + 1 of them); the
    values themselves when there are fewer than ``window``."""
    if values.shape[0] < window:
        return values
    sums = np.cumsum(np.concatenate([[0.0], values]))
    return (sums[window:] - sums[:-window]) / window


@register
@dataclass(frozen=True)
class GapK(Detector):
    """Gap-K%: how far each token falls below the model's top-1 prediction, in units of the
    spread of the next-token distribution, smoothed over a window; the mean of the lowest k%.

    g_t = (lp_t - top_t) / sigma_t, top_t = max_v log p(v | x_<t), sigma_t = sqrt(var_t) (the
    standard deviation of log p(v | x_<t) under p, as in Min-K%++); the g_t are averaged over
    every run of ``window`` consecutive tokens (all of them when the text has fewer), and the
    score is the mean of the max(1, floor(k * m)) lowest of the m window means. g_t <= 0, and
    0 where the text's token is the model's first choice: training pushes a member's tokens to
    the top, so a higher score means more likely a member.

    Edge cases: where sigma_t <= 1e-6 (a point mass, or uniform over its support) every
    possible token is a top-1 choice, so g_t = 0 (as with Min-K%++; the authors' clamp of the
    variance at 1e-8 gives the same). Statistics without the top-1 column are skipped. Needs
    the top-1 log-probability and the moments of each position (an exact backend; a backend
    with top-k log-probabilities only gives the first).

    "Gap-K%: Measuring Top-1 Prediction Gap for Detecting Pretraining Data" (2026),
    arXiv:2601.19936; defaults k = 0.2 and window = 3 as in the authors' experiments.
    """

    name = "gap_k"
    formula = "mean of the lowest k% of window-means of (lp_t - top_t) / sigma_t"
    citation = "Gap-K%: Measuring Top-1 Prediction Gap for Detecting Pretraining Data, 2026 (arXiv:2601.19936)"
    requires = frozenset({LOGPROBS, MOMENTS, TOP1})
    default = False  # until measured on the benchmark suites
    k: float = 0.2
    window: int = 3

    def __post_init__(self) -> None:
        check_fraction(self.k)
        if self.window < 1:
            raise ValueError(f"window must be at least 1; got {self.window}")

    def score(self, inp: DetectorInput) -> float:
        st = inp.stats[TARGET]
        if st.top_logprob is None:
            raise DetectorSkip("no top-1 log-probabilities in these statistics")
        gaps = per_sigma(st.logprobs.astype(np.float64) - st.top_logprob.astype(np.float64), st)
        return lowest_mean(window_means(gaps, self.window), self.k)
