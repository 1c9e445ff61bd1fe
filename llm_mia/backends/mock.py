"""A small deterministic backend shipped for tests (like httpx's ``MockTransport``): no torch,
no weights, exact statistics, and faults on request.

Its "model" reads UTF-8 bytes (ids 0-255, BOS = 256) and predicts each byte from the one
before it with a fixed random bigram table (seeded): ``p(v | x_<t) = softmax(W[x_{t-1}])``.
Every statistic is computed exactly in float64. It is not a language model: use it to test
what lies above the scorer (pipeline, detectors, evaluation, check, bench, reports, the
command line) quickly and without a model. Select it with ``--model test-backend``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .base import GRADIENT, GENERATE, LOGPROBS, MOMENTS, TOP1, TOPK

BOS = 256
VOCAB = 257
SPEC = "test-backend"


class ByteTokenizer:
    """The backend's tokenizer, as far as showing tokens needs one: no offsets (so callers
    fall back to decoding), ``decode`` and ``all_special_ids``."""

    all_special_ids = [BOS]

    def __len__(self) -> int:
        return VOCAB

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("the test backend's tokenizer gives no offsets")

    def decode(self, ids: Sequence[int]) -> str:
        return bytes(i for i in ids if i < 256).decode("utf-8", errors="replace")


class MockBackend:
    """The test backend. ``capabilities`` can be narrowed (a backend without moments gives
    NaN there); ``fail`` is called with each batch before it runs and may raise (faults)."""

    tokenizer_identity = "utf8-bytes+bos"
    tokenizer = ByteTokenizer()

    def __init__(
        self,
        seed: int = 0,
        *,
        capabilities: frozenset[str] = frozenset({LOGPROBS, MOMENTS, TOP1, GRADIENT, TOPK, GENERATE}),
        max_positions: int | None = 4096,
        fail: Callable[[Sequence[tuple[list[int], int]]], None] | None = None,
    ) -> None:
        self.spec = SPEC if seed == 0 else f"{SPEC}:{seed}"
        self.identity = f"mock-bigram-v1:seed{seed}"
        self.capabilities = frozenset(capabilities)
        self.max_positions = max_positions
        self.fail = fail
        self.calls = 0  # batches run
        logits = np.random.default_rng(seed).normal(0.0, 2.0, size=(VOCAB, VOCAB))
        logits -= logits.max(axis=1, keepdims=True)
        self.logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))  # [prev, next], float64
        """The model itself: ``logp[a, b]`` = log p(b | previous token a), for tests to check against."""
        p = np.exp(self.logp)
        self._mu = (p * self.logp).sum(axis=1)
        self._var = (p * (self.logp - self._mu[:, None]) ** 2).sum(axis=1)
        self._top = self.logp.max(axis=1)

    def cache_identity(self) -> dict[str, object]:
        return {"model": self.identity, "tokenizer": self.tokenizer_identity, "dtype": "float64", "device": "cpu"}

    def tokenize(self, texts: Sequence[str], special_tokens: bool = True) -> list[list[int]]:
        return [([BOS] if special_tokens else []) + list(t.encode("utf-8")) for t in texts]

    def forward(self, batch: Sequence[tuple[list[int], int]]) -> list[np.ndarray]:
        if self.fail is not None:
            self.fail(batch)
        self.calls += 1
        out = []
        for ids, score_from in batch:
            prev, nxt = np.asarray(ids[:-1]), np.asarray(ids[1:])
            keep = np.arange(1, len(ids)) >= score_from
            stats = np.stack([self.logp[prev, nxt], self._mu[prev], self._var[prev], self._top[prev]], axis=1)[keep]
            if MOMENTS not in self.capabilities:
                stats[:, 1:3] = np.nan
            if TOP1 not in self.capabilities:
                stats[:, 3] = np.nan
            out.append(stats.astype(np.float32))
        return out

    def generate(self, prefixes: Sequence[list[int]], n: int, temperature: float = 0.0, seeds: Sequence[int] | None = None) -> list[list[int]]:
        """The bigram table's argmax chain after each prefix's last token (temperature 0), or
        draws from ``softmax(logp / temperature)`` with each sequence's seed."""
        if GENERATE not in self.capabilities:
            raise RuntimeError("this test backend was made without the generate capability")
        out = []
        for r, prefix in enumerate(prefixes):
            rng = np.random.default_rng(None if seeds is None else int(seeds[r])) if temperature > 0 else None
            chain, last = [], prefix[-1]
            for _ in range(n):
                if rng is None:
                    last = int(np.argmax(self.logp[last]))
                else:
                    w = np.exp((self.logp[last] - self.logp[last].max()) / temperature)
                    last = int(rng.choice(VOCAB, p=w / w.sum()))
                chain.append(last)
            out.append(chain)
        return out

    def forward_topk(self, batch: Sequence[tuple[list[int], int]], k: int) -> list[np.ndarray]:
        """``[log_mass, inside]`` of top-k sampling at each scored position, exactly (float64,
        then float32): the k largest of ``logp[prev]``, a tie at the k-th counting as inside."""
        if TOPK not in self.capabilities:
            raise RuntimeError("this test backend was made without the topk capability")
        if self.fail is not None:
            self.fail(batch)
        self.calls += 1
        k = max(1, min(k, VOCAB))
        kth = np.sort(self.logp, axis=1)[:, VOCAB - k]  # the k-th largest log-probability after each token
        order = np.sort(self.logp, axis=1)[:, ::-1][:, :k]
        mass = np.log(np.exp(order).sum(axis=1))
        out = []
        for ids, score_from in batch:
            prev, nxt = np.asarray(ids[:-1]), np.asarray(ids[1:])
            keep = np.arange(1, len(ids)) >= score_from
            inside = self.logp[prev, nxt] >= kth[prev]
            out.append(np.stack([mass[prev], inside.astype(np.float64)], axis=1)[keep].astype(np.float32))
        return out

    def forward_with_gradient(self, ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """One sequence's statistics and the norms of the gradient of its mean loss with
        respect to the bigram table W (the model's one weight tensor), exactly:
        dL/dW[a, :] = (1/m) sum over the m scored positions t with x_{t-1} = a of (p(. | a) - e_{x_t})."""
        if GRADIENT not in self.capabilities:
            raise RuntimeError("this test backend was made without the gradient capability")
        (stats,) = self.forward([(ids, 1)])
        grad = np.zeros_like(self.logp)
        for prev, nxt in zip(ids[:-1], ids[1:]):
            grad[prev] += np.exp(self.logp[prev])
            grad[prev, nxt] -= 1.0
        grad /= len(ids) - 1
        return stats, np.array([np.abs(grad).sum(), np.sqrt((grad**2).sum()), np.abs(grad).max()])

    def free_memory(self) -> None:
        pass
