"""Documents -> membership scores: schedules the views the chosen detectors need, once each."""

from __future__ import annotations

import math
import platform
import sqlite3
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .backends import CAPABILITY_WORDS, DEFAULT_MODEL, LoadedModel, check_request_timeout, check_server_wait, get_model
from .detectors import (
    DETECTORS,
    GROUPS,
    REFERENCE_NEED,
    TARGET,
    Detector,
    DetectorInput,
    DetectorSkip,
    check_finite,
    default_detector_names,
    parameter_problem,
    parse_detector,
    uses_reference_model,
)
from .errors import InputError, SettingError, UnknownNameError, require
from .io import as_documents, mark_duplicates
from .paths import cache_home, package_versions
from .pools import KIND, draw_pool, hold_out
from .progress import Progress
from .registry import did_you_mean
from .scoring import Scorer, ScorerConfig, ScoringPlan, StatsCache, WindowSettings, window_config
from .types import STATUS_OK, STATUS_SKIPPED, Document, Reason, ScoreRecord, TokenStats, Unscorable
from .views import View


class DetectorList(list[Detector]):
    """The detectors chosen for a run (a list), with what ``all`` brought and left out.

    ``optional``: the keys of the detectors that only ``all`` named: where the run cannot
    serve one (no reference model, a backend that does not compute what it needs, too few
    labelled texts to hold out) it is left out with its reason instead of stopping the run.
    ``left_out``: each detector left out so far (its key, or its name when no instance could
    be made), with the reason."""

    def __init__(self, detectors: Iterable[Detector] = (), *, optional: Iterable[str] = (), left_out: Mapping[str, str] | None = None) -> None:
        super().__init__(detectors)
        self.optional = set(optional)
        self.left_out = dict(left_out or {})


def detector_specs(specs: str | Sequence[str | Detector] | None) -> list[str | Detector] | None:
    """A detector list as given: one string is split at its commas as on the command line
    (``"loss"`` is one name, ``"loss,min_k:k=0.1"`` two; a comma followed by a digit continues a
    parameter's value: ``"wbc:windows=2,3,loss"`` is two); a sequence is taken as it is; None
    stays None (the default set). A string that names nothing (``","``) raises :class:`SettingError`."""
    if specs is None or not isinstance(specs, str):
        return None if specs is None else list(specs)
    names: list[str | Detector] = []
    for piece in (d.strip() for d in specs.split(",")):
        if piece[:1].isdigit() and names and isinstance(names[-1], str) and "=" in names[-1]:
            names[-1] += "," + piece  # a value's own comma (wbc:windows=2,3): no detector name starts with a digit
        elif piece:
            names.append(piece)
    if not names:
        raise SettingError("detectors", f"{specs!r} names no detector (see llm-mia detectors)")
    return names


def _check_names(specs: Sequence[str | Detector], *, reference_model: bool) -> None:
    """An unknown detector name raises :class:`UnknownNameError`, listing the names that can be
    used with the options given and what the others need (:func:`detector_listing`)."""
    for spec in specs:
        if isinstance(spec, str):
            name = spec.split(":", 1)[0].strip()
            if name not in DETECTORS and name not in GROUPS:
                raise UnknownNameError(DETECTORS.unknown_message(name, reference_model=reference_model))
            if name in GROUPS and spec.strip() != name:
                raise InputError(f"detectors {spec.strip()!r}: {name!r} takes no parameters (--k / k= sets the fraction k of the detectors that have one)")


