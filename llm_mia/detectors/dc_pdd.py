"""DC-PDD: token probabilities calibrated by the tokens' frequencies in a reference corpus."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from ..io import FrequencyTable, check_tokenizer, load_table
from ..strings import printable
from .base import TARGET, Detector, DetectorInput, register


def first_occurrences(ids: np.ndarray) -> np.ndarray:
    """Positions (ascending) where each distinct id of ``ids`` occurs for the first time."""
    _, first = np.unique(ids, return_index=True)
    return np.sort(first)


def dc_pdd_score(token_ids: np.ndarray, logprobs: np.ndarray, table: FrequencyTable, a: float) -> float:
    """The DC-PDD score of one text: ``token_ids`` are its scored tokens, ``logprobs`` their
    log-probabilities (same length). See :class:`DCPDD`."""
    keep = first_occurrences(token_ids)
    p = np.exp(logprobs[keep].astype(np.float64))
    alpha = -p * np.log(table.frequencies(token_ids[keep]))
    return float(np.mean(np.minimum(alpha, a)))


@register
@dataclass(frozen=True)
class DCPDD(Detector):
    """DC-PDD: how far the model's token probabilities stand above the tokens' frequencies in
    ordinary text (a cross-entropy between the two), over each token's first occurrence, capped.

    alpha_i = p_i * log(1 / f(x_i)) for the scored tokens x_i that occur in the text for the
    first time (a token that repeats counts once, at its first position), p_i = p(x_i | x_<i),
    f = the token's Laplace-smoothed frequency in a reference corpus, (count + 1) / (N + |V|);
    alpha_i is capped at ``a``; score = the mean of the capped alpha_i. A member's tokens get
    high probability from the model however rare they are in ordinary text, so a higher score
    means more likely a member.

    ``table`` names a frequency table built with the tokenizer of the model under test
    (``llm-mia freq build CORPUS --model M -o TABLE``); a table from another tokenizer is
    refused before any scoring. The corpus should be ordinary text of the kind the model was
    trained on (the authors use part of C4), and must not contain the texts being tested.
    Uses no labelled texts. Edge cases: the first token of a text is scored only when the
    tokenizer adds a beginning-of-text token (as with every detector here); a token the table
    never saw has f = 1 / (N + |V|).

    Zhang et al. (2024), "Pretraining Data Detection for Large Language Models: A
    Divergence-based Calibration Method", EMNLP; default a = 0.01 as in the authors' experiments.
    """

    name = "dc_pdd"
    formula = "mean over first occurrences of min(p_t * log(1/f(x_t)), a), f = corpus frequency"
    citation = "Zhang et al. 2024, Pretraining Data Detection for LLMs: A Divergence-based Calibration Method (EMNLP)"
    default = False  # needs a frequency table
    cost = "none beyond the shared forward pass; a frequency table built once per tokenizer (llm-mia freq build)"
    table: str = ""
    a: float = 0.01

    def __post_init__(self) -> None:
        if not self.table:
            raise ValueError("needs a token frequency table: dc_pdd:table=PATH (build one with llm-mia freq build CORPUS --model M -o PATH)")
        if not self.a > 0:
            raise ValueError(f"a must be positive; got {self.a}")

    @cached_property
    def frequency_table(self) -> FrequencyTable:
        return load_table(self.table)

    def check_models(self, models: Mapping[str, Any]) -> None:
        target = models["target"]
        check_tokenizer(self.frequency_table, target.tokenizer_identity, target.spec, printable(self.table))

    def score(self, inp: DetectorInput) -> float:
        st = inp.stats[TARGET]
        return dc_pdd_score(np.asarray(st.token_ids[1:]), st.logprobs, self.frequency_table, self.a)
