"""The score-file reader: records written by ``llm-mia score`` (``ScoreRecord.to_json``, one
JSON object per line) read back, with a clear error for a row that is not one."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..types import REASONS, Reason, ScoreRecord


def records_from_json(rows: Sequence[dict[str, Any]]) -> list[ScoreRecord]:
    """Parse rows written by ``ScoreRecord.to_json`` (e.g. a scores JSONL file)."""
    out = []
    for n, row in enumerate(rows, start=1):
        scores = row.get("scores") if isinstance(row, dict) else None
        if not isinstance(scores, dict) or not all(v is None or isinstance(v, (int, float)) for v in scores.values()):
            raise InputError(f"row {n}: 'scores' must map detector names to numbers or null")
        if row.get("label") not in (0, 1, None):
            raise InputError(f"row {n}: label {row.get('label')!r} is not 0, 1 or null")
        try:
            out.append(
                ScoreRecord(
                    id=str(row["id"]),
                    label=row.get("label"),
                    n_tokens=int(row.get("n_tokens", 0)),
                    status=row["status"],
                    reason=_reason(row.get("reason"), row.get("reason_code")),
                    scores=dict(row.get("scores") or {}),
                    truncated=bool(row.get("truncated", False)),
                    notes={k: _reason(v, (row.get("note_codes") or {}).get(k)) for k, v in (row.get("notes") or {}).items()},
                    params=dict(row.get("params") or {}),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"row {n} is not a score record ({exc!r}); was it written by llm-mia score?") from None
    return out


def _reason(text: Any, code: Any) -> Any:
    """A reason read back from a file: a :class:`Reason` when its code is known (files
    written before reason codes have none: they count as "other")."""
    return Reason(code, text) if isinstance(text, str) and code in REASONS else text


def read_score_file(path: str | Path) -> list[ScoreRecord]:
    """Records from a JSONL file written by ``llm-mia score``."""
    p = Path(path).expanduser()
    if p.is_dir():
        raise InputError(f"{str(path)!r} is a folder; llm-mia eval reads one scores file written by llm-mia score")
    if not p.is_file():
        raise InputError(f"scores file {str(path)!r} does not exist")
    rows = []
    with p.open("rb") as fh:
        for n, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                rows.append(json.loads(raw.decode("utf-8")))
            except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
                raise InputError(f"line {n} of {p.name} is not valid UTF-8 JSON ({exc})") from None
    return records_from_json(rows)