def resolve_detectors(specs: str | Sequence[str | Detector] | None = None, *, k: float | None = None, default: Sequence[str] | None = None) -> DetectorList:
    """Detector instances for ``specs``: names, ``name:param=value`` specs (``min_k:k=0.1``),
    instances, or one string of them separated by commas (:func:`detector_specs`). Two names
    stand for sets, alone or in a list (``default,gap_k``): ``default``, the ``default`` names
    (default :func:`default_detector_names`; also what an empty or missing list means), and
    ``all``, every registered detector; a detector named by ``all`` only is optional (see
    :class:`DetectorList`), and one that cannot be made with its default parameters (dc_pdd
    needs a frequency table) is left out here, with the reason. ``k`` sets the fraction of
    the detectors that have one, where the spec leaves it out. An unknown name or parameter,
    a bad value, or one detector listed twice raises :class:`InputError` (a detector that a
    set names again is not listed twice)."""
    given = detector_specs(specs) or ["default"]
    _check_names(given, reference_model=False)
    inherited = specs if isinstance(specs, DetectorList) else DetectorList()
    entries: list[tuple[Detector, str]] = []  # each detector with where it came from: "given", "default" or "all"
    left_out = dict(inherited.left_out)
    try:
        for spec in given:
            if isinstance(spec, Detector):
                check_finite(spec.name, spec.params)
                entries.append((spec, "all" if spec.key in inherited.optional else "given"))
            elif spec.strip() == "default":
                entries += [(parse_detector(name, k=k), "default") for name in (default_detector_names() if default is None else default)]
            elif spec.strip() == "all":
                for name in DETECTORS:
                    problem = parameter_problem(name)
                    if problem is None:
                        entries.append((parse_detector(name, k=k), "all"))
                    else:
                        left_out[name] = problem if problem.startswith("needs") else f"cannot run with its default parameters ({problem})"
            else:
                entries.append((parse_detector(spec, k=k), "given"))
    except ValueError as exc:
        raise InputError(str(exc)) from None
    keys = [d.key for d, source in entries if source == "given"]
    twice = [key for key in dict.fromkeys(keys) if keys.count(key) > 1]
    if twice:
        raise InputError(f"detector {twice[0]!r} is listed twice (the same detector with the same parameters)")
    chosen = {d.key: d for d, _ in entries}  # the first of each key, in list order
    optional = {key for key in chosen if all(source == "all" for d, source in entries if d.key == key)}
    named = {*chosen, *(d.name for d in chosen.values())}
    return DetectorList(chosen.values(), optional=optional, left_out={n: r for n, r in left_out.items() if n not in named})


def describe_detectors(detectors: Sequence[Detector]) -> list[dict[str, Any]]:
    """Each detector's key, name and parameters, for provenance records."""
    return [{"key": d.key, "name": d.name, "params": d.params} for d in detectors]


def default_cache_dir() -> Path:
    return cache_home() / "stats"


REFERENCE_DETECTOR = "ref"
"""Added when a reference model is given and no chosen detector uses it."""


