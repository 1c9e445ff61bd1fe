"""Project Gutenberg's header and licence, removed from book input.

A Gutenberg file wraps the book between ``*** START OF THE PROJECT GUTENBERG EBOOK ... ***``
and ``*** END OF THE PROJECT GUTENBERG EBOOK ... ***`` (``THIS``, ``EBOOK``/``ETEXT`` and
spacing vary). The licence text that follows is the same in tens of thousands of books, so a
model has seen it whatever the book: left in, it is the "most suspicious excerpt" of any
Gutenberg book and says nothing about the book.
"""

from __future__ import annotations

import re

_START = re.compile(r"^\s*\*{3}\s*START OF (?:THE|THIS) PROJECT GUTENBERG E(?:BOOK|TEXT)\b.*$", re.IGNORECASE | re.MULTILINE)
_END = re.compile(r"^\s*(?:\*{3}\s*)?END OF (?:THE|THIS) PROJECT GUTENBERG E(?:BOOK|TEXT)\b.*$", re.IGNORECASE | re.MULTILINE)


def strip_gutenberg(text: str) -> tuple[str, bool]:
    """``text`` without what comes before the START line and from the END line on (both lines
    included), and whether anything was removed. A text without a START line is returned as
    it is (an END line alone is not enough evidence that the text is a Gutenberg file)."""
    start = _START.search(text)
    if start is None:
        return text, False
    body = text[start.end() :]
    end = _END.search(body)
    if end is not None:
        body = body[: end.start()]
    return body.strip("\n") + "\n", True
