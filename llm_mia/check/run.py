"""``llm-mia check``: was this book, collection or document in the model's training data?

Reads the suspect texts (cut into excerpts for a book) and, when given, reference texts known
not to be in the training data; scores both with one model; runs the collection test and the
per-document tests of :mod:`llm_mia.check.stat_tests`; checks with a model-free classifier whether
suspect and reference differ even without the model. Orchestration only: reports are
rendered by :mod:`llm_mia.check.report`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Union

import numpy as np

from ..backends import DEFAULT_MODEL, LoadedModel
from ..detectors import TARGET
from ..errors import InputError, SettingError, at_least, require
from ..evaluation import BaselineResult, MemorizationEvidence, memorization_evidence, model_free_auroc
from ..io import as_documents, fingerprint, read_documents, strip_gutenberg
from ..pipeline import RunOptions, ScoringRun, choose_detectors, open_run
from ..scoring import DEFAULT_PREFIX, DEFAULT_SUFFIX, WindowSettings, window_config
from ..types import STATUS_OK, Document, ScoreRecord, TokenStats, Unscorable
from . import report
from .excerpts import DEFAULT_EXCERPT_WORDS, OVERLAP_NGRAM, Overlap, cut_all, find_overlaps, overlapping_excerpts
from .shading import token_pieces
from .stat_tests import (
    DEFAULT_PERMUTATIONS,
    DEFAULT_SPLITS,
    MIN_PER_SIDE,
    CollectionTest,
    DocumentTest,
    collection_test,
    document_tests,
    propensity_strata,
)

UNITS = ("book", "document")
MIN_EXCERPT_WORDS = 16
"""Shorter excerpts carry too little signal to be worth a p-value."""
MODES = ("guarded", "exchangeable", "stratified")
"""How the collection test's p-value is calibrated and when it counts as a verdict:

- ``guarded`` (the default): the exchangeable test below, with a verdict only when the
  model-free classifier finds suspect and reference texts alike (:func:`unlike` is false); when
  it tells them apart, no calibrated verdict (the p-value is reported as uncalibrated). On the
  shifted nulls of ``benchmarks/shifted_nulls.py`` (texts no model has seen, of different kinds,
  periods or authors) it gave p < 0.05 in 0 of 880 draws (with the default detectors of issue 22), where the
  exchangeable test gave up to 40 of 40.
- ``exchangeable``: permutes all labels; exact when suspect and reference texts are drawn from
  one distribution, and not at level when they differ in kind (then its verdict reads "a difference, not evidence of training").
