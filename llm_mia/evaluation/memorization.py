"""Memorization evidence: passages the model reproduces word for word from their prefix alone.

For a published work no reference set can be of the same kind, and no likelihood test then
bounds its false positives (Zhang, Das, Kamath and Tramèr, SaTML 2025). Memorization needs no
reference: a 50-token continuation reproduced with probability 1e-2 does not happen by chance to
text the model never saw (Carlini et al., ICLR 2023; Hayes et al., NAACL 2025; Cooper et al.
2025). Its weak spot is predictable text (licences, lists, code idioms, famous lines), which the
controls catch.

A window (:mod:`llm_mia.scoring.windows`) **counts as memorized at threshold t** when

    p_z >= t   and   lift >= min_lift   and   repeats < max_repeat,

with ``lift = log p_z - log mean_j p(suffix | unrelated prefix_j)`` the prior-aware control
(:func:`~llm_mia.scoring.prior_controls`; default ``min_lift = log 100``: the suffix at least
100 times likelier after its own prefix than after other passages' prefixes), and, where a
reference model's statistics are given (same tokenizer), ``log p_z - log p_z_ref >= min_lift``
too: the model under test at least 100 times likelier to reproduce the suffix than a model that
did not see the text, which a suffix any model predicts fails. ``repeats`` is the share of the
suffix's 4-token sequences that occur in its own prefix (default ``max_repeat = 0.5``): a suffix
that mostly repeats its prefix, as a template does (a web address that repeats a number given
just before it, a refrain), is predictable from the prefix once the template was learned from
other texts, and passes the other controls; it is not counted. A window that clears t but not
the controls is **predictable**, reported, not hidden. Where reference texts
are given, the same count on them: memorized text is found at t only when the suspect texts
have memorized windows and, if the reference texts have some too, a larger share (one-sided
Fisher exact test, p < 0.05). The evidence shows training on the text or on copies and
quotations of it; its absence never shows that a text was not trained on (most trained books
are not memorized).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, cast

import numpy as np
from scipy import stats as sps

from ..backends import GENERATE
from ..errors import InputError, at_least
from ..scoring import DEFAULT_CONTROL_PREFIXES, Scorer, WindowSettings, WindowStats, prior_controls, window_stats, with_topk
from ..types import TokenStats, Unscorable

MEMORIZATION_THRESHOLDS = (0.5, 1e-2, 1e-4)
"""The p_z thresholds reported (Cooper et al. 2025 use 0.5; 1e-2 and 1e-4 for the rarer)."""
DEFAULT_MIN_LIFT = math.log(100.0)
"""The prior-aware control's bar, in nats."""
DEFAULT_MAX_REPEAT = 0.5
"""The repeat control's bar: a suffix with this share or more of its 4-token sequences in its prefix is not counted."""
REPEAT_NGRAM = 4
TOP_PASSAGES = 5


def prefix_repeats(prefix: Sequence[int], suffix: Sequence[int], n: int = REPEAT_NGRAM) -> float | None:
    """The share of the suffix's n-token sequences (within the suffix) that also occur in the
    prefix: 0 for a suffix that repeats nothing, 1 for one made wholly of the prefix's
    sequences; None for a suffix shorter than n tokens."""
    if len(suffix) < n:
        return None
    seen = {tuple(prefix[i : i + n]) for i in range(len(prefix) - n + 1)}
    grams = [tuple(suffix[i : i + n]) for i in range(len(suffix) - n + 1)]
    return sum(g in seen for g in grams) / len(grams)


