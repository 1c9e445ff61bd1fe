"""Reports of a check: a terminal summary, JSON, and a self-contained HTML page.

The HTML page loads nothing from the network and runs no script; every piece of document
text goes through :func:`html.escape`, so a document that contains markup shows as text.
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from ..errors import name_settings
from ..evaluation import histogram_svg, p_value, with_ci
from ..strings import printable
from ..types import STATUS_OK, held_out
from . import memorization_report
from .shading import looks_like_code

if TYPE_CHECKING:
    from .run import CheckResult  # the result is rendered here; run imports this module

CAVEAT_POSITIVE = (
    "A significant result shows that the model treats the suspect texts as more familiar than the "
    "reference texts. Training on them is one explanation; others are training on quotations, "
    "summaries or other editions of them, or reference texts that differ from the suspect ones in "
    "period, genre, language or preparation."
)
CAVEAT_NEGATIVE = (
    "A result that is not significant does not show that the texts were not used: a small model, "
    "a single exposure or few excerpts may leave no trace these detectors can find."
)
NO_REFERENCE = (
    "No reference texts were given, so no p-value can be claimed. A membership score means "
    "something only next to the scores of texts known NOT to be in the training data: the same "
    "score is typical of members for one kind of text and of non-members for another. To make a "
    "calibrated claim, add reference texts ({reference}) of the same kind (same author, period, genre, language "
    "and preparation) that the model cannot have seen: unpublished chapters, drafts, or texts "
    "written after the model's training cutoff."
)
NO_VERDICT_NEXT = (
    "A verdict needs reference texts that such a classifier cannot tell from the suspect ones: by the same author, "
    "on the same subjects, written at the same time and never published (even a book's own later chapters often "
    "differ in names and topics). Without them no test on the model's scores is calibrated."
)
"""What would give a verdict where the check declines (the first line of the report says it)."""


def uncalibrated(result: CheckResult) -> str:
    """How an uncalibrated p-value is labelled wherever it is shown (never first)."""
    why = "which the model-free check rules out" if result.model_free is not None else "which nothing here shows"
    return f"if suspect and reference texts were of one kind, {why}: not a verdict, not evidence of training"


PYTHON_NAMES = {
    "reference": "run_check's second argument",
    "keep_boilerplate": "CheckSettings(keep_boilerplate=True)",
    "drop_overlap": "CheckSettings(drop_overlap=True)",
    "stride": "ScorerConfig(stride=...)",
    "n_permutations": "CheckSettings(n_permutations=...)",
}
"""How the report names a setting it advises (``--stride`` on the command line), for a check
run in Python; the command line passes its flags (:data:`llm_mia.cli.FLAGS`)."""


MODE_HELP = {
    "guarded": "guarded: the exchangeable test, a verdict only where a classifier without the model finds the two sets alike",
    "exchangeable": "exchangeable: assumes suspect and reference texts of one kind",
    "stratified": "stratified (experimental): permutations within strata of text-only propensity",
}


def verdict_level(result: CheckResult) -> str:
    """What kind of verdict the check gives: ``significant``, ``weak`` (significant, but the
    reference texts are unlike the suspect ones without the model: exchangeable and stratified
    modes), ``not_significant``, ``uncalibrated`` (guarded mode: the reference texts are unlike
    the suspect ones, or the model-free check could not run, so no verdict), ``per_text`` (no
    collection test) or ``none`` (no reference texts)."""
    if not result.has_reference:
        return "none"
    if result.collection is None:
        return "per_text"
    if not result.calibrated:
        return "uncalibrated"
    if not result.significant:
        return "not_significant"
    return "weak" if result.reference_unlike_suspect else "significant"  # the stratified mode is not at level under shift either


def verdict(result: CheckResult) -> str:
    """One line: the decision and what it means, with the main caveat where there is one."""
    a = result.settings.alpha
    level = verdict_level(result)
    if level == "none":
        return "NO CALIBRATED VERDICT: no reference texts were given (see below)."
    if result.collection is not None:
        c = result.collection
        m = result.model_free
        if level == "uncalibrated":
            if m is None:
                return (
                    f"NO CALIBRATED VERDICT: the model-free check could not run ({result.model_free_problem}), so nothing shows that "
                    "the reference texts are of the suspect texts' kind, and without that no p-value can tell training from a "
                    f"difference of kind. {NO_VERDICT_NEXT}"
                )
            return (
                f"NO CALIBRATED VERDICT: the reference texts are unlike the suspect texts even without the model (a bag-of-words "
                f"classifier that never sees the model tells them apart, AUROC {m.auroc:.2f}), so no p-value can tell training from "
                f"that difference. {NO_VERDICT_NEXT}"
            )
        if level == "weak":
            assert m is not None
            return (
                f"A DIFFERENCE, NOT EVIDENCE OF TRAINING: p = {p_value(c.p_value)} ({result.settings.mode} mode) assumes suspect and "
                f"reference texts of one kind, but a bag-of-words classifier that never sees the model tells them apart (AUROC "
                f"{m.auroc:.2f}), and on texts no model has seen such differences alone gave p < 0.05 in up to 40 of 40 draws."
            )
        if level == "significant":
            return f"SIGNIFICANT at alpha = {a:g}: the model finds the suspect texts more familiar than the reference texts (p = {p_value(c.p_value)})."
        return (
            f"NOT SIGNIFICANT at alpha = {a:g}: no evidence that the model finds the suspect texts more "
            f"familiar than the reference texts (p = {p_value(c.p_value)})."
        )
    kind = "excerpts" if result.unit == "book" else "documents"
    hits = sum(1 for t in result.documents if t.q_value is not None and t.q_value < a)
    return (
        f"PER-TEXT RESULTS ONLY ({result.collection_problem}): {hits} of {len(result.documents)} {kind} "
        f"have q < {a:g} (Holm over {len(result.detectors)} detectors, then Benjamini-Hochberg over the {kind})."
    )


def caveats(result: CheckResult, names: dict[str, str] = PYTHON_NAMES) -> list[str]:
    """What the result can and cannot show, one sentence each; settings it advises are named
    by ``names`` (flags on the command line)."""
    out = []
    if not result.has_reference:
        return [name_settings(NO_REFERENCE, names)]
    if result.reference_unlike_suspect:
        m = result.model_free
        assert m is not None
        out.append(
            f"The reference texts are unlike the suspect texts: a bag-of-words classifier that never sees the "
            f"model tells them apart with AUROC {with_ci(m.auroc, m.ci)} (0.5 = alike). A difference the model shows may "
            f"come from that (names, topics, period, style) rather than from training."
        )
    if result.significant:
        out.append(CAVEAT_POSITIVE)
    elif verdict_level(result) != "uncalibrated":
        out.append(CAVEAT_NEGATIVE)
    if result.boilerplate_removed:
        out.append(
            f"Project Gutenberg's header and licence were removed from {len(result.boilerplate_removed)} text(s) "
            f"(e.g. {result.boilerplate_removed[0]}): every Gutenberg book carries them, so they say nothing about one book ({names['keep_boilerplate']} keeps them)."
        )
    if result.dropped_overlaps:
        out.append(f"{len(result.dropped_overlaps)} suspect text(s) that share 13+ words with a reference text were left out ({names['drop_overlap']}).")
    cut = [r for r in result.suspect + result.reference if r.status == STATUS_OK and r.truncated]
    if cut:
        limit = result.provenance.get("scorer", {}).get("max_tokens", "the token limit")
        out.append(
            f"{len(cut)} text(s) had more than {limit} tokens and only their first {limit} were scored "
            f"(e.g. {cut[0].id}); {names['stride']} scores every token, or cut the texts shorter."
        )
    pool = [r for r in result.suspect + result.reference if held_out(r)]
    if pool:
        out.append(f"{len(pool)} text(s) {pool[0].reason}: left out of every test (e.g. {pool[0].id}).")
    skipped = [r for r in result.suspect + result.reference if r.status != STATUS_OK and not held_out(r)]
    if skipped:
        out.append(f"{len(skipped)} text(s) could not be scored and were left out (e.g. {skipped[0].id}: {skipped[0].reason}).")
    if result.documents:
        n_det = len(result.detectors)
        n_ref = len(result.scored("reference"))
        out.append(
            f"Per-{'excerpt' if result.unit == 'book' else 'document'} p-values compare one text with {n_ref} reference "
            f"texts; the smallest possible is {min(1.0, n_det / (n_ref + 1)):.3g} after correcting for {n_det} detectors. "
            f"They are weak evidence alone; the collection test pools them."
        )
    return out


Row = TypeVar("Row")


def in_order(result: CheckResult, p_row: Row, uncalibrated_row: Row, rest: list[Row], model_free: list[Row]) -> list[Row]:
    """The collection test's rows as every report orders them: the p-value first where it is a
    verdict; where it is not, the model-free check first and the p-value last, labelled."""
    return [p_row, *rest, *model_free] if result.calibrated else [*model_free, *rest, uncalibrated_row]


def summary(result: CheckResult, html_path: str | None = None, names: dict[str, str] = PYTHON_NAMES) -> str:
    """The terminal summary: the verdict first; where it is not calibrated, the model-free
    check next and the p-value last, labelled (:func:`uncalibrated`). Settings it advises
    are named by ``names`` (flags on the command line)."""
    s = result.settings
    n_s, n_r = len(result.scored("suspect")), len(result.scored("reference"))
    kind = "excerpts" if result.unit == "book" else "documents"
    head = f"llm-mia check: {result.suspect_source} ({result.unit}: {n_s} {kind}"
    head += f" of {s.excerpt_words} words)" if result.unit == "book" else ")"
    if result.has_reference:
        head += f" against {result.reference_source} ({n_r} {kind})"
    lines = [head + f", model {result.model}", "", verdict(result)]
    c = result.collection
    free: list[str] = []
    if result.model_free is not None:
        m = result.model_free
        free.append(f"  model-free    suspect vs reference without the model: AUROC {with_ci(m.auroc, m.ci)} (0.5 = alike)")
    if c is not None:
        test = f"collection test{_mode_note(result)}: {c.n_splits} splits, {c.n_permutations} permutations" + (
            f"; the floor: the statistic lies {c.z:.1f} standard deviations above the permutation null, raise {names['n_permutations']} for a smaller p"
            if c.p_value <= c.min_attainable_p
            else ""
        )
        rest = [
            f"  effect        a suspect {kind[:-1]} outscores a reference {kind[:-1]} {100 * c.effect:.0f}% of the time "
            f"(50% = no difference; {100 * c.effect_range[0]:.0f}-{100 * c.effect_range[1]:.0f}% over the splits)",
            "  carried by    " + ", ".join(f"{n} ({c.weights[n]:.2f})" for n in c.carried_by()),
            f"  texts used    {c.n_suspect} suspect, {c.n_reference} reference",
        ]
        lines += in_order(
            result, f"  p-value       {p_value(c.p_value)}  ({test})", f"  uncalibrated  p = {p_value(c.p_value)} {uncalibrated(result)} ({test})", rest, free
        )
    elif result.collection_problem and result.has_reference:
        lines.append(f"  collection test not run: {result.collection_problem}")
    if result.documents:
        a = s.alpha
        hits = sum(1 for t in result.documents if t.p_value is not None and t.p_value < a)
        q_hits = sum(1 for t in result.documents if t.q_value is not None and t.q_value < a)
        lines.append(
            f"  per {result.unit if result.unit == 'document' else 'excerpt'}  {hits} of {len(result.documents)} with p < {a:g} "
            f"after Holm over {len(result.detectors)} detectors; {q_hits} with BH q < {a:g}"
            + (" (uncalibrated, as the p-value)" if c is not None and not result.calibrated else "")
        )
    if c is None:
        lines += free
    if not result.has_reference:
        lines += _score_lines(result)
    if not result.has_reference and result.reference_model:
        lines.append(_ref_model_line(result))
    memo = memorization_report.summary_lines(result.memorization, result.memorization_problem)
    if memo:
        lines += ["", *memo]
    lines.append("")
    lines += ["Caveats:"] + [f"  - {c}" for c in caveats(result, names)]
    if html_path:
        lines += ["", f"HTML report: {html_path}"]
    return "\n".join(lines)


def _mode_note(result: CheckResult) -> str:
    """What the p-value assumes, where the mode adds something to say."""
    if result.settings.mode == "stratified":
        return ", permutations within strata of text-only propensity"
    return ""


def _score_lines(result: CheckResult) -> list[str]:
    """Without reference texts: each detector's scores over the suspect texts (uncalibrated:
    for reading next to scores of known non-members, not alone)."""
    kind = "excerpt" if result.unit == "book" else "document"
    out = [f"  scores (higher = more likely a member; uncalibrated without reference texts), over the suspect {kind}s:"]
    for name in result.detectors:
        vals = np.array([v for r in result.scored("suspect") if (v := r.scores.get(name)) is not None], dtype=float)
        if vals.size:
            q1, med, q3 = np.percentile(vals, [25, 50, 75])
            out.append(f"    {name:<12} median {med:.3f}  (middle half {q1:.3f} to {q3:.3f}; {vals.size} {kind}s)")
    return out


def _ref_model_line(result: CheckResult) -> str:
    vals = [v for r in result.scored("suspect") if (v := r.scores.get("ref")) is not None]
    if not vals:
        return "  reference model: no text scored under both models"
    above = sum(v > 0 for v in vals)
    return (
        f"  reference model {result.reference_model}: the model under test finds {above} of {len(vals)} texts easier than "
        f"the reference model does (mean loss difference {np.mean(vals):+.3f} nats/token). Without reference texts this "
        f"is not calibrated: two models differ on every text."
    )


def to_json(result: CheckResult, names: dict[str, str] = PYTHON_NAMES) -> dict[str, Any]:
    """The full result; ``p_value_note`` says why the collection test's p-value is no verdict, where it is not."""
    c = result.collection
    return {
        "verdict": verdict(result),
        "verdict_level": verdict_level(result),
        "mode": result.settings.mode,
        "significant": result.significant,
        "p_value_note": uncalibrated(result) if c is not None and not result.calibrated else None,
        "unit": result.unit,
        "suspect_source": result.suspect_source,
        "reference_source": result.reference_source,
        "model": result.model,
        "reference_model": result.reference_model,
        "detectors": result.detectors,
        "collection_test": None if c is None else asdict(c) | {"carried_by": c.carried_by()},
        "collection_problem": result.collection_problem,
        "model_free": None if result.model_free is None else {k: v for k, v in asdict(result.model_free).items() if k != "scores"},
        "model_free_problem": result.model_free_problem,
        "reference_unlike_suspect": result.reference_unlike_suspect,
        "caveats": caveats(result, names),
        "documents": [asdict(t) for t in result.documents],
        "dropped_overlaps": [asdict(o) for o in result.dropped_overlaps],
        "memorization": memorization_report.to_json(result.memorization, result.memorization_problem),
        "suspect": [r.to_json() for r in result.suspect],
        "reference": [r.to_json() for r in result.reference],
        "provenance": result.provenance,
    }


