"""Run a suite: score every split, evaluate every detector, and put the model-free baseline
and the validity of the labels for this model next to the numbers. Orchestration only."""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..backends import DEFAULT_MODEL, LoadedModel
from ..detectors import Detector
from ..errors import EvaluationError, at_least
from ..evaluation import (
    MEMORIZATION_THRESHOLDS,
    FPR_BUDGETS,
    MIN_PER_CLASS,
    MemorizationEvidence,
    memorization_evidence,
    N_BOOTSTRAP,
    NA,
    BaselineResult,
    EvaluationReport,
    detector_cells,
    evaluate,
    markdown_table,
    metric_headers,
    model_free_auroc,
    too_few_notes,
    with_ci,
)
from ..io import file_name, write_jsonl, write_text
from ..pipeline import RunOptions, ScoringRun, open_run, resolve_detectors
from ..pools import KIND
from ..scoring import Scorer, ScorerConfig, WindowSettings, first_tokens, window_config
from ..types import REASONS, STATUS_OK, ScoreRecord, TokenStats, Unscorable, reason_code
from ..types import held_out as is_held_out
from .controlled import ControlledConfig
from .suites import Split, Suite, open_suite

MATCH_TOLERANCE = 0.01
"""AUROC difference below which the model-free baseline counts as matching the best detector."""


@dataclass(frozen=True)
class SplitResult:
    split: str
    n_documents: int
    fingerprint: str
    evaluation: EvaluationReport
    baseline: BaselineResult | None
    baseline_problem: str | None
    group_level: EvaluationReport | None  # one score per book / paper (mean over its passages)
    records: list[ScoreRecord] = field(default_factory=list, repr=False)  # the split's scores, in input order
    memorization: dict[str, MemorizationEvidence] | None = None
    """Memorization evidence per class ("members", "non-members"), where asked for (``run_bench(memorization=...)``)."""

    @property
    def not_evaluated(self) -> dict[str, int]:
        """Rows no detector's metrics count, by reason (:data:`~llm_mia.types.REASONS` words, or
        "no label"); texts held out on purpose as a prefix are told apart (``label_use``)."""
        out: Counter[str] = Counter()
        for r in self.records:
            if is_held_out(r):
                continue
            if r.status != STATUS_OK:
                out[REASONS.get(reason_code(r.reason), REASONS["other"])] += 1
            elif r.label not in (0, 1):
                out["no label"] += 1
        return dict(out)

    @property
    def best_auroc(self) -> float | None:
        values = [r.auroc for r in self.evaluation.rows if r.auroc is not None]
        return max(values) if values else None

    @property
    def separable_without_model(self) -> bool:
        """The model-free AUROC matches (within ``MATCH_TOLERANCE``) or beats the best detector's."""
        best = self.best_auroc
        return self.baseline is not None and best is not None and self.baseline.auroc >= best - MATCH_TOLERANCE