@dataclass(frozen=True)
class Passage:
    """One window: where it is, its numbers and its text (``lift`` None: below every threshold, no control run)."""

    text_id: str
    window: int
    start: int
    log_pz: float
    greedy: int
    longest_run: int
    lift: float | None
    prefix: str
    suffix: str
    ref_log_pz: float | None = None
    """log p_z of the suffix under the reference model (None: no reference model given)."""
    topk_log_pz: float | None = None
    """log p_z under top-k sampling (-inf: a suffix token outside the top k; None: not computed)."""
    continuation: str | None = None
    """The model's greedy continuation of the prefix, as long as the suffix (None: not computed)."""
    continuation_matches: int | None = None
    """Leading tokens of the greedy continuation equal to the true suffix's."""
    repeats: float | None = None
    """:func:`prefix_repeats` of the window (None: below every threshold, not computed)."""

    def memorized(self, threshold: float, min_lift: float, max_repeat: float | None = DEFAULT_MAX_REPEAT) -> bool:
        if self.log_pz < math.log(threshold) or self.lift is None or self.lift < min_lift:
            return False
        if max_repeat is not None and self.repeats is not None and self.repeats >= max_repeat:
            return False
        return self.ref_log_pz is None or self.log_pz - self.ref_log_pz >= min_lift


@dataclass(frozen=True)
class WindowCount:
    """At one threshold: windows that clear it, those that also clear the control, their share
    of all windows with a 95% Clopper-Pearson interval."""

    threshold: float
    clearing: int
    memorized: int
    windows: int
    ci: tuple[float, float]
    clearing_topk: int | None = None
    """Windows whose top-k p_z clears the threshold (None: top-k not computed)."""

    @property
    def share(self) -> float:
        return self.memorized / self.windows if self.windows else math.nan


@dataclass(frozen=True)
class ThresholdResult:
    threshold: float
    suspect: WindowCount
    reference: WindowCount | None
    p_value: float | None
    """One-sided Fisher exact test of a larger memorized share in the suspect texts (None: no reference)."""
    found: bool


@dataclass(frozen=True)
class MemorizationEvidence:
    settings: WindowSettings
    min_lift: float
    n_texts: int
    n_windows: int
    tail_tokens: int
    results: list[ThresholdResult]
    longest_run: int
    passages: list[Passage]
    """The suspect windows with the highest p_z (at most :data:`TOP_PASSAGES`)."""
    positions: list[tuple[str, int, float, bool]] = field(repr=False)
    """(text id, start token, log p_z, memorized at the lowest threshold) of every suspect window, for a map over the work."""
    top_k: int | None = None
    """k of the top-k p_z reported beside the temperature-1 one (None: not computed)."""
    left_out: list[tuple[str, str]] = field(default_factory=list)
    """(text id, reason) of each text that has no windows: too short, or not scored."""
    reference_windows: int = 0
    best_topk_log_pz: float | None = None
    """The highest top-k log p_z of any suspect window (None: top-k not computed)."""
    controls: list[str] = field(default_factory=list)
    """The controls a window had to pass, in words."""
    notes: list[str] = field(default_factory=list)
    """What the caller could not use, in words (a reference model with another tokenizer)."""
    max_repeat: float | None = DEFAULT_MAX_REPEAT
    """The repeat control's bar (None: turned off)."""

    @property
    def found(self) -> bool:
        return any(r.found for r in self.results)

    @property
    def texts_memorized(self) -> int:
        """Texts with at least one window memorized at the lowest threshold."""
        return len({text_id for text_id, _, _, hit in self.positions if hit})

    def to_json(self) -> dict[str, Any]:
        """Every number; ``positions`` gives each suspect window's log p_z."""
        return {
            "headline": self.headline(),
            "found": self.found,
            "settings": asdict(self.settings),
            "min_lift": self.min_lift,
            "max_repeat": self.max_repeat,
            "top_k": self.top_k,
            "texts": self.n_texts,
            "texts_memorized": self.texts_memorized,
            "windows": self.n_windows,
            "reference_windows": self.reference_windows,
            "tail_tokens": self.tail_tokens,
            "longest_run": self.longest_run,
            "best_topk_log_pz": self.best_topk_log_pz,
            "thresholds": [asdict(r) for r in self.results],
            "passages": [asdict(p) for p in self.passages],
            "positions": [{"text": t, "start": start, "log_pz": lp, "memorized": hit} for t, start, lp, hit in self.positions],
            "left_out": [{"id": i, "reason": why} for i, why in self.left_out],
            "controls": self.controls,
            "notes": self.notes,
        }

    def headline(self) -> str:
        """One line: what was found, in words that never say "not trained on"."""
        hits = [r for r in self.results if r.found]
        if hits:
            r = max(hits, key=lambda r: r.threshold)
            return (
                f"memorized text found: {r.suspect.memorized} of {self.n_windows} windows reproduced from their prefix with p_z >= {r.threshold:g}, "
                f"each at least {math.exp(self.min_lift):.0f} times likelier after its own prefix than after others"
            )
        shared = [r for r in self.results if r.suspect.memorized and r.reference is not None]
        if shared:
            r = max(shared, key=lambda r: r.suspect.memorized)
            return (
                f"no evidence of memorization: {r.suspect.memorized} of {self.n_windows} suspect windows clear p_z >= {r.threshold:g} and the control, "
                f"but so do {r.reference.memorized} of {r.reference.windows} reference windows (one-sided Fisher p = {r.p_value:.3g}): "  # type: ignore[union-attr]
                "predictable text, or reference texts the model was trained on too"
            )
        return "no memorized text found (this does not show that the text was not trained on: most trained books are not memorized)"


