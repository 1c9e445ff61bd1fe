"""The scoring-backend interface: the narrow seam between the scorer's generic part
(segmenting, windows, batching order, cache, deduplication, failure splitting, progress) and
what runs a model (in the spirit of lm-evaluation-harness's ``LM``).

A backend tokenizes texts and runs batches of token sequences; for each sequence
``(ids, score_from)`` it returns an ``(n_scored, 4)`` float32 array ``[lp, mu, var, top]`` for the
positions ``p >= max(1, score_from)``: ``lp = log p(x_p | x_<p)``, and the mean and variance
of ``log p(v | x_<p)`` under ``v ~ p(. | x_<p)``, and ``top = max_v log p(v | x_<p)`` (the
log-probability of the most likely next token). It declares what it computes exactly
(``capabilities``); a column it cannot compute is NaN. Detectors declare what they need
(``Detector.requires``), and the pipeline refuses, before any scoring, a detector that a
backend cannot serve.

A backend with the ``GRADIENT`` capability also has ``forward_with_gradient(ids)``: for one
sequence (every position after the first scored), the same ``(n - 1, 4)`` array and the
norms of the gradient of the mean loss ``-mean_t lp_t`` with respect to the model's weights,
a float64 array ``[L1, L2, Linf]``, each the mean over the weight tensors of that tensor's norm.
It may also have ``gradient_bytes(n)``, the bytes that pass needs for a sequence of ``n`` tokens
(an estimate that errs high), and ``free_bytes()``, the bytes its device has free (None if
unknown); the scorer then refuses, as a per-text status, a text that would not fit.

A backend with the ``TOPK`` capability also has ``forward_topk(batch, k)``: for each
``(ids, score_from)`` an ``(n_scored, 2)`` float32 array ``[log_mass, inside]`` of the same
positions: ``log_mass = log sum_{v in top k} p(v | x_<p)`` and ``inside`` 1.0 where ``x_p``
is among the k most likely tokens (its logit at least the k-th largest: a tie counts as
inside), else 0.0. Top-k sampling at temperature 1 then draws ``x_p`` with probability
``exp(lp - log_mass)`` where ``inside``, and 0 elsewhere.

A backend with the ``GENERATE`` capability also has ``generate(prefixes, n, temperature=0.0,
seeds=None)``: for prefixes of token ids of one length, the ``n`` tokens the model appends to
each, as lists of ids: greedy decoding (the argmax at every step) at temperature 0, else
sampling at that temperature with each sequence's own seed (the same seed, the same tokens).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

LOGPROBS = "logprobs"
"""Exact log-probability of each token given the tokens before it."""
MOMENTS = "moments"
"""Exact mean and variance of the log-probabilities under the model's next-token distribution
(needs the whole distribution, not only its top entries)."""
TOP1 = "top1"
"""Exact log-probability of the most likely next token at each position."""
GRADIENT = "gradient"
"""White-box: the gradient of a text's loss with respect to the model's weights (the backend
has ``forward_with_gradient``, see the module docstring)."""
TOPK = "topk"
"""Exact top-k sampling probabilities: each position's top-k mass and whether the token is in
the top k (the backend has ``forward_topk``, see the module docstring)."""
GENERATE = "generate"
"""The model's continuation of a prefix, greedy or sampled (the backend has ``generate``)."""
CAPABILITY_WORDS = {
    LOGPROBS: "exact token log-probabilities",
    MOMENTS: "exact next-token moments (the whole distribution)",
    TOP1: "the top-1 log-probability at each position",
    GRADIENT: "the gradient of the loss with respect to the weights (white-box, a backward pass per text)",
    TOPK: "exact top-k sampling probabilities (each position's top-k mass and the token's rank)",
    GENERATE: "the model's continuation of a prefix, greedy or sampled",
}


@runtime_checkable
class ScoringBackend(Protocol):
    spec: str  # what the user named (for messages and provenance)
    identity: str  # the weights' identity (provenance)
    tokenizer_identity: str
    capabilities: frozenset[str]
    max_positions: int | None  # the model's context length, if it has one
    tokenizer: Any  # for showing tokens: called with return_offsets_mapping, or decode() and all_special_ids

    def cache_identity(self) -> dict[str, object]:
        """Everything about the backend that determines the statistics (keys the cache):
        "model", "tokenizer", "dtype", "device"."""
        ...

    def tokenize(self, texts: Sequence[str], special_tokens: bool = True) -> list[list[int]]:
        """Token ids of each text (with the tokenizer's BOS unless ``special_tokens`` is False)."""
        ...

    def forward(self, batch: Sequence[tuple[list[int], int]]) -> list[np.ndarray]:
        """Statistics of each ``(ids, score_from)`` sequence (see the module docstring)."""
        ...

    def free_memory(self) -> None:
        """Release what a failed batch may have left on the device (may do nothing)."""
        ...