@dataclass(frozen=True)
class BenchResult:
    suite: Suite
    model: str
    model_identity: str
    labels_valid: bool | None  # None: unknown (user data)
    splits: list[SplitResult]
    provenance: dict[str, Any]

    def warning(self) -> str | None:
        if self.labels_valid is False:
            return (
                f"WARNING: {self.model} is not among the models these labels are valid for "
                f"({self.suite.valid_for}). On it this split measures something else (often a "
                f"shift in dates or topics), not membership."
            )
        if self.labels_valid is None:
            return "Note: for which models these labels are valid is unknown (user data)."
        return None

    def _repr_markdown_(self) -> str:
        """In a notebook: the table."""
        return self.table()

    def __repr__(self) -> str:
        return f"<BenchResult {self.suite.name} on {self.model}: {len(self.splits)} split(s)>"

    def table(self) -> str:
        """Markdown table: one row per split and detector, with the model-free AUROC."""
        head = ["split", "detector", *metric_headers(FPR_BUDGETS, tpr_ci=False), "members / non-members", "model-free AUROC [95% CI]"]
        rows = []
        for s in self.splits:
            free = (
                with_ci(s.baseline.auroc, s.baseline.ci) + (" (folds by group)" if s.baseline.grouped else "") if s.baseline else f"{NA} ({s.baseline_problem})"
            )
            reports = [(s.split, s.evaluation)] + ([(f"{s.split} (per group)", s.group_level)] if s.group_level else [])
            for label, report in reports:
                for r in report.rows:
                    cells = detector_cells(r, FPR_BUDGETS, tpr_ci=False)
                    rows.append([label, r.detector, *cells, f"{r.n_members} / {r.n_nonmembers}", free if report is s.evaluation else ""])
        lines = [f"Suite `{self.suite.name}`, model `{self.model}`. Labels valid for: {self.suite.valid_for}.", "", markdown_table(head, rows), ""]
        for s in self.splits:
            if s.separable_without_model:
                assert s.baseline is not None and s.best_auroc is not None
                lines.append(
                    f"- **{s.split}: separable without the model.** The model-free classifier ({s.baseline.auroc:.3f}) "
                    f"matches or beats the best detector ({s.best_auroc:.3f}); this split's AUROC says little about membership."
                )
        for s in self.splits:
            if s.not_evaluated:
                reasons = "; ".join(f"{n} x {why}" for why, n in sorted(s.not_evaluated.items(), key=lambda kv: -kv[1]))
                lines.append(f"- {s.split}: {sum(s.not_evaluated.values())} of {s.n_documents} rows not evaluated: {reasons}.")
        lines += [f"- {note}" for note in too_few_notes(s.evaluation for s in self.splits)]
        if any(s.memorization for s in self.splits):
            lines += ["", self.memorization_table(), ""]
        for s in self.splits:
            for r in s.evaluation.rows:
                if r.problem:
                    why = "; ".join(f"{n} x {reason}" for reason, n in r.excluded.items())
                    lines.append(f"- {r.detector} on {s.split}: no AUROC ({r.problem}). Excluded: {why}.")
        use = self.provenance.get("label_use")
        if use:
            counts = {n: ", ".join(f"{len(ids)} {kind}s" for kind, ids in pool.items()) for n, pool in use["held_out"].items()}
            per_split = "; ".join(f"{n}: {c or 'none'}" for n, c in counts.items())
            lines.append(f"- {', '.join(use['detectors'])} use labelled texts as a prefix. Held out of every row (scored by no detector): {per_split}.")
        warning = self.warning()
        if warning:
            lines.append(f"- {warning}")
        return "\n".join(lines)

    def memorization_table(self) -> str:
        """Markdown: per split and class, the windows memorized at each threshold (share, 95% CI) and the texts with one."""
        head = ["split", "class", "windows", *(f"memorized at p_z >= {t:g}" for t in MEMORIZATION_THRESHOLDS), "texts with a memorized window"]
        rows = []
        for s in self.splits:
            for cls, ev in (s.memorization or {}).items():
                cells = [f"{r.suspect.memorized} ({with_ci(r.suspect.share, r.suspect.ci, digits=3)})" for r in ev.results]
                rows.append([s.split, cls, str(ev.n_windows), *cells, f"{ev.texts_memorized} of {ev.n_texts}"])
        settings = next(ev.settings for s in self.splits for ev in (s.memorization or {}).values())
        return (
            f"Memorization evidence: windows of {settings.prefix} + {settings.suffix} tokens; memorized = p_z clears the threshold and the "
            "suffix is at least 100 times likelier after its own prefix than after other passages' (and than under the reference model, where there is one).\n\n"
            + markdown_table(head, rows)
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "suite": {"name": self.suite.name, "description": self.suite.description, "valid_for": self.suite.valid_for},
            "model": self.model,
            "model_identity": self.model_identity,
            "labels_valid_for_model": self.labels_valid,
            "provenance": self.provenance,
            "splits": [
                {
                    "split": s.split,
                    "n_documents": s.n_documents,
                    "fingerprint": s.fingerprint,
                    "evaluation": s.evaluation.to_json(),
                    "group_level": s.group_level.to_json() if s.group_level else None,
                    "model_free": None if s.baseline is None else {k: v for k, v in asdict(s.baseline).items() if k != "scores"},
                    "model_free_problem": s.baseline_problem,
                    "separable_without_model": s.separable_without_model,
                    "memorization": None if s.memorization is None else {cls: ev.to_json() for cls, ev in s.memorization.items()},
                }
                for s in self.splits
            ],
        }


