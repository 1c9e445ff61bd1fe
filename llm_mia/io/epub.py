"""Read the text of an EPUB book (optional extra: ``pip install "llm-mia[epub]"``, EbookLib).

The chapters are taken in reading order (the spine); markup is dropped with the standard
library's HTML parser, block elements become paragraph breaks, scripts and styles are skipped.
"""

from __future__ import annotations

import re
import zipfile
from html.parser import HTMLParser
from pathlib import Path

from ..errors import InputError
from ..strings import safe_id, surrogate_problem
from ..types import Document, Reason

_BLOCKS = {"p", "div", "section", "article", "blockquote", "li", "tr", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "title"}
_SKIP = {"script", "style", "head"}
MAX_EPUB_BYTES = 256 * 1024 * 1024
"""The most an EPUB may expand to, its files' sizes together, as its zip directory declares them
(a book's text is a few MB, its images rarely 100 MB): beyond, it is refused before it is read.
Python's zip reader stops at the declared size, so a file that understates it cannot bypass this."""


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skip += 1
        elif tag in _BLOCKS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    """Visible text of an (X)HTML document, paragraphs separated by blank lines."""
    parser = _Text()
    parser.feed(markup)
    parser.close()
    text = re.sub(r"[ \t\r\f\v]+", " ", "".join(parser.parts))
    text = re.sub(r" *\n *", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def read_epub(path: str | Path) -> Document:
    """The whole book as one document (id: the file name)."""
    try:
        import ebooklib
        from ebooklib import epub
    except ImportError:
        raise InputError('reading EPUB needs the epub extra: pip install "llm-mia[epub]"') from None
    p = Path(path)
    name = safe_id(p.name)
    try:
        with zipfile.ZipFile(p) as z:
            expands = sum(info.file_size for info in z.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InputError(f"cannot read EPUB {name}: {exc}") from None
    if expands > MAX_EPUB_BYTES:
        raise InputError(f"{name} expands to {expands:,} bytes, more than the {MAX_EPUB_BYTES:,} llm-mia reads from one EPUB: a damaged or hostile file")
    try:
        book = epub.read_epub(str(p), options={"ignore_ncx": True})
    except Exception as exc:  # EbookLib raises many kinds for a damaged file
        raise InputError(f"cannot read EPUB {name}: {exc}") from None
    chapters = []
    try:
        for idref, _linear in book.spine:
            item = book.get_item_with_id(idref)
            if item is not None and item.get_type() == ebooklib.ITEM_DOCUMENT:
                chapters.append(html_to_text(_decode(item.get_content())))
    except Exception as exc:  # a damaged chapter: the book cannot be read whole
        raise InputError(f"cannot read EPUB {name}: {exc}") from None
    text = "\n\n".join(c for c in chapters if c)
    if (problem := surrogate_problem(text)) is not None:
        return Document(name, None, None, Reason("invalid_unicode", f"{name}: {problem}"))
    return Document(name, text, None, None if text.strip() else Reason("no_text", f"{name}: the EPUB holds no text"))


def _decode(raw: bytes) -> str:
    """EPUB chapters are UTF-8 or UTF-16 (XML rules): a byte-order mark or NUL bytes say which."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16", errors="replace")
    if raw[:2] in (b"<\x00", b"\x00<"):
        return raw.decode("utf-16-le" if raw[0] == 0x3C else "utf-16-be", errors="replace")
    return raw.decode("utf-8-sig", errors="replace")
