"""Cutting books into excerpts, and finding text shared between suspect and reference sets."""

from __future__ import annotations

import pytest

from llm_mia.check import cut_excerpts, find_overlaps
from llm_mia.types import Document


def _words(n: int, start: int = 0) -> list[str]:
    return [f"w{i}" for i in range(start, start + n)]


def test_cut_counts_words_and_keeps_layout():
    words = _words(300)
    text = "  " + " ".join(words[:100]) + "\n\n" + "\t".join(words[100:]) + "\n"
    parts = cut_excerpts(Document("book", text, 1), 128)
    assert [p.id for p in parts] == ["book#1", "book#2"]  # 300 = 128 + 172: a remainder of 44 < 64 joins the last
    assert [len(p.text.split()) for p in parts] == [128, 172]
    assert sum((p.text.split() for p in parts), []) == words
    assert "\n\n" in parts[0].text and "\t" in parts[1].text and all(p.label == 1 for p in parts)
    assert [len(p.text.split()) for p in cut_excerpts(Document("b", " ".join(_words(320))), 128)] == [128, 128, 64]


def test_cut_short_empty_and_broken_documents():
    assert [p.text for p in cut_excerpts(Document("s", "only a few words"), 128)] == ["only a few words"]
    empty = Document("e", "  \n ")
    broken = Document("x", None, error="not valid UTF-8")
    assert cut_excerpts(empty, 10) == [empty] and cut_excerpts(broken, 10) == [broken]
    with pytest.raises(ValueError):
        cut_excerpts(empty, 0)


def test_overlap_needs_thirteen_shared_words_ignoring_case_and_punctuation():
    shared = _words(13, 1000)
    suspect = [Document("s1", " ".join(_words(20) + shared)), Document("s2", " ".join(_words(30, 50)))]
    reference = [Document("r1", "Intro. " + ", ".join(shared).upper() + " outro")]
    hits = find_overlaps(suspect, reference)
    assert [(h.suspect_id, h.reference_id) for h in hits] == [("s1", "r1")] and hits[0].shared == " ".join(shared)
    twelve = [Document("r2", " ".join(shared[:12]))]
    assert find_overlaps(suspect, twelve) == []
    short = [Document("s3", "A short line.")]
    assert len(find_overlaps(short, [Document("r3", "a SHORT line")])) == 1