def choose_detectors(
    specs: str | Sequence[str | Detector] | None = None,
    *,
    k: float | None = None,
    reference_model: object | None = None,
    default: Sequence[str] | None = None,
) -> DetectorList:
    """:func:`resolve_detectors`, plus the reference detector when a reference model is given
    and no chosen detector uses it; a detector that needs a reference model when none is
    given raises :class:`InputError` (one that only ``all`` named is left out, with the
    reason). ``default``: the names that ``default`` (and no list) stands for. Runs before
    any model loads (bad options stop early)."""
    given = detector_specs(specs)
    _check_names(given or [], reference_model=reference_model is not None)
    chosen = resolve_detectors(specs if isinstance(specs, DetectorList) else given, k=k, default=default)
    if reference_model is None:
        for det in [d for d in chosen if d.key in chosen.optional and uses_reference_model(d)]:
            chosen.remove(det)
            chosen.left_out[det.key] = REFERENCE_NEED
    uses_reference = [d.key for d in chosen if uses_reference_model(d)]
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
    left_out: dict[str, str] = field(default_factory=dict)
    """The detectors that ``all`` named and the run cannot use (by key, or name), with the
    reason: filled by :func:`open_run` and, for a detector that uses labelled texts, by the
    first :meth:`score` call whose documents have too few to hold out (it stays out for the
    rest of the run). Named in :meth:`provenance`, and in one warning by :meth:`score`."""
    optional: set[str] = field(default_factory=set)
    """The keys of the detectors that only ``all`` named (left out, not an error, where the
    documents cannot serve them)."""
    _warned: set[str] = field(default_factory=set, init=False, repr=False, compare=False)  # left-out detectors a warning has named

    @property
    def views(self) -> list[View]:
        """Every view a detector needs, each once; the text itself first."""
        return views_of(self.detectors)

    def scorer(self, model: str = "target", cache: StatsCache | None = None, config: ScorerConfig | None = None) -> Scorer:
        """A scorer of the model under test ("target") or of the reference model, with the
        run's scorer settings unless ``config`` is given."""
        lm = self.target if model == "target" else self.reference
        assert lm is not None, "this run has no reference model"
        return Scorer(lm, config or self.config, cache=cache, progress=self.progress)

    def score_windows(self, texts: Sequence[str], settings: WindowSettings, model: str = "target") -> list[TokenStats | Unscorable]:
        """Each text's statistics under :func:`~llm_mia.scoring.window_config` (the extraction
        windows of :mod:`llm_mia.scoring.windows`), cached like every statistic; the time and
        batches are counted in :attr:`costs` under "extraction windows"."""
        cache = self._open_cache()
        started, passes = time.perf_counter(), Scorer.forward_passes_total
        try:
            stats = self.scorer(model, cache, window_config(settings, self.config)).score_texts(list(texts), label="extraction windows")
        finally:
            if cache is not None:
                cache.close()
        cost = self.costs.setdefault(
            f"extraction windows {settings.prefix}+{settings.suffix} ({model})", {"seconds": 0.0, "batches": 0, "texts": 0, "used_by": ["memorization"]}
        )
        cost["seconds"] += time.perf_counter() - started
        cost["batches"] += Scorer.forward_passes_total - passes
        cost["texts"] += len(texts)
        return stats

    def reference_windows(self, texts: Sequence[str], settings: WindowSettings) -> list[TokenStats | Unscorable] | None:
        """:meth:`score_windows` under the reference model, where the run has one whose tokenizer
        is the target's (its windows are then the same tokens); else None."""
        if self.reference is None or self.reference.tokenizer_identity != self.target.tokenizer_identity:
            return None
        return self.score_windows(texts, settings, model="reference")

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
        self._leave_out_unservable(docs, pool_from, where)
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
            plans: dict[View, ScoringPlan] = {}
            seconds: dict[View, float] = {}
            for view in views:  # the cache and the tokenizer first: the whole run's work is known before it starts
                started = time.perf_counter()
                plans[view] = scorers[view.model].plan([view.apply(t) for t in texts], context=view.context, gradient=view.gradient)
                seconds[view] = time.perf_counter() - started
            with Progress(sum(plan.tokens for plan in plans.values()), "scoring", enabled=self.progress) as progress:
                progress.write(announce(plans, len(texts)))
                for view, plan in plans.items():
                    started, passes = time.perf_counter(), Scorer.forward_passes_total
                    progress.set_description(scorers[view.model].progress_label(view.describe(short=True)))
                    stats[view] = scorers[view.model].run(plan, progress)
                    cost = self.costs.setdefault(view.describe(), {"seconds": 0.0, "batches": 0, "texts": 0, "used_by": []})
                    cost["seconds"] += seconds[view] + time.perf_counter() - started
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
            "detectors_left_out": dict(self.left_out),
            "packages": package_versions(),
            "python": platform.python_version(),
            "machine": platform.machine(),
        }

    def _open_cache(self) -> StatsCache | None:
        return open_cache(self.cache_dir)

    def _leave_out_unservable(self, docs: Sequence[Document], pool_from: Sequence[bool] | None, where: str) -> None:
        """Leave out each detector that only ``all`` named and that conditions on more labelled
        texts than ``docs`` can spare (the pool rules of :mod:`llm_mia.pools`), then warn, in
        one line, of every detector left out that no warning has named yet."""
        for det in [d for d in self.detectors if d.uses_labels and d.key in self.optional and d.pool_needs()]:
            try:
                draw_pool(docs, det.pool_needs(), seed=self.seed, eligible=pool_from, where=where)
            except InputError:
                needs = " and ".join(f"{n} {KIND[label]}" for label, n in sorted(det.pool_needs().items()))
                self.left_out[det.key] = f"needs labelled texts to hold out as a prefix ({needs}), but too few are usable in {where}"
                self.detectors = [d for d in self.detectors if d is not det]
        if not self.detectors:
            raise InputError(f"no detector left to run: {_named_reasons(self.left_out)}")
        new = {key: why for key, why in self.left_out.items() if key not in self._warned}
        if new:
            self._warned.update(new)
            warnings.warn(f"detectors: 'all' leaves out {_named_reasons(new)}", stacklevel=1)


