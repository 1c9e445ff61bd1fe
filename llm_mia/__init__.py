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

__version__ = "0.1.0"

from .benchmark import BenchResult, run_bench, write_bench
from .cache import StatsCache
from .check import CheckResult, CheckSettings, run_check
from .data import read_documents
from .demo import write_demo_texts
from .frames import to_dataframe
from .plots import histogram_figure, plot_histograms, plot_roc, roc_figure
from .outputs import write_jsonl
from .detectors import DETECTORS, Detector, DetectorInput, make_detector, register
from .errors import EvaluationError, InputError, LlmMiaError, ModelLoadError, UnknownNameError
from .evaluation import EvaluationReport, evaluate
from .inference import CollectionTest, DocumentTest, collection_test, document_tests
from .metrics import auroc, bootstrap_ci, roc_curve, tpr_at_fpr
from .models import LoadedModel, load_model
from .pipeline import read_score_file, score_documents
from .scoring import Scorer, ScorerConfig
from .types import Document, ScoreRecord, TokenStats, Unscorable

__all__ = [
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
    "ScoreRecord",
    "Scorer",
    "ScorerConfig",
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
    "run_check",
    "score_documents",
    "to_dataframe",
    "tpr_at_fpr",
    "write_bench",
    "write_demo_texts",
    "write_jsonl",
]
