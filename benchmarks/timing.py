"""Timing scorers fairly in one run: the same texts, no cache, the order rotated at every
repeat (two scorers: ABBA; N scorers: each in every position once per N repeats, so take a
multiple of N), so that the machine's drift affects all alike. Noise on a shared machine only
ever slows a run, so the best run of each is the estimate of its cost (timeit's rule)."""

from __future__ import annotations

import statistics
import sys
import time
from typing import Any


def timed(scorer: Any, texts: list[str]) -> float:
    """Tokens per second of one ``score_texts`` call."""
    started = time.perf_counter()
    stats = scorer.score_texts(texts)
    return sum(s.n_tokens for s in stats) / (time.perf_counter() - started)


def alternate(scorers: dict[str, Any], texts: list[str], repeats: int) -> dict[str, list[float]]:
    """Tokens/s of each scorer over ``repeats`` rounds after a warm-up, the order rotated every
    round (two scorers: ABBA)."""
    names = list(scorers)
    for scorer in scorers.values():
        scorer.score_texts(texts[:8])  # warm-up
    runs: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            runs[name].append(timed(scorers[name], texts))
        print(", ".join(f"{name} {runs[name][-1]:.0f} tok/s" for name in names), file=sys.stderr)
    return runs


def paired_median(a: list[float], b: list[float]) -> float:
    """The median of the paired ratios a_i / b_i."""
    return statistics.median(x / y for x, y in zip(a, b))