# -- HTML ---------------------------------------------------------------------------------

_CSS = """
body{font:15px/1.5 system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
.verdict{padding:.8em 1em;border-radius:6px;font-weight:600;border:1px solid}
.sig{background:#fdecea;border-color:#e0a09a}.weak{background:#fff4dc;border-color:#e0b45a}.nsig{background:#eef5ea;border-color:#a9c79b}.none{background:#f3f3f3;border-color:#bbb}
table{border-collapse:collapse;margin:.5em 0}td,th{padding:.2em .7em;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
.excerpt{white-space:pre-wrap;font-family:ui-serif,Georgia,serif;border:1px solid #ddd;padding:.8em;border-radius:4px;background:#fff}
.excerpt.code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}
.tok{border-radius:2px;-webkit-print-color-adjust:exact;print-color-adjust:exact}.key .tok{padding:0 .4em;font-size:13px}
.charts{display:flex;flex-wrap:wrap;gap:1em}.legend span{display:inline-block;width:1em;height:1em;vertical-align:middle;margin:0 .3em 0 1em}
pre{background:#f6f6f6;padding:.8em;overflow-x:auto;font-size:12px}
dt{font-weight:600}dd{margin:0 0 .6em 1.5em}
"""
_SUSPECT, _REFERENCE = "#c0392b", "#2471a3"


