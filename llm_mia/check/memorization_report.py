"""Memorization evidence in a check's reports: terminal lines, JSON, and HTML with a map of
the windows over the work and the passages the model is likeliest to reproduce.

Every piece of text goes through :func:`html.escape` (see :mod:`llm_mia.check.report`).
"""

from __future__ import annotations

import html
import math
from typing import Any

from ..evaluation import MEMORIZATION_THRESHOLDS, REPEAT_NGRAM, MemorizationEvidence, Passage, WindowCount
from ..scoring import samples_needed
from ..strings import printable
from .shading import looks_like_code

WHAT_IT_SHOWS = (
    "Memorization evidence needs no reference texts: the model is given each window's prefix alone and asked how likely it is to "
    "continue it word for word (p_z). A long passage reproduced with p_z >= 1e-4 does not happen by chance to text the model never "
    "saw; it shows training on the text or on copies and quotations of it. Its absence does not show that a text was not trained "
    "on: most trained books are not memorized, and a small model memorizes little. Predictable text (licences, lists, code idioms, "
    "famous lines) can clear the threshold without being memorized: a window counts only when its suffix is also at least "
    "{lift:.0f} times likelier after its own prefix than after other passages' prefixes, and does not mostly repeat its own prefix "
    "(a template, such as a web address that repeats a number given just before it). Boilerplate learned from other texts can still "
    "pass these controls: read the passages before calling a work memorized."
)


def threshold_label(t: float) -> str:
    """0.5, 1e-2, 1e-4: how the thresholds are written."""
    exp = math.log10(t)
    return f"1e{round(exp)}" if t < 0.1 and abs(exp - round(exp)) < 1e-9 else f"{t:g}"


def _pct(c: WindowCount) -> str:
    return f"{100 * c.share:.1f}%, 95% CI {100 * c.ci[0]:.1f}-{100 * c.ci[1]:.1f}%" if c.windows else "no windows"


def _threshold_line(ev: MemorizationEvidence, i: int) -> str:
    r = ev.results[i]
    s = r.suspect
    line = f"{s.memorized} memorized ({_pct(s)})"
    if s.clearing > s.memorized:
        line += f"; {s.clearing - s.memorized} more clear it but fail the controls (predictable)"
    if s.clearing_topk is not None:
        line += f"; under top-{ev.top_k} sampling {s.clearing_topk} clear it"
    if r.reference is not None:
        line += f"; reference texts {r.reference.memorized} of {r.reference.windows}"
        if r.p_value is not None and (s.memorized or r.reference.memorized):
            line += f" (one-sided Fisher p = {r.p_value:.3g})"
    return line


def _where(p: Passage, ev: MemorizationEvidence) -> str:
    return f"{printable(p.text_id)}, window {p.window} (tokens {p.start} to {p.start + ev.settings.prefix + ev.settings.suffix - 1})"


def _passage_numbers(p: Passage, ev: MemorizationEvidence) -> str:
    s = ev.settings.suffix
    n = samples_needed(p.log_pz, 0.5)
    out = (
        f"log p_z {p.log_pz:.1f} (p_z {_p(p.log_pz)}; {'no number of' if math.isinf(n) else f'{n:.3g}'} samples to reproduce it with probability 0.5), "
        f"{p.greedy} of {s} suffix tokens greedy, longest run {p.longest_run}"
    )
    if p.topk_log_pz is not None:
        out += f", top-{ev.top_k} p_z {_p(p.topk_log_pz)}"
    if p.lift is not None:
        out += f", {_times(p.lift)} likelier after its own prefix"
    if p.ref_log_pz is not None:
        out += f", {_times(p.log_pz - p.ref_log_pz)} likelier than under the reference model"
    if p.repeats is not None and p.repeats > 0:
        out += f", {100 * p.repeats:.0f}% of its {REPEAT_NGRAM}-token sequences repeat its prefix"
    if p.continuation_matches is not None:
        out += f"; greedy decoding reproduces its first {p.continuation_matches} tokens"
    return out


def _p(log_p: float) -> str:
    if log_p == -math.inf:
        return "0"
    return f"{math.exp(log_p):.2g}" if log_p > -700 else f"e^{log_p:.0f}"


def _times(lift: float) -> str:
    return f"{math.exp(lift):.3g} times" if abs(lift) < 50 else f"e^{lift:.0f} times"


