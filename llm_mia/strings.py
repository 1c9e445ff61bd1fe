"""Strings that come from outside (texts, ids, file names) made safe to tokenize, store and print.

Python strings can hold what UTF-8 cannot: lone surrogates (JSON's ``"\\ud800"``) and the
``\\udc80``-``\\udcff`` escapes that stand for undecodable bytes in file names. A tokenizer
rejects them and a UTF-8 writer fails on them, so a text with one is refused with its
position, and an id or file name with one is spelled with backslash escapes instead.
"""

from __future__ import annotations

import re

_SURROGATE = re.compile("[\ud800-\udfff]")


def surrogate_problem(text: str) -> str | None:
    """Why ``text`` is not valid Unicode (the first lone surrogate and where), or None."""
    m = _SURROGATE.search(text)
    if m is None:
        return None
    return f"text holds a lone surrogate (\\u{ord(m.group()):04x} at character {m.start()}), which is not valid Unicode"


def safe_id(value: str) -> str:
    """``value`` with every surrogate spelled out: ``\\xNN`` for an undecodable byte of a file
    name (``os.fsdecode``'s escapes), ``\\uNNNN`` for any other lone surrogate. Valid text is
    returned unchanged."""
    if _SURROGATE.search(value) is None:
        return value

    def spell(m: re.Match[str]) -> str:
        code = ord(m.group())
        return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"\\u{code:04x}"

    return _SURROGATE.sub(spell, value)


def printable(value: object) -> str:
    """``str(value)`` safe for a terminal: control and format characters (escape codes,
    carriage returns, bidi overrides) and surrogates are shown as escapes, never sent raw."""
    text = safe_id(str(value))
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == " " else _escape(ch) for ch in text)


def printable_lines(text: str) -> str:
    """:func:`printable` line by line: the line breaks of ``text`` are kept."""
    return "\n".join(printable(line) for line in text.split("\n"))


def _escape(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def describe_bytes(n: float) -> str:
    """``n`` bytes for a message: "1.2 GB", "350 MB", "900 kB", "12 bytes"."""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}" if n < 10 * size else f"{n / size:.0f} {unit}"
    return f"{int(n)} bytes"
