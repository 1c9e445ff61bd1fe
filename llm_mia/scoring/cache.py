"""On-disk cache of per-token statistics (one SQLite file, raw little-endian arrays, no pickle).

A record is keyed by sha256 of the scorer's settings (model identity, tokenizer identity,
max_tokens, stride, dtype, device type, format version) and the text. The scorer writes each
batch's finished texts in one transaction, so an interrupted run loses at most the batch in
flight and a rerun resumes where it stopped. Re-scoring cached texts runs no forward pass.

Nothing read is trusted: a record is used only when its arrays have whole elements, agree in
length (n token ids, n - 1 of each statistic), hold no NaN log-probability, and match the sha256 checksum
stored with them (over the key and every field). A record that fails is reported as bad
(the scorer recomputes it, with a warning) and is replaced when the new one is stored.
Records of a cache written before checksums existed count as bad and are recomputed once.
A database that fails mid-run (damaged, locked for over a minute) is bypassed with a warning:
the run goes on without the cache rather than stop.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from ..types import TokenStats

_SCHEMA = """
CREATE TABLE IF NOT EXISTS stats (
    key TEXT PRIMARY KEY,
    truncated INTEGER NOT NULL,
    token_ids BLOB NOT NULL,
    logprobs BLOB NOT NULL,
    dist_mean BLOB NOT NULL,
    dist_var BLOB NOT NULL
)
"""
_ARRAYS = ("token_ids", "logprobs", "dist_mean", "dist_var", "top_logprob")
_FIELDS = "key, truncated, " + ", ".join(_ARRAYS) + ", checksum, grad_norms"
# a damaged row may hold text where bytes belong: read every array as bytes, whatever it holds
_READ = "key, truncated, " + ", ".join(f"CAST({f} AS BLOB)" for f in _ARRAYS) + ", checksum, CAST(grad_norms AS BLOB)"
_ADDED = {"checksum": "TEXT", "top_logprob": "BLOB", "grad_norms": "BLOB"}
"""Columns added after the first version: a database without them gets them (its old records
are recomputed: the statistics version in their keys no longer matches, or they fail validation)."""


def _checksum(key: str, truncated: int, *blobs: bytes) -> str:
    digest = hashlib.sha256(key.encode("ascii"))
    digest.update(bytes([truncated]))
    for blob in blobs:
        digest.update(len(blob).to_bytes(8, "little"))
        digest.update(blob)
    return digest.hexdigest()


def _decode(
    key: str, truncated: object, ids: object, lp: object, mu: object, var: object, top: object, checksum: object, grad: object = None
) -> TokenStats | str:
    """The record's statistics, or why they cannot be trusted. ``grad``: a gradient view's
    norms (3 float64), NULL for other views (then not part of the checksum)."""
    if top is None:
        return "no top-1 log-probabilities (written by an older llm-mia)"
    blobs = (ids, lp, mu, var, top)
    if not all(isinstance(b, bytes) for b in blobs) or truncated not in (0, 1) or not (grad is None or isinstance(grad, bytes)):
        return "fields of the wrong type"
    if checksum != _checksum(key, int(truncated), *blobs, *([] if grad is None else [grad])):  # type: ignore[arg-type]
        return "no checksum (written by an older llm-mia)" if checksum is None else "checksum mismatch"
    if len(ids) % 8 or any(len(b) % 4 for b in blobs[1:]):  # type: ignore[arg-type]
        return "arrays of partial elements"
    arrays = [np.frombuffer(ids, dtype="<i8")] + [np.frombuffer(b, dtype="<f4") for b in blobs[1:]]  # type: ignore[call-overload]
    n = arrays[0].shape[0]
    if n < 2 or any(a.shape[0] != n - 1 for a in arrays[1:]):
        return f"arrays of inconsistent lengths ({', '.join(str(a.shape[0]) for a in arrays)})"
    if np.isnan(arrays[1]).any():  # moments may be NaN: a backend that does not compute them
        return "NaN log-probabilities"
    if grad is not None and len(grad) != 24:
        return "gradient norms of the wrong length"
    token_ids, logprobs, dist_mean, dist_var, top_logprob = (a.copy() for a in arrays)
    norms = None if grad is None else np.frombuffer(grad, dtype="<f8").copy()
    return TokenStats(token_ids, logprobs, dist_mean, dist_var, truncated=bool(truncated), top_logprob=top_logprob, grad_norms=norms)


def stats_key(settings: dict[str, object], text: str) -> str:
    """sha256 over the scorer settings and the exact text."""
    payload = json.dumps([settings, text], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()


class StatsCache:
    """A directory holding ``stats.sqlite``; safe to share between runs and processes."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory).expanduser()
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / "stats.sqlite"
        self._db = sqlite3.connect(self.path, timeout=60)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)
        for column, kind in _ADDED.items():
            if column not in {row[1] for row in self._db.execute("PRAGMA table_info(stats)")}:
                try:
                    self._db.execute(f"ALTER TABLE stats ADD COLUMN {column} {kind}")
                except sqlite3.OperationalError:  # another process added it first
                    if column not in {row[1] for row in self._db.execute("PRAGMA table_info(stats)")}:
                        raise
        self._db.commit()
        self.bad: list[tuple[str, str]] = []  # (key, reason) of every record that failed validation
        self.broken: str | None = None  # why the database stopped working mid-run (then it is bypassed)

    def get_many(self, keys: Sequence[str]) -> dict[int, TokenStats]:
        """Cached statistics by index into ``keys`` (missing keys and records that fail
        validation are absent; the latter are added to ``bad``). A database that cannot be
        read (damaged, locked too long) is bypassed for the rest of the run, with a warning."""
        if self.broken is not None:
            return {}
        try:
            return self._get_many(keys)
        except sqlite3.DatabaseError as exc:
            self._break(exc)
            return {}

    def _get_many(self, keys: Sequence[str]) -> dict[int, TokenStats]:
        index: dict[str, list[int]] = {}
        for i, k in enumerate(keys):
            index.setdefault(k, []).append(i)
        found: dict[int, TokenStats] = {}
        unique = list(index)
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(f"SELECT {_READ} FROM stats WHERE key IN ({marks})", chunk)
            for key, *fields in rows:
                ts = _decode(key, *fields)
                if isinstance(ts, str):
                    self.bad.append((key, ts))
                    continue
                for i in index[key]:
                    found[i] = ts
        return found

    def put_many(self, items: Iterable[tuple[str, TokenStats]]) -> None:
        """Store records in one transaction (nothing, once the database is bypassed)."""
        if self.broken is not None:
            return
        try:
            self._put_many(items)
        except sqlite3.DatabaseError as exc:
            self._break(exc)

    def _break(self, exc: sqlite3.DatabaseError) -> None:
        self.broken = f"{type(exc).__name__}: {exc}"
        warnings.warn(
            f"the statistics cache {self.path} cannot be used ({self.broken}); going on without it. Delete the file, or pass --no-cache / another --cache-dir",
            stacklevel=3,
        )

    def _put_many(self, items: Iterable[tuple[str, TokenStats]]) -> None:
        rows = []
        for key, ts in items:
            blobs = (
                np.asarray(ts.token_ids, dtype="<i8").tobytes(),
                np.asarray(ts.logprobs, dtype="<f4").tobytes(),
                np.asarray(ts.dist_mean, dtype="<f4").tobytes(),
                np.asarray(ts.dist_var, dtype="<f4").tobytes(),
                np.asarray(np.full(len(ts.logprobs), np.nan) if ts.top_logprob is None else ts.top_logprob, dtype="<f4").tobytes(),
            )
            grad = None if ts.grad_norms is None else np.asarray(ts.grad_norms, dtype="<f8").tobytes()
            rows.append((key, int(ts.truncated), *blobs, _checksum(key, int(ts.truncated), *blobs, *([] if grad is None else [grad])), grad))
        with self._db:
            self._db.executemany(f"INSERT OR REPLACE INTO stats ({_FIELDS}) VALUES ({', '.join('?' * (len(_ARRAYS) + 4))})", rows)

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM stats").fetchone()[0])

    def close(self) -> None:
        self._db.close()
