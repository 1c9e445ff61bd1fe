"""Cut books into excerpts, and find text shared between two sets of excerpts.

Excerpts are counted in words (runs of non-whitespace), not tokens, so that the same cut
applies whatever the model. Each excerpt is the original text from its first word to its
last, whitespace and line breaks kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .types import Document

DEFAULT_EXCERPT_WORDS = 128
"""About 170 tokens of English prose: BookTection's passages are ~128 tokens."""

OVERLAP_NGRAM = 13
"""Word n-gram length taken as shared text (the 13-gram test of contamination studies,
Brown et al. 2020)."""

_WORD = re.compile(r"\S+")
_NORMALIZE = re.compile(r"[^\w]+")


def cut_excerpts(doc: Document, words: int = DEFAULT_EXCERPT_WORDS) -> list[Document]:
    """``doc`` cut into consecutive excerpts of ``words`` words, ids ``<id>#1``, ``<id>#2``, ...

    A remainder shorter than ``words / 2`` joins the excerpt before it (so the last excerpt
    may hold up to 1.5 x ``words`` words); a text shorter than that is one excerpt. A
    document with an error, or without any word, comes back unchanged (one document).
    """
    if words < 1:
        raise ValueError(f"excerpt length must be at least 1 word, got {words}")
    if doc.error is not None or doc.text is None:
        return [doc]
    spans = [m.span() for m in _WORD.finditer(doc.text)]
    if not spans:
        return [doc]
    starts = list(range(0, len(spans), words))
    if len(starts) > 1 and len(spans) - starts[-1] < words / 2:
        starts.pop()
    ends = starts[1:] + [len(spans)]
    return [
        Document(f"{doc.id}#{k}", doc.text[spans[a][0] : spans[b - 1][1]], doc.label)
        for k, (a, b) in enumerate(zip(starts, ends), start=1)
    ]


def cut_all(docs: Iterable[Document], words: int = DEFAULT_EXCERPT_WORDS) -> list[Document]:
    return [e for d in docs for e in cut_excerpts(d, words)]


def _ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    tokens = [t for t in _NORMALIZE.sub(" ", text.lower()).split() if t]
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)} if len(tokens) >= n else {tuple(tokens)} if tokens else set()


@dataclass(frozen=True)
class Overlap:
    """A suspect document that shares text with a reference document."""

    suspect_id: str
    reference_id: str
    shared: str  # one shared n-gram, for the message


def find_overlaps(suspect: Sequence[Document], reference: Sequence[Document], n: int = OVERLAP_NGRAM) -> list[Overlap]:
    """Suspect documents sharing a word ``n``-gram (case and punctuation ignored) with a
    reference document; a text shorter than ``n`` words counts when it is identical."""
    index: dict[tuple[str, ...], str] = {}
    for r in reference:
        if r.text:
            for g in _ngrams(r.text, n):
                index.setdefault(g, r.id)
    found = []
    for s in suspect:
        if not s.text:
            continue
        hit = next((g for g in _ngrams(s.text, n) if g in index), None)
        if hit is not None:
            found.append(Overlap(s.id, index[hit], " ".join(hit)))
    return found