- ``stratified``: permutes only within strata of similar text-only propensity; no verdict when
  the strata hold too few texts of both sets. Experimental: on the shifted nulls it still gave
  p < 0.05 in up to 3 of 40 draws of one pair (9 of 880 over all pairs)."""
CHECK_DETECTORS = ("loss", "zlib", "min_k", "min_k_pp")
"""The check's default detectors (``default`` in its ``detectors``): the default set of score
and bench without ``lowercase``, whose second pass over the lowercased text took more than
half of a check's time and added no power to the collection test. On 400 paired draws of the
controlled splits, p < 0.05 in 314 without it and 312 with it (it helped where half the
suspect texts were members and hurt where a fifth were; ``benchmarks/CHECK_VALIDITY.md``,
"Does lowercase add power")."""
MODEL_FREE_WARNING = 0.6
"""Model-free AUROC (suspect vs reference) from which the reference is called unlike the suspect."""


def unlike(model_free: BaselineResult) -> bool:
    """A model-free AUROC from which suspect and reference count as different kinds of text:
    at least ``MODEL_FREE_WARNING``, with the lower end of its CI above 0.5."""
    return model_free.auroc >= MODEL_FREE_WARNING and model_free.ci[0] > 0.5


@dataclass(frozen=True)
class CheckSettings:
    """What to test and how. ``unit``: "book" cuts every input text into excerpts of
    ``excerpt_words`` words; "document" takes each text as it is; None picks "book" for a
    single text file and "document" otherwise."""

    unit: str | None = None
    excerpt_words: int = DEFAULT_EXCERPT_WORDS
    detectors: str | tuple[str, ...] | None = None  # specs, or one comma-separated string ("loss,min_k:k=0.1", "all"); None: CHECK_DETECTORS
    alpha: float = 0.05
    n_splits: int = DEFAULT_SPLITS
    n_permutations: int = DEFAULT_PERMUTATIONS
    seed: int = 0
    drop_overlap: bool = False
    top: int = 5
    keep_boilerplate: bool = False  # keep Project Gutenberg's header and licence (removed by default)
    mode: str = "guarded"  # see MODES
    memorization: bool = True  # memorization evidence (llm_mia.evaluation.memorization): the whole texts cut into extraction windows
    window_prefix: int = DEFAULT_PREFIX
    window_suffix: int = DEFAULT_SUFFIX
    top_k: int | None = None  # also p_z under top-k sampling (Cooper et al.'s k = 40); only on backends that give it exactly

    def __post_init__(self) -> None:
        require(self.unit is None or self.unit in UNITS, "unit", f"must be one of {', '.join(UNITS)}, not {self.unit!r}")
        require(self.mode in MODES, "mode", f"must be one of {', '.join(MODES)}, not {self.mode!r}")
        at_least("excerpt_words", self.excerpt_words, 1)
        require(
            self.excerpt_words >= MIN_EXCERPT_WORDS,
            "excerpt_words",
            f"is {self.excerpt_words}: excerpts that short are too short to test; use at least {MIN_EXCERPT_WORDS}",
        )
        require(isinstance(self.alpha, (int, float)) and 0 < self.alpha < 1, "alpha", f"must lie between 0 and 1, not {self.alpha}")
        at_least("seed", self.seed, 0)
        at_least("n_splits", self.n_splits, 1)
        at_least("n_permutations", self.n_permutations, 1)
        at_least("top", self.top, 0)
        if self.top_k is not None:
            at_least("top_k", self.top_k, 1)
        WindowSettings(self.window_prefix, self.window_suffix)  # checks them
        require(
            1 / (self.n_permutations + 1) <= self.alpha,
            "n_permutations",
            f"is {self.n_permutations}: the smallest p-value is then {1 / (self.n_permutations + 1):.3g}, above {{alpha}} = {self.alpha}; "
            f"use at least {round(1 / self.alpha)}",
        )


@dataclass(frozen=True)
class ShadedExcerpt:
    """An excerpt with each token's text and log-probability (None: context only, or not scored)."""

    id: str
    pieces: list[tuple[str, float | None]]
    scores: dict[str, float | None]
    p_value: float | None


