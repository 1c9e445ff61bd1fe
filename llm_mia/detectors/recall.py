"""ReCaLL: the relative change of the log-likelihood when a non-member prefix comes first."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from .base import BOUND, TARGET, Detector, DetectorInput, DetectorSkip, View, loss_ratio, mean_nll, register

SEPARATOR = "\n\n"
"""Joins the prefix texts (the authors' code joins them with nothing, which fuses the last
word of one text with the first of the next)."""


def prefix_from(texts: Sequence[str], shots: int, what: str) -> tuple[str, ...]:
    """The first ``shots`` texts, stripped (``what`` names them in errors)."""
    chosen = tuple(t.strip() for t in texts if t.strip())[:shots]
    if len(chosen) < shots:
        raise ValueError(f"{shots} {what} text(s) are needed as a prefix; {len(chosen)} given")
    return chosen


def read_prefix_file(path: str, shots: int) -> tuple[str, ...]:
    """The prefix from the first ``shots`` texts of a file (any format ``llm-mia score`` reads)."""
    from ..io import texts_of

    texts, _ = texts_of([path])
    return prefix_from(texts, shots, f"non-member (from {path})")


@register
@dataclass(frozen=True)
class ReCaLL(Detector):
    """ReCaLL: the text's loss after a prefix of known non-member texts, relative to its loss alone.

    score = NLL(text | P) / NLL(text), NLL = mean negative log-likelihood per token of the
    text (the prefix P is context, never scored), P = ``shots`` non-member texts joined by a
    blank line. The paper's finding: a non-member prefix lowers the likelihood of a member more
    than that of a non-member, so the ratio (= LL(text | P) / LL(text)) is higher for members.

    Uses labelled texts: P is drawn from a held-out pool of the run's own labelled non-members
    (bench: the split; check: the reference texts), and no text of the pool is scored by any
    detector (:mod:`llm_mia.pools`). ``prefix_file`` names a file of known non-members to use
    instead (its first ``shots`` texts); a scored text equal to one of them is held out too.
    Edge cases: NLL(text) = 0 is skipped; a prefix longer than the scorer's ``max_tokens``
    stops the run before any scoring.

    Xie et al. (2024), "ReCaLL: Membership Inference via Relative Conditional Log-Likelihoods", EMNLP.
    """

    name = "recall"
    formula = "NLL(text | non-member prefix) / NLL(text)"
    citation = "Xie et al. 2024, ReCaLL: Membership Inference via Relative Conditional Log-Likelihoods (EMNLP)"
    uses_labels = True
    cost = "one more forward pass, over the prefix and the text (the same prefix for every text)"
    shots: int = 5
    prefix_file: str = ""
    texts: tuple[str, ...] = field(default=(), metadata=BOUND)  # the prefix's texts, set by bind()

    def __post_init__(self) -> None:
        if self.shots < 1:
            raise ValueError(f"shots must be at least 1; got {self.shots}")

    @property
    def prefix(self) -> str | None:
        return SEPARATOR.join(self.texts) if self.texts else None

    def pool_needs(self) -> dict[int, int]:
        return {} if self.prefix_file else {0: self.shots}

    def bind(self, pool: Mapping[int, Sequence[str]]) -> ReCaLL:
        if self.prefix_file:
            return replace(self, texts=read_prefix_file(self.prefix_file, self.shots))
        return replace(self, texts=prefix_from(pool.get(0, []), self.shots, "non-member"))

    def prefix_texts(self) -> list[str]:
        return list(self.texts)

    def views(self) -> frozenset[View]:
        return frozenset({TARGET} if self.prefix is None else {TARGET, View(context=self.prefix)})

    def score(self, inp: DetectorInput) -> float:
        if self.prefix is None:
            raise DetectorSkip("no prefix (the detector was not bound to a pool of non-member texts)")
        return loss_ratio(mean_nll(inp.stats[View(context=self.prefix)]), mean_nll(inp.stats[TARGET]))
