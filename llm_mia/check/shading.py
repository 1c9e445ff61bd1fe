"""Text split at token boundaries, each piece with the log-probability the model gave it
(the shaded excerpts of a check's report)."""

from __future__ import annotations

from typing import Any

from ..scoring import prefix_chars
from ..types import TokenStats


def token_pieces(tokenizer: Any, text: str, stats: TokenStats) -> list[tuple[str, float | None]]:
    """``text`` split at token boundaries, each piece with the log-probability the model gave
    it (None for the first token, which is context only, for special tokens and for text past
    a truncation). When several tokens share characters (byte-level pieces of one character)
    their log-probabilities are added: the piece's probability is that of the whole character.
    Uses the tokenizer's character offsets; without them (or when they do not match the
    scored ids) decodes growing prefixes of the ids and takes the differences."""
    ids = [int(t) for t in stats.token_ids]
    lp: list[float | None] = [None] + [float(x) for x in stats.logprobs]
    if stats.truncated:  # only the scored part is tokenized and shown, whatever the text's length
        text = _scored_prefix(tokenizer, text, ids)
    try:
        enc = tokenizer(text, add_special_tokens=True, return_offsets_mapping=True, verbose=False)
        offsets, enc_ids = enc["offset_mapping"], list(enc["input_ids"])
    except (NotImplementedError, ValueError, KeyError, TypeError):
        offsets, enc_ids = None, []
    if offsets is None or enc_ids[: len(ids)] != ids:
        return _decoded_pieces(tokenizer, text, ids, lp)
    pieces: list[tuple[str, float | None]] = []
    pos = 0
    for k, (start, end) in enumerate(offsets[: len(ids)]):
        if end <= start:  # a special token (BOS): no text of its own
            continue
        if end <= pos:  # shares the character of the piece before: one probability for both
            if pieces and lp[k] is not None:
                before = pieces[-1][1]
                pieces[-1] = (pieces[-1][0], lp[k] if before is None else before + lp[k])  # type: ignore[operator]
            continue
        start = max(start, pos)
        if start > pos:  # whitespace the offsets leave out belongs to no token
            pieces.append((text[pos:start], None))
        pieces.append((text[start:end], lp[k]))
        pos = end
    if pos < len(text):
        pieces.append((text[pos:], None))
    return pieces


TRUNCATION_MARK = " [...]"
"""Ends the shown text of a truncated excerpt: what follows was not scored."""


def _scored_prefix(tokenizer: Any, text: str, ids: list[int]) -> str:
    """The shortest prefix of ``text`` (in doubling steps) whose tokens start with ``ids``, cut
    after the last of them, plus :data:`TRUNCATION_MARK`; ``text`` itself when none is found."""
    c = prefix_chars(len(ids))
    while c < len(text):
        try:
            enc = tokenizer(text[:c], add_special_tokens=True, return_offsets_mapping=True, verbose=False)
            if list(enc["input_ids"])[: len(ids)] == ids and len(enc["input_ids"]) > len(ids):
                return text[: enc["offset_mapping"][len(ids) - 1][1]] + TRUNCATION_MARK
        except (NotImplementedError, ValueError, KeyError, TypeError):
            return text[:c] + TRUNCATION_MARK
        c *= 2
    return text


def _decoded_pieces(tokenizer: Any, text: str, ids: list[int], lp: list[float | None]) -> list[tuple[str, float | None]]:
    special = set(getattr(tokenizer, "all_special_ids", []) or [])
    pieces: list[tuple[str, float | None]] = []
    done = ""
    pending: float | None = None  # log-probability of tokens that do not yet make a whole character
    for k, t in enumerate(ids):
        if t in special:
            continue
        if lp[k] is not None:
            pending = lp[k] if pending is None else pending + lp[k]  # type: ignore[operator]
        now = tokenizer.decode([i for i in ids[: k + 1] if i not in special])
        if now.endswith("\ufffd") or not now.startswith(done):  # an incomplete character: wait for more bytes
            continue
        pieces.append((now[len(done) :], pending))
        done, pending = now, None
    if text.startswith(done) and len(done) < len(text):
        pieces.append((text[len(done) :], None))
    return pieces


def looks_like_code(text: str) -> bool:
    """True for text that reads as source code (indented lines, lines ending in ``:``, ``{``,
    ``;`` or ``)``, or keywords): shown in a monospace font."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return False
    codey = sum(line.startswith(("    ", "\t")) or line.rstrip().endswith((":", "{", "}", ";", ")")) for line in lines)
    keywords = sum(w in text for w in ("def ", "return ", "import ", "class ", "function ", "#include", "=>", "});"))
    return codey / len(lines) >= 0.3 or keywords >= 2
