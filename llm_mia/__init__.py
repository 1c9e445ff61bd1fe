"""llm-mia: membership inference for large language models.

Quick start::

    import llm_mia
    docs = llm_mia.read_documents("data.jsonl")
    records = llm_mia.score_documents(docs, model="smollm2-135m")
    print(llm_mia.evaluate(records).table())

    result = llm_mia.run_check("my_book.txt", "unpublished_chapters/")   # p-value against known non-members
    print(result.summary())

In a notebook: ``llm_mia.to_dataframe(records)``, ``llm_mia.roc_figure(records, ax=ax)``,
``llm_mia.evaluate(labels, scores)``, and reports and results display themselves.
"""

from __future__ import annotations

from .backends import LoadedModel, load_model
from .bench import BenchResult, run_bench, write_bench
from .check import CheckResult, CheckSettings, CollectionTest, DocumentTest, collection_test, document_tests, run_check, write_demo_texts
from .detectors import DETECTORS, Detector, DetectorInput, make_detector, register
from .errors import BackendUnavailable, EvaluationError, InputError, LlmMiaError, ModelLoadError, ScoringError, SettingError, UnknownNameError
from .evaluation import (
    EvaluationReport,
    auroc,
    bootstrap_ci,
    evaluate,
    histogram_figure,
    plot_histograms,
    plot_roc,
    roc_curve,
    roc_figure,
    to_dataframe,
    tpr_at_fpr,
)
from .io import read_documents, read_score_file, write_jsonl
from .marks import Manifest, MarkTest, insert_marks, load_manifest, make_marks, mark_test, save_manifest
from .paths import VERSION as __version__  # noqa: F401  (llm_mia.__version__)
from .pipeline import RunOptions, score_documents
from .scoring import Scorer, ScorerConfig, StatsCache
from .types import Document, ScoreRecord, TokenStats, Unscorable

__all__ = [
    "BackendUnavailable",
    "BenchResult",
    "CheckResult",
    "CheckSettings",
    "CollectionTest",
    "DocumentTest",
    "DETECTORS",
    "Detector",
    "DetectorInput",
    "Document",
    "EvaluationError",
    "EvaluationReport",
    "InputError",
    "LlmMiaError",
    "LoadedModel",
    "ModelLoadError",
    "RunOptions",
    "ScoreRecord",
    "ScoringError",
    "Scorer",
    "ScorerConfig",
    "SettingError",
    "StatsCache",
    "TokenStats",
    "UnknownNameError",
    "Unscorable",
    "auroc",
    "bootstrap_ci",
    "collection_test",
    "document_tests",
    "evaluate",
    "histogram_figure",
    "load_model",
    "make_detector",
    "plot_histograms",
    "plot_roc",
    "read_documents",
    "read_score_file",
    "register",
    "roc_curve",
    "roc_figure",
    "run_bench",
    "Manifest",
    "MarkTest",
    "insert_marks",
    "load_manifest",
    "make_marks",
    "mark_test",
    "save_manifest",
    "run_check",
    "score_documents",
    "to_dataframe",
    "tpr_at_fpr",
    "write_bench",
    "write_demo_texts",
    "write_jsonl",
]