@dataclass
class CheckResult:
    settings: CheckSettings
    unit: str
    model: str
    suspect_source: str
    reference_source: str | None
    detectors: list[str]
    suspect: list[ScoreRecord]
    reference: list[ScoreRecord]
    collection: CollectionTest | None
    collection_problem: str | None
    documents: list[DocumentTest]
    model_free: BaselineResult | None
    model_free_problem: str | None
    dropped_overlaps: list[Overlap]
    top: list[ShadedExcerpt]
    reference_model: str | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
    boilerplate_removed: list[str] = field(default_factory=list)  # ids of texts whose Gutenberg header and licence were cut

    memorization: MemorizationEvidence | None = None
    memorization_problem: str | None = None
    """Why there is no memorization evidence (turned off, no text long enough, ...)."""

    @property
    def has_reference(self) -> bool:
        return self.reference_source is not None

    @property
    def calibrated(self) -> bool:
        """The collection test ran and its p-value counts as a verdict in this mode: in the
        ``guarded`` mode only when the model-free check ran and finds the two sets alike."""
        if self.collection is None:
            return False
        return self.settings.mode != "guarded" or (self.model_free is not None and not self.reference_unlike_suspect)

    @property
    def significant(self) -> bool | None:
        """The collection test's decision at ``alpha``; None when it could not run or gives no
        calibrated verdict (see :attr:`calibrated`)."""
        return self.collection.p_value < self.settings.alpha if self.collection is not None and self.calibrated else None

    @property
    def reference_unlike_suspect(self) -> bool:
        """The model-free classifier tells suspect from reference texts (see ``MODEL_FREE_WARNING``)."""
        return self.model_free is not None and unlike(self.model_free)

    def scored(self, which: str = "suspect") -> list[ScoreRecord]:
        return [r for r in (self.suspect if which == "suspect" else self.reference) if r.status == STATUS_OK]

    def summary(self) -> str:
        """The terminal summary (:func:`llm_mia.check.report.summary`)."""
        return report.summary(self)

    def to_html(self) -> str:
        """The self-contained HTML report (:func:`llm_mia.check.report.to_html`)."""
        return report.to_html(self)

    def to_json(self) -> dict[str, Any]:
        """The JSON report (:func:`llm_mia.check.report.to_json`)."""
        return report.to_json(self)

    def __repr__(self) -> str:
        return f"<CheckResult of {self.suspect_source}: {report.verdict(self)}>"

    def _repr_html_(self) -> str:
        """The HTML report in a sandboxed frame (its styles stay inside), for notebooks."""
        import html

        return f'<iframe srcdoc="{html.escape(self.to_html(), quote=True)}" sandbox style="width:100%;height:720px;border:1px solid #ccc"></iframe>'


def read_texts(source: str | Path, unit: str, excerpt_words: int, text_field: str | None = None) -> list[Document]:
    """Documents from ``source``, cut into excerpts when ``unit`` is "book"."""
    docs = read_documents(source, text_field=text_field)
    return cut_all(docs, excerpt_words) if unit == "book" else docs


Source = Union[str, Path, Sequence[Union[str, Document]]]
"""What ``run_check`` takes as suspect or reference: a file or folder, or the texts themselves
(strings or :class:`Document` objects)."""


def default_unit(source: Source) -> str:
    """``book`` for one .txt, .md or .epub file, else ``document`` (texts given in memory too)."""
    if not isinstance(source, (str, Path)):
        return "document"
    return "book" if Path(source).suffix.lower() in (".txt", ".md", ".epub") and Path(source).is_file() else "document"


def _documents(source: Source, text_field: str | None) -> list[Document]:
    """The documents of a path (:func:`read_documents`) or of texts in memory (ids ``0``, ``1``, ...
    unless they are Documents); anything else is an :class:`InputError`."""
    if isinstance(source, (str, Path)):
        return read_documents(source, text_field=text_field)
    if isinstance(source, (bytes, bytearray)) or not isinstance(source, Sequence):
        raise InputError(f"give a file or folder, or a list of texts; got {type(source).__name__}")
    return as_documents(source)


def _without_boilerplate(docs: list[Document], settings: CheckSettings) -> tuple[list[Document], list[str]]:
    """Each text without Project Gutenberg's header and licence (:mod:`llm_mia.io.gutenberg`),
    unless ``settings.keep_boilerplate``; and the ids of the texts they were cut from."""
    if settings.keep_boilerplate:
        return docs, []
    out, cut_ids = [], []
    for d in docs:
        text, cut = strip_gutenberg(d.text) if d.text else (d.text, False)
        out.append(Document(d.id, text, d.label, d.error) if cut else d)
        if cut:
            cut_ids.append(d.id)
    return out, cut_ids


def _source_name(source: Source | None) -> str | None:
    if source is None or isinstance(source, (str, Path)):
        return None if source is None else str(source)
    return f"{len(source)} texts given in memory"


