"""Plain records shared by every layer (no torch import here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

STATUS_OK = "ok"
STATUS_SKIPPED = "skipped"


@dataclass(frozen=True)
class Document:
    """One input text.

    ``label`` is 1 for a member, 0 for a non-member, None when unknown.
    ``error`` is set when the input row itself is unusable (missing text, bad label,
    undecodable bytes, duplicate id): such a document is reported as skipped, never dropped.
    """

    id: str
    text: str | None
    label: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class TokenStats:
    """Per-token statistics of one text under one model, from one forward pass.

    For the n tokens x_0..x_{n-1} of the scored sequence, positions t = 1..n-1 are scored
    (x_0 is context only), so every array below has n - 1 entries:

    - ``logprobs[t-1]``  = log p(x_t | x_<t)                         (nats)
    - ``dist_mean[t-1]`` = E_{v~p(.|x_<t)}[log p(v | x_<t)]          (= minus the entropy)
    - ``dist_var[t-1]``  = Var_{v~p(.|x_<t)}[log p(v | x_<t)]

    ``token_ids`` holds all n ids (context token included; for a view with a context text,
    x_0 is the context's last token and every token of the text is scored, see
    :mod:`llm_mia.views`). ``truncated`` is True when the
    text had more tokens than the scorer's ``max_tokens`` and only the first ones were kept.
    In sliding-window mode every token after the first is scored exactly once.
    """

    token_ids: np.ndarray
    logprobs: np.ndarray
    dist_mean: np.ndarray
    dist_var: np.ndarray
    truncated: bool = False

    @property
    def n_tokens(self) -> int:
        return int(self.token_ids.shape[0])

    @property
    def n_scored(self) -> int:
        return int(self.logprobs.shape[0])


@dataclass(frozen=True)
class ScoreRecord:
    """One output row of ``llm-mia score``: a document's membership scores.

    ``scores[key]`` is None when that detector could not score this document; the reason
    is in ``notes[key]``. A key is the detector's name, with its parameters where they differ
    from the defaults (``min_k:k=0.1``); ``params[key]`` holds every parameter of each
    detector that has any. Higher score = more likely a member.
    """

    id: str
    label: int | None
    n_tokens: int
    status: str
    reason: str | None
    scores: dict[str, float | None]
    truncated: bool = False
    notes: dict[str, str] = field(default_factory=dict)
    params: dict[str, dict[str, Any]] = field(default_factory=dict)  # the parameters of each detector that has any

    def to_json(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "id": self.id,
            "label": self.label,
            "n_tokens": self.n_tokens,
            "status": self.status,
            "reason": self.reason,
            "scores": self.scores,
        }
        if self.truncated:
            row["truncated"] = True
        if self.notes:
            row["notes"] = self.notes
        if self.params:
            row["params"] = self.params
        return row


@dataclass(frozen=True)
class Unscorable:
    """Why a text produced no statistics (empty, too short, ...)."""

    reason: str
