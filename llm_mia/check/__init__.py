"""The check: is a suspect text, collection or book a member, against reference texts known not to be? Tests, excerpts, the report, the demo."""

from __future__ import annotations

from ..evaluation import MemorizationEvidence, memorization_evidence
from .demo import DEMO_EXCERPT_WORDS, REFERENCE_SNAPSHOT, write_demo_texts
from .excerpts import cut_all, cut_excerpts, find_overlaps
from .report import SHADES, summary, to_html, to_json
from .run import CHECK_DETECTORS, MODES, CheckResult, CheckSettings, check_scores, read_texts, run_check, unlike
from .shading import looks_like_code, token_pieces
from .stat_tests import (
    DEFAULT_PERMUTATIONS,
    DEFAULT_SPLITS,
    MIN_PER_SIDE,
    CollectionTest,
    DocumentTest,
    collection_test,
    document_tests,
    holm,
    propensity_strata,
)

__all__ = [
    "MemorizationEvidence",
    "memorization_evidence",
    "CHECK_DETECTORS",
    "CheckResult",
    "CheckSettings",
    "CollectionTest",
    "DEFAULT_PERMUTATIONS",
    "DEFAULT_SPLITS",
    "DEMO_EXCERPT_WORDS",
    "DocumentTest",
    "MIN_PER_SIDE",
    "MODES",
    "REFERENCE_SNAPSHOT",
    "SHADES",
    "check_scores",
    "collection_test",
    "cut_all",
    "cut_excerpts",
    "document_tests",
    "find_overlaps",
    "holm",
    "looks_like_code",
    "propensity_strata",
    "read_texts",
    "run_check",
    "summary",
    "to_html",
    "to_json",
    "token_pieces",
    "unlike",
    "write_demo_texts",
]