def to_html(result: CheckResult, names: dict[str, str] = PYTHON_NAMES) -> str:
    """The report page. Where the verdict is not calibrated the p-value comes last in the
    numbers, labelled, and the excerpts are shown as what the model finds familiar, not as evidence."""
    e = html.escape
    kind = "excerpts" if result.unit == "book" else "documents"
    cls = {"significant": "sig", "weak": "weak", "uncalibrated": "weak", "not_significant": "nsig"}.get(verdict_level(result), "none")
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">",
        f"<title>llm-mia check: {e(printable(result.suspect_source))}</title><style>{_CSS}</style></head><body>",
        f"<h1>Was this in the training data of <code>{e(printable(result.model))}</code>?</h1>",
        f"<p>Suspect: <code>{e(printable(result.suspect_source))}</code>"
        + (f"<br>Reference (known non-members): <code>{e(printable(result.reference_source or ''))}</code>" if result.has_reference else "")
        + "</p>",
        f"<div class='verdict {cls}'>{e(verdict(result))}</div>",
        "<h2>Numbers</h2>",
        _numbers_table(result),
        "<h2>What this can and cannot show</h2><ul>" + "".join(f"<li>{e(c)}</li>" for c in caveats(result, names)) + "</ul>",
        memorization_report.to_html(result.memorization, result.memorization_problem) if result.memorization or result.memorization_problem else "",
        "<h2>Score distributions</h2>",
        "<p class='legend'>Higher = more likely a member.<span style='background:%s'></span>suspect<span style='background:%s'></span>reference</p>"
        % (_SUSPECT, _REFERENCE),
        "<div class='charts'>" + "".join(_histogram(result, d) for d in result.detectors) + "</div>",
        f"<h2>The {kind} the model finds most familiar</h2>",
        f"<p>{e(_top_note(result))}</p>",
        "<p>Each token is shaded by how likely the model found it, given the text before it, on a log scale: blue = expected, "
        "red = surprising (Min-K% averages the most surprising ones). Hover over a token for its probability; the colours print.</p>",
        shade_key(),
        "".join(_excerpt(x) for x in result.top) or "<p>None scored.</p>",
    ]
    if result.documents:
        parts += [f"<h2>Per-{kind[:-1]} p-values (50 smallest)</h2>", _documents_table(result)]
    parts += [
        "<h2>Words used in this report</h2>",
        "<dl>" + "".join(f"<dt>{e(term)}</dt><dd>{e(meaning)}</dd>" for term, meaning in GLOSSARY) + "</dl>",
        "<h2>Settings and provenance</h2>",
        f"<pre>{e(json.dumps(result.provenance, indent=2, default=str))}</pre>",
        "<p>Made by llm-mia. This page loads nothing from the network.</p></body></html>",
    ]
    return "\n".join(parts)


