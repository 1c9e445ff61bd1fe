"""Documents -> membership scores: schedules the views the chosen detectors need, once each."""

from __future__ import annotations

import math
import platform
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .backends import CAPABILITY_WORDS
from .cache import StatsCache
from .data import as_documents, mark_duplicates
from .detectors import TARGET, Detector, DetectorInput, DetectorSkip
from .detectors import default_detector_names, parse_detector
from .errors import InputError
from .models import DEFAULT_MODEL, LoadedModel, get_model
from .pools import hold_out
from .scoring import Scorer, ScorerConfig
from .settings import cache_home, package_versions
from .types import REASONS, STATUS_OK, STATUS_SKIPPED, Document, Reason, ScoreRecord, TokenStats, Unscorable
from .views import View


def resolve_detectors(specs: Sequence[str | Detector] | None = None, *, k: float | None = None) -> list[Detector]:
    """Detector instances for ``specs``: names, ``name:param=value`` specs (``min_k:k=0.1``)
    or instances (default: every detector that needs no extra model). ``k`` sets the fraction
    of the detectors that have one, where the spec leaves it out. An unknown name or
    parameter, a bad value, or one detector listed twice raises :class:`InputError`."""
    specs = list(specs) if specs else default_detector_names()
    try:
        chosen = [s if isinstance(s, Detector) else parse_detector(s, k=k) for s in specs]
    except ValueError as exc:
        raise InputError(str(exc)) from None
    keys = [d.key for d in chosen]
    twice = [key for key in dict.fromkeys(keys) if keys.count(key) > 1]
    if twice:
        raise InputError(f"detector {twice[0]!r} is listed twice (the same detector with the same parameters)")
    return chosen


def describe_detectors(detectors: Sequence[Detector]) -> list[dict[str, Any]]:
    """Each detector's key, name and parameters, for provenance records."""
    return [{"key": d.key, "name": d.name, "params": d.params} for d in detectors]


def default_cache_dir() -> Path:
    return cache_home() / "stats"


REFERENCE_DETECTOR = "ref"
"""Added when a reference model is given and no chosen detector uses it."""


def choose_detectors(specs: Sequence[str | Detector] | None = None, *, k: float | None = None, reference_model: object | None = None) -> list[Detector]:
    """:func:`resolve_detectors`, plus the reference detector when a reference model is given
    and no chosen detector uses it; a detector that needs a reference model when none is
    given raises :class:`InputError`. Runs before any model loads (bad options stop early)."""
    chosen = resolve_detectors(specs, k=k)
    uses_reference = [d.key for d in chosen if any(v.model == "reference" for v in d.views())]
    if reference_model is None and uses_reference:
        raise InputError(f"detector(s) {', '.join(uses_reference)} need a reference model: pass --reference-model / reference_model=")
    if reference_model is not None and not uses_reference:
        chosen.append(parse_detector(REFERENCE_DETECTOR))
    return chosen


@dataclass(frozen=True)
class Scored:
    """Records in input order, and each view's statistics per document (None where the
    document had no text to score), so that callers can reuse them (the check's shading)."""

    records: list[ScoreRecord]
    stats: dict[View, list[TokenStats | Unscorable | None]]
    pool: dict[int, list[str]] = field(default_factory=dict)  # ids held out as prefix texts, by label (see llm_mia.pools)