def limit_split(split: Split, limit: int | None, seed: int = 0) -> Split:
    """A seeded random subset of about ``limit`` documents, half members, half non-members.

    Members get ceil(limit/2) places, non-members floor(limit/2). When the split has groups
    (books), whole groups are drawn until the class's share is reached, so that group-level
    scores stay meaningful. Documents keep their input order. For one seed a larger limit
    gives a superset of a smaller one, so cached statistics carry over when a run is extended.
    """
    if limit is None:
        return split
    rng = np.random.default_rng(seed)
    want = {1: (limit + 1) // 2, 0: limit // 2}
    keep: set[int] = set()
    for label, quota in want.items():
        if quota == 0:
            continue
        units: dict[str, list[int]] = defaultdict(list)  # a group, or each document alone
        for i, d in enumerate(split.documents):
            if d.label == label:
                units[split.groups[i] if split.groups else str(i)].append(i)
        names = list(units)
        taken = 0
        for j in rng.permutation(len(names)):
            if taken >= quota:
                break
            keep.update(units[names[j]])
            taken += len(units[names[j]])
    order = sorted(keep)
    groups = [split.groups[i] for i in order] if split.groups else None
    return Split(split.suite, split.name, [split.documents[i] for i in order], groups)


def run_bench(
    suite: str,
    *,
    model: str | LoadedModel = DEFAULT_MODEL,
    data_dir: str | Path | None = None,
    limit: int | None = None,
    n_bootstrap: int = N_BOOTSTRAP,
    seed: int = 0,
    command: str | None = None,
    controlled: ControlledConfig | None = None,
    memorization: WindowSettings | None = None,
    options: RunOptions | None = None,
    **changes: Any,
) -> BenchResult:
    """Score and evaluate every split of ``suite`` (write the results with :func:`write_bench`).

    The run's options (models, detectors, scorer settings, cache, device) are ``options``
    with ``changes``, as in :func:`llm_mia.pipeline.open_run` (:class:`~llm_mia.pipeline.RunOptions`).
    A suite that builds its own models (the controlled split, with ``controlled`` settings)
    brings the model under test and the reference; ``model`` is then its base model.
    ``memorization``: also memorization evidence per split and class, with these windows
    (:func:`~llm_mia.evaluation.memorization_evidence`; the reference model's p_z as a control
    where the run has one with the same tokenizer; only windows within the suite's token limit,
    where it has one: what the controlled copy was trained on)."""
    started = time.time()
    passes_before = Scorer.forward_passes_total
    opts = RunOptions.build(options, **changes)
    chosen = resolve_detectors(opts.detectors, k=opts.k)  # unknown names and parameters stop the run before any model loads
    at_least("seed", seed, 0)  # checked before any model loads
    at_least("n_bootstrap", n_bootstrap, 1)
    if limit is not None:
        at_least("limit", limit, 2)
    opened = open_suite(suite, data_dir, model=model, options=controlled, progress=opts.progress, load={"device": opts.device, "dtype": opts.dtype})
    if opened.max_tokens is not None and opts.config is None:
        opts = replace(opts, config=ScorerConfig(max_tokens=opened.max_tokens))  # score what the suite's labels assume
    brought = opened.model is not None
    run = open_run(
        opened.model if brought else model,
        options=replace(opts, detectors=chosen, reference_model=opened.reference_model if brought else opts.reference_model),
        seed=seed,
    )
    splits = [limit_split(s, limit, seed) for s in opened.splits]
    for split in splits:
        _check_classes(split)
    results, held_out = [], {}
    for split in splits:
        scored = run.score(split.documents, where=f"split {split.name}", groups=split.groups)
        result = _evaluate_split(split, scored.records, n_bootstrap, seed)
        if memorization is not None:
            result = replace(result, memorization=split_memorization(run, split, memorization, opened.max_tokens, seed))
        results.append(result)
        held_out[split.name] = {KIND[label]: ids for label, ids in scored.pool.items()}
        mates = [r.id for r in scored.records if reason_code(r.reason) == "prefix_group"]
        if mates:  # the other passages of the prefix texts' books or papers
            held_out[split.name]["same-book passage"] = mates
    spec = run.target.spec
    provenance = {
        "command": command,
        "date": time.strftime("%Y-%m-%d", time.gmtime(started)),
        **run.provenance(),
        "splits": {s.name: s.fingerprint for s in splits},
        "limit": limit,
        "label_use": _label_use(run.detectors, held_out),
        **opened.provenance,
        "bootstrap": n_bootstrap,
        "seed": seed,
        "seconds": round(time.time() - started, 1),
        "forward_passes": Scorer.forward_passes_total - passes_before,  # 0: every statistic came from the cache
        "cost_by_view": {name: {k: round(v, 2) if isinstance(v, float) else v for k, v in c.items()} for name, c in run.costs.items()},
    }
    labels_valid = None if not opened.suite.valid_patterns else opened.suite.labels_valid_for(spec)
    return BenchResult(opened.suite, spec, run.target.identity, labels_valid, results, provenance)


def split_memorization(
    run: ScoringRun, split: Split, settings: WindowSettings, max_tokens: int | None = None, seed: int = 0, *, use_reference_model: bool = True
) -> dict[str, MemorizationEvidence]:
    """Memorization evidence for the members and the non-members of ``split`` (each class a
    collection: its prior-aware controls drawn within it), on each text's first ``max_tokens``
    tokens where given; the reference model's p_z as a control where ``run`` has one with the
    same tokenizer (unless ``use_reference_model`` is False). Documents without a label or a
    text are left out."""
    docs = [d for d in split.documents if d.error is None and d.text and d.label in (0, 1)]

    def head(got: list[TokenStats | Unscorable]) -> list[TokenStats | Unscorable]:
        return [first_tokens(s, max_tokens) if max_tokens and isinstance(s, TokenStats) else s for s in got]

    texts = [d.text or "" for d in docs]
    own = head(run.score_windows(texts, settings))
    got_ref = run.reference_windows(texts, settings) if use_reference_model else None
    ref = None if got_ref is None else head(got_ref)
    scorer = run.scorer(config=window_config(settings, run.config))
    out = {}
    for label, name in ((1, "members"), (0, "non-members")):
        idx = [i for i, d in enumerate(docs) if d.label == label]
        if idx:
            out[name] = memorization_evidence(
                scorer, [(docs[i].id, own[i]) for i in idx], settings=settings, reference_model=None if ref is None else [ref[i] for i in idx], seed=seed
            )
    return out


def write_bench(result: BenchResult, out_dir: str | Path, *, replace: bool = True) -> None:
    """The results folder: ``scores/<split>.jsonl``, ``plots/`` (when matplotlib is installed),
    ``results.json`` and ``table.md``. Each file is written whole or not at all."""
    out = Path(out_dir)
    plots = "not written (no results folder)"
    for s in result.splits:
        file_name(s.split, "split name")
    for s in result.splits:
        write_jsonl(out / "scores" / f"{s.split}.jsonl", [r.to_json() for r in s.records], replace=replace)
        if plots != "matplotlib not installed":  # no point trying again for each split
            plots = _plot(s.records, out / "plots", s.split, result.model)
    data = result.to_json()
    data["provenance"] = {**data["provenance"], "plots": plots}
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "results.json", json.dumps(data, indent=2), replace=replace)
    write_text(out / "table.md", result.table() + "\n", replace=replace)


