"""A generic OpenAI-compatible server (vLLM, SGLang, llama.cpp's server, hosted APIs): prompt
log-probabilities from ``/v1/completions`` with ``echo``, checked before they are trusted.

What such a server gives, per prompt of token ids: ``logprobs.token_logprobs`` (``null`` for
the first token), and with ``logprobs: k`` the ``top_logprobs`` dictionaries of the k most
likely tokens at each position. So the statistics are ``lp`` (exact, as exact as the
server's kernels) and, where the server returns ``top_logprobs`` for prompt positions,
``top = max(top_logprobs[p].values())`` (the top-1 log-probability); the next-token moments
need the whole distribution, which no such server returns, so they are NaN and the
detectors that need them (Min-K%++ and others) are refused before any request.

**Conformance probe.** A server's prompt log-probabilities cannot be trusted on its word:
llama-cpp-python's server reads them one position late (``log p(x_i | x_<=i)`` in place of
``log p(x_i | x_<i)``) and answers without an error. Before scoring, :func:`probe` asks the
server, for each of a few sentences, for the next token's top log-probabilities in
generation mode (``g`` for a token), then scores the sentence plus that token with
``echo``: the echoed log-probability of the last token must equal ``g`` (within
``PROBE_TOLERANCE``), the first position must be ``null``, and the server must echo at least
the tokens sent. A server that fails is refused with the numbers it gave. The top-1 column
is offered only where the echoed top-1 log-probability agrees with the generation one too
(``ProbeResult.max_top_diff``).

Tokenization uses the server's tokenizer: vLLM's and SGLang's ``POST /tokenize`` (``prompt``,
``add_special_tokens``), llama.cpp's (``content``, ``add_special``) or llama-cpp-python's
``POST /extras/tokenize`` (``input``), whichever answers first.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

PROBE_TOLERANCE = 0.05
"""Largest accepted difference (nats) between a token's echoed prompt log-probability and its
log-probability in generation mode. The same weights give the same value up to the kernels'
rounding (prompt batches and single-token decoding take different paths: about 1e-3 in
float32, a little more quantized); a position read one place late is off by nats."""
PROBE_TEXTS = (
    "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a",
    "The capital of France is Paris, and the capital of Germany is",
    "def add(a, b):\n    return a +",
)
TOKENIZE_DIALECTS: tuple[tuple[str, Callable[[str, bool, str], dict[str, Any]]], ...] = (
    ("/tokenize", lambda text, special, model: {"model": model, "prompt": text, "add_special_tokens": special, "content": text, "add_special": special}),
    ("/extras/tokenize", lambda text, special, model: {"model": model, "input": text}),
)
DETOKENIZE_PATHS = ("/detokenize", "/extras/detokenize")


class NotConformant(Exception):
    """The server's prompt log-probabilities fail the conformance probe."""


class NotRoundTrip(Exception):
    """A server that takes only text prompts would not see these token ids (their text
    tokenizes differently): the prompt cannot be scored exactly."""


@dataclass(frozen=True)
class ProbeResult:
    """What the probe saw: tokens checked, the largest difference of ``lp`` and of the
    top-1 column (None: the server gave no top-k for prompt positions; above
    ``PROBE_TOLERANCE``: the top-1 column is not offered)."""

    checked: int
    max_lp_diff: float
    max_top_diff: float | None

    def as_dict(self) -> dict[str, object]:
        return {"tokens_checked": self.checked, "max_lp_diff": self.max_lp_diff, "max_top_diff": self.max_top_diff, "tolerance": PROBE_TOLERANCE}


def completion_body(model: str, ids: Sequence[int], *, echo: bool, logprobs: int) -> dict[str, Any]:
    """One prompt of token ids, one greedy token (``max_tokens: 0`` is refused by some servers;
    the generated token is not read when ``echo`` scores the prompt)."""
    return {"model": model, "prompt": [int(i) for i in ids], "echo": echo, "max_tokens": 1, "temperature": 0, "logprobs": logprobs}