@dataclass
class ScoringRun:
    """What score, bench and check share: the chosen detectors, the loaded models, the scorer
    settings and the cache. Made by :func:`open_run`; :meth:`score` scores documents (each
    view once), :meth:`provenance` describes the run."""

    detectors: list[Detector]
    target: Any  # LoadedModel or a scoring backend
    reference: Any | None
    config: ScorerConfig
    cache_dir: Path | None  # None: no cache
    progress: bool = False
    seed: int = 0  # draws the held-out pool of detectors that use labelled texts
    costs: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per view (by :meth:`View.describe`): seconds, forward batches and texts, over every
    :meth:`score` call (statistics from the cache cost no batch)."""

    @property
    def views(self) -> list[View]:
        """Every view a detector needs, each once; the text itself first."""
        return views_of(self.detectors)

    def scorer(self, model: str = "target", cache: StatsCache | None = None) -> Scorer:
        """A scorer of the model under test ("target") or of the reference model."""
        lm = self.target if model == "target" else self.reference
        assert lm is not None, "this run has no reference model"
        return Scorer(lm, self.config, cache=cache, progress=self.progress)

    def score(
        self, documents: Sequence[Document | str], *, pool_from: Sequence[bool] | None = None, where: str = "the input", groups: Sequence[str] | None = None
    ) -> Scored:
        """Score every document with every detector, in input order (plain strings get ids
        "0", "1", ...). A document that cannot be scored gets status "skipped" and a reason.

        Detectors that use labelled texts take their prefixes from a seeded pool of these
        documents (those marked True in ``pool_from``, default all labelled ones; ``where``
        names them in messages); the pool's documents are scored by no detector (reason code
        ``prefix_pool``), nor are the other documents of their ``groups`` (book, paper; code
        ``prefix_group``). See :mod:`llm_mia.pools`."""
        docs = mark_duplicates(as_documents(documents))
        docs, detectors, pool = hold_out(docs, self.detectors, seed=self.seed, eligible=pool_from, where=where, groups=groups)
        views = views_of(detectors)
        usable = [i for i, d in enumerate(docs) if d.error is None and d.text is not None]
        texts = [docs[i].text or "" for i in usable]
        stats: dict[View, list[TokenStats | Unscorable]] = {}
        cache = self._open_cache()
        try:
            scorers = {m: self.scorer(m, cache) for m in dict.fromkeys(v.model for v in views)}
            for view in views:  # a context that cannot be used stops the run before any scoring
                scorers[view.model].context_ids(view.context)
                if view.gradient:
                    scorers[view.model].check_gradient(view.context)
            for view in views:
                started, passes = time.perf_counter(), Scorer.forward_passes_total
                stats[view] = scorers[view.model].score_texts(
                    [view.apply(t) for t in texts], context=view.context, gradient=view.gradient, label=view.describe(short=True)
                )
                cost = self.costs.setdefault(view.describe(), {"seconds": 0.0, "batches": 0, "texts": 0, "used_by": []})
                cost["seconds"] += time.perf_counter() - started
                cost["batches"] += Scorer.forward_passes_total - passes
                cost["texts"] += len(texts)
                cost["used_by"] = sorted({*cost["used_by"], *(d.key for d in detectors if view in d.views())})
        finally:
            if cache is not None:
                cache.close()
        records: list[ScoreRecord | None] = [None] * len(docs)
        for j, i in enumerate(usable):
            records[i] = _record(docs[i], {v: s[j] for v, s in stats.items()}, detectors)
        for i, d in enumerate(docs):
            if records[i] is None:
                keys: dict[str, float | None] = {c.key: None for c in detectors}
                records[i] = ScoreRecord(d.id, d.label, 0, STATUS_SKIPPED, d.error or Reason("no_text", "no text"), keys, params=_params(detectors))
        by_doc: dict[View, list[TokenStats | Unscorable | None]] = {v: [None] * len(docs) for v in stats}
        for v, values in stats.items():
            for j, i in enumerate(usable):
                by_doc[v][i] = values[j]
        return Scored(records, by_doc, pool)  # type: ignore[arg-type]

    def provenance(self) -> dict[str, Any]:
        """The models, scorer settings, detectors and software behind the run's numbers."""
        return {
            "model_spec": self.target.spec,
            "model_identity": self.target.identity,
            "tokenizer_identity": self.target.tokenizer_identity,
            "reference_model": None if self.reference is None else {"spec": self.reference.spec, "identity": self.reference.identity},
            "served": {role: m.describe() for role, m in (("target", self.target), ("reference", self.reference)) if m is not None and hasattr(m, "describe")},
            "scorer": self.scorer().settings(),
            "batch_size": self.config.batch_size,
            "detectors": describe_detectors(self.detectors),
            "packages": package_versions(),
            "python": platform.python_version(),
            "machine": platform.machine(),
        }

    def _open_cache(self) -> StatsCache | None:
        return open_cache(self.cache_dir)


def open_cache(folder: Path | None) -> StatsCache | None:
    """The statistics cache in ``folder`` (None: no cache); an unusable folder is an :class:`InputError`."""
    if folder is None:
        return None
    try:
        return StatsCache(folder)
    except (OSError, sqlite3.Error) as exc:
        raise InputError(f"cannot use the cache directory {folder}: {exc}") from None


def views_of(detectors: Sequence[Detector]) -> list[View]:
    """Every view the detectors need, each once; the text itself first."""
    return list(dict.fromkeys([TARGET, *(v for d in detectors for v in sorted(d.views(), key=repr))]))


