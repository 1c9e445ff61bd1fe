"""CAMIA: context-aware signals over the trajectory of a text's per-token log-probabilities."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import TARGET, Detector, DetectorInput, register

SIGNALS = ("count_above_pre", "count_above", "lz", "calibrated_loss")


def above_running_mean(lp: np.ndarray) -> float:
    """The fraction of positions t = 1..m-1 where lp_t > mean(lp_0..lp_{t-1}) (the token is
    likelier than the text so far, on average); 0 for a single value."""
    if lp.shape[0] < 2:
        return 0.0
    running = np.cumsum(lp)[:-1] / np.arange(1, lp.shape[0])
    return float(np.mean(lp[1:] > running))


def lempel_ziv_phrases(symbols: np.ndarray) -> int:
    """Phrases of the Lempel-Ziv (1976) dictionary parse of a sequence: read left to right,
    each new phrase is the shortest run starting at the current position that is not yet a
    phrase; a run that reaches the end without becoming a new phrase is not counted."""
    seen: set[tuple[int, ...]] = set()
    values = [int(s) for s in symbols]
    start, n = 0, len(values)
    while start < n:
        end = start + 1
        while end <= n and tuple(values[start:end]) in seen:
            end += 1
        if end > n:
            break
        seen.add(tuple(values[start:end]))
        start = end
    return len(seen)


def quantised(lp: np.ndarray, bins: int) -> np.ndarray:
    """lp_t in ``bins`` levels 0..bins-1: first the step of 100 equal steps from min(lp) to 0
    that it falls in, then those steps in ``bins`` equal-width bins between their smallest
    and largest (CAMIA's two-stage binning); all level 0 when the steps do not vary."""
    steps = np.digitize(lp, np.linspace(min(float(lp.min()), 0.0), 0.0, 100))
    lo, hi = int(steps.min()), int(steps.max())
    if hi == lo:
        return np.zeros_like(steps)
    return np.digitize(steps, np.linspace(lo, hi, bins + 1)[1:-1])


@register
@dataclass(frozen=True)
class CAMIA(Detector):
    """CAMIA's one-pass signals: how the model's uncertainty moves along the text, not only its mean.

    With lp_t = log p(x_t | x_<t) over the scored tokens, restricted to the first ``cut``
    (0 = all), ``signal`` is one of:

    - ``count_above_pre`` (default): the fraction of positions where lp_t > mean(lp_<t), the
      running mean of the tokens before it. The paper's observation: on a text it was trained
      on, the model becomes surer as the context grows (the loss falls along the text), so more
      tokens beat the text so far. Higher = member.
    - ``count_above``: the fraction of positions with lp_t >= ``tau`` (loss at most -tau;
      the paper uses cut = 200 and tau in {-1, -2, -3}). Higher = member.
    - ``lz``: minus the Lempel-Ziv complexity (phrases / length) of lp quantised into ``bins``
      levels (the paper: cut = 200, bins in {3, 4, 5}); a member's trajectory is more regular
      (fewer new patterns). Higher = member.
    - ``calibrated_loss``: mean(lp) / token diversity, the diversity being distinct tokens /
      scored tokens; a text that repeats tokens is easy for any model, and the division takes
      that back. Higher = member.

    The paper derives 75 features, many of them from a second pass over the text repeated six
    times (slope, approximate entropy, differences between copies), orients each by the labels
    of the data and combines them with p-values against held-out non-members or a logistic
    regression trained on labelled texts. Here: the one-pass signals only, each oriented as the
    paper's reasoning says (fixed, never from the labels) and used alone; no labelled texts.
    Edge cases: a text with one scored token gets count_above_pre 0.

    Chang, Shamsabadi, Katevas, Haddadi and Shokri (2025), "Context-Aware Membership Inference
    Attacks against Pre-trained Large Language Models", EMNLP.
    """

    name = "camia"
    formula = "count_above_pre: share of t with lp_t > mean(lp_<t) (or count_above, lz, calibrated_loss)"
    citation = "Chang et al. 2025, Context-Aware Membership Inference Attacks against Pre-trained LLMs (EMNLP)"
    default = False  # until measured on the benchmark suites
    signal: str = "count_above_pre"
    cut: int = 0
    tau: float = -1.0
    bins: int = 3

    def __post_init__(self) -> None:
        if self.signal not in SIGNALS:
            raise ValueError(f"signal must be one of {', '.join(SIGNALS)}; got {self.signal!r}")
        if self.cut < 0:
            raise ValueError(f"cut must be 0 (all tokens) or positive; got {self.cut}")
        if self.bins < 2:
            raise ValueError(f"bins must be at least 2; got {self.bins}")

    def score(self, inp: DetectorInput) -> float:
        st = inp.stats[TARGET]
        end = self.cut or st.n_scored
        lp = st.logprobs[:end].astype(np.float64)
        if self.signal == "count_above_pre":
            return above_running_mean(lp)
        if self.signal == "count_above":
            return float(np.mean(lp >= self.tau))
        if self.signal == "lz":
            return -lempel_ziv_phrases(quantised(lp, self.bins)) / lp.shape[0]
        ids = np.asarray(st.token_ids[1 : end + 1])
        return float(np.mean(lp)) / (np.unique(ids).shape[0] / ids.shape[0])
