"""Plain records shared by every layer (no torch import here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

STATUS_OK = "ok"
STATUS_SKIPPED = "skipped"

REASONS = {
    # an input row or file that gives no text
    "bad_row": "a row that cannot be parsed",
    "missing_id": "a row without its id",
    "missing_text": "a row without text",
    "not_text": "a text field that is not a string",
    "bad_label": "a label that is not 0 or 1",
    "invalid_unicode": "text that is not valid Unicode",
    "duplicate_id": "an id used by an earlier document",
    "unreadable": "a file that cannot be read",
    "unsupported_file": "not a file llm-mia reads",
    "no_text": "no text",
    # the scorer
    "empty_text": "empty or whitespace-only text",
    "too_short": "too short to score (fewer than 2 tokens)",
    "tokenizer_failed": "the tokenizer failed",
    "model_failed": "the model failed",
    "out_of_memory": "more memory than the device has free",
    # a detector on a scored document
    "view_unscorable": "a view the detector needs could not be scored",
    "undefined": "the detector's score is undefined for this text",
    "non_finite": "a non-finite score",
    # held out on purpose
    "prefix_pool": "held out as a prefix text of a detector that uses labelled texts",
    "prefix_group": "held out with a prefix text: from the same book or paper",
    "other": "another reason (see each record's reason)",
}
"""Reason codes, each with the words reports count it under."""


class Reason(str):
    """Why a document or a score is missing: the readable text (a ``str``, with the
    particulars: row, id, offset) and a stable ``code`` from :data:`REASONS` that reports
    count by. A plain string counts as ``other``."""

    code: str

    def __new__(cls, code: str, text: str) -> Reason:
        if code not in REASONS:
            raise ValueError(f"unknown reason code {code!r}")
        obj = super().__new__(cls, text)
        obj.code = code
        return obj

    def __reduce__(self) -> tuple[Any, ...]:
        return (Reason, (self.code, str(self)))


def reason_code(reason: str | None) -> str:
    """The code of ``reason`` ("other" for a plain string)."""
    return getattr(reason, "code", "other")


def held_out(record: ScoreRecord) -> bool:
    """The record's document was held out on purpose, as a prefix text of a detector that
    uses labelled texts or as a text of the same group (book, paper) as one (not a failure)."""
    return record.status != STATUS_OK and reason_code(record.reason) in ("prefix_pool", "prefix_group")


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
    - ``top_logprob[t-1]`` = max_v log p(v | x_<t)                   (the top-1 prediction's)
    - ``grad_norms``: see below (one value per norm, for the whole text)

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
    top_logprob: np.ndarray | None = None  # None: not computed (statistics made by hand, older versions)
    grad_norms: np.ndarray | None = None
    """A gradient view's (:mod:`llm_mia.views`) norms of the gradient of the mean loss with
    respect to the weights, ``[L1, L2, Linf]``, each the mean over the weight tensors of that
    tensor's norm (float64); None for other views."""

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
    is in ``notes[key]``. ``reason`` and the notes are :class:`Reason` strings where the
    code is known (files record it as ``reason_code`` and ``note_codes``). A key is the detector's name, with its parameters where they differ
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
            "reason": None if self.reason is None else str(self.reason),
        }
        if self.reason is not None:
            row["reason_code"] = reason_code(self.reason)
        row["scores"] = self.scores
        if self.truncated:
            row["truncated"] = True
        if self.notes:
            row["notes"] = {k: str(v) for k, v in self.notes.items()}
            row["note_codes"] = {k: reason_code(v) for k, v in self.notes.items()}
        if self.params:
            row["params"] = self.params
        return row


@dataclass(frozen=True)
class Unscorable:
    """Why a text produced no statistics (empty, too short, ...)."""

    reason: str
