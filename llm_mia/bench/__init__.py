"""Benchmark suites: known member / non-member splits, the controlled split, and the runner that evaluates detectors on them."""

from __future__ import annotations

from .controlled import SMALL, ControlledConfig, assign, excerpts, train_on_members
from .run import BenchResult, limit_split, run_bench, split_memorization, write_bench
from .suites import SUITES, OpenedSuite, Split, Suite, load_suite, open_suite, resolve_data_dir

__all__ = [
    "BenchResult",
    "ControlledConfig",
    "OpenedSuite",
    "SMALL",
    "SUITES",
    "Split",
    "Suite",
    "assign",
    "excerpts",
    "limit_split",
    "load_suite",
    "open_suite",
    "resolve_data_dir",
    "run_bench",
    "split_memorization",
    "train_on_members",
    "write_bench",
]
