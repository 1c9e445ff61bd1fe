"""On-disk cache of per-token statistics (one SQLite file, raw little-endian arrays, no pickle).

A record is keyed by sha256 of the scorer's settings (model identity, tokenizer identity,
max_tokens, stride, dtype, device type, format version) and the text. The scorer writes each
batch's finished texts in one transaction, so an interrupted run loses at most the batch in
flight and a rerun resumes where it stopped. Re-scoring cached texts runs no forward pass.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from .types import TokenStats

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
        self._db.commit()

    def get_many(self, keys: Sequence[str]) -> dict[int, TokenStats]:
        """Cached statistics by index into ``keys`` (missing keys are absent)."""
        index: dict[str, list[int]] = {}
        for i, k in enumerate(keys):
            index.setdefault(k, []).append(i)
        found: dict[int, TokenStats] = {}
        unique = list(index)
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT key, truncated, token_ids, logprobs, dist_mean, dist_var FROM stats WHERE key IN ({marks})",
                chunk,
            )
            for key, truncated, ids, lp, mu, var in rows:
                ts = TokenStats(
                    token_ids=np.frombuffer(ids, dtype="<i8").copy(),
                    logprobs=np.frombuffer(lp, dtype="<f4").copy(),
                    dist_mean=np.frombuffer(mu, dtype="<f4").copy(),
                    dist_var=np.frombuffer(var, dtype="<f4").copy(),
                    truncated=bool(truncated),
                )
                for i in index[key]:
                    found[i] = ts
        return found

    def put_many(self, items: Iterable[tuple[str, TokenStats]]) -> None:
        """Store records in one transaction."""
        rows = [
            (
                key,
                int(ts.truncated),
                np.asarray(ts.token_ids, dtype="<i8").tobytes(),
                np.asarray(ts.logprobs, dtype="<f4").tobytes(),
                np.asarray(ts.dist_mean, dtype="<f4").tobytes(),
                np.asarray(ts.dist_var, dtype="<f4").tobytes(),
            )
            for key, ts in items
        ]
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO stats VALUES (?, ?, ?, ?, ?, ?)", rows)

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM stats").fetchone()[0])

    def close(self) -> None:
        self._db.close()
