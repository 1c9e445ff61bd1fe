"""Is `llm-mia check` calibrated, and how much text does it need? Measured on score files.

Runs the collection test and the per-text tests of ``llm_mia.check.stat_tests`` on scores that
``llm-mia bench`` already wrote under ``benchmarks/results/`` (no model is run here):

- negative control: suspect and reference drawn at random, disjoint, from one pool of
  non-members; the share of p < 0.05 must stay at or below 5% (Clopper-Pearson 95% CI);
- positive control: on the controlled split (a model trained on known members), n members
  against the held-out non-members: how the p-value falls with n;
- BookTection, per book: each book's passages against the passages of the 2023 books
  (leaving the book itself out), with the caveat that those labels are presumed and made
  for other models.

    python benchmarks/check_validity.py            # writes results/check-validity.json and CHECK_VALIDITY.md
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy import stats

from llm_mia.check import DEFAULT_PERMUTATIONS, DEFAULT_SPLITS, MIN_PER_SIDE, collection_test, document_tests
from llm_mia.evaluation import model_free_auroc
from llm_mia.check import unlike
from llm_mia.detectors import default_detector_names
from llm_mia.errors import LlmMiaError
from llm_mia.io import read_score_file
from llm_mia.bench import load_suite
from llm_mia.evaluation import markdown_table
from llm_mia.types import STATUS_OK, ScoreRecord

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
SIZES = (10, 20, 50, 100, 200)

NEGATIVE_POOLS = {  # name: (scores file, what the pool is)
    "controlled non-members, trained model": (
        "controlled-smollm2-135m/scores/controlled-x1.jsonl",
        "100 held-out book excerpts under the model trained on the members",
    ),
    "controlled (larger split) non-members, trained model": (
        "controlled-large-smollm2-135m/scores/controlled-x1.jsonl",
        "199 held-out book excerpts under the model trained on 200 members once",
    ),
    "gutenberg non-members, smollm2-135m": ("gutenberg-smollm2-135m/scores/gutenberg.jsonl", "book openings labelled non-member, base model"),
    "booktection 2023 passages, smollm2-135m": ("booktection-smollm2-135m/scores/booktection.jsonl", "passages of books published in 2023, base model"),
}
POSITIVE = {  # exposure: scores file (members and held-out non-members of the controlled split)
    "x1": "controlled-smollm2-135m/scores/controlled-x1.jsonl",
    "x4": "controlled-smollm2-135m/scores/controlled-x4.jsonl",
}
LARGE_POSITIVE = "controlled-large-smollm2-135m/scores/controlled-x1.jsonl"  # optional: more members, for n = 100, 200
BOOKTECTION = "booktection-smollm2-135m/scores/booktection.jsonl"


def matrix(records: list[ScoreRecord], names: list[str]) -> np.ndarray:
    rows = [[r.scores[n] for n in names] for r in records]
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(names))


def usable(records: list[ScoreRecord], wanted: list[str] | None = None) -> tuple[list[ScoreRecord], list[str]]:
    """Scored records with every detector's score, and the detector names: ``wanted`` (those
    of them the file has), or every detector of the file that scored every record."""
    ok = [r for r in records if r.status == STATUS_OK]
    names = [n for n in ok[0].scores if all(r.scores.get(n) is not None for r in ok)] if ok else []
    if wanted is not None:
        absent = [n for n in wanted if n not in names]
        if absent:
            raise SystemExit(f"detector(s) {', '.join(absent)} not scored for every text of the file (it has {', '.join(names)})")
        names = list(wanted)
    return ok, names


def share_ci(hits: int, n: int) -> dict[str, float]:
    ci = stats.binomtest(hits, n).proportion_ci(0.95)
    return {"share": hits / n, "ci_low": float(ci.low), "ci_high": float(ci.high), "hits": hits, "n": n}


def negative_control(
    pool: list[ScoreRecord], names: list[str], n_s: int, n_r: int, repeats: int, splits: int, permutations: int, rng: np.random.Generator
) -> dict:
    x = matrix(pool, names)
    coll, docs, docs_n = 0, 0, 0
    for i in range(repeats):
        order = rng.permutation(len(pool))
        s, r = order[:n_s], order[n_s : n_s + n_r]
        coll += collection_test(x[s], x[r], names, n_splits=splits, n_permutations=permutations, seed=i).p_value < 0.05
        tests = document_tests([(str(j), dict(zip(names, x[j]))) for j in s], {n: x[r, k].tolist() for k, n in enumerate(names)})
        docs += sum(t.p_value < 0.05 for t in tests)
        docs_n += len(tests)
    smallest = min(1.0, len(names) / (n_r + 1))  # per-text p after Holm cannot go below this
    return {
        "n_suspect": n_s,
        "n_reference": n_r,
        "repeats": repeats,
        "collection_p_below_0.05": share_ci(int(coll), repeats),
        "per_text_p_below_0.05": share_ci(int(docs), docs_n) if smallest <= 0.05 else None,
        "per_text_smallest_p": smallest,
    }


def positive_control(
    records: list[ScoreRecord], names: list[str], sizes: list[int], repeats: int, rng: np.random.Generator, fraction: float = 1.0
) -> list[dict]:
    """n suspect texts against the held-out non-members. With ``fraction`` < 1 (a collection of
    which only part was trained on), the suspect texts are that share of members and the rest
    non-members from one half of the non-members; the other half is the reference."""
    members = matrix([r for r in records if r.label == 1], names)
    non = matrix([r for r in records if r.label == 0], names)
    if fraction < 1.0:
        order = rng.permutation(len(non))
        filler, reference = non[order[: len(non) // 2]], non[order[len(non) // 2 :]]
    else:
        filler, reference = non[:0], non
    out = []
    for n in sizes:
        k = round(fraction * n)
        if k > len(members) or n - k > len(filler):
            continue
        tests = []
        for i in range(repeats):
            suspect = np.vstack([members[rng.permutation(len(members))[:k]], filler[rng.permutation(len(filler))[: n - k]]])
            tests.append(collection_test(suspect, reference, names, seed=i))
        p = np.array([t.p_value for t in tests])
        out.append(
            {
                "n_excerpts": n,
                "members": k,
                "n_reference": len(reference),
                "repeats": repeats,
                "median_p": float(np.median(p)),
                "median_z": float(np.median([t.z for t in tests])),
                "median_effect": float(np.median([t.effect for t in tests])),
                "p90": float(np.percentile(p, 90)),
                "share_p_below_0.05": float(np.mean(p < 0.05)),
                "share_p_below_0.01": float(np.mean(p < 0.01)),
                "p_values": p.tolist(),
                "z": [t.z for t in tests],
            }
        )
    return out


def positive_part(
    wanted: list[str] | None, repeats: int, rng: np.random.Generator, missing: list[str], files: dict[str, str] = POSITIVE
) -> dict[str, list[dict]]:
    """The positive control on every controlled score file there is, by setting."""
    out: dict[str, list[dict]] = {}
    for exposure, rel in files.items():
        path = RESULTS / rel
        if not path.exists():
            missing.append(str(rel))
            continue
        recs, names = usable(read_score_file(path), wanted)
        out[exposure] = positive_control(recs, names, list(SIZES), repeats, rng)
    large = RESULTS / LARGE_POSITIVE
    if large.exists():
        recs, names = usable(read_score_file(large), wanted)
        for fraction in (1.0, 0.5, 0.2):
            label = "x1, larger split" + ("" if fraction == 1.0 else f", {fraction:.0%} of the suspect texts members")
            out[label] = positive_control(recs, names, list(SIZES), repeats, rng, fraction)
    else:
        missing.append(f"{LARGE_POSITIVE} (positive control at 100 and 200 excerpts)")
    return out


DROP_FILES = {
    **POSITIVE,
    "gemma3-270m x1": "controlled-gemma3-270m/scores/controlled-x1.jsonl",
    "gemma3-270m x4": "controlled-gemma3-270m/scores/controlled-x4.jsonl",
}
"""The controlled splits on which each default detector's share of the check's power is measured."""


def drop_part(kept: list[str], dropped: list[str], repeats: int, seed: int, missing: list[str]) -> dict:
    """Power of the collection test with the detectors ``kept`` and with each of ``dropped``
    left out of them, on the same draws of every controlled split (:func:`positive_part`):
    does a detector add power to the others?"""

    def draws() -> np.random.Generator:  # the same draws for every detector set
        return np.random.default_rng([seed, PARTS.index("drop")])

    out = {"kept": kept, "all": positive_part(kept, repeats, draws(), missing, DROP_FILES), "without": {}}
    for name in dropped:
        out["without"][name] = positive_part([n for n in kept if n != name], repeats, draws(), [], DROP_FILES)
    return out


def per_book(records: list[ScoreRecord], names: list[str], texts: dict[str, str] | None) -> list[dict]:
    """Each book's passages against the passages of the other 2023 books, with the model-free
    check of ``llm-mia check`` when the passages' texts are available."""
    books: dict[str, list[ScoreRecord]] = defaultdict(list)
    for r in records:
        books[r.id.rsplit("#", 1)[0]].append(r)
    out = []
    for book, recs in sorted(books.items()):
        label = recs[0].label
        ref = [r for b, rs in books.items() if b != book and rs[0].label == 0 for r in rs]
        row = {
            "book": book,
            "label": label,
            "n_passages": len(recs),
            "n_reference": len(ref),
            "p_value": None,
            "effect": None,
            "model_free": None,
            "warned": None,
        }
        if len(recs) >= MIN_PER_SIDE:
            res = collection_test(matrix(recs, names), matrix(ref, names), names, seed=0)
            row.update(p_value=res.p_value, effect=res.effect)
            if texts is not None:
                free = model_free_auroc([texts[r.id] for r in recs + ref], [1] * len(recs) + [0] * len(ref), n_bootstrap=200)
                row.update(model_free=free.auroc, warned=unlike(free))
        out.append(row)
    return out


