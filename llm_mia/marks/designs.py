"""How candidate marks are made: each design turns a seeded generator into N distinct texts of
about ``length`` tokens of a tokenizer.

- ``words``: random words of the tokenizer's own vocabulary (lowercase, 3 to 12 letters, each
  one token after a space), as data watermarks use random sequences (Wei, Wang and Jia 2024);
- ``chars``: random groups of 4 lowercase letters and digits, until the text has ``length``
  tokens: the least natural design, and the one no model predicts;
- ``sentences``: text sampled from a language model at temperature 1 from its start token, as
  copyright traps use synthetic sentences (Meeus et al., ICML 2024): natural-looking marks
  that a reader passes over (needs a backend that can generate, :data:`~llm_mia.backends.GENERATE`).

The marks depend on the seed alone (and on the model for ``sentences``, the tokenizer for
``words`` and the lengths): the same seed and model give the same marks.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from typing import Any

import numpy as np

from ..backends import GENERATE
from ..errors import InputError

DESIGNS = ("words", "chars", "sentences")
WORD = re.compile(r"^ [a-z]{3,12}$")
CHARS = string.ascii_lowercase + string.digits
MAX_TRIES = 20
"""Draws per mark before giving up on finding one not drawn already."""


def vocabulary_words(tokenizer: Any, vocab_size: int) -> list[str]:
    """The tokenizer's single-token words: ids that decode to a space and 3 to 12 lowercase letters."""
    decode = tokenizer.decode
    return sorted({w[1:] for i in range(vocab_size) if WORD.match(w := decode([i]))})


def make_texts(design: str, n: int, length: int, rng: np.random.Generator, backend: Any) -> list[str]:
    """``n`` distinct mark texts of ``design`` (see the module docstring) from ``rng``."""
    if design not in DESIGNS:
        raise InputError(f"unknown mark design {design!r}; choose one of {', '.join(DESIGNS)}")
    make: Callable[[], str]
    if design == "words":
        words = vocabulary_words(backend.tokenizer, len(backend.tokenizer))
        if len(words) < 100:
            raise InputError(f"the tokenizer of {backend.spec} has only {len(words)} single-token lowercase words; use the chars design")
        make = lambda: " ".join(words[i] for i in rng.integers(0, len(words), length))  # noqa: E731
    elif design == "chars":
        make = lambda: _chars(rng, length, backend)  # noqa: E731
    else:
        if GENERATE not in backend.capabilities:
            raise InputError(f"the sentences design samples text from a model, which {backend.spec} cannot do here; use words or chars")
        return _sentences(backend, n, length, rng)
    out: list[str] = []
    seen: set[str] = set()
    for _ in range(n):
        for _try in range(MAX_TRIES):
            text = make()
            if text not in seen:
                break
        else:
            raise InputError(f"could not draw {n} distinct marks of {length} tokens with the {design} design; make them longer")
        seen.add(text)
        out.append(text)
    return out


def _chars(rng: np.random.Generator, length: int, backend: Any) -> str:
    """Groups of 4 random letters and digits, added until the text has ``length`` tokens."""
    groups: list[str] = []
    while True:
        groups.append("".join(CHARS[i] for i in rng.integers(0, len(CHARS), 4)))
        if len(backend.tokenize([" ".join(groups)], special_tokens=False)[0]) >= length:
            return " ".join(groups)


def _sentences(backend: Any, n: int, length: int, rng: np.random.Generator) -> list[str]:
    """``n`` texts of ``length`` tokens sampled at temperature 1 after the start token (the
    tokenizer's BOS, else a newline), each with its own seed from ``rng``; decoded, its whitespace
    collapsed to single spaces (a mark is one line), and one with other unprintable characters
    drawn again."""
    start = backend.tokenize([""])[0] or backend.tokenize(["\n"], special_tokens=False)[0][:1]
    special = set(getattr(backend.tokenizer, "all_special_ids", []) or [])
    out: list[str] = []
    seen: set[str] = set()
    for _round in range(MAX_TRIES):
        seeds = [int(s) for s in rng.integers(0, 2**31 - 1, n - len(out))]
        for ids in backend.generate([start] * len(seeds), length, temperature=1.0, seeds=seeds):
            text = " ".join(backend.tokenizer.decode([i for i in ids if i not in special]).split())  # one line: listed and placed as it is
            if not text.isprintable():
                continue
            if text and text not in seen:
                seen.add(text)
                out.append(text)
        if len(out) == n:
            return out
    raise InputError(f"{backend.spec} gave fewer than {n} distinct sentences of {length} tokens in {MAX_TRIES} rounds; use another design")
