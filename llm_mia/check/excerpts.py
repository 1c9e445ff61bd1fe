"""Cut books into excerpts, and find text shared between two sets of excerpts.

Excerpts are counted in words (runs of non-whitespace), not tokens, so that the same cut
applies whatever the model. Each excerpt is the original text from its first word to its
last, whitespace and line breaks kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..types import Document

DEFAULT_EXCERPT_WORDS = 128
"""About 170 tokens of English prose: BookTection's passages are ~128 tokens."""

OVERLAP_NGRAM = 13
"""Word n-gram length taken as shared text (the 13-gram test of contamination studies,
Brown et al. 2020)."""

_WORD = re.compile(r"\S+")
_NORMALIZE = re.compile(r"[^\w]+")


def excerpt_bounds(n_words: int, words: int) -> list[tuple[int, int]]:
    """[start, end) word ranges of the excerpts of a text of ``n_words`` words: ``words``
    each, and a remainder shorter than ``words / 2`` joins the excerpt before it."""
    if words < 1:
        raise ValueError(f"excerpt length must be at least 1 word, got {words}")
    starts = list(range(0, n_words, words))
    if len(starts) > 1 and n_words - starts[-1] < words / 2:
        starts.pop()
    return list(zip(starts, starts[1:] + [n_words]))


def cut_excerpts(doc: Document, words: int = DEFAULT_EXCERPT_WORDS) -> list[Document]:
    """``doc`` cut into consecutive excerpts (see :func:`excerpt_bounds`), ids ``<id>#1``,
    ``<id>#2``, ...; a text shorter than ``words`` is one excerpt. A document with an error,
    or without any word, comes back unchanged (one document)."""
    if words < 1:
        raise ValueError(f"excerpt length must be at least 1 word, got {words}")
    if doc.error is not None or doc.text is None:
        return [doc]
    spans = [m.span() for m in _WORD.finditer(doc.text)]
    if not spans:
        return [doc]
    return [
        Document(f"{doc.id}#{k}", doc.text[spans[a][0] : spans[b - 1][1]], doc.label) for k, (a, b) in enumerate(excerpt_bounds(len(spans), words), start=1)
    ]


def cut_all(docs: Iterable[Document], words: int = DEFAULT_EXCERPT_WORDS) -> list[Document]:
    return [e for d in docs for e in cut_excerpts(d, words)]


def _normalized_words(text: str) -> list[str]:
    """The text's whitespace-separated words, lowercased, punctuation removed (positions kept)."""
    return [_NORMALIZE.sub("", w.lower()) for w in text.split()]


@dataclass(frozen=True)
class Overlap:
    """A passage of a suspect document that also occurs in a reference document."""

    suspect_id: str
    reference_id: str
    shared: str  # the shared n-gram, for the message
    word: int  # where it starts among the suspect document's words


def find_overlaps(suspect: Sequence[Document], reference: Sequence[Document], n: int = OVERLAP_NGRAM) -> list[Overlap]:
    """Every position where a suspect document has a word ``n``-gram (case and punctuation
    ignored) that also occurs in a reference document; a text shorter than ``n`` words counts
    when a reference text is identical to it. Pass whole documents, not excerpts, so that
    passages across excerpt boundaries are found."""
    index: dict[tuple[str, ...], str] = {}
    for r in reference:
        if r.text:
            w = _normalized_words(r.text)
            for i in range(max(1, len(w) - n + 1)):
                index.setdefault(tuple(w[i : i + n]), r.id)
    found = []
    for s in suspect:
        w = _normalized_words(s.text or "")
        for i in range(max(1, len(w) - n + 1)) if w else ():
            gram = tuple(w[i : i + n])
            if gram in index:
                found.append(Overlap(s.id, index[gram], " ".join(gram), i))
    return found


def overlapping_excerpts(doc: Document, words: int, overlaps: Sequence[Overlap], n: int = OVERLAP_NGRAM) -> dict[str, Overlap]:
    """The excerpts of ``doc`` (ids as cut by :func:`cut_excerpts`) that hold part of a
    shared passage of ``doc`` (``overlaps`` from :func:`find_overlaps` on whole documents),
    each with the first overlap that touches it."""
    bounds = excerpt_bounds(len((doc.text or "").split()), words)
    hit: dict[str, Overlap] = {}
    for o in overlaps:
        if o.suspect_id != doc.id:
            continue
        for k, (a, b) in enumerate(bounds, start=1):
            if a < o.word + n and o.word < b:
                hit.setdefault(f"{doc.id}#{k}", o)
    return hit