def booktection_texts() -> dict[str, str] | None:
    """Passage texts by id from the BookTection files ($LLM_MIA_DATA), or None when absent."""
    try:
        _, (split,) = load_suite("booktection", None)
    except LlmMiaError:
        return None
    return {d.id: d.text or "" for d in split.documents}


def render(result: dict) -> str:
    lines = [
        "# `llm-mia check`: negative and positive controls",
        "",
        "Generated from the score files under `benchmarks/results/` by the commands below; do not edit.",
        "",
        *[f"- {part}: `{cmd}`" for part, cmd in result["commands"].items()],
        "",
        "Detectors: "
        + "; ".join(f"{part}: {d}" for part, d in result.get("detectors", {}).items())
        + f". Negative control: {result['splits']} splits and {result['permutations']} permutations per test "
        f"(p-values down to {1 / (result['permutations'] + 1):.3f}); positive control and books: the defaults of `llm-mia check` "
        f"({DEFAULT_SPLITS} splits, {DEFAULT_PERMUTATIONS} permutations: p-values down to {1 / (DEFAULT_PERMUTATIONS + 1):.3f}).",
        "",
    ]
    lines += [
        "## Negative control: suspect and reference from the same non-member pool",
        "",
        "Suspect and reference texts drawn at random, without overlap, from one pool: the null hypothesis holds by",
        "construction, so the share of p < 0.05 must stay at or below 5% (95% Clopper-Pearson intervals). This checks",
        "the test's level, not its robustness to a reference of another kind: that is what the model-free line of",
        "every report is for. The per-text column pools all texts of all draws (they share references, so its interval",
        "is approximate); it is n/a where the reference is too small for any text to reach 0.05 after Holm.",
        "",
        "| pool | suspect / reference | repeats | collection test: p < 0.05 | per text (Holm): p < 0.05 |",
        "|---|---|---|---|---|",
    ]
    for name, rows in result.get("negative", {}).items():
        for row in rows:
            c, d = row["collection_p_below_0.05"], row["per_text_p_below_0.05"]
            per_text = (
                f"{100 * d['share']:.2f}% [{100 * d['ci_low']:.2f}, {100 * d['ci_high']:.2f}]" if d else f"n/a (smallest p {row['per_text_smallest_p']:.2f})"
            )
            lines.append(
                f"| {name} | {row['n_suspect']} / {row['n_reference']} | {row['repeats']} | "
                f"{100 * c['share']:.1f}% [{100 * c['ci_low']:.1f}, {100 * c['ci_high']:.1f}] | {per_text} |"
            )
    lines += [
        "",
        "## Positive control: members of the controlled split against its held-out non-members",
        "",
        "p-values stop at the permutation floor (0.001); the z-score (distance of the statistic from the permutation null, "
        "in standard deviations) and the effect (how often a member outscores a non-member on held-out halves) keep growing.",
        "",
        "| exposure | excerpts (members) | reference | repeats | median p | 90th pct p | p < 0.05 | p < 0.01 | median z | median effect |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for exposure, rows in result.get("positive", {}).items():
        for row in rows:
            lines.append(
                f"| {exposure} | {row['n_excerpts']} ({row['members']}) | {row['n_reference']} | {row['repeats']} | {row['median_p']:.2g} | {row['p90']:.2g} | "
                f"{100 * row['share_p_below_0.05']:.0f}% | {100 * row['share_p_below_0.01']:.0f}% | {row['median_z']:.1f} | {row['median_effect']:.2f} |"
            )
    if result.get("positive_baseline"):
        base = result["positive_baseline"]
        lines += [
            "",
            "### Did the other detectors add power?",
            "",
            f"The same draws with only {', '.join(base['detectors'])} (before: the baseline set; after: the detectors of the table above).",
            "",
            "| setting | excerpts (members) | p < 0.05 before | p < 0.05 after | median z before | median z after | median effect before | median effect after |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for setting, rows in result.get("positive", {}).items():
            for row, old in zip(rows, base["rows"].get(setting, [])):
                lines.append(
                    f"| {setting} | {row['n_excerpts']} ({row['members']}) | {100 * old['share_p_below_0.05']:.0f}% | {100 * row['share_p_below_0.05']:.0f}% | "
                    f"{old['median_z']:.1f} | {row['median_z']:.1f} | {old['median_effect']:.2f} | {row['median_effect']:.2f} |"
                )
    if result.get("drop"):
        lines += render_drop(result["drop"])
    if result.get("books"):
        books = result["books"]
        lines += [
            "",
            "## BookTection, per book (smollm2-135m)",
            "",
            "Labels are presumed (famous books before 2022 vs books of 2023) and made for other models; "
            "smollm2-135m was trained on 2024 data, so 2023 books may be members for it.",
            "",
            "Each book is tested against the passages of the other 2023 books. The model-free columns: the median AUROC of",
            "the bag-of-words classifier telling the book's passages from the reference passages, and for how many books",
            "`llm-mia check` would print its warning that the reference is unlike the suspect text (in the default guarded mode:",
            "no calibrated verdict).",
            "",
            "| books | count | p < 0.05 | p < 0.01 | median p | median model-free AUROC | model-free warning | guarded mode (default): p < 0.05 (no verdict) |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for label, name in ((1, "before 2022 (presumed members)"), (0, "2023 (presumed non-members; each against the other 2023 books)")):
            tested = [b for b in books if b["label"] == label and b["p_value"] is not None]
            p = np.array([b["p_value"] for b in tested])
            warned = [b["warned"] for b in tested if b.get("warned") is not None]
            free = [b["model_free"] for b in tested if b.get("model_free") is not None]
            if p.size:
                lines.append(
                    f"| {name} | {p.size} | {int((p < 0.05).sum())} | {int((p < 0.01).sum())} | {np.median(p):.2g} | "
                    + (
                        f"{np.median(free):.2f} | {sum(warned)} of {len(warned)} | "
                        f"{sum(b['p_value'] < 0.05 and not b['warned'] for b in tested)} ({sum(warned)}) |"
                        if len(warned) == p.size
                        else "n/a | n/a | n/a |"
                    )
                )
        short = [b["book"] for b in books if b["p_value"] is None]
        if short:
            lines.append(f"\nNot tested (fewer than {MIN_PER_SIDE} passages): {len(short)} book(s).")
    lines += render_shift(sorted(RESULTS.glob("shifted-nulls-*.json")))
    missing = [m for ms in result["missing"].values() for m in ms]
    if missing:
        lines += ["", "Not measured (score files absent): " + "; ".join(missing)]
    return "\n".join(lines) + "\n"


def render_drop(drop: dict) -> list[str]:
    """The section on whether each detector adds power to the others (:func:`drop_part`)."""
    kept = drop["kept"]
    lines = []
    for name, rows_without in drop["without"].items():
        table = []
        lower = higher = hits_with = hits_without = draws = 0
        for setting, rows in drop["all"].items():
            for row, other in zip(rows, rows_without.get(setting, [])):
                pairs = list(zip(row["p_values"], other["p_values"]))
                down, up = sum(b < a for a, b in pairs), sum(b > a for a, b in pairs)
                lower, higher = lower + down, higher + up
                hits_with += sum(a < 0.05 for a, _ in pairs)
                hits_without += sum(b < 0.05 for _, b in pairs)
                draws += len(pairs)
                table.append(
                    [
                        setting,
                        f"{row['n_excerpts']} ({row['members']})",
                        f"{100 * row['share_p_below_0.05']:.0f}%",
                        f"{100 * other['share_p_below_0.05']:.0f}%",
                        f"{row['median_z']:.2f}",
                        f"{other['median_z']:.2f}",
                        f"{down} / {up} / {len(pairs) - down - up}",
                    ]
                )
        lines += [
            "",
            f"### Does {name} add power to the other default detectors?",
            "",
            f"The collection test with {', '.join(kept)}, and on the same draws without {name}. Last column: draws in which the",
            f"p-value without {name} is lower / higher / the same. Over every row ({draws} paired draws): p < 0.05 in {hits_with} with {name},",
            f"{hits_without} without; the p-value without {name} lower in {lower}, higher in {higher}.",
            "",
            markdown_table(
                [
                    "setting",
                    "excerpts (members)",
                    "p < 0.05 with",
                    f"p < 0.05 without {name}",
                    "median z with",
                    f"median z without {name}",
                    "p without: lower / higher / same",
                ],
                table,
            ),
        ]
    return lines


def _cell(row: dict) -> str:
    """``hits/draws`` with the draws that got no answer, e.g. ``0/40 (no answer 38)``."""
    return f"{row['hits']}/{row['n']}" + (f" (no answer {row['no_answer']})" if row["no_answer"] else "")


def render_shift(paths: list[Path]) -> list[str]:
    """The section on the check's modes under shift, from ``shifted_nulls.py``'s result files."""
    runs = [json.loads(p.read_text()) for p in paths]
    runs = sorted((r for r in runs if r.get("rows")), key=_per_side)
    if not runs:
        return []
    modes = list(dict.fromkeys(row["mode"] for r in runs for row in r["rows"]))

    def by_mode(cells: dict[str, dict]) -> list[str]:
        return [_cell(cells[m]) if m in cells else "n/a" for m in modes]

    rows: list[list[str]] = []
    pooled: dict[str, list[int]] = {m: [0, 0] for m in modes}
    worst: dict[str, tuple[int, int]] = {}
    for r in runs:
        pairs: dict[str, dict[str, dict]] = {}
        for row in r["rows"]:
            pairs.setdefault(row["pair"], {})[row["mode"]] = row
        for pair, cells in pairs.items():
            shift = next(iter(cells.values()))["shift"]
            rows.append([pair, shift, str(_per_side(r)), *by_mode(cells)])
            if shift != "i.i.d.":
                for m, row in cells.items():
                    pooled[m][0] += row["hits"]
                    pooled[m][1] += row["n"]
                    worst[m] = max(worst.get(m, (0, row["n"])), (row["hits"], row["n"]), key=lambda hn: hn[0] / hn[1])
    totals = []
    for m, (hits, n) in pooled.items():
        if n:
            c = share_ci(hits, n)
            totals.append([m, f"{hits}/{n}", f"{100 * c['share']:.1f}% [{100 * c['ci_low']:.1f}, {100 * c['ci_high']:.1f}]", f"{worst[m][0]}/{worst[m][1]}"])
    lines = [
        "",
        "## The check's modes on shifted nulls (texts no model has seen, of different kinds)",
        "",
        "Every text is this project's own, written in 2026 after the embedded models were trained: none is a member, so",
        "every p < 0.05 is a false positive. Each cell: draws with p < 0.05 / draws, and the draws in which the mode gave no",
        "calibrated answer (the guarded mode when the model-free check tells the sets apart, the stratified one when too",
        "few texts share a stratum). `guarded` is `llm-mia check`'s default; the reference contrast needs a second model",
        "(here gemma3-270m) and uses the `ref` detector alone. Commands:",
        "",
        *[f"- `{r['command']}` (commit `{r['commit'][:12]}`, {r['seconds']:.0f} s)" for r in runs],
        "",
        markdown_table(["pair (all non-members)", "shift", "per side", *modes], rows),
        "",
        "Over all shifted pairs and sizes (i.i.d. pairs excluded), the share of draws with p < 0.05 (95% Clopper-Pearson):",
        "",
        markdown_table(["mode", "p < 0.05", "share [95% CI]", "worst pair"], totals),
    ]
    power: dict[tuple, dict[str, dict]] = {}
    for row in (row for r in runs for row in r.get("power", [])):
        power.setdefault((row["setting"], row["n_suspect"], row["members"], row["n_reference"]), {})[row["mode"]] = row
    if power:
        lines += [
            "",
            "### Power on the controlled split",
            "",
            "Suspect texts drawn from the controlled split's members (all, half or a fifth of them; the rest held-out",
            "non-members) against other held-out non-members; draws with p < 0.05 / draws (no calibrated answer).",
            "",
            markdown_table(
                ["setting", "suspect texts (members)", "reference", *modes],
                [[setting, f"{n} ({k})", str(n_ref), *by_mode(cells)] for (setting, n, k, n_ref), cells in power.items()],
            ),
        ]
    return lines


def _per_side(run: dict) -> int:
    """Excerpts per side of a shifted-nulls run (its ``--n``, 20 by default)."""
    words = run["command"].split()
    return int(words[words.index("--n") + 1]) if "--n" in words else 20


PARTS = ("negative", "positive", "books", "drop")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=200, help="negative control: random draws per setting (default 200)")
    ap.add_argument("--splits", type=int, default=10, help="negative control: splits per test (default 10)")
    ap.add_argument("--permutations", type=int, default=199, help="negative control: permutations per test (default 199)")
    ap.add_argument("--positive-repeats", type=int, default=20, help="positive control: draws per size (default 20)")
    ap.add_argument("--parts", default=",".join(PARTS), help="which parts to (re)compute; the others are kept from the last results file")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--detectors", default=None, help="comma-separated detector keys the tests combine (default: every one in each score file)")
    ap.add_argument("--baseline-detectors", default=None, help="positive control: also with these detectors, side by side (did the other detectors add power?)")
    ap.add_argument(
        "--drop",
        default="lowercase",
        help="drop part: the detectors of the check's default set whose contribution is measured, each left out in turn (default lowercase)",
    )
    ap.add_argument(
        "--negative-pools",
        default=None,
        help="negative control: only the pools whose names start so (comma-separated: controlled, gutenberg, booktection); the others are kept from the last results file",
    )
    args = ap.parse_args()
    wanted = args.detectors.split(",") if args.detectors else None
    baseline = args.baseline_detectors.split(",") if args.baseline_detectors else None
    parts = [x for x in args.parts.split(",") if x]
    if any(x not in PARTS for x in parts):
        ap.error(f"--parts takes {', '.join(PARTS)}")
    out = RESULTS / "check-validity.json"
    result: dict = json.loads(out.read_text()) if out.exists() and set(parts) != set(PARTS) else {}
    result.setdefault("commands", {})
    result.setdefault("missing", {})
    command = "python benchmarks/check_validity.py" + "".join(f" {a}" for a in sys.argv[1:])
    for part in parts:
        rng = np.random.default_rng([args.seed, PARTS.index(part)])  # a part's numbers do not depend on the others
        before = result["commands"].get(part)
        result["commands"][part] = f"{command} ({time.strftime('%Y-%m-%d')})"
        if part == "negative" and args.negative_pools and before:
            result["commands"][part] += f"; the other pools: {before.split('; the other pools: ')[-1]}"
        missing: list[str] = []
        result.setdefault("detectors", {})[part] = args.detectors or "every one in the score file"
        if part == "negative":
            starts = args.negative_pools.split(",") if args.negative_pools else [""]
            pools = [name for name in NEGATIVE_POOLS if any(name.startswith(k) for k in starts)]
            if not pools or any(not any(n.startswith(k) for n in NEGATIVE_POOLS) for k in starts):
                ap.error("--negative-pools takes the first words of pool names: controlled, gutenberg, booktection")
            kept = {k: v for k, v in result.get("negative", {}).items() if k not in pools}
            result["splits"], result["permutations"], result["negative"] = args.splits, args.permutations, {}
            for name, (rel, _) in NEGATIVE_POOLS.items():
                if name not in pools:
                    if name in kept:
                        result["negative"][name] = kept[name]
                    continue
                path = RESULTS / rel
                if not path.exists():
                    missing.append(str(rel))
                    continue
                pool, names = usable([r for r in read_score_file(path) if r.label == 0], wanted)
                sizes = [(n_s, n_r) for n_s, n_r in ((10, 10), (20, 50), (50, 100), (20, 200), (100, 200)) if n_s + n_r <= len(pool)]
                result["negative"][name] = [negative_control(pool, names, n_s, n_r, args.repeats, args.splits, args.permutations, rng) for n_s, n_r in sizes]
                print(f"negative control done: {name} ({len(pool)} texts)", file=sys.stderr)
        elif part == "drop":
            kept = default_detector_names()  # score's and bench's default set (the check's before issue 22)
            result["drop"] = drop_part(kept, [d for d in args.drop.split(",") if d], args.positive_repeats, args.seed, missing)
            result["detectors"][part] = f"the default set ({', '.join(kept)}), and without each of {args.drop}"
        elif part == "positive":
            result["positive"] = positive_part(wanted, args.positive_repeats, rng, missing)
            result.pop("positive_baseline", None)
            if baseline is not None:
                rng = np.random.default_rng([args.seed, PARTS.index(part)])  # the same draws as above
                result["positive_baseline"] = {"detectors": baseline, "rows": positive_part(baseline, args.positive_repeats, rng, [])}
        else:
            result["books"] = []
            if (RESULTS / BOOKTECTION).exists():
                recs, names = usable(read_score_file(RESULTS / BOOKTECTION))
                texts = booktection_texts()
                if texts is None:
                    missing.append("BookTection texts ($LLM_MIA_DATA) for the model-free check per book")
                result["books"] = per_book(recs, names, texts)
            else:
                missing.append(BOOKTECTION)
        result["missing"][part] = missing
    out.write_text(json.dumps(result, indent=2))
    (HERE / "CHECK_VALIDITY.md").write_text(render(result))
    print(render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