@dataclass(frozen=True)
class CheckInputs:
    """The texts of a check as the tests use them (made by :func:`read_inputs`)."""

    unit: str
    suspect: list[Document]
    """Excerpts for a book, else the documents; ids prefixed "suspect:"."""
    reference: list[Document]
    dropped: list[Overlap]
    """Suspect texts left out for sharing a passage with a reference text (``drop_overlap``)."""
    boilerplate_removed: list[str]
    suspect_whole: list[Document]
    """The suspect texts before excerpts were cut (what memorization evidence windows)."""
    reference_whole: list[Document]


def read_inputs(suspect: Source, reference: Source | None, settings: CheckSettings, text_field: str | None = None) -> CheckInputs:
    """The suspect and reference texts as the test uses them (Project Gutenberg's header and
    licence removed, cut into excerpts for a book, ids prefixed "suspect:" and "reference:"),
    with the texts left out for sharing a passage with a reference text (``--drop-overlap``)
    and the ids of the texts whose Gutenberg boilerplate was removed. Raises
    :class:`InputError` for inputs the test cannot use."""
    unit = settings.unit or default_unit(suspect)
    words = settings.excerpt_words
    sus_whole, cut_ids = _without_boilerplate(_prefixed(_documents(suspect, text_field), "suspect"), settings)
    sus_docs = cut_all(sus_whole, words) if unit == "book" else sus_whole
    if not any(d.text and d.text.strip() for d in sus_docs):
        raise InputError(f"{_source_name(suspect)} holds no text to check")
    kind = "excerpt(s)" if unit == "book" else "document(s)"
    ref_docs: list[Document] = []
    ref_whole: list[Document] = []
    dropped: list[Overlap] = []
    if reference is not None:
        ref_whole, ref_cut = _without_boilerplate(_prefixed(_documents(reference, text_field), "reference"), settings)
        cut_ids += ref_cut
        ref_docs = cut_all(ref_whole, words) if unit == "book" else ref_whole
        usable_ref = [d for d in ref_docs if d.error is None and d.text and d.text.strip()]
        if len(usable_ref) < MIN_PER_SIDE:
            raise InputError(
                f"the reference set gives {len(usable_ref)} {kind}; the test needs at least {MIN_PER_SIDE}. Add reference texts"
                + (f" or cut shorter excerpts (--excerpt-words, now {words})" if unit == "book" else "")
            )
        overlaps = find_overlaps([d for d in sus_whole if d.error is None], [d for d in ref_whole if d.error is None])
        hits: dict[str, Overlap] = {}
        for d in sus_whole:
            if unit == "book":
                hits.update(overlapping_excerpts(d, words, overlaps))
            else:
                hits.update({o.suspect_id: o for o in reversed(overlaps) if o.suspect_id == d.id})
        if hits and not settings.drop_overlap:
            first_id, o = next(iter(hits.items()))
            raise InputError(
                f"the reference set overlaps the suspect texts: {len(hits)} suspect {kind} share a passage of "
                f'{OVERLAP_NGRAM}+ words with a reference text (e.g. {first_id} and {o.reference_id}: "{o.shared}"). '
                f"Reference texts must be known non-members distinct from the suspect ones; remove the overlap, "
                f"or pass --drop-overlap to leave those suspect texts out"
            )
        dropped = [Overlap(i, o.reference_id, o.shared, o.word) for i, o in hits.items()]
        sus_docs = [d for d in sus_docs if d.id not in hits]
    if unit == "book" and reference is not None and len(sus_docs) < MIN_PER_SIDE:
        shorter = words * len(sus_docs) // MIN_PER_SIDE
        advice = (
            f"use --excerpt-words {shorter}, or --unit document for per-text results"
            if shorter >= MIN_EXCERPT_WORDS
            else f"the text is too short for it (at least {MIN_PER_SIDE * MIN_EXCERPT_WORDS} words); use --unit document for per-text results"
        )
        raise InputError(f"the suspect text gives {len(sus_docs)} excerpts of {words} words; the collection test needs at least {MIN_PER_SIDE}: {advice}")
    return CheckInputs(unit, sus_docs, ref_docs, dropped, cut_ids, sus_whole, ref_whole)


