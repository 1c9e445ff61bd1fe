"""Evaluate detectors on labelled score records: AUROC, TPR at low FPR, bootstrap CIs.

Every document that a detector could not use is counted with its reason (skipped by the
scorer, no label, no score for this detector); nothing is left out silently.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, cast

import numpy as np

from ..errors import EvaluationError, at_least
from ..types import REASONS, STATUS_OK, ScoreRecord, reason_code
from . import metrics
from .metrics import N_BOOTSTRAP
from .tables import NA, TOO_FEW_FLAG, html_table, markdown_table, metric_headers, percent, text_table, with_ci

FPR_BUDGETS = (0.01, 0.001)
MIN_PER_CLASS = 2
"""Members and non-members each that an evaluation needs (AUROC and its bootstrap take at least 2 of a class)."""


@dataclass(frozen=True)
class TprAtFpr:
    budget: float
    tpr: float
    ci: tuple[float, float]
    too_few_nonmembers: bool  # the budget allows no false positive: this is TPR at FPR 0


@dataclass(frozen=True)
class DetectorEvaluation:
    detector: str
    auroc: float | None
    auroc_ci: tuple[float, float] | None
    tpr: list[TprAtFpr]
    n_members: int
    n_nonmembers: int
    excluded: dict[str, int] = field(default_factory=dict)
    problem: str | None = None  # why no metric could be computed


@dataclass(frozen=True)
class EvaluationReport:
    rows: list[DetectorEvaluation]
    n_documents: int
    n_bootstrap: int
    seed: int
    confidence: float
    shared_ids: int = 0  # ids used by records that differ (all counted)
    conflicting_ids: int = 0  # ids with label 1 and label 0 and the same scores (left out)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def _parts(self) -> tuple[list[str], list[list[str]], list[str]]:
        """The table's header, its rows (one per detector) and the footnotes."""
        head = ["detector", *metric_headers(FPR_BUDGETS), "members", "non-members", "excluded"]
        rows, notes = [], []
        for r in self.rows:
            if r.auroc is None:
                notes.append(f"{r.detector}: {r.problem}")
            rows.append([r.detector, *detector_cells(r, FPR_BUDGETS), str(r.n_members), str(r.n_nonmembers), str(sum(r.excluded.values()))])
        out = list(too_few_notes([self]))
        shared: dict[tuple[str, int], list[str]] = {}  # one line per reason and count, naming the detectors it applies to
        for r in self.rows:
            for reason, count in r.excluded.items():
                shared.setdefault((reason, count), []).append(r.detector)
        for (reason, count), dets in sorted(shared.items()):
            which = "every detector" if len(dets) == len(self.rows) > 1 else ", ".join(dets)
            out.append(f"excluded from {which}: {count} x {reason}")
        out.extend(notes)
        if self.conflicting_ids:
            out.append(
                f"note: {self.conflicting_ids} id(s) appear with label 1 and label 0 and the same scores (one document with two labels): "
                "left out of every detector's metrics; fix their labels."
            )
        if self.shared_ids:
            out.append(
                f"note: {self.shared_ids} id(s) belong to more than one record with different labels or scores "
                f"(score files of separate inputs put together?); each record is counted as its own document."
            )
        out.append(
            f"{self.n_documents} documents; {int(100 * self.confidence)}% CIs from {self.n_bootstrap} stratified "
            f"bootstrap resamples (seed {self.seed}). Label 1 = member; higher score = more likely member."
        )
        return head, rows, out

    def table(self) -> str:
        """A plain-text table, one row per detector, with footnotes."""
        head, rows, notes = self._parts()
        return "\n".join([text_table(head, rows), *notes])

    def markdown(self) -> str:
        """The same table in Markdown (as ``llm-mia bench`` prints its tables), footnotes after it."""
        head, rows, notes = self._parts()
        return "\n".join([markdown_table(head, rows), "", *notes])

    def __repr__(self) -> str:
        return self.table()

    def _repr_html_(self) -> str:
        """The same table as HTML, for notebooks."""
        head, rows, notes = self._parts()
        return html_table(head, rows) + "".join(f"<p>{html.escape(n)}</p>" for n in notes)


