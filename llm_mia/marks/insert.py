"""Placing the published marks in a text, and finding them there again.

:func:`insert_marks` puts ``repeat`` copies of every published mark into a text, each as a
paragraph of its own between two of the text's paragraphs (blank-line separated, with the text's own line ends; a text
of one paragraph gets them after it), at places drawn from the manifest's seed: the same manifest and
text give the same marked text. The secret marks never appear. Where the owner places marks by
hand (a book's front matter, hidden web text, extra rows of a dataset), :func:`published_texts`
lists them.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError, at_least
from .manifest import Manifest

PLACEMENT_STREAM = 7
"""The seed's stream for the places (the marks and the published subset use others)."""


def published_texts(manifest: Manifest) -> list[str]:
    return [m.text for m in manifest.published]


def insert_marks(text: str, manifest: Manifest, repeat: int = 1) -> str:
    """``text`` with ``repeat`` copies of each published mark, each a paragraph of its own."""
    at_least("repeat", repeat, 1)
    if not text.strip():
        raise InputError("the text to mark is empty")
    sep = "\r\n\r\n" if "\r\n\r\n" in text else "\n\n"  # a text with Windows line ends keeps them
    paragraphs = text.split(sep)
    copies = [m.text for m in manifest.published for _ in range(repeat)]
    rng = np.random.default_rng(np.random.SeedSequence(int(manifest.seed, 16), spawn_key=(PLACEMENT_STREAM,)))
    order = rng.permutation(len(copies))
    gaps = np.sort(rng.integers(1, len(paragraphs) + 1, len(copies)))  # after paragraph g - 1; never before the first
    out: list[str] = []
    k = 0
    for i, para in enumerate(paragraphs, start=1):
        out.append(para)
        while k < len(copies) and gaps[k] == i:
            out.append(copies[order[k]])
            k += 1
    return sep.join(out)


def missing_marks(text: str, manifest: Manifest) -> list[int]:
    """Indices of the published marks that do not occur in ``text`` (a marked text that was
    edited, or not the marked one)."""
    flat = " ".join(text.split())
    return [m.index for m in manifest.published if " ".join(m.text.split()) not in flat]