def summary_lines(ev: MemorizationEvidence | None, problem: str | None) -> list[str]:
    """The check summary's memorization block."""
    if ev is None:
        return [f"Memorization evidence: not computed: {problem}"] if problem else []
    s = ev.settings
    lines = [
        f"Memorization evidence (needs no reference texts): {ev.headline()}",
        f"  windows       {ev.n_windows} of {s.prefix} + {s.suffix} tokens over {ev.n_texts} text(s), each suffix scored after its own prefix alone"
        + (f"; {ev.reference_windows} in the reference texts" if ev.reference_windows else ""),
    ]
    for i, t in enumerate(MEMORIZATION_THRESHOLDS):
        lines.append(f"  p_z >= {threshold_label(t):<6} {_threshold_line(ev, i)}")
    lines.append(f"  longest run   {ev.longest_run} of {s.suffix} suffix tokens in a row are the model's most likely next token")
    if ev.passages:
        best = ev.passages[0]
        lines.append(f"  likeliest     {best.text_id}, window {best.window}: {_passage_numbers(best, ev)}")
    if ev.best_topk_log_pz is not None:
        lines.append(
            f"  top-{ev.top_k:<9} the likeliest window under top-{ev.top_k} sampling: log p_z {ev.best_topk_log_pz:.1f} (p_z {_p(ev.best_topk_log_pz)})"
        )
    lines += [f"  control       {c}" for c in ev.controls]
    lines += [f"  note          {n}" for n in ev.notes]
    if ev.found:
        lines.append("  read          the passages (--html): boilerplate learned from other texts can pass the controls too")
    if ev.left_out:
        lines.append(f"  left out      {len(ev.left_out)} text(s) (e.g. {ev.left_out[0][0]}: {ev.left_out[0][1]})")
    return lines


def to_json(ev: MemorizationEvidence | None, problem: str | None) -> dict[str, Any] | None:
    """Every number of the evidence (:meth:`MemorizationEvidence.to_json`) and what it shows."""
    if ev is None:
        return None if problem is None else {"problem": problem}
    return {
        **ev.to_json(),
        "what_it_shows": WHAT_IT_SHOWS.format(lift=math.exp(ev.min_lift)),
    }


def to_html(ev: MemorizationEvidence | None, problem: str | None) -> str:
    """The report page's memorization section: the headline, the counts per threshold, the
    position map and the top passages (prefix, then the true suffix)."""
    e = html.escape
    if ev is None:
        return f"<h2>Memorization evidence</h2><p>Not computed: {e(problem or '')}</p>"
    rows = "".join(f"<tr><th>p_z &ge; {threshold_label(t)}</th><td>{e(_threshold_line(ev, i))}</td></tr>" for i, t in enumerate(MEMORIZATION_THRESHOLDS))
    s = ev.settings
    parts = [
        "<h2>Memorization evidence</h2>",
        f"<div class='verdict {'sig' if ev.found else 'none'}'>{e(ev.headline())}</div>",
        f"<p>{e(WHAT_IT_SHOWS.format(lift=math.exp(ev.min_lift)))}</p>",
        f"<table><tr><th>windows</th><td>{ev.n_windows} of {s.prefix} + {s.suffix} tokens over {ev.n_texts} text(s)</td></tr>{rows}"
        f"<tr><th>longest run</th><td>{ev.longest_run} of {s.suffix} suffix tokens in a row are the model's most likely</td></tr>"
        + "".join(f"<tr><th>control</th><td>{e(c)}</td></tr>" for c in ev.controls)
        + "".join(f"<tr><th>note</th><td>{e(n)}</td></tr>" for n in ev.notes)
        + "</table>",
        "<h3>Where in the work</h3>",
        position_map(ev),
        "<h3>The passages the model is likeliest to reproduce</h3>",
    ]
    for p in ev.passages:
        parts.append(
            f"<p><b>{e(_where(p, ev))}</b>: {e(_passage_numbers(p, ev))}</p>"
            f"<div class='excerpt passage{' code' if looks_like_code(p.prefix + p.suffix) else ''}'><span style='color:#666'>{e(p.prefix)}</span><mark>{e(p.suffix)}</mark></div>"
            + (
                ""
                if p.continuation is None
                else f"<p>The model's greedy continuation ({p.continuation_matches} of {s.suffix} tokens agree before the first difference):</p>"
                f"<div class='excerpt passage{' code' if looks_like_code(p.prefix + p.continuation) else ''}'><span style='color:#666'>&hellip;</span><ins>{e(p.continuation)}</ins></div>"
            )
        )
    parts.append(
        "<p>Grey: the prefix the model is given; highlighted: the true suffix it would have to reproduce"
        + (
            "; below it, what the model writes after the prefix when it always picks its most likely next token."
            if any(p.continuation is not None for p in ev.passages)
            else "."
        )
        + "</p>"
    )
    if ev.left_out:
        parts.append("<p>Left out: " + e("; ".join(f"{printable(i)} ({why})" for i, why in ev.left_out[:20])) + "</p>")
    return "\n".join(parts)


