"""Con-ReCall: ReCaLL with a member prefix as well, contrasted."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from .base import BOUND, TARGET, Detector, DetectorInput, DetectorSkip, View, loss_ratio, mean_nll, register
from .recall import SEPARATOR, prefix_from


@register
@dataclass(frozen=True)
class ConReCall(Detector):
    """Con-ReCall: the loss after a non-member prefix minus gamma times the loss after a member
    prefix, relative to the loss alone.

    score = (NLL(text | P_non) - gamma * NLL(text | P_mem)) / NLL(text), NLL = mean negative
    log-likelihood per token of the text (prefixes are context, never scored); P_non and P_mem
    are ``shots`` non-member and ``shots`` member texts joined by a blank line. A member
    prefix raises a member's likelihood more than a non-member's and a non-member prefix
    lowers it more (ReCaLL's finding), so the contrast is higher for members. gamma = 0 is
    ReCaLL. The authors report results for gamma from 0.1 to 1.0; the default here is 0.5.

    Uses labelled texts of both kinds: both prefixes come from a held-out pool of the run's
    own labelled documents, none of which is scored by any detector (:mod:`llm_mia.pools`).
    A check has no known members, so it cannot run this detector. Edge case: NLL(text) = 0 is
    skipped.

    Wang et al. (2025), "Con-ReCall: Detecting Pre-training Data in LLMs via Contrastive
    Decoding", COLING.
    """

    name = "con_recall"
    formula = "(NLL(text | non-member prefix) - gamma * NLL(text | member prefix)) / NLL(text)"
    citation = "Wang et al. 2025, Con-ReCall: Detecting Pre-training Data in LLMs via Contrastive Decoding (COLING)"
    uses_labels = True
    cost = "two more forward passes, over each prefix and the text"
    shots: int = 5
    gamma: float = 0.5
    nonmember_texts: tuple[str, ...] = field(default=(), metadata=BOUND)
    member_texts: tuple[str, ...] = field(default=(), metadata=BOUND)

    def __post_init__(self) -> None:
        if self.shots < 1:
            raise ValueError(f"shots must be at least 1; got {self.shots}")
        if not 0.0 <= self.gamma:
            raise ValueError(f"gamma must be at least 0; got {self.gamma}")

    def pool_needs(self) -> dict[int, int]:
        return {0: self.shots, 1: self.shots}

    def bind(self, pool: Mapping[int, Sequence[str]]) -> ConReCall:
        return replace(
            self,
            nonmember_texts=prefix_from(pool.get(0, []), self.shots, "non-member"),
            member_texts=prefix_from(pool.get(1, []), self.shots, "member"),
        )

    def prefix_texts(self) -> list[str]:
        return [*self.nonmember_texts, *self.member_texts]

    def _views(self) -> tuple[View, View] | None:
        if not self.nonmember_texts or not self.member_texts:
            return None
        return View(context=SEPARATOR.join(self.nonmember_texts)), View(context=SEPARATOR.join(self.member_texts))

    def views(self) -> frozenset[View]:
        both = self._views()
        return frozenset({TARGET} if both is None else {TARGET, *both})

    def score(self, inp: DetectorInput) -> float:
        both = self._views()
        if both is None:
            raise DetectorSkip("no prefixes (the detector was not bound to a pool of labelled texts)")
        non, mem = (mean_nll(inp.stats[v]) for v in both)
        return loss_ratio(non - self.gamma * mem, mean_nll(inp.stats[TARGET]))
