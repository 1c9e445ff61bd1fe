"""GradNorm: the size of the gradient of the text's loss with respect to the model's weights."""

from __future__ import annotations

from dataclasses import dataclass

from ..backends import GRADIENT
from ..views import TARGET_GRADIENT
from .base import LOGPROBS, Detector, DetectorInput, DetectorSkip, register

NORMS = {"1": 0, "2": 1, "inf": 2}


@register
@dataclass(frozen=True)
class GradNorm(Detector):
    """GradNorm (white-box): minus the norm of the gradient of the text's mean loss with
    respect to the model's weights.

    score = -(1/|T|) sum over the weight tensors W in T of ||dL/dW||_p, L = -mean_t lp_t over
    the text's scored tokens (its first ``max_tokens``), p = ``norm`` (1, 2 or inf; the mean
    over tensors of each tensor's norm, as MIMIR computes it, default inf as there). Training
    drives a member's loss to a flat point of the loss surface, so its gradient is smaller:
    a higher score means more likely a member.

    Cost: one forward and one backward pass per text, one text at a time, on a backend that
    gives gradients (the in-process Hugging Face backend; not a served model). Not with
    sliding windows (``--stride``). Memory: the backward pass holds the weights' gradients and,
    per token, the activations and (tokens x vocabulary) tensors: on SmolLM2-135M about 4.7 GB at
    2,048 tokens, 9.6 GB at 4,096 (benchmarks/gradient_memory.py). A text whose estimated need
    exceeds the memory free is not run: its score is missing with the reason (the needed and
    free bytes, and the ``--max-tokens`` that fits). Edge case: statistics without gradient
    norms are skipped.

    Wang et al. (2024), "Pandora's White-Box: Precise Training Data Detection and Extraction
    in Large Language Models", arXiv:2402.17012; the gradient-norm attack as run by MIMIR
    (Duan et al. 2024, "Do Membership Inference Attacks Work on Large Language Models?").
    """

    name = "gradnorm"
    formula = "-mean over weight tensors W of ||d loss / dW||_p"
    citation = "Wang et al. 2024, Pandora's White-Box (arXiv:2402.17012); as run in MIMIR (Duan et al. 2024)"
    needs = frozenset({TARGET_GRADIENT})
    requires = frozenset({LOGPROBS, GRADIENT})
    default = False  # a backward pass per text
    cost = "one forward and one backward pass per text, one text at a time (white-box)"
    norm: str = "inf"

    def __post_init__(self) -> None:
        if self.norm not in NORMS:
            raise ValueError(f"norm must be one of {', '.join(NORMS)}; got {self.norm!r}")

    def score(self, inp: DetectorInput) -> float:
        norms = inp.stats[TARGET_GRADIENT].grad_norms
        if norms is None:
            raise DetectorSkip("no gradient norms in these statistics")
        return -float(norms[NORMS[self.norm]])