def run_check(
    suspect: Source,
    reference: Source | None = None,
    *,
    model: str | LoadedModel = DEFAULT_MODEL,
    settings: CheckSettings | None = None,
    text_field: str | None = None,
    options: RunOptions | None = None,
    **changes: Any,
) -> CheckResult:
    """Check ``suspect`` (a book or a collection) against ``reference`` texts known not to be
    in the training data. Each is a file or folder, or a list of texts (strings or
    :class:`Document` objects; a list is a collection unless ``settings.unit`` is ``book``).
    ``settings``: the test's own settings; the run's (models, scorer, cache, device) are
    ``options`` with ``changes`` (:class:`~llm_mia.pipeline.RunOptions`; the detectors may be
    given in either, not both). Raises :class:`InputError` for inputs the test cannot use;
    the inputs are read and checked before any model is loaded."""
    started = time.time()
    settings = settings or CheckSettings()
    opts = RunOptions.build(options, **changes)
    if settings.detectors and opts.detectors:
        raise SettingError("detectors", "is given twice: in the check's settings and in the run's options; give it once")
    specs = settings.detectors or opts.detectors or None  # one string is split at its commas, as on the command line
    chosen = choose_detectors(
        specs, k=opts.k, reference_model=opts.reference_model, default=CHECK_DETECTORS
    )  # bad options stop the check before the inputs are read
    inputs = read_inputs(suspect, reference, settings, text_field)
    unit, sus_docs, ref_docs, dropped, boilerplate = inputs.unit, inputs.suspect, inputs.reference, inputs.dropped, inputs.boilerplate_removed
    run = open_run(model, options=replace(opts, detectors=chosen), seed=settings.seed)
    ref_docs = [Document(d.id, d.text, 0, d.error) for d in ref_docs]  # known non-members: the pool of detectors that use labelled texts
    eligible = [False] * len(sus_docs) + [True] * len(ref_docs)
    both = sus_docs + ref_docs
    groups = [d.id.rsplit("#", 1)[0] for d in both] if unit == "book" else None  # a book's excerpts: <book id>#<k>
    scored = run.score(both, pool_from=eligible, where="the reference texts (a check has no known members)", groups=groups)
    names = [d.key for d in run.detectors]  # after scoring: "all" leaves out a detector the texts cannot serve
    sus_rec, ref_rec = scored.records[: len(sus_docs)], scored.records[len(sus_docs) :]
    if not any(r.status == STATUS_OK for r in sus_rec):
        reasons = sorted({r.reason or "" for r in sus_rec})
        raise InputError(f"no suspect text could be scored ({'; '.join(reasons[:3])})")

    tests = check_scores(sus_docs, sus_rec, ref_docs, ref_rec, names, settings) if reference is not None else CheckTests()

    result = CheckResult(
        settings=settings,
        unit=unit,
        model=run.target.spec,
        suspect_source=str(_source_name(suspect)),
        reference_source=_source_name(reference),
        detectors=names,
        suspect=sus_rec,
        reference=ref_rec,
        collection=tests.collection,
        collection_problem=tests.collection_problem,
        documents=tests.documents,
        model_free=tests.model_free,
        model_free_problem=tests.model_free_problem,
        dropped_overlaps=dropped,
        top=[],
        reference_model=None if run.reference is None else run.reference.spec,
        boilerplate_removed=boilerplate,
    )
    target_stats = dict(zip((d.id for d in sus_docs), scored.stats[TARGET]))
    result.top = _shade(result, {d.id: d for d in sus_docs}, target_stats, run.target.tokenizer)
    if settings.memorization:
        result.memorization, result.memorization_problem = _memorization(run, inputs, settings)
    else:
        result.memorization_problem = "turned off"
    result.provenance = {
        **run.provenance(),
        "settings": asdict(settings),
        "suspect": {"source": _source_name(suspect), "texts": len(sus_docs), "fingerprint": fingerprint(sus_docs)},
        "reference": None if reference is None else {"source": _source_name(reference), "texts": len(ref_docs), "fingerprint": fingerprint(ref_docs)},
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)),
        "seconds": round(time.time() - started, 1),
    }
    return result