def _top_note(result: CheckResult) -> str:
    """What the excerpts with the highest scores can show, given the verdict."""
    if verdict_level(result) == "significant":
        return "Ranked by their per-text p-values, then by their scores: where the collection test points to training, these carry most of it."
    return (
        "Ranked by their scores (and per-text p-values where there are reference texts). With no significant, calibrated verdict "
        "above, they are not evidence of training: every text has a most familiar part."
    )


GLOSSARY = (
    ("suspect texts", "the texts asked about: were they in the model's training data?"),
    (
        "reference texts",
        "texts known NOT to be in the training data (never published, or written after the model was trained), of the same kind as the suspect ones: the yardstick",
    ),
    ("excerpt", "a passage of a book, of a fixed number of words; each is scored on its own"),
    ("detector", "a way to turn the model's token probabilities into one score per text (higher = more familiar to the model)"),
    (
        "p-value",
        "how often texts of one kind, labelled suspect and reference at random, differ as much as these do; small = surprising. It is not the probability that the texts were trained on",
    ),
    ("calibrated", "a p-value that means what it says: possible only when suspect and reference texts are of one kind"),
    ("effect", "how often a suspect text outscores a reference text: 50% = no difference"),
    (
        "model-free check, AUROC",
        "a classifier that sees only the words (never the model) tries to tell suspect from reference texts; AUROC 0.5 = it cannot (good), 1.0 = it always can (the sets differ in kind)",
    ),
    ("Holm, q-value", "corrections for testing many detectors and many texts at once, so that some small p-values by chance are not read as findings"),
)
"""Terms of the report page, explained for a reader who is not a statistician."""


