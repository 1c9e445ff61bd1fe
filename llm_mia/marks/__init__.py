"""Marks: canaries placed in a work before its release, tested later with an exact p-value.

Make N candidate marks from a secret seed and publish a random subset of them (:mod:`.manifest`),
place the published ones in the text (:mod:`.insert`), and later ask whether a model finds the
published marks more familiar than the secret ones (:mod:`.exact`: a permutation test over the
random choice itself, exact whatever the model). Reports: :mod:`.report`.
"""

from __future__ import annotations

from .designs import DESIGNS, vocabulary_words
from .exact import DEFAULT_DRAWS, ENUMERATE, MarkScore, MarkTest, mark_test, permutation_p
from .insert import insert_marks, missing_marks, published_texts
from .manifest import FORMAT, Manifest, Mark, load_manifest, make_marks, save_manifest
from .report import mark_html, mark_json, mark_summary

__all__ = [
    "DEFAULT_DRAWS",
    "DESIGNS",
    "ENUMERATE",
    "FORMAT",
    "Manifest",
    "Mark",
    "MarkScore",
    "MarkTest",
    "insert_marks",
    "load_manifest",
    "make_marks",
    "mark_html",
    "mark_json",
    "mark_summary",
    "mark_test",
    "missing_marks",
    "permutation_p",
    "published_texts",
    "save_manifest",
    "vocabulary_words",
]