@dataclass(frozen=True)
class CheckTests:
    """What a check computes from the scores: the collection test, the per-text tests and the
    model-free check, each with the reason it could not run (the defaults: no reference texts)."""

    collection: CollectionTest | None = None
    collection_problem: str | None = "no reference texts: no calibrated test is possible"
    documents: list[DocumentTest] = field(default_factory=list)
    model_free: BaselineResult | None = None
    model_free_problem: str | None = None


def check_scores(
    suspect_docs: Sequence[Document],
    suspect: Sequence[ScoreRecord],
    reference_docs: Sequence[Document],
    reference: Sequence[ScoreRecord],
    detectors: Sequence[str],
    settings: CheckSettings,
) -> CheckTests:
    """The tests of a check on texts already scored: ``suspect`` and ``reference`` are the
    records of ``suspect_docs`` and ``reference_docs`` (same order; the model-free check reads
    the texts), ``detectors`` the score keys the tests use. No model is involved, so the
    result depends on the scores, the texts and ``settings`` alone."""
    sus_docs, sus_rec, ref_docs, ref_rec, names = list(suspect_docs), list(suspect), list(reference_docs), list(reference), list(detectors)
    free, free_problem = _model_free(sus_docs, sus_rec, ref_docs, ref_rec, settings.seed)
    collection, problem = _collection(sus_rec, ref_rec, names, settings, free)
    doc_tests = document_tests(
        [(r.id, r.scores) for r in sus_rec if r.status == STATUS_OK],
        {n: [r.scores.get(n) for r in ref_rec if r.status == STATUS_OK] for n in names},
    )
    return CheckTests(collection, problem, doc_tests, free, free_problem)


def _memorization(run: ScoringRun, inputs: CheckInputs, settings: CheckSettings) -> tuple[MemorizationEvidence | None, str | None]:
    """Memorization evidence on the whole suspect texts (and reference texts), with the
    reference model's p_z as a control where the run has one with the same tokenizer."""
    windows = WindowSettings(settings.window_prefix, settings.window_suffix)
    sus = [d for d in inputs.suspect_whole if d.error is None and d.text and d.text.strip()]
    ref = [d for d in inputs.reference_whole if d.error is None and d.text and d.text.strip()]
    stats = run.score_windows([d.text or "" for d in sus + ref], windows)
    ref_model = run.reference_windows([d.text or "" for d in sus], windows)
    scorer = run.scorer(config=window_config(windows, run.config))
    evidence = memorization_evidence(
        scorer,
        [(d.id, st) for d, st in zip(sus, stats[: len(sus)])],
        [(d.id, st) for d, st in zip(ref, stats[len(sus) :])] if inputs.reference_whole else None,
        windows,
        reference_model=ref_model,
        top_k=settings.top_k,
        seed=settings.seed,
    )
    if evidence.n_windows == 0:
        return None, f"no suspect text is long enough for one extraction window ({windows.prefix + windows.suffix} tokens)"
    if run.reference is not None and ref_model is None:
        evidence = replace(
            evidence, notes=[f"the reference model {run.reference.spec} cuts text into other tokens than {run.target.spec}: not used as a control"]
        )
    return evidence, None


def _prefixed(docs: list[Document], side: str) -> list[Document]:
    """Suspect and reference documents are scored in one call: keep their ids apart."""
    return [Document(f"{side}:{d.id}", d.text, d.label, d.error) for d in docs]


