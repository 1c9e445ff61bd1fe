"""A slow, obvious reference implementation: float64, Python loops, one text at a time.

It shares no code with the fast path except the tokenizer: logits come from the model's own
forward pass on each window, all arithmetic is done again here.
"""

from __future__ import annotations

import copy
import math
import zlib

import torch


def reference_token_stats(model, ids: list[int], max_tokens: int, stride: int | None, top: bool = False):
    """(lp, mu, var) lists for positions 1..n-1, each position scored by the first window
    (starts 0, stride, 2*stride, ...) that holds it with at least one token before it; with
    ``top``, (lp, mu, var, max log p) instead."""
    model64 = copy.deepcopy(model).double()
    n = len(ids)
    if stride is None:
        ids = ids[:max_tokens]
        n = len(ids)
        windows = [0]
    else:
        windows = list(range(0, max(n - 1, 1), stride))
    results: dict[int, tuple[float, ...]] = {}
    for start in windows:
        window = ids[start : start + max_tokens]
        with torch.no_grad():
            logits = model64(torch.tensor([window])).logits[0].numpy()
        for j in range(1, len(window)):
            pos = start + j
            if pos in results:
                continue
            row = logits[j - 1]
            row_max = max(row)
            log_z = row_max + math.log(sum(math.exp(v - row_max) for v in row))
            logp = [v - log_z for v in row]
            p = [math.exp(v) for v in logp]
            mu = sum(pi * li for pi, li in zip(p, logp))
            var = sum(pi * (li - mu) ** 2 for pi, li in zip(p, logp))
            results[pos] = (logp[window[j]], mu, var, max(logp)) if top else (logp[window[j]], mu, var)
    assert sorted(results) == list(range(1, n)), "every position scored exactly once"
    return [results[t] for t in range(1, n)]


def _mean(values):
    return sum(values) / len(values)


def _lowest_mean(values, k):
    m = max(1, math.floor(k * len(values) + 1e-9))
    return _mean(sorted(values)[:m])


def reference_scores(text: str, stats, stats_lower, stats_ref, k: float = 0.2) -> dict[str, float]:
    lp = [s[0] for s in stats]
    z = []
    for lp_t, mu_t, var_t in stats:
        sigma = math.sqrt(max(var_t, 0.0))
        z.append(0.0 if sigma <= 1e-6 else (lp_t - mu_t) / sigma)
    nll = -_mean(lp)
    out = {
        "loss": -nll,
        "zlib": -nll / len(zlib.compress(text.encode("utf-8"))),
        "min_k": _lowest_mean(lp, k),
        "min_k_pp": _lowest_mean(z, k),
    }
    if stats_lower is not None:
        out["lowercase"] = -_mean([s[0] for s in stats_lower]) / nll
    if stats_ref is not None:
        out["ref"] = -_mean([s[0] for s in stats_ref]) - nll
    return out
