"""llm-mia: membership inference for large language models.

Quick start::

    import llm_mia
    docs = llm_mia.read_documents("data.jsonl")
    records = llm_mia.score_documents(docs, model="smollm2-135m")
    print(llm_mia.evaluate(records).table())
"""

from __future__ import annotations

__version__ = "0.1.0"

from .cache import StatsCache
from .data import read_documents, write_jsonl
from .detectors import DETECTORS, Detector, DetectorInput, make_detector, register
from .errors import EvaluationError, InputError, LlmMiaError, ModelLoadError, UnknownNameError
from .evaluation import EvaluationReport, evaluate
from .metrics import auroc, bootstrap_ci, roc_curve, tpr_at_fpr
from .models import LoadedModel, load_model
from .pipeline import read_score_file, score_documents
from .scoring import Scorer, ScorerConfig
from .types import Document, ScoreRecord, TokenStats, Unscorable

__all__ = [
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
    "evaluate",
    "load_model",
    "make_detector",
    "read_documents",
    "read_score_file",
    "register",
    "roc_curve",
    "score_documents",
    "tpr_at_fpr",
    "write_jsonl",
]