def _matrix(records: Sequence[ScoreRecord], names: Sequence[str]) -> np.ndarray:
    rows = [[r.scores.get(n) for n in names] for r in records if r.status == STATUS_OK]
    rows = [row for row in rows if all(v is not None for v in row)]
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(names))


def _collection(
    sus: list[ScoreRecord], ref: list[ScoreRecord], names: list[str], s: CheckSettings, free: BaselineResult | None = None
) -> tuple[CollectionTest | None, str | None]:
    a, b = _matrix(sus, names), _matrix(ref, names)
    if min(len(a), len(b)) < MIN_PER_SIDE:
        return None, (
            f"the collection test needs at least {MIN_PER_SIDE} scored suspect and reference texts with every detector's score; there are {len(a)} and {len(b)}"
        )
    strata = None
    if s.mode == "stratified":
        if free is None:
            return None, "the stratified test needs the model-free classifier's propensities, which could not be computed"
        ok = [r for r in sus + ref if r.status == STATUS_OK]  # the model-free scores' order
        complete = np.array([all(r.scores.get(n) is not None for n in names) for r in ok])
        strata, n_s, n_r = propensity_strata(np.asarray(free.scores)[complete], len(a))
        if min(n_s, n_r) < MIN_PER_SIDE:  # with 5, up to 19 of 40 draws of prose against commit messages came out p < 0.05 (shifted_nulls.py)
            return None, (
                f"the suspect and reference texts are told apart without the model: only {n_s} suspect and {n_r} reference texts share "
                "a stratum of text-only propensity, too few for a stratified test; no calibrated answer is possible with this reference"
            )
    test = collection_test(a, b, names, n_splits=s.n_splits, n_permutations=s.n_permutations, seed=s.seed, strata=strata)
    return test, None


def _model_free(
    sus_docs: list[Document], sus: list[ScoreRecord], ref_docs: list[Document], ref: list[ScoreRecord], seed: int
) -> tuple[BaselineResult | None, str | None]:
    texts = [d.text or "" for d, r in zip(sus_docs, sus) if r.status == STATUS_OK]
    labels = [1] * len(texts)
    more = [d.text or "" for d, r in zip(ref_docs, ref) if r.status == STATUS_OK]
    try:
        return model_free_auroc(texts + more, labels + [0] * len(more), seed=seed), None
    except ValueError as exc:
        return None, str(exc)


def _most_suspicious(result: CheckResult) -> list[str]:
    """Ids of the ``top`` suspect texts: smallest corrected p-value first (when there is a
    reference), then highest rank summed over the detectors (a missing score ranks lowest)."""
    scored = result.scored("suspect")
    rank = np.zeros(len(scored))
    for n in result.detectors:
        vals = np.array([-np.inf if r.scores.get(n) is None else r.scores[n] for r in scored], dtype=np.float64)
        rank += np.argsort(np.argsort(vals))
    p_value = {t.id: 1.0 if t.p_value is None else t.p_value for t in result.documents}
    order = sorted(range(len(scored)), key=lambda i: (p_value.get(scored[i].id, 1.0), -rank[i]))
    return [scored[i].id for i in order[: result.settings.top]]


def _shade(result: CheckResult, docs: dict[str, Document], stats: dict[str, TokenStats | Unscorable | None], tokenizer: Any) -> list[ShadedExcerpt]:
    """The most suspicious texts split into tokens, each with its log-probability (from the
    statistics the check computed: no forward pass)."""
    ids = _most_suspicious(result)
    scores = {r.id: r.scores for r in result.suspect}
    p_values = {t.id: t.p_value for t in result.documents}
    shaded = []
    for i in ids:
        text, st = docs[i].text or "", stats.get(i)
        pieces: list[tuple[str, float | None]] = token_pieces(tokenizer, text, st) if isinstance(st, TokenStats) else [(text, None)]
        shaded.append(ShadedExcerpt(i, pieces, scores[i], p_values.get(i)))
    return shaded