def echoed_rows(choice: dict[str, Any], ids: Sequence[int], score_from: int) -> np.ndarray:
    """The ``(n_scored, 4)`` statistics ``[lp, NaN, NaN, top]`` of the positions ``p >=
    max(1, score_from)`` from an echoed choice; ``top`` is NaN without ``top_logprobs``.
    A choice that echoes fewer tokens than were sent, or a missing value, is an error."""
    lp_all = (choice.get("logprobs") or {}).get("token_logprobs")
    if not isinstance(lp_all, list) or len(lp_all) < len(ids):
        got = len(lp_all) if isinstance(lp_all, list) else "no"
        raise ValueError(f"the server echoed {got} prompt log-probabilities for a prompt of {len(ids)} tokens")
    tops = (choice.get("logprobs") or {}).get("top_logprobs") or [None] * len(lp_all)
    first = max(1, score_from)
    out = np.full((len(ids) - first, 4), np.nan, dtype=np.float32)
    for row, p in enumerate(range(first, len(ids))):
        if not isinstance(lp_all[p], (int, float)):
            raise ValueError(f"the server gave no log-probability for prompt position {p}")
        out[row, 0] = lp_all[p]
        top = tops[p] if p < len(tops) else None
        if isinstance(top, dict) and top:
            out[row, 3] = max(float(v) for v in top.values())
    return out


def probe(
    complete: Callable[[dict[str, Any]], dict[str, Any]],
    tokenize: Callable[[str, bool], list[int]],
    model: str,
) -> ProbeResult:
    """Check the server's prompt log-probabilities against its generation log-probabilities
    (see the module docstring); raise :class:`NotConformant` with what it saw.

    For each probe sentence, one generation request (``logprobs: 5``) gives the log-probability
    of the most likely next tokens; the most likely and the second most likely (a token with
    a log-probability well below 0, so that a misread position cannot agree by chance) are
    each appended to the sentence and scored with ``echo``."""
    lp_diffs: list[float] = []
    top_diffs: list[float] = []
    for text in PROBE_TEXTS:
        ids = tokenize(text, True)
        gen = complete(completion_body(model, ids, echo=False, logprobs=5))["choices"][0]
        logprobs = gen.get("logprobs") or {}
        tokens, values = logprobs.get("tokens") or [], logprobs.get("token_logprobs") or []
        if not tokens or not isinstance(values[0] if values else None, (int, float)):
            raise NotConformant("the server generated no token with a log-probability (does it support logprobs?)")
        gen_top = (logprobs.get("top_logprobs") or [None])[0]
        candidates = {str(tokens[0]): float(values[0])}
        if isinstance(gen_top, dict):
            candidates.update({str(k): float(v) for k, v in gen_top.items()})
        best = max(candidates.values())
        for piece, g in sorted(candidates.items(), key=lambda kv: -kv[1])[:2]:
            full = tokenize(text + piece, True)  # the piece in context (a SentencePiece "▁word" alone gains a space)
            if len(full) != len(ids) + 1 or full[: len(ids)] != ids:
                continue  # the piece merges with the text's last token: not checkable
            try:
                echoed = complete(completion_body(model, full, echo=True, logprobs=1))["choices"][0]
            except NotRoundTrip:
                continue
            lp_all = (echoed.get("logprobs") or {}).get("token_logprobs") or []
            if len(lp_all) < len(full):
                raise NotConformant(f"the server echoed {len(lp_all)} log-probabilities for a prompt of {len(full)} tokens")
            if lp_all[0] is not None:
                raise NotConformant(f"the server gave a log-probability ({lp_all[0]}) for the first prompt token, which has no context")
            rows = echoed_rows(echoed, full, len(full) - 1)
            diff = abs(float(rows[-1, 0]) - g)
            if not diff <= PROBE_TOLERANCE:
                raise NotConformant(
                    f"the server's prompt log-probability of a token ({rows[-1, 0]:.4f}) differs from its own generation "
                    f"log-probability of the same token after the same tokens ({g:.4f}); its prompt log-probabilities are "
                    "misread (llama-cpp-python's server reads them one position late)"
                )
            lp_diffs.append(diff)
            if len(candidates) > 1 and not math.isnan(float(rows[-1, 3])):
                top_diffs.append(abs(float(rows[-1, 3]) - best))
    if not lp_diffs:
        raise NotConformant("none of the probe sentences could be checked (the generated tokens do not tokenize back to the same tokens)")
    top = max(top_diffs) if len(top_diffs) == len(lp_diffs) else None
    return ProbeResult(len(lp_diffs), max(lp_diffs), top)