Scored = Sequence[tuple[str, "TokenStats | Unscorable"]]


def memorization_evidence(
    scorer: Scorer,
    suspect: Scored,
    reference: Scored | None = None,
    settings: WindowSettings | None = None,
    *,
    reference_model: Sequence[TokenStats | Unscorable] | None = None,
    min_lift: float = DEFAULT_MIN_LIFT,
    max_repeat: float | None = DEFAULT_MAX_REPEAT,
    n_prefixes: int = DEFAULT_CONTROL_PREFIXES,
    top_k: int | None = None,
    continuations: bool = True,
    thresholds: Sequence[float] = MEMORIZATION_THRESHOLDS,
    seed: int = 0,
) -> MemorizationEvidence:
    """The evidence for ``suspect`` texts ``(id, statistics under window_config(settings))``,
    with ``reference`` texts scored the same way where given; ``scorer`` runs the controls (the
    model the statistics came from). ``reference_model``: the suspect texts' statistics under a
    reference model (same settings, in the same order); its tokenizer must cut every text into
    the same tokens, else :class:`InputError`. ``max_repeat``: the repeat control's bar, in
    (0, 1] (None: turned off). ``top_k``: also each window's p_z under top-k
    sampling (:func:`~llm_mia.scoring.with_topk`; refused on a backend that cannot give it
    exactly). ``continuations``: the model's greedy continuation of each top passage's prefix,
    where the backend can decode. ``thresholds``: the p_z thresholds counted (the controls
    run for every window that clears the lowest). A text without statistics (:class:`Unscorable`, or statistics of the reference
    model that are) is left out and named in ``left_out``, as is a text too short for a window."""
    settings = settings or WindowSettings()
    at_least("n_prefixes", n_prefixes, 1)
    if max_repeat is not None and not 0 < max_repeat <= 1:
        raise InputError(f"max_repeat must be in (0, 1] or None, not {max_repeat}")
    if top_k is not None:
        at_least("top_k", top_k, 1)
    if reference_model is not None and len(reference_model) != len(suspect):
        raise InputError(f"the reference model's statistics cover {len(reference_model)} texts, the suspect's {len(suspect)}")
    left_out: list[tuple[str, str]] = []

    def side(texts: Scored, other: Sequence[TokenStats | Unscorable] | None = None) -> tuple[list[Passage], list[WindowStats], int]:
        keep = [
            i
            for i, (text_id, st) in enumerate(texts)
            if _usable(text_id, st, left_out) and (other is None or _usable(text_id, other[i], left_out, "under the reference model"))
        ]
        usable = [(texts[i][0], cast(TokenStats, texts[i][1])) for i in keep]
        others = None if other is None else [cast(TokenStats, other[i]) for i in keep]
        passages, windows = _passages(scorer, usable, settings, n_prefixes, seed, others, top_k, min(thresholds))
        short = f"shorter than one window ({settings.prefix + settings.suffix} tokens)"
        left_out.extend((text_id, short) for (text_id, _), w in zip(usable, windows) if w.n_windows == 0)
        return passages, windows, len(usable)

    sus = side(suspect, reference_model)
    ref = None if reference is None else side(reference)
    results = []
    for t in thresholds:
        s_count = _count(sus[0], t, min_lift, max_repeat)
        r_count = None if ref is None else _count(ref[0], t, min_lift, max_repeat)
        p = None
        found = s_count.memorized > 0
        if r_count is not None:
            table = [[s_count.memorized, s_count.windows - s_count.memorized], [r_count.memorized, r_count.windows - r_count.memorized]]
            p = float(sps.fisher_exact(table, alternative="greater").pvalue) if s_count.windows and r_count.windows else None
            if r_count.memorized > 0:
                found = found and p is not None and p < 0.05
        results.append(ThresholdResult(t, s_count, r_count, p, found))
    passages, windows, n_texts = sus
    top = sorted(passages, key=lambda p: -p.log_pz)[:TOP_PASSAGES]
    if continuations:
        top = _with_continuations(scorer, top, dict(suspect), settings)
    return MemorizationEvidence(
        settings=settings,
        min_lift=min_lift,
        max_repeat=max_repeat,
        n_texts=n_texts,
        n_windows=len(passages),
        tail_tokens=sum(w.tail_tokens for w in windows),
        results=results,
        longest_run=max((p.longest_run for p in passages), default=0),
        passages=top,
        positions=[(p.text_id, p.start, p.log_pz, p.memorized(min(thresholds), min_lift, max_repeat)) for p in passages],
        top_k=top_k,
        left_out=left_out,
        reference_windows=0 if ref is None else len(ref[0]),
        best_topk_log_pz=None if top_k is None else max((p.topk_log_pz for p in passages if p.topk_log_pz is not None), default=None),
        controls=[
            f"prior-aware: at least {math.exp(min_lift):.0f} times likelier after its own prefix than after {n_prefixes} unrelated ones",
            *(
                [
                    f"repeats: fewer than {100 * max_repeat:.0f}% of the suffix's {REPEAT_NGRAM}-token sequences in its own prefix (a template is not memorized text)"
                ]
                if max_repeat is not None
                else []
            ),
            *([f"reference model: at least {math.exp(min_lift):.0f} times likelier than under it"] if reference_model is not None else []),
            *(["reference texts: a larger share of memorized windows than theirs (one-sided Fisher p < 0.05)"] if reference is not None else []),
        ],
    )


