"""Metrics over labelled scores: AUROC, TPR at low FPR, bootstrap intervals, the model-free baseline, tables and plots."""

from __future__ import annotations

from .baseline import BaselineResult, features, model_free_auroc
from .evaluator import FPR_BUDGETS, MIN_PER_CLASS, EvaluationReport, TprAtFpr, detector_cells, evaluate, too_few_notes, tpr_cell
from .frames import to_dataframe
from .memorization import (
    DEFAULT_MAX_REPEAT,
    MEMORIZATION_THRESHOLDS,
    REPEAT_NGRAM,
    MemorizationEvidence,
    Passage,
    ThresholdResult,
    WindowCount,
    memorization_evidence,
    prefix_repeats,
)
from .metrics import N_BOOTSTRAP, auroc, auroc_stat, bootstrap_ci, fpr_budget_too_small, roc_curve, tpr_at_fpr, tpr_stat
from .plots import histogram_figure, plot_histograms, plot_roc, roc_figure
from .svg import histogram_svg
from .tables import NA, markdown_table, metric_headers, p_value, text_table, with_ci

__all__ = [
    "DEFAULT_MAX_REPEAT",
    "MEMORIZATION_THRESHOLDS",
    "REPEAT_NGRAM",
    "prefix_repeats",
    "MemorizationEvidence",
    "Passage",
    "ThresholdResult",
    "WindowCount",
    "memorization_evidence",
    "BaselineResult",
    "EvaluationReport",
    "FPR_BUDGETS",
    "MIN_PER_CLASS",
    "NA",
    "N_BOOTSTRAP",
    "TprAtFpr",
    "auroc",
    "auroc_stat",
    "bootstrap_ci",
    "detector_cells",
    "evaluate",
    "features",
    "fpr_budget_too_small",
    "histogram_figure",
    "histogram_svg",
    "markdown_table",
    "metric_headers",
    "model_free_auroc",
    "p_value",
    "plot_histograms",
    "plot_roc",
    "roc_curve",
    "roc_figure",
    "text_table",
    "to_dataframe",
    "too_few_notes",
    "tpr_at_fpr",
    "tpr_cell",
    "tpr_stat",
    "with_ci",
]