def evaluate(
    records: Sequence[ScoreRecord] | Sequence[int],
    scores: Sequence[float] | Mapping[str, Sequence[float]] | None = None,
    *,
    detectors: Sequence[str] | None = None,
    n_bootstrap: int = N_BOOTSTRAP,
    seed: int = 0,
    confidence: float = 0.95,
) -> EvaluationReport:
    """Metrics for each detector found in ``records`` (or the ``detectors`` named).

    In scikit-learn's order, ``evaluate(labels, scores)`` takes the labels (1 = member) and
    one score per document (higher = more likely member), or a mapping of detector names to
    such lists; a NaN score counts as a document that detector could not score.
    Raises :class:`EvaluationError` when the labelled documents hold only one class.
    """
    if scores is not None:
        records = _records_of(records, scores)
    elif len(records) and not isinstance(records[0], ScoreRecord):
        raise EvaluationError("evaluate takes score records, or labels and scores: evaluate(labels, scores)")
    records = cast(Sequence[ScoreRecord], records)
    at_least("n_bootstrap", n_bootstrap, 1)
    at_least("seed", seed, 0)
    repeated, shared_ids, conflicts = _repeated(records)
    labels = Counter(r.label for i, r in enumerate(records) if r.status == STATUS_OK and i not in repeated and i not in conflicts)
    if not records:
        raise EvaluationError("no score records to evaluate")
    if labels[1] < MIN_PER_CLASS or labels[0] < MIN_PER_CLASS:
        raise EvaluationError(
            f"evaluation needs at least {MIN_PER_CLASS} members (label 1) and {MIN_PER_CLASS} non-members (label 0) among the scored "
            f"documents; found {labels[1]} member(s), {labels[0]} non-member(s), "
            f"{labels[None]} unlabelled, {sum(r.status != STATUS_OK for r in records)} skipped"
        )
    names = list(detectors) if detectors else list(dict.fromkeys(n for r in records for n in r.scores))
    rows = [_evaluate_one(name, records, repeated, conflicts, n_bootstrap, seed, confidence) for name in names]
    conflicting_ids = len({records[i].id for i in conflicts})
    return EvaluationReport(rows, len(records), n_bootstrap, seed, confidence, shared_ids, conflicting_ids)


def _records_of(labels: Sequence[Any], scores: Sequence[float] | Mapping[str, Sequence[float]]) -> list[ScoreRecord]:
    """Score records from labels and scores given as arrays (``evaluate(labels, scores)``)."""
    raw = dict(scores) if isinstance(scores, Mapping) else {"score": scores}
    # by position, as the labels: a pandas Series is read in its order, never by its index
    columns = {name: [None if v is None else float(v) for v in np.asarray(col, dtype=object).tolist()] for name, col in raw.items()}
    y = list(np.asarray(labels).tolist())
    for name, col in columns.items():
        if len(col) != len(y):
            raise EvaluationError(f"{len(y)} labels but {len(col)} scores for {name!r}")
    if any(v not in (0, 1) for v in y):
        raise EvaluationError("labels must be 1 (member) or 0 (non-member)")
    out = []
    for i, label in enumerate(y):
        cleaned: dict[str, float | None] = {k: (v if v is not None and np.isfinite(v) else None) for k, v in ((k, col[i]) for k, col in columns.items())}
        out.append(ScoreRecord(str(i), int(label), 0, STATUS_OK, None, cleaned))
    return out


def _repeated(records: Sequence[ScoreRecord]) -> tuple[set[int], int, set[int]]:
    """Indices of scored records that repeat an earlier one exactly (same id, label and
    scores: a file concatenated with itself must not count its documents twice); how many ids
    are shared by records that differ in their scores (separately scored files whose ids were
    row numbers: different documents, all counted, and the table says so); and the indices of
    records whose id and scores also come with the other label (one document labelled both
    ways: left out)."""
    keys = {i: (r.label, tuple(sorted((k, repr(v)) for k, v in r.scores.items()))) for i, r in enumerate(records) if r.status == STATUS_OK}
    seen: dict[str, set[tuple[object, ...]]] = {}
    repeats: set[int] = set()
    for i, key in keys.items():
        if key in seen.setdefault(records[i].id, set()):
            repeats.add(i)
        seen[records[i].id].add(key)
    both = {(doc_id, scores) for doc_id, pairs in seen.items() for label, scores in pairs if label in (0, 1) and (1 - label, scores) in pairs}
    conflicts = {i for i, (_, scores) in keys.items() if (records[i].id, scores) in both}
    conflicting = {doc_id for doc_id, _ in both}
    shared = sum(len({scores for _, scores in pairs}) > 1 for doc_id, pairs in seen.items() if doc_id not in conflicting)
    return repeats, shared, conflicts - repeats