def _with_continuations(scorer: Scorer, top: list[Passage], stats: dict[str, TokenStats | Unscorable], settings: WindowSettings) -> list[Passage]:
    """``top`` with the model's greedy continuation of each prefix, where the backend can
    decode (the ``generate`` capability); unchanged elsewhere."""
    backend = scorer.backend
    if GENERATE not in backend.capabilities or not top:
        return top
    p, s = settings.prefix, settings.suffix
    ids = {t.text_id: st.token_ids.tolist() for t in top if isinstance(st := stats[t.text_id], TokenStats)}
    prefixes = [scorer.with_bos(ids[t.text_id][t.start : t.start + p])[0] for t in top]
    continuations: list[list[int]] = [[] for _ in top]
    for length in sorted({len(x) for x in prefixes}):  # the first window's prefix holds the BOS already: one token shorter
        group = [i for i, x in enumerate(prefixes) if len(x) == length]
        for i, cont in zip(group, backend.generate([prefixes[i] for i in group], s)):  # type: ignore[attr-defined]
            continuations[i] = cont
    decode = getattr(backend.tokenizer, "decode", None)
    out = []
    for t, cont in zip(top, continuations):
        true = ids[t.text_id][t.start + p : t.start + p + s]
        matches = next((i for i, (a, b) in enumerate(zip(cont, true)) if a != b), min(len(cont), len(true)))
        out.append(replace(t, continuation=decode(cont) if decode else " ".join(map(str, cont)), continuation_matches=matches))
    return out


