"""Reference-model calibration."""

from __future__ import annotations

from dataclasses import dataclass

from .base import REFERENCE, TARGET, Detector, DetectorInput, mean_nll, register


@register
@dataclass(frozen=True)
class Reference(Detector):
    """Loss under a reference model minus loss under the target model.

    score = NLL_ref(text) - NLL_target(text), each with its own model and tokenizer.
    A text the target finds much easier than a comparable reference model does is likely a
    member; the reference cancels out how easy the text is in itself.
    Needs ``--reference-model``.

    Carlini et al. (2021), "Extracting Training Data from Large Language Models", USENIX Security.
    """

    name = "ref"
    formula = "NLL_ref(text) - NLL_target(text)"
    citation = "Carlini et al. 2021, Extracting Training Data from Large Language Models (USENIX Security)"
    needs = frozenset({TARGET, REFERENCE})
    cost = "one forward pass of the reference model"

    def score(self, inp: DetectorInput) -> float:
        return mean_nll(inp.stats[REFERENCE]) - mean_nll(inp.stats[TARGET])
