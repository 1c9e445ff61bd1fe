"""Reports of a marks test: a terminal summary, JSON, and a self-contained HTML page (nothing
loaded from the network, every text escaped)."""

from __future__ import annotations

import html
import json
from dataclasses import asdict
from typing import Any

import numpy as np

from ..evaluation import histogram_svg, p_value
from ..strings import printable
from .exact import MarkTest
from .manifest import Manifest

WHY_EXACT = (
    "Which marks were published was drawn at random from the manifest's secret seed. If the model never trained on text "
    "carrying them, a published mark is no more familiar to it than a secret one, every choice of published marks was "
    "as likely as the one made, and the p-value (the share of choices that would look at least as familiar) is exact, "
    "whatever the model and the text around the marks."
)
WHAT_IT_DOES_NOT_SHOW = (
    "A p-value that is not small does not show that the text was not trained on: marks never published, published "
    "where no crawler read them, or seen too few times by the model leave nothing to find. A small p-value shows that "
    "the model (or the data it was trained on) saw the published marks; marks copied elsewhere count too."
)
_PUBLISHED, _SECRET = "#c0392b", "#2471a3"
STATISTIC_WORDS = {
    "loss": "minus the mean token loss of the mark alone",
    "ref": "the reference model's mean token loss minus the model's",
}


def verdict(result: MarkTest) -> str:
    p = p_value(result.p_value)
    how = "exact by design" if result.method == "enumeration" else "valid by design, from random choices"
    if result.significant:
        return (
            f"MARKS FOUND at alpha = {result.alpha:g}: the {result.n_published} published marks are more familiar to the model than "
            f"the {result.n_secret} secret ones (p = {p}, {how}): the model saw text that carried them."
        )
    return (
        f"NO EVIDENCE at alpha = {result.alpha:g}: the published marks are not more familiar to the model than the secret ones "
        f"(p = {p}). This does not show that the text was not trained on."
    )


def mark_summary(result: MarkTest, manifest: Manifest, source: str = "the manifest") -> str:
    """The terminal summary."""
    how = (
        f"every one of the {result.n_subsets:,} equally likely choices counted (exact)"
        if result.method == "enumeration"
        else f"{result.n_subsets:,} random choices, p = (1 + hits) / (1 + draws), the smallest possible {result.min_p:.2g}"
    )
    left_out = [s for s in result.scores if s.score is None]
    lines = [
        f"llm-mia marks test: {source} ({manifest.design}, {len(manifest.published)} published of {len(manifest.marks)} marks, "
        f"about {manifest.length} tokens each), model {result.provenance.get('model_spec', '?')}",
        "",
        verdict(result),
        f"  statistic     mean score of the published marks {result.published_mean:.4f} against the secret ones {result.secret_mean:.4f} "
        f"(difference {result.effect:+.4f}; score: {STATISTIC_WORDS[result.statistic]}, higher = more familiar)",
        f"  p-value       {p_value(result.p_value)}: permutation over the random choice of published marks ({how})",
        f"  ranks         a published mark scores above {100 * result.mean_rank:.1f}% of the secret marks on average (50% = no difference)",
    ]
    if left_out:
        lines.append(f"  left out      {len(left_out)} mark(s) the model could not score (e.g. mark {left_out[0].index}: {left_out[0].reason})")
    lines += ["", "Why the p-value is exact:", f"  {WHY_EXACT}", "What it does not show:", f"  {WHAT_IT_DOES_NOT_SHOW}"]
    return "\n".join(lines)


def mark_json(result: MarkTest, manifest: Manifest) -> dict[str, Any]:
    return {
        "verdict": verdict(result),
        "significant": result.significant,
        "p_value": result.p_value,
        "method": result.method,
        "subsets": result.n_subsets,
        "statistic": result.statistic,
        "published_mean": result.published_mean,
        "secret_mean": result.secret_mean,
        "mean_rank": result.mean_rank,
        "ranks": result.ranks,
        "alpha": result.alpha,
        "manifest": {
            "design": manifest.design,
            "marks": len(manifest.marks),
            "published": len(manifest.published),
            "length": manifest.length,
            "commitment": manifest.commitment,
        },
        "scores": [asdict(s) for s in result.scores],
        "why_exact": WHY_EXACT,
        "what_it_does_not_show": WHAT_IT_DOES_NOT_SHOW,
        "provenance": result.provenance,
    }


def mark_html(result: MarkTest, manifest: Manifest) -> str:
    """The report page: the verdict, the numbers, the two score distributions, what it shows."""
    e = html.escape
    pub = np.array([s.score for s in result.scores if s.published and s.score is not None], dtype=float)
    sec = np.array([s.score for s in result.scores if not s.published and s.score is not None], dtype=float)
    cls = "sig" if result.significant else "none"
    rows = [
        ("p-value", f"{p_value(result.p_value)} ({result.method}, {result.n_subsets:,} choices)"),
        ("published marks", f"{result.n_published}, mean score {result.published_mean:.4f}"),
        ("secret marks", f"{result.n_secret}, mean score {result.secret_mean:.4f}"),
        ("mean rank", f"a published mark scores above {100 * result.mean_rank:.1f}% of the secret ones (50% = no difference)"),
        ("score", STATISTIC_WORDS[result.statistic]),
        ("design", f"{manifest.design}, about {manifest.length} tokens per mark"),
        ("commitment", manifest.commitment),
    ]
    return "\n".join(
        [
            "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
            "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">",
            "<title>llm-mia marks test</title><style>body{font:15px/1.5 system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em}"
            ".verdict{padding:.8em 1em;border-radius:6px;font-weight:600;border:1px solid}.sig{background:#fdecea;border-color:#e0a09a}"
            ".none{background:#f3f3f3;border-color:#bbb}td,th{padding:.2em .7em;border-bottom:1px solid #eee;text-align:left}"
            "pre{background:#f6f6f6;padding:.8em;overflow-x:auto;font-size:12px}</style></head><body>",
            f"<h1>Did <code>{e(printable(result.provenance.get('model_spec', '')))}</code> see the published marks?</h1>",
            f"<div class='verdict {cls}'>{e(verdict(result))}</div>",
            "<h2>Numbers</h2><table>" + "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rows) + "</table>",
            "<h2>Scores of published and secret marks</h2>",
            f"<p><span style='color:{_PUBLISHED}'>&#9632;</span> published <span style='color:{_SECRET}'>&#9632;</span> secret</p>",
            histogram_svg([(pub, _PUBLISHED), (sec, _SECRET)], "mark scores", width=480, height=220),
            f"<h2>Why the p-value is exact</h2><p>{e(WHY_EXACT)}</p>",
            f"<h2>What it does not show</h2><p>{e(WHAT_IT_DOES_NOT_SHOW)}</p>",
            f"<h2>Provenance</h2><pre>{e(json.dumps(result.provenance, indent=2, default=str))}</pre>",
            "<p>Made by llm-mia. This page loads nothing from the network. It names no secret mark.</p></body></html>",
        ]
    )