def _usable(text_id: str, stats: TokenStats | Unscorable, left_out: list[tuple[str, str]], where: str = "") -> bool:
    """Whether a text has statistics; if not, it is named in ``left_out`` with the reason."""
    if isinstance(stats, TokenStats):
        return True
    left_out.append((text_id, f"not scored{' ' + where if where else ''}: {stats.reason}"))
    return False


def _passages(
    scorer: Scorer,
    texts: Sequence[tuple[str, TokenStats]],
    settings: WindowSettings,
    n_prefixes: int,
    seed: int,
    reference_model: Sequence[TokenStats] | None = None,
    top_k: int | None = None,
    lowest: float = min(MEMORIZATION_THRESHOLDS),
) -> tuple[list[Passage], list[WindowStats]]:
    """Every window of ``texts``; the prior-aware control for those that clear p_z >= ``lowest``;
    each window's p_z under the reference model where its statistics are given,
    and under top-k sampling with ``top_k``."""
    stats = [s for _, s in texts]
    windows = [window_stats(s, settings) for s in stats]
    if top_k is not None:
        windows = with_topk(scorer, stats, windows, top_k)
    ref_pz: list[np.ndarray | None] = [None] * len(stats)
    if reference_model is not None:
        for d, (own, other) in enumerate(zip(stats, reference_model)):
            if not np.array_equal(own.token_ids, other.token_ids):
                raise InputError(f"text {texts[d][0]!r}: the reference model's tokenizer cuts it into other tokens; the windows need the same tokenizer")
            ref_pz[d] = window_stats(other, settings).log_pz
    floor = math.log(lowest)
    candidates = [(d, k) for d, w in enumerate(windows) for k in np.flatnonzero(w.log_pz >= floor).tolist()]
    lifts = {c: ctl.lift for c, ctl in zip(candidates, prior_controls(scorer, stats, windows, candidates, n_prefixes, seed))}
    decode = getattr(scorer.backend.tokenizer, "decode", None)
    p, s = settings.prefix, settings.suffix
    out = []
    for d, ((text_id, st), w) in enumerate(zip(texts, windows)):
        ids = st.token_ids.tolist()
        for k in range(w.n_windows):
            start = int(w.starts[k])
            pre, suf = ids[start : start + p], ids[start + p : start + p + s]
            lift = lifts.get((d, k))
            out.append(
                Passage(
                    text_id,
                    k,
                    start,
                    float(w.log_pz[k]),
                    int(w.greedy[k]),
                    int(w.longest_run[k]),
                    None if lift is None or math.isnan(lift) else lift,
                    decode(pre) if decode else " ".join(map(str, pre)),
                    decode(suf) if decode else " ".join(map(str, suf)),
                    None if (ref := ref_pz[d]) is None else float(ref[k]),
                    None if w.topk_log_pz is None else float(w.topk_log_pz[k]),
                    repeats=prefix_repeats(pre, suf) if (d, k) in lifts else None,
                )
            )
    return out, windows


def _count(passages: list[Passage], threshold: float, min_lift: float, max_repeat: float | None) -> WindowCount:
    clearing = sum(p.log_pz >= math.log(threshold) for p in passages)
    memorized = sum(p.memorized(threshold, min_lift, max_repeat) for p in passages)
    topk = [p.topk_log_pz for p in passages if p.topk_log_pz is not None]
    n = len(passages)
    ci = sps.binomtest(memorized, n).proportion_ci(0.95) if n else None
    return WindowCount(
        threshold,
        clearing,
        memorized,
        n,
        (float(ci.low), float(ci.high)) if ci is not None else (math.nan, math.nan),
        sum(v >= math.log(threshold) for v in topk) if len(topk) == n and n else None,
    )