def _named_reasons(reasons: Mapping[str, str]) -> str:
    """ "ref, wbc: needs a reference model ...; dc_pdd: needs ...": names that share a reason together."""
    by_reason: dict[str, list[str]] = {}
    for name, why in reasons.items():
        by_reason.setdefault(why, []).append(name)
    return "; ".join(f"{', '.join(names)}: {why}" for why, names in by_reason.items())


def announce(plans: dict[View, ScoringPlan], n_texts: int) -> str:
    """The line that opens a run's progress: how much work the run holds, in tokens and passes
    (an estimate of the time follows once the first batches are measured: :mod:`llm_mia.progress`)."""
    todo = {view: plan for view, plan in plans.items() if plan.tokens}
    cached = sum(isinstance(r, TokenStats) for plan in plans.values() for r in plan.results)
    passes = "; ".join(view.describe(short=True) for view in todo)
    work = f"{sum(p.tokens for p in todo.values()):,} tokens in {len(todo)} pass{'es' if len(todo) != 1 else ''} ({passes})" if todo else "nothing to compute"
    return f"llm-mia: {n_texts:,} texts: {work}" + (f"; {cached:,} text statistics from the cache" if cached else "")


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


@dataclass(frozen=True)
class RunOptions:
    """How a run scores, the same for ``score_documents``, ``open_run``, ``run_bench``,
    ``run_check`` and the command line's score, bench, check and demo: one definition of the
    options, their defaults and their checks (each entry point also takes them as keywords,
    ``score_documents(docs, detectors="loss", use_cache=False)``, merged by :meth:`build`).

    ``reference_model``: a second model, which adds the ``ref`` detector. ``detectors``: as in
    :func:`resolve_detectors` (names, specs or one comma-separated string; ``all`` and
    ``default`` name sets; None: the entry point's default set). ``k``: the fraction of the
    Min-K% family where a detector's spec leaves it out. ``config``: the scorer's settings
    (None: the defaults, or what a benchmark suite's labels assume).
    ``cache_dir`` (default ``~/.cache/llm_mia/stats``) and ``use_cache``: the token-statistics
    cache. ``progress``: a progress bar on stderr. ``device``, ``dtype``, ``trust_remote_code``:
    how models load (:func:`llm_mia.load_model`). ``server_wait``: seconds a served model's
    failing request is retried (None: 120 s); ``request_timeout``: seconds one request may wait
    for its answer (None: 300 s)."""

    reference_model: str | LoadedModel | None = None
    detectors: str | Sequence[str | Detector] | None = None
    k: float | None = None
    config: ScorerConfig | None = None
    cache_dir: str | Path | None = None
    use_cache: bool = True
    progress: bool = False
    device: str | None = None
    dtype: str | None = None
    trust_remote_code: bool = False
    server_wait: float | None = None
    request_timeout: float | None = None

    def __post_init__(self) -> None:
        require(self.config is None or isinstance(self.config, ScorerConfig), "config", f"must be a ScorerConfig, not {type(self.config).__name__}")
        check_server_wait(self.server_wait)
        check_request_timeout(self.request_timeout)

    @classmethod
    def build(cls, options: RunOptions | None = None, **changes: Any) -> RunOptions:
        """``options`` (default: the defaults) with ``changes``; an unknown name raises
        :class:`UnknownNameError` with the names there are."""
        unknown = [n for n in changes if n not in RUN_OPTION_NAMES]
        if unknown:
            raise UnknownNameError(
                f"unknown run option {unknown[0]!r}. {did_you_mean(unknown[0], list(RUN_OPTION_NAMES))}Known: {', '.join(RUN_OPTION_NAMES)}."
            )
        return replace(options or cls(), **changes)

    def load_settings(self) -> dict[str, Any]:
        """The keywords of :func:`llm_mia.backends.get_model` that these options set."""
        return dict(
            device=self.device,
            dtype=self.dtype,
            trust_remote_code=self.trust_remote_code,
            progress=self.progress,
            server_wait=self.server_wait,
            request_timeout=self.request_timeout,
        )

    def cache_folder(self) -> Path | None:
        """Where the run's cache is (None without one)."""
        if not self.use_cache:
            return None
        return Path(self.cache_dir).expanduser() if self.cache_dir else default_cache_dir()


RUN_OPTION_NAMES = tuple(f.name for f in fields(RunOptions))