def _numbers_table(result: CheckResult) -> str:
    e = html.escape
    rows: list[tuple[str, str]] = []
    c = result.collection
    free: list[tuple[str, str]] = []
    if result.model_free is not None:
        m = result.model_free
        free.append(("model-free check", f"AUROC {with_ci(m.auroc, m.ci)} telling suspect from reference without the model (0.5 = alike)"))
    if c is not None:
        test = f"{c.n_splits} random splits, {c.n_permutations} label permutations (smallest reportable {p_value(c.min_attainable_p)}){_mode_note(result)}"
        rest = [
            ("effect", f"a suspect text outscores a reference text {100 * c.effect:.0f}% of the time (50% = no difference)"),
            ("texts used", f"{c.n_suspect} suspect, {c.n_reference} reference"),
            ("carried by", ", ".join(f"{n} (weight {c.weights[n]:.2f}, alone AUROC {c.single_auroc[n]:.2f})" for n in c.carried_by())),
        ]
        rows += in_order(
            result,
            ("p-value (collection test)", f"{p_value(c.p_value)}: {test}"),
            ("uncalibrated p-value", f"{p_value(c.p_value)} {uncalibrated(result)} ({test})"),
            rest,
            free,
        )
    else:
        if result.collection_problem:
            rows.append(("collection test", result.collection_problem))
        rows += free
    if result.has_reference:
        rows.append(("mode", MODE_HELP[result.settings.mode]))
    rows.append(("unit", result.unit + (f", excerpts of {result.settings.excerpt_words} words" if result.unit == "book" else "")))
    rows.append(("detectors", ", ".join(result.detectors)))
    return "<table>" + "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rows) + "</table>"