def _label_use(detectors: list[Detector], held_out: dict[str, dict[str, list[str]]]) -> dict[str, Any] | None:
    """Which detectors used labelled texts, and the documents of each split held out for them
    (scored by no detector: every row of the table is computed without them)."""
    users = [d.key for d in detectors if d.uses_labels]
    return {"detectors": users, "held_out": held_out} if users else None


def _check_classes(split: Split) -> None:
    """Refuse, before anything is scored, a split without 2 members and 2 non-members among
    the rows with text and a valid label: its evaluation would fail after all the work."""
    labels = Counter(d.label for d in split.documents if d.error is None and d.text)
    if labels[1] < MIN_PER_CLASS or labels[0] < MIN_PER_CLASS:
        others = len(split.documents) - labels[1] - labels[0]
        raise EvaluationError(
            f"split {split.name}: {labels[1]} members and {labels[0]} non-members with text and a valid label "
            f"({others} other rows); evaluation needs at least {MIN_PER_CLASS} of each, so nothing was scored"
        )


def _evaluate_split(split: Split, records: list[ScoreRecord], n_bootstrap: int, seed: int) -> SplitResult:
    evaluation = evaluate(records, n_bootstrap=n_bootstrap, seed=seed)
    keep = [i for i, (d, r) in enumerate(zip(split.documents, records)) if r.status == STATUS_OK and d.label in (0, 1)]
    baseline, problem = None, None
    try:
        baseline = model_free_auroc(
            [split.documents[i].text or "" for i in keep],
            [int(split.documents[i].label) for i in keep],  # type: ignore[arg-type]
            groups=[split.groups[i] for i in keep] if split.groups else None,
            seed=seed,
            n_bootstrap=n_bootstrap,
        )
    except ValueError as exc:
        problem = str(exc)
    group_level = _group_level(split, records, n_bootstrap, seed) if split.groups else None
    return SplitResult(split.name, len(split.documents), split.fingerprint, evaluation, baseline, problem, group_level, records)