def _why_no_score(note: str | None) -> str:
    """The words a missing score is counted under: a detector's own reason (generic by
    convention, e.g. "the reference model tokenizes this text differently") where it gave one,
    else the reason code's words."""
    if note is None:
        return "none given"
    code = reason_code(note)
    return str(note) if code == "undefined" and str(note) else REASONS[code]


def _evaluate_one(
    name: str, records: Sequence[ScoreRecord], repeated: set[int], conflicts: set[int], n_boot: int, seed: int, conf: float
) -> DetectorEvaluation:
    excluded: Counter[str] = Counter()
    y, s = [], []
    for i, r in enumerate(records):
        value = r.scores.get(name)
        if r.status != STATUS_OK:
            excluded[f"skipped: {REASONS[reason_code(r.reason)]}"] += 1
        elif i in repeated:
            excluded["repeated record (same id, label and scores as an earlier one)"] += 1
        elif i in conflicts:
            excluded["two labels (the same id and scores with label 1 and label 0)"] += 1
        elif r.label not in (0, 1):
            excluded["no label"] += 1
        elif value is None:
            note = r.notes.get(name)
            excluded[f"no score: {_why_no_score(note)}"] += 1
        elif not np.isfinite(value):
            excluded[f"no score: non-finite score ({value})"] += 1  # nan, inf or -inf
        else:
            y.append(r.label)
            s.append(float(value))
    y_arr, s_arr = np.asarray(y), np.asarray(s)
    n1, n0 = int((y_arr == 1).sum()), int((y_arr == 0).sum())
    if n1 < MIN_PER_CLASS or n0 < MIN_PER_CLASS:
        problem = f"needs at least {MIN_PER_CLASS} members and {MIN_PER_CLASS} non-members with a score; has {n1} and {n0}"
        return DetectorEvaluation(name, None, None, [], n1, n0, dict(excluded), problem)
    boot: dict[str, Any] = dict(n_resamples=n_boot, confidence=conf, seed=seed)
    tprs = [
        TprAtFpr(
            b,
            metrics.tpr_at_fpr(y_arr, s_arr, b),
            metrics.bootstrap_ci(y_arr, s_arr, "tpr", budget=b, **boot),
            metrics.fpr_budget_too_small(b, n0),
        )
        for b in FPR_BUDGETS
    ]
    return DetectorEvaluation(
        name,
        metrics.auroc(y_arr, s_arr),
        metrics.bootstrap_ci(y_arr, s_arr, "auroc", **boot),
        tprs,
        n1,
        n0,
        dict(excluded),
    )


# The cells of an evaluation's rows (the tables that hold them: .tables)


def auroc_cell(row: DetectorEvaluation) -> str:
    """The AUROC with its CI, or ``n/a`` when it could not be computed."""
    return NA if row.auroc is None or row.auroc_ci is None else with_ci(row.auroc, row.auroc_ci)


def tpr_cell(t: TprAtFpr, ci: bool = True) -> str:
    """``12.0% [3.1, 20.0]`` (percent), with :data:`TOO_FEW_FLAG` when the budget allows no
    false positive (the figure is then the TPR at FPR 0)."""
    cell = f"{100 * t.tpr:.1f}%" + (f" [{100 * t.ci[0]:.1f}, {100 * t.ci[1]:.1f}]" if ci else "")
    return cell + (TOO_FEW_FLAG if t.too_few_nonmembers else "")


def detector_cells(row: DetectorEvaluation, budgets: Sequence[float], tpr_ci: bool = True) -> list[str]:
    """AUROC [CI] and one TPR cell per FPR budget (``n/a`` when no metric could be computed)."""
    if row.auroc is None:
        return [NA] * (1 + len(budgets))
    return [auroc_cell(row)] + [tpr_cell(t, tpr_ci) for t in row.tpr]


def too_few_notes(reports: Iterable[EvaluationReport]) -> list[str]:
    """One footnote per number of non-members for which a flagged budget allows no false positive."""
    flagged = sorted({(r.n_nonmembers, t.budget) for rep in reports for r in rep.rows for t in r.tpr if t.too_few_nonmembers})
    notes = []
    for n0 in sorted({n for n, _ in flagged}):
        budgets = ", ".join(percent(b) for n, b in flagged if n == n0)
        notes.append(
            f"{TOO_FEW_FLAG.strip()} with {n0} non-members an FPR of {budgets} allows no false positive: the figure is "
            f"the TPR at FPR 0; too few non-members for that budget to mean much."
        )
    return notes