def _histogram(result: CheckResult, detector: str) -> str:
    """Inline SVG: the detector's score histogram for suspect and reference texts (densities)."""
    sus = np.array([r.scores[detector] for r in result.scored("suspect") if r.scores.get(detector) is not None], dtype=float)
    ref = np.array([r.scores[detector] for r in result.scored("reference") if r.scores.get(detector) is not None], dtype=float)
    return histogram_svg([(sus, _SUSPECT), (ref, _REFERENCE)], detector)


SHADES = (
    (math.log(0.5), "#2e6fba", "#fff", "50% or more"),
    (math.log(0.1), "#9cc3e8", "#111", "10% to 50%"),
    (math.log(0.01), "#f3f3f3", "#111", "1% to 10%"),
    (math.log(0.001), "#f6b26b", "#111", "0.1% to 1%"),
    (-math.inf, "#c0392b", "#fff", "below 0.1%"),
)
"""Token shading by log-probability: (lowest log-probability of the band, background, text
colour, label). Bands of the log scale, so that the improbable tokens Min-K% looks at stand
out as much as the expected ones; whitespace is never shaded."""


def _shade(lp: float) -> tuple[str, str]:
    return next(((bg, fg) for floor, bg, fg, _ in SHADES if lp >= floor), SHADES[-1][1:3])  # NaN: the lowest band


def shade_key() -> str:
    """The colour key of the token shading."""
    swatches = "".join(f"<span class='tok' style='background:{bg};color:{fg}'>{html.escape(label)}</span> " for _, bg, fg, label in SHADES)
    return f"<p class='key'>How likely the model found each token (not a p-value): {swatches}</p>"


def _excerpt(x: Any) -> str:
    e = html.escape
    spans = []
    for text, lp in x.pieces:
        if lp is None or not text.strip():
            spans.append(e(text))
            continue
        bg, fg = _shade(lp)
        spans.append(
            f"<span class='tok' title='the model gave this token probability {math.exp(lp):.3g} (log {lp:.2f})' style='background:{bg};color:{fg}'>{e(text)}</span>"
        )
    scores = ", ".join(f"{k} {v:.3f}" for k, v in x.scores.items() if v is not None)
    corrected = "" if x.p_value is None else f" &middot; p-value {p_value(x.p_value)} (Holm over the detectors)"
    font = " code" if looks_like_code("".join(t for t, _ in x.pieces)) else ""
    return f"<h3>{e(printable(x.id))}</h3><p><small>scores: {e(scores)}{corrected}</small></p><div class='excerpt{font}'>{''.join(spans)}</div>"


def _documents_table(result: CheckResult) -> str:
    e = html.escape
    rows = sorted(result.documents, key=lambda t: 1.0 if t.p_value is None else t.p_value)[:50]
    kind = "excerpt" if result.unit == "book" else "document"
    head = (
        f"<tr><th>{kind}</th><th>p-value (Holm over the detectors)</th><th>q-value (Benjamini-Hochberg over the {kind}s)</th>"
        + "".join(f"<th>p-value, {e(d)} alone</th>" for d in result.detectors)
        + "</tr>"
    )
    body = "".join(
        f"<tr><td>{e(printable(t.id))}</td><td>{p_value(t.p_value)}</td><td>{p_value(t.q_value)}</td>"
        + "".join(f"<td>{p_value(t.p_values.get(d))}</td>" for d in result.detectors)
        + "</tr>"
        for t in rows
    )
    return f"<table>{head}{body}</table>"