def open_run(
    model: str | LoadedModel = DEFAULT_MODEL,
    reference_model: str | LoadedModel | None = None,
    *,
    detectors: Sequence[str | Detector] | None = None,
    k: float | None = None,
    config: ScorerConfig | None = None,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    progress: bool = False,
    device: str | None = None,
    dtype: str | None = None,
    trust_remote_code: bool = False,
    seed: int = 0,
) -> ScoringRun:
    """The one path from options to a :class:`ScoringRun`: detectors are resolved first (a
    bad name stops the run before any model loads), then both models load (their settings
    checked), then what each detector needs is checked against its backends' capabilities
    and each detector checks the backends itself (:meth:`Detector.check_models`).
    ``seed`` draws the held-out pool of detectors that use labelled texts."""
    chosen = choose_detectors(detectors, k=k, reference_model=reference_model)
    config = config or ScorerConfig()
    folder = (Path(cache_dir).expanduser() if cache_dir else default_cache_dir()) if use_cache else None
    run_cache = open_cache(folder)  # an unusable cache stops the run before a model loads
    if run_cache is not None:
        run_cache.close()
    load = dict(device=device, dtype=dtype, trust_remote_code=trust_remote_code, progress=progress)
    target = get_model(model, **load)
    ref = None if reference_model is None else get_model(reference_model, **load)
    run = ScoringRun(chosen, target, ref, config, folder, progress, seed)
    backends = {m: run.scorer(m).backend for m in dict.fromkeys(v.model for v in run.views)}
    _check_capabilities(chosen, backends)
    for det in chosen:
        det.check_models(backends)
    return run


def score_documents(
    documents: Sequence[Document | str],
    *,
    model: str | LoadedModel = DEFAULT_MODEL,
    reference_model: str | LoadedModel | None = None,
    detectors: Sequence[str | Detector] | None = None,
    k: float | None = None,
    config: ScorerConfig | None = None,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    progress: bool = False,
    device: str | None = None,
    dtype: str | None = None,
    trust_remote_code: bool = False,
) -> list[ScoreRecord]:
    """Score every document with every detector, in input order.

    ``documents`` may be plain strings (ids "0", "1", ...). Models may be specs or already
    loaded :class:`LoadedModel` objects (or scoring backends); a reference model adds the
    ``ref`` detector unless a chosen detector uses it. ``k`` sets the fraction of the Min-K%
    family. Statistics are cached under ``cache_dir`` (default ``~/.cache/llm_mia/stats``)
    unless ``use_cache`` is False. A document that cannot be scored gets status "skipped"
    and a reason. See :func:`open_run` to keep the models loaded across calls.
    """
    run = open_run(
        model,
        reference_model,
        detectors=detectors,
        k=k,
        config=config,
        cache_dir=cache_dir,
        use_cache=use_cache,
        progress=progress,
        device=device,
        dtype=dtype,
        trust_remote_code=trust_remote_code,
    )
    return run.score(documents).records


def _check_capabilities(detectors: Sequence[Detector], backends: dict[str, Any]) -> None:
    """Stop when a detector needs a statistic that the backend of one of its views does not
    compute exactly (no silent approximation), naming the detector, the backend and what is missing."""
    for det in detectors:
        for model in sorted({v.model for v in det.views()}):
            backend = backends[model]
            missing = sorted(det.requires - backend.capabilities)
            if missing:
                words = ", ".join(CAPABILITY_WORDS.get(m, m) for m in missing)
                raise InputError(
                    f"detector {det.key} needs {words} from the {'model under test' if model == 'target' else 'reference model'}, "
                    f"which {backend.spec} does not give; leave the detector out (--detectors) or use a backend that gives them"
                )


def _record(doc: Document, views: dict[View, TokenStats | Unscorable], detectors: list[Detector]) -> ScoreRecord:
    target = views[TARGET]
    if isinstance(target, Unscorable):
        return ScoreRecord(doc.id, doc.label, 0, STATUS_SKIPPED, target.reason, {d.key: None for d in detectors}, params=_params(detectors))
    scores: dict[str, float | None] = {}
    notes: dict[str, str] = {}
    inp = DetectorInput(text=doc.text or "", stats={v: s for v, s in views.items() if isinstance(s, TokenStats)})
    for det in detectors:
        missing = sorted((v for v in det.views() if isinstance(views.get(v), Unscorable)), key=repr)
        if missing:
            bad = views[missing[0]]
            assert isinstance(bad, Unscorable)
            scores[det.key], notes[det.key] = None, Reason("view_unscorable", f"{missing[0].describe()}: {bad.reason}")
            continue
        try:
            value = det.score(inp)
        except DetectorSkip as exc:
            scores[det.key], notes[det.key] = None, Reason("undefined", str(exc))
            continue
        if not math.isfinite(value):
            scores[det.key], notes[det.key] = None, Reason("non_finite", f"non-finite score ({value})")
            continue
        scores[det.key] = value
    return ScoreRecord(doc.id, doc.label, target.n_tokens, STATUS_OK, None, scores, target.truncated, notes, _params(detectors))


def _params(detectors: Sequence[Detector]) -> dict[str, dict[str, Any]]:
    """The parameters of each detector that has any, by its key (recorded in every score row)."""
    return {d.key: d.params for d in detectors if d.params}


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
    import json

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
