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

**Plausibility.** A server can agree with itself and still serve nonsense: vLLM given a model
folder whose tied embedding it did not find served every token at ``-log V``, the uniform
distribution, and passed the consistency check. :func:`plausibility` refuses, with the numbers,
log-probabilities that are constant or nearly so across the probe sentences' positions (standard
deviation below ``MIN_SPREAD``), probe sentences that score within ``NEAR_UNIFORM`` nats of
``log V`` per token where the vocabulary size ``V`` is known, and a generation-mode top candidate
no likelier than the others in every probe sentence (``MIN_TOP_GAP``). The probe sentences are
famous or predictable text: any working language model is far from uniform on them.

Tokenization uses the server's tokenizer: vLLM's and SGLang's ``POST /tokenize`` (``prompt``,
``add_special_tokens``), llama.cpp's (``content``, ``add_special``) or llama-cpp-python's
``POST /extras/tokenize`` (``input``), whichever answers first.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..strings import printable

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


MIN_SPREAD = 0.1
"""Smallest accepted standard deviation (nats) of the probe sentences' token log-probabilities;
a working model is sure of some tokens and unsure of others (several nats apart)."""
NEAR_UNIFORM = 1.0
"""Where the vocabulary size V is known, probe sentences whose mean negative log-probability per
token lies within this many nats of log V (no more than e times likelier than a uniform guess)
are refused."""
MIN_TOP_GAP = 0.1
"""In at least one probe sentence, the generation-mode top candidate must be this many nats
likelier than the mean of the other candidates."""


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
    plausible: Plausibility | None = None

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "tokens_checked": self.checked,
            "max_lp_diff": self.max_lp_diff,
            "max_top_diff": self.max_top_diff,
            "tolerance": PROBE_TOLERANCE,
        }
        if self.plausible is not None:
            out["plausibility"] = self.plausible.as_dict()
        return out


@dataclass(frozen=True)
class Plausibility:
    """The probe sentences' figures: tokens scored, mean negative log-probability per token
    (``nll``), the standard deviation of the log-probabilities (``spread``), the largest gap of the
    generation-mode top candidate over the mean of the others (``top_gap``, None where no
    candidates were given) and ``log V`` where the vocabulary size is known."""

    tokens: int
    nll: float
    spread: float
    top_gap: float | None
    log_vocab: float | None

    def as_dict(self) -> dict[str, object]:
        return {"tokens": self.tokens, "nll_per_token": self.nll, "logprob_std": self.spread, "top_gap": self.top_gap, "log_vocab_size": self.log_vocab}


def plausibility(logprobs: Sequence[float], top_candidates: Sequence[Sequence[float]], vocab_size: int | None) -> Plausibility:
    """Check that the probe sentences' token ``logprobs`` (every scored position) and each probe
    sentence's generation-mode ``top_candidates`` (their log-probabilities) look like a language
    model's; raise :class:`NotConformant` with the numbers otherwise (module docstring)."""
    lp = np.asarray(logprobs, dtype=float)
    if lp.size < 2 or not np.isfinite(lp).all() or (lp > 1e-6).any():
        raise NotConformant(f"the probe sentences' log-probabilities are not finite values at most 0 ({lp.size} values, e.g. {lp[:3].tolist()})")
    nll, spread = float(-lp.mean()), float(lp.std())
    log_v = math.log(vocab_size) if vocab_size else None
    gaps = [float(c[0] - np.mean(c[1:])) for c in (sorted(cands, reverse=True) for cands in top_candidates) if len(c) > 1]
    found = Plausibility(int(lp.size), nll, spread, max(gaps) if gaps else None, log_v)
    if spread < MIN_SPREAD:
        as_vocab = f" = -log({math.exp(nll):,.0f}), the uniform distribution over that many tokens" if spread < 1e-3 else ""
        raise NotConformant(
            f"its log-probabilities are (nearly) constant: {lp.size} probe tokens at a mean of {-nll:.4f}{as_vocab}, standard deviation "
            f"{spread:.4f} nats (a working model's are several nats apart); a model whose weights did not load serves such values"
        )
    if log_v is not None and abs(nll - log_v) <= NEAR_UNIFORM:
        raise NotConformant(
            f"its probe sentences score {nll:.3f} nats per token, within {NEAR_UNIFORM:g} of log of the vocabulary size ({log_v:.3f}): "
            "no better than a uniform guess on famous text"
        )
    if gaps and max(gaps) < MIN_TOP_GAP:
        raise NotConformant(
            f"its generation-mode top candidate is no likelier than the others (largest gap {max(gaps):.4f} nats over {len(gaps)} probe sentences)"
        )
    return found


def tokenizer_problem(texts: Sequence[str], ids: Sequence[Sequence[int]], decode: Callable[[Sequence[int]], str]) -> str | None:
    """Why a server's tokenizer cannot be the model's, from the probe sentences' ``ids``
    (without special tokens): the same ids for different texts, or ids that do not decode back
    to their text (whitespace aside; at least 90% alike: shifted or foreign ids give about 20%).
    None when it looks right; a server that cannot decode is judged on the first sign alone."""
    if len({tuple(i) for i in ids}) < len({*texts}):
        return f"its tokenizer gives the same token ids for different texts ({len({tuple(i) for i in ids})} distinct of {len(texts)})"
    for text, row in zip(texts, ids):
        back = decode(row)
        if not back:
            return None
        alike = difflib.SequenceMatcher(None, "".join(text.split()), "".join(back.split())).ratio()
        if alike < 0.9:
            return f"its token ids do not decode back to the text ({alike:.0%} alike: {printable(back[:60])!r} for {text[:60]!r}); shifted or another tokenizer's ids"
    return None


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
    vocab_size: int | None = None,
) -> ProbeResult:
    """Check the server's prompt log-probabilities against its generation log-probabilities
    (see the module docstring); raise :class:`NotConformant` with what it saw.

    For each probe sentence, one generation request (``logprobs: 5``) gives the log-probability
    of the most likely next tokens; the most likely and the second most likely (a token with
    a log-probability well below 0, so that a misread position cannot agree by chance) are
    each appended to the sentence and scored with ``echo``. Then :func:`plausibility` on the
    echoed log-probabilities and the generation candidates (``vocab_size``: where known)."""
    lp_diffs: list[float] = []
    top_diffs: list[float] = []
    scored: list[float] = []
    candidate_lps: list[list[float]] = []
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
        candidate_lps.append(list(candidates.values()))
        sentence_scored = False
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
            if not sentence_scored:  # each sentence's positions once
                scored += [float(v) if isinstance(v, (int, float)) else math.nan for v in lp_all[1 : len(full)]]
                sentence_scored = True
            if len(candidates) > 1 and not math.isnan(float(rows[-1, 3])):
                top_diffs.append(abs(float(rows[-1, 3]) - best))
    if not lp_diffs:
        raise NotConformant("none of the probe sentences could be checked (the generated tokens do not tokenize back to the same tokens)")
    top = max(top_diffs) if len(top_diffs) == len(lp_diffs) else None
    return ProbeResult(len(lp_diffs), max(lp_diffs), top, plausibility(scored, candidate_lps, vocab_size))
