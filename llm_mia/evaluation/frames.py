"""Score records as a pandas DataFrame (for notebooks and analysis)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..types import ScoreRecord


def to_dataframe(records: Sequence[ScoreRecord]) -> Any:
    """One row per record: ``id``, ``label``, ``status``, ``n_tokens``, ``truncated``,
    ``reason``, then one float column per detector key in first-seen order (NaN where that
    detector gave no score: a skipped document, or a detector that could not score it).
    Needs pandas (installed with ``datasets``)."""
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover  (datasets depends on pandas)
        raise ImportError("to_dataframe needs pandas: pip install pandas") from None
    keys = list(dict.fromkeys(k for r in records for k in r.scores))
    rows = [
        {
            "id": r.id,
            "label": r.label,
            "status": r.status,
            "n_tokens": r.n_tokens,
            "truncated": r.truncated,
            "reason": None if r.reason is None else str(r.reason),
            **{k: r.scores.get(k) for k in keys},
        }
        for r in records
    ]
    frame = pd.DataFrame(rows, columns=["id", "label", "status", "n_tokens", "truncated", "reason", *keys])
    frame["label"] = frame["label"].astype("Int64")  # 0, 1 or <NA>
    for k in keys:
        frame[k] = frame[k].astype(float)
    return frame