def position_map(ev: MemorizationEvidence, width: int = 640, height: int = 200) -> str:
    """Inline SVG: each suspect window's log p_z against its place in the work (the texts one
    after another), with the thresholds as lines; windows that count as memorized at the
    lowest threshold in red; a log p_z below the axis is drawn at its bottom."""
    if not ev.positions:
        return ""
    pad_l, pad, top_pad = 44, 18, 12
    step = ev.settings.suffix
    offsets: dict[str, int] = {}
    x_of = []
    total = 0
    for text_id, start, _, _ in ev.positions:
        if text_id not in offsets:
            offsets[text_id] = total
        x_of.append(offsets[text_id] + start)
        total = max(total, offsets[text_id] + start + step)
    lows = [lp for _, _, lp, _ in ev.positions if math.isfinite(lp)]
    lo = min(min(lows, default=-1.0), math.log(min(MEMORIZATION_THRESHOLDS)) - 5)
    hi = 0.0

    def y(v: float) -> float:
        v = max(lo, v)
        return top_pad + (height - pad - top_pad) * (hi - v) / (hi - lo)

    def x(v: float) -> float:
        return pad_l + (width - pad_l - pad) * v / max(total, 1)

    dots = "".join(
        f"<circle cx='{x(xv):.1f}' cy='{y(lp):.1f}' r='{2.5 if hit else 1.5}' fill='{'#c0392b' if hit else '#2471a3'}'"
        f" fill-opacity='0.7'><title>{html.escape(printable(t))} token {st}: log p_z {lp:.1f}{' (memorized)' if hit else ''}</title></circle>"
        for (t, st, lp, hit), xv in zip(ev.positions, x_of)
    )
    lines = "".join(
        f"<line x1='{pad_l}' x2='{width - pad}' y1='{y(math.log(t)):.1f}' y2='{y(math.log(t)):.1f}' stroke='#c0392b' stroke-dasharray='4 3' stroke-opacity='0.6'/>"
        for t in MEMORIZATION_THRESHOLDS
    ) + (
        f"<text x='{width - pad}' y='{y(math.log(min(MEMORIZATION_THRESHOLDS))) + 12:.1f}' font-size='10' text-anchor='end'>"
        f"dashed: p_z = {', '.join(threshold_label(t) for t in MEMORIZATION_THRESHOLDS)}</text>"
    )
    bounds = "".join(f"<line x1='{x(o):.1f}' x2='{x(o):.1f}' y1='{top_pad}' y2='{height - pad}' stroke='#ddd'/>" for o in sorted(offsets.values()) if o)
    axes = (
        f"<line x1='{pad_l}' y1='{height - pad}' x2='{width - pad}' y2='{height - pad}' stroke='#888'/>"
        f"<line x1='{pad_l}' y1='{top_pad}' x2='{pad_l}' y2='{height - pad}' stroke='#888'/>"
        f"<text x='{pad_l - 4}' y='{y(hi) + 4:.1f}' font-size='10' text-anchor='end'>0</text>"
        f"<text x='{pad_l - 4}' y='{y(lo):.1f}' font-size='10' text-anchor='end'>{lo:.0f}</text>"
        f"<text x='{(width + pad_l) / 2}' y='{height - 4}' font-size='10' text-anchor='middle'>position in the work (tokens; grey lines: where a text begins)</text>"
        f"<text x='10' y='{height / 2}' font-size='10' text-anchor='middle' transform='rotate(-90 10 {height / 2})'>log p_z</text>"
    )
    return f"<svg width='{width}' height='{height}' role='img' aria-label='log p_z of every window over the work'>{bounds}{lines}{axes}{dots}</svg>"
