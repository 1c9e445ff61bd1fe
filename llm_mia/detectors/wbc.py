"""WBC: window-based comparison of the target's and the reference model's token losses."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import REFERENCE, TARGET, Detector, DetectorInput, DetectorSkip, register

DEFAULT_WINDOWS = "2,3,4,6,9,13,18,25,32,40"
"""The authors' recommended window sizes (geometrically spaced)."""


def window_sizes(spec: str) -> tuple[int, ...]:
    """Window sizes from a comma-separated list of whole numbers of at least 1."""
    try:
        sizes = tuple(int(part) for part in spec.split(",") if part.strip())
    except ValueError:
        raise ValueError(f"windows takes comma-separated whole numbers, not {spec!r}") from None
    if not sizes or min(sizes) < 1:
        raise ValueError(f"windows must name sizes of at least 1, not {spec!r}")
    return sizes


def wins(target_nll: np.ndarray, reference_nll: np.ndarray, window: int) -> float:
    """Share of the runs of ``window`` consecutive tokens (the whole text when it is shorter)
    whose summed loss is lower under the target than under the reference model."""
    w = min(window, target_nll.shape[0])
    kernel = np.ones(w)
    return float(np.mean(np.convolve(reference_nll, kernel, mode="valid") > np.convolve(target_nll, kernel, mode="valid")))


@register
@dataclass(frozen=True)
class WBC(Detector):
    """WBC: over sliding windows of several sizes, how often the model under test finds the text
    easier than the reference model does; each window casts one vote.

    For each size w (``windows``; w is cut to the text's n scored tokens when longer), every run
    of w consecutive tokens votes 1 when its summed loss (-lp_t) under the target is below its
    summed loss under the reference model, else 0; the score is the mean over the sizes of the
    share of 1-votes. A fine-tuned (or trained-on) text wins most windows; votes, unlike an
    average, are not swayed by a few tokens with extreme losses.

    Needs ``--reference-model`` with the same tokenizer as the model under test: a text the two
    tokenize differently has no token-by-token comparison and is skipped (the authors' code cuts
    both loss sequences to the shorter one instead, comparing unrelated positions).

    Chen et al. (2026), "Window-based Membership Inference Attacks Against Fine-tuned Large
    Language Models", USENIX Security (arXiv:2601.02751); default window sizes as in the
    authors' recommended configuration.
    """

    name = "wbc"
    formula = "mean over window sizes w of the share of w-token windows with sum NLL_target < sum NLL_ref"
    citation = "Chen et al. 2026, Window-based Membership Inference Attacks Against Fine-tuned Large Language Models (USENIX Security)"
    needs = frozenset({TARGET, REFERENCE})
    cost = "one forward pass of the reference model (shared with ref)"
    windows: str = DEFAULT_WINDOWS

    def __post_init__(self) -> None:
        window_sizes(self.windows)

    def score(self, inp: DetectorInput) -> float:
        target, reference = inp.stats[TARGET], inp.stats[REFERENCE]
        if target.token_ids.shape != reference.token_ids.shape or not np.array_equal(target.token_ids, reference.token_ids):
            raise DetectorSkip("the reference model tokenizes this text differently: no token-by-token comparison")
        t = -target.logprobs.astype(np.float64)
        r = -reference.logprobs.astype(np.float64)
        return float(np.mean([wins(t, r, w) for w in window_sizes(self.windows)]))
