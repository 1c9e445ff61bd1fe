"""The scorer: one batched forward pass per (model, document) gives the per-token statistics, kept in a cache."""

from __future__ import annotations

from .cache import StatsCache, stats_key
from .scorer import Scorer, ScorerConfig, ScoringPlan, as_backend, prefix_chars, tokenize_prefix
from .windows import WindowSettings, WindowStats, samples_needed, window_config, window_stats

__all__ = [
    "Scorer",
    "ScorerConfig",
    "ScoringPlan",
    "as_backend",
    "StatsCache",
    "prefix_chars",
    "stats_key",
    "tokenize_prefix",
    "WindowSettings",
    "WindowStats",
    "samples_needed",
    "window_config",
    "window_stats",
]