def open_run(
    model: str | LoadedModel = DEFAULT_MODEL,
    reference_model: str | LoadedModel | None = None,
    *,
    options: RunOptions | None = None,
    seed: int = 0,
    **changes: Any,
) -> ScoringRun:
    """The one path from options to a :class:`ScoringRun`: detectors are resolved first (a
    bad name stops the run before any model loads), then both models load (their settings
    checked), then what each detector needs is checked against its backends' capabilities
    and each detector checks the backends itself (:meth:`Detector.check_models`).
    ``options`` (:class:`RunOptions`) with ``changes`` (its fields as keywords; a
    ``reference_model`` given here wins). A detector that only ``all`` named and that the
    options or the backends cannot serve is left out (:attr:`ScoringRun.left_out`) instead
    of stopping the run. ``seed`` draws the held-out pool of detectors that use labelled texts."""
    if reference_model is not None:
        changes["reference_model"] = reference_model
    opts = RunOptions.build(options, **changes)
    reference_model = opts.reference_model
    chosen = choose_detectors(opts.detectors, k=opts.k, reference_model=reference_model)
    folder = opts.cache_folder()
    run_cache = open_cache(folder)  # an unusable cache stops the run before a model loads
    if run_cache is not None:
        run_cache.close()
    load = opts.load_settings()
    target = get_model(model, **load)
    ref = None if reference_model is None else get_model(reference_model, **load)
    run = ScoringRun(
        list(chosen), target, ref, opts.config or ScorerConfig(), folder, opts.progress, seed, left_out=dict(chosen.left_out), optional=set(chosen.optional)
    )
    backends = {m: run.scorer(m).backend for m in dict.fromkeys(v.model for v in run.views)}
    _check_capabilities([d for d in chosen if d.key not in chosen.optional], backends)
    for det in chosen:
        try:
            missing = _missing_capability(det, backends)
            if missing is None:
                det.check_models(backends)
        except InputError as exc:
            if det.key not in chosen.optional:
                raise
            missing = str(exc)
        if missing is not None:  # a detector that only "all" named
            run.left_out[det.key] = missing
            run.detectors.remove(det)
    if not run.detectors:
        raise InputError(f"no detector left to run: {_named_reasons(run.left_out)}")
    return run


def score_documents(
    documents: Sequence[Document | str],
    *,
    model: str | LoadedModel = DEFAULT_MODEL,
    options: RunOptions | None = None,
    **changes: Any,
) -> list[ScoreRecord]:
    """Score every document with every detector, in input order.

    ``documents`` may be plain strings (ids "0", "1", ...). ``model``: a spec or an already
    loaded :class:`LoadedModel` (or a scoring backend). The run's options are ``options``
    (:class:`RunOptions`) with ``changes``, its fields as keywords: ``detectors`` (names or
    specs, or one comma-separated string ``"loss,min_k:k=0.1"``; ``"all"`` runs every
    detector the run can use, the others named with why in a warning; ``"default"`` or None
    the default set), ``reference_model`` (adds the ``ref`` detector unless a chosen detector
    uses it), ``k``, ``config``, ``cache_dir`` / ``use_cache``, ``device``, ``dtype``, ...
    A document that cannot be scored gets status "skipped" and a reason. See
    :func:`open_run` to keep the models loaded across calls.
    """
    return open_run(model, options=options, **changes).score(documents).records


def _check_capabilities(detectors: Sequence[Detector], backends: dict[str, Any]) -> None:
    """Stop when a detector needs a statistic that the backend of one of its views does not
    compute exactly (no silent approximation), naming the detector, the backend and what is missing."""
    for det in detectors:
        missing = _missing_capability(det, backends)
        if missing is not None:
            raise InputError(f"detector {det.key} {missing}; leave the detector out (--detectors) or use a backend that gives them")


def _missing_capability(det: Detector, backends: dict[str, Any]) -> str | None:
    """What ``det`` needs that the backend of one of its views does not compute exactly
    ("needs ... from the model under test, which SPEC does not give"), or None."""
    for model in sorted({v.model for v in det.views()}):
        backend = backends[model]
        missing = sorted(det.requires - backend.capabilities)
        if missing:
            words = ", ".join(CAPABILITY_WORDS.get(m, m) for m in missing)
            return f"needs {words} from the {'model under test' if model == 'target' else 'reference model'}, which {backend.spec} does not give"
    return None


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
