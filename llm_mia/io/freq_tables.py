"""Token frequency tables: how often each token id occurs in a reference corpus.

DC-PDD (:mod:`llm_mia.detectors.dc_pdd`) calibrates a text's token probabilities by the
tokens' frequencies in a large corpus of ordinary text. The table is built once, with the
tokenizer of the model under test, from any corpus the user names (``llm-mia freq build``),
and stored as JSON with that tokenizer's identity: a run whose model tokenizes differently
refuses it (the same id means another token there).

File format (JSON, no code, nothing unpickled): ``format`` (= :data:`FORMAT`),
``tokenizer_identity``, ``tokenizer`` (the model spec it came from, for people), ``vocab_size``,
``n_documents``, ``n_tokens``, ``max_tokens`` (each document's tokens counted, from its
start), ``corpus`` (what the user named), and the non-zero counts as two lists ``ids`` and
``counts``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..strings import printable

FORMAT = "llm-mia token frequencies v1"
DEFAULT_MAX_TOKENS = 1024
"""Tokens counted per document, from its start (the DC-PDD authors' truncation)."""


@dataclass(frozen=True)
class FrequencyTable:
    """Counts of each token id in a corpus, for one tokenizer (see the module docstring)."""

    counts: np.ndarray  # int64, length vocab_size
    tokenizer_identity: str
    tokenizer: str = ""
    n_documents: int = 0
    max_tokens: int = DEFAULT_MAX_TOKENS
    corpus: str = ""

    @property
    def vocab_size(self) -> int:
        return int(self.counts.shape[0])

    @property
    def n_tokens(self) -> int:
        return int(self.counts.sum())

    def frequencies(self, ids: np.ndarray) -> np.ndarray:
        """Laplace-smoothed relative frequency of each id: (count + 1) / (N + |V|), N = tokens
        counted, |V| = the table's vocabulary size; an id outside the table counts 0."""
        ids = np.asarray(ids, dtype=np.int64)
        inside = (ids >= 0) & (ids < self.vocab_size)
        counts = np.zeros(ids.shape, dtype=np.float64)
        counts[inside] = self.counts[ids[inside]]
        return (counts + 1.0) / float(self.n_tokens + self.vocab_size)

    def to_json(self) -> dict[str, Any]:
        nonzero = np.flatnonzero(self.counts)
        return {
            "format": FORMAT,
            "tokenizer_identity": self.tokenizer_identity,
            "tokenizer": self.tokenizer,
            "vocab_size": self.vocab_size,
            "n_documents": self.n_documents,
            "n_tokens": self.n_tokens,
            "max_tokens": self.max_tokens,
            "corpus": self.corpus,
            "ids": nonzero.tolist(),
            "counts": self.counts[nonzero].tolist(),
        }


def vocab_size_of(tokenizer_source: Any) -> int | None:
    """The vocabulary size of a backend's tokenizer (``len(tokenizer)``), None if unknown."""
    try:
        return int(len(tokenizer_source.tokenizer))
    except (AttributeError, TypeError):
        return None


def build_table(
    texts: Iterable[str],
    tokenizer_source: Any,
    *,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    batch: int = 256,
    spec: str = "",
    corpus: str = "",
    progress: Any = None,
) -> FrequencyTable:
    """Count the tokens of ``texts`` under ``tokenizer_source`` (a scoring backend, or any
    object with ``tokenize(texts, special_tokens=False)`` and ``tokenizer_identity``). Each
    text counts its first ``max_tokens`` tokens, without special tokens; empty texts count
    nothing but are counted as documents. ``progress`` is called with the number of texts
    done after each batch."""
    if max_tokens < 1:
        raise InputError(f"max_tokens must be at least 1; got {max_tokens}")
    size = vocab_size_of(tokenizer_source) or 0
    counts = np.zeros(size, dtype=np.int64)
    n_docs = 0
    chunk: list[str] = []

    def flush() -> None:
        nonlocal counts
        for ids in tokenizer_source.tokenize(chunk, special_tokens=False):
            kept = np.asarray(ids[:max_tokens], dtype=np.int64)
            if kept.size == 0:
                continue
            if kept.min() < 0:
                raise InputError("the tokenizer returned a negative token id")
            top = int(kept.max()) + 1
            if top > counts.shape[0]:
                counts = np.concatenate([counts, np.zeros(top - counts.shape[0], dtype=np.int64)])
            counts += np.bincount(kept, minlength=counts.shape[0])
        if progress is not None:
            progress(len(chunk))
        chunk.clear()

    for text in texts:
        n_docs += 1
        chunk.append(text)
        if len(chunk) >= batch:
            flush()
    if chunk:
        flush()
    if counts.sum() == 0:
        raise InputError("the corpus gave no tokens: a frequency table needs some text")
    return FrequencyTable(counts, tokenizer_source.tokenizer_identity, spec, n_docs, max_tokens, corpus)


def save_table(table: FrequencyTable, path: str | Path, *, replace: bool = True) -> None:
    """Write ``table`` to ``path`` as JSON, atomically."""
    from .writers import write_text

    write_text(path, json.dumps(table.to_json(), separators=(",", ":")) + "\n", replace=replace)


def load_table(path: str | Path) -> FrequencyTable:
    """The table stored at ``path``; a file that is not one raises :class:`InputError`."""
    p = Path(path).expanduser()
    where = printable(str(path))
    if not p.is_file():
        raise InputError(f"frequency table {where} does not exist (build one with: llm-mia freq build CORPUS --model M -o {where})")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise InputError(f"cannot read the frequency table {where}: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError(f"{where} is not a token frequency table written by llm-mia freq build")
    try:
        ids = np.asarray(data["ids"], dtype=np.int64)
        values = np.asarray(data["counts"], dtype=np.int64)
        size = int(data["vocab_size"])
        if ids.shape != values.shape or ids.ndim != 1 or (ids.size and (ids.min() < 0 or ids.max() >= size)) or (values < 0).any():
            raise ValueError("ids and counts do not match the vocabulary size")
        counts = np.zeros(size, dtype=np.int64)
        counts[ids] = values
        return FrequencyTable(
            counts,
            str(data["tokenizer_identity"]),
            str(data.get("tokenizer", "")),
            int(data.get("n_documents", 0)),
            int(data.get("max_tokens", 0)),
            str(data.get("corpus", "")),
        )
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise InputError(f"the frequency table {where} is damaged: {exc}") from None


def check_tokenizer(table: FrequencyTable, identity: str, spec: str, where: str) -> None:
    """Refuse ``table`` for a model whose tokenizer (``identity``) is not the table's."""
    if table.tokenizer_identity != identity:
        built = f" (built with {table.tokenizer})" if table.tokenizer else ""
        raise InputError(
            f"the frequency table {where}{built} was built with another tokenizer than {spec}'s: its token ids mean other tokens here. "
            f"Build one for this model: llm-mia freq build CORPUS --model {spec} -o TABLE"
        )
