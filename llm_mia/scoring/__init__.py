"""The scorer: one batched forward pass per (model, document) gives the per-token statistics, kept in a cache."""

from __future__ import annotations

from .cache import StatsCache, stats_key
from .scorer import Scorer, ScorerConfig, ScoringPlan, as_backend, prefix_chars, tokenize_prefix
from .windows import (
    DEFAULT_CONTROL_PREFIXES,
    DEFAULT_PREFIX,
    DEFAULT_SUFFIX,
    PriorControl,
    WindowSettings,
    WindowStats,
    first_tokens,
    prior_controls,
    samples_needed,
    unrelated_windows,
    window_config,
    window_stats,
    with_topk,
)

__all__ = [
    "DEFAULT_CONTROL_PREFIXES",
    "DEFAULT_PREFIX",
    "DEFAULT_SUFFIX",
    "Scorer",
    "ScorerConfig",
    "ScoringPlan",
    "as_backend",
    "StatsCache",
    "prefix_chars",
    "stats_key",
    "tokenize_prefix",
    "PriorControl",
    "WindowSettings",
    "WindowStats",
    "first_tokens",
    "prior_controls",
    "samples_needed",
    "unrelated_windows",
    "window_config",
    "window_stats",
    "with_topk",
]