def _group_level(split: Split, records: list[ScoreRecord], n_bootstrap: int, seed: int) -> EvaluationReport | None:
    """One record per group (book, paper): each detector's mean over the group's scored passages."""
    assert split.groups is not None
    by_group: dict[str, list[ScoreRecord]] = defaultdict(list)
    for g, r in zip(split.groups, records):
        if r.status == STATUS_OK:
            by_group[g].append(r)
    grouped = []
    for g, recs in by_group.items():
        labels = {r.label for r in recs}
        if len(labels) != 1:
            continue
        names = recs[0].scores.keys()
        scores = {n: _mean([r.scores[n] for r in recs]) for n in names}
        grouped.append(ScoreRecord(g, labels.pop(), sum(r.n_tokens for r in recs), STATUS_OK, None, scores))
    try:
        return evaluate(grouped, n_bootstrap=n_bootstrap, seed=seed)
    except EvaluationError:  # too few groups of a class: the passage-level table still stands
        return None


def _plot(records: list[ScoreRecord], folder: Path, split: str, model: str) -> str:
    """ROC (log axes) and histograms as PNG; says why not when matplotlib is missing."""
    from ..evaluation import plot_histograms, plot_roc  # imports matplotlib only when called

    try:
        plot_roc(records, folder / f"{split}_roc.png", title=f"{split}, {model}")
        plot_histograms(records, folder / f"{split}_hist.png", title=f"{split}, {model}")
    except ImportError:
        return "matplotlib not installed"
    return "plots/<split>_roc.png, plots/<split>_hist.png"


def _mean(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None
