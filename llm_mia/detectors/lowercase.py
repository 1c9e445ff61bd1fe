"""Lowercase-calibrated loss."""

from __future__ import annotations

from dataclasses import dataclass

from .base import TARGET, TARGET_LOWER, Detector, DetectorInput, loss_ratio, mean_nll, register


@register
@dataclass(frozen=True)
class Lowercase(Detector):
    """Ratio of the loss of the lowercased text to the loss of the text, under the same model.

    score = NLL(text.lower()) / NLL(text), NLL = mean negative log-likelihood per token.
    A memorised text has a low loss in its original casing, so the ratio is high.
    Edge case: NLL(text) == 0 (every token predicted with probability 1) is skipped.

    Carlini et al. (2021), "Extracting Training Data from Large Language Models", USENIX Security.
    """

    name = "lowercase"
    formula = "NLL(lower(text)) / NLL(text)"
    citation = "Carlini et al. 2021, Extracting Training Data from Large Language Models (USENIX Security)"
    needs = frozenset({TARGET, TARGET_LOWER})
    cost = "one more forward pass (the lowercased text)"

    def score(self, inp: DetectorInput) -> float:
        return loss_ratio(mean_nll(inp.stats[TARGET_LOWER]), mean_nll(inp.stats[TARGET]))
