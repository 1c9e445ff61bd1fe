"""Does a detector improve on the best current ones? Paired bootstrap differences (issue 11).

For each controlled split under ``benchmarks/results/`` (score files written by
``llm-mia bench controlled``) and each detector, the difference to each baseline detector
(default ``ref`` and ``min_k_pp``) in AUROC and in TPR at 1% FPR, with a 95% percentile
interval from a stratified bootstrap that resamples the documents once for both detectors
(paired: the interval is that of the difference, not two overlapping intervals). Only
documents that both detectors scored count. No model is run.

    python benchmarks/detector_comparison.py    # writes results/detector-comparison.json and DETECTOR_COMPARISON.md
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from llm_mia.evaluation import auroc_stat, tpr_stat  # noqa: E402
from llm_mia.io import read_score_file  # noqa: E402
from llm_mia.evaluation import markdown_table  # noqa: E402
from llm_mia.types import STATUS_OK  # noqa: E402

RUNS = ("controlled-smollm2-135m", "controlled-large-smollm2-135m", "controlled-gemma3-270m")


def paired(y: np.ndarray, a: np.ndarray, b: np.ndarray, n_boot: int, seed: int) -> dict:
    """Statistics of a, of b, and of a - b (AUROC and TPR at 1% FPR), with paired bootstrap CIs."""
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    ip = pos[rng.integers(0, pos.size, size=(n_boot, pos.size))]
    ineg = neg[rng.integers(0, neg.size, size=(n_boot, neg.size))]
    out = {}
    for name, fn in (("auroc", lambda p, n: auroc_stat(p, n)), ("tpr@1%", lambda p, n: tpr_stat(p, n, 0.01))):
        point = [float(fn(s[pos], s[neg])) for s in (a, b)]
        boot = fn(a[ip], a[ineg]) - fn(b[ip], b[ineg])
        lo, hi = np.percentile(boot, [2.5, 97.5])
        out[name] = {"detector": point[0], "baseline": point[1], "diff": point[0] - point[1], "ci": [float(lo), float(hi)]}
    return out


def compare_file(path: Path, baselines: list[str], n_boot: int, seed: int) -> list[dict]:
    records = [r for r in read_score_file(path) if r.status == STATUS_OK and r.label is not None]
    names = list(records[0].scores) if records else []
    rows = []
    for base in baselines:
        if base not in names:
            continue
        for det in names:
            if det == base:
                continue
            both = [r for r in records if r.scores.get(det) is not None and r.scores.get(base) is not None]
            y = np.array([r.label for r in both])
            a = np.array([r.scores[det] for r in both], dtype=np.float64)
            b = np.array([r.scores[base] for r in both], dtype=np.float64)
            rows.append({"detector": det, "baseline": base, "members": int(y.sum()), "non_members": int((y == 0).sum()), **paired(y, a, b, n_boot, seed)})
    return rows


def cell(stat: dict, percent: bool) -> str:
    scale, unit = (100, " pt") if percent else (1, "")
    lo, hi = (scale * x for x in stat["ci"])
    sig = " (better)" if lo > 0 else " (worse)" if hi < 0 else ""
    return f"{scale * stat['diff']:+.3g}{unit} [{lo:+.3g}, {hi:+.3g}]{sig}"


def verdict(stat: dict) -> str:
    lo, hi = stat["ci"]
    return "better" if lo > 0 else "worse" if hi < 0 else "level"


def summary(result: dict) -> list[str]:
    """Per detector and baseline, over every run and split: how often the interval of the
    difference lies above 0 (better), below 0 (worse) or covers it (level)."""
    counts: dict[tuple[str, str], dict[str, dict[str, int]]] = {}
    for splits in result["runs"].values():
        for comparisons in splits.values():
            for c in comparisons:
                name = re.sub(r"table=[^:]*", "table=<the model's table>", c["detector"])  # one row per detector across models
                entry = counts.setdefault((name, c["baseline"]), {m: {"better": 0, "level": 0, "worse": 0} for m in ("auroc", "tpr@1%")})
                for m in entry:
                    entry[m][verdict(c[m])] += 1
    fmt = lambda d: f"{d['better']} / {d['level']} / {d['worse']}"  # noqa: E731
    rows = [[det, base, fmt(v["auroc"]), fmt(v["tpr@1%"])] for (det, base), v in sorted(counts.items(), key=lambda kv: (kv[0][1], kv[0][0]))]
    n = sum(len(splits) for splits in result["runs"].values())
    return [
        "## Summary",
        "",
        f"Over the {n} controlled splits below (runs x exposures): how many times each detector is better / level / worse than the baseline "
        "(the 95% interval of the difference above 0, covering 0, below 0).",
        "",
        markdown_table(["detector", "baseline", "AUROC: better / level / worse", "TPR@1%FPR: better / level / worse"], rows),
        "",
    ]


def render(result: dict) -> str:
    lines = [
        "# Detectors against the best current ones, on the controlled splits",
        "",
        f"Generated by `{result['command']}` from the score files under `benchmarks/results/`; do not edit.",
        f"Difference = detector - baseline on the same documents; 95% paired stratified bootstrap ({result['bootstrap']} resamples, seed {result['seed']}).",
        "'(better)' / '(worse)': the interval excludes 0. TPR at 1% FPR with fewer than 100 non-members is the TPR at FPR 0.",
        "",
    ]
    lines += summary(result)
    head = ["split", "detector", "baseline", "AUROC", "AUROC difference [95% CI]", "TPR@1%FPR", "TPR difference [95% CI]"]
    for run, splits in result["runs"].items():
        lines += [f"## {run}", ""]
        rows = []
        for split, comparisons in splits.items():
            for c in comparisons:
                rows.append(
                    [
                        split,
                        c["detector"],
                        c["baseline"],
                        f"{c['auroc']['detector']:.3f} vs {c['auroc']['baseline']:.3f}",
                        cell(c["auroc"], False),
                        f"{100 * c['tpr@1%']['detector']:.1f}% vs {100 * c['tpr@1%']['baseline']:.1f}%",
                        cell(c["tpr@1%"], True),
                    ]
                )
        lines += [markdown_table(head, rows), ""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--baselines", default="ref,min_k_pp")
    ap.add_argument("--bootstrap", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    result: dict = {
        "command": "python benchmarks/detector_comparison.py" + "".join(f" {a}" for a in sys.argv[1:]),
        "bootstrap": args.bootstrap,
        "seed": args.seed,
        "runs": {},
    }
    for run in RUNS:
        for path in sorted((HERE / "results" / run / "scores").glob("*.jsonl")):
            result["runs"].setdefault(run, {})[path.stem] = compare_file(path, args.baselines.split(","), args.bootstrap, args.seed)
    (HERE / "results" / "detector-comparison.json").write_text(json.dumps(result, indent=2) + "\n")
    md = render(result)
    (HERE / "DETECTOR_COMPARISON.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
