"""Does bfloat16 give the numbers of float32? (issue 12, item 5)

Reads pairs of results folders written by ``llm-mia bench`` (the same suite, model and
detectors; one run in float32, one with ``--dtype bfloat16``) and, for every split and
detector, compares the per-document scores of the documents both scored: the largest and the
median absolute difference, Spearman's correlation (target >= 0.999) and the AUROC of each
(target: they differ by at most 0.002). No model is run.

    python benchmarks/dtype_agreement.py results/wikimia-smollm2-135m:out-wikimia-bf16 [...] [--update-readme]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from scipy import stats

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from llm_mia.evaluation import auroc  # noqa: E402
from llm_mia.io import read_score_file  # noqa: E402
from llm_mia.evaluation import markdown_table  # noqa: E402
from llm_mia.types import STATUS_OK  # noqa: E402
from readme_block import update_readme  # noqa: E402

SPEARMAN_TARGET, AUROC_TARGET = 0.999, 0.002


def dtype_of(folder: Path) -> str:
    return str(json.loads((folder / "results.json").read_text())["provenance"]["scorer"]["dtype"])


def compare_split(full: Path, half: Path) -> list[dict]:
    """Per detector, float32 (``full``) against bfloat16 (``half``) on one split's score files."""
    a = {r.id: r for r in read_score_file(full) if r.status == STATUS_OK}
    b = {r.id: r for r in read_score_file(half) if r.status == STATUS_OK}
    ids = [i for i in a if i in b]
    rows = []
    for det in a[ids[0]].scores if ids else []:
        both = [i for i in ids if a[i].scores.get(det) is not None and b[i].scores.get(det) is not None]
        x = np.array([a[i].scores[det] for i in both], dtype=np.float64)
        z = np.array([b[i].scores[det] for i in both], dtype=np.float64)
        y = np.array([a[i].label for i in both])
        diff = np.abs(x - z)
        labelled = y.size > 0 and None not in y.tolist() and 0 < int(np.sum(y == 1)) < y.size
        auc_full, auc_half = (auroc(y, x), auroc(y, z)) if labelled else (None, None)
        rows.append(
            {
                "split": full.stem,
                "detector": det,
                "documents": len(both),
                "max_abs_diff": float(diff.max()) if both else None,
                "median_abs_diff": float(np.median(diff)) if both else None,
                "spearman": float(stats.spearmanr(x, z).statistic) if len(both) > 2 else None,
                "auroc_float32": auc_full,
                "auroc_bfloat16": auc_half,
                "auroc_diff": None if auc_full is None or auc_half is None else auc_half - auc_full,
            }
        )
    return rows


def compare(full: Path, half: Path) -> list[dict]:
    if dtype_of(full) != "float32" or dtype_of(half) != "bfloat16":
        raise SystemExit(f"{full} must be a float32 run and {half} a bfloat16 run (results.json says {dtype_of(full)} and {dtype_of(half)})")
    rows = []
    for f in sorted((full / "scores").glob("*.jsonl")):
        if (half / "scores" / f.name).exists():
            rows += compare_split(f, half / "scores" / f.name)
    return rows


def meets(r: dict) -> bool:
    """Both targets hold for one split and detector (an AUROC that cannot be computed is not held against it)."""
    return r["spearman"] is not None and r["spearman"] >= SPEARMAN_TARGET and (r["auroc_diff"] is None or abs(r["auroc_diff"]) <= AUROC_TARGET)


def summary(rows: list[dict]) -> str:
    """One line: how many detector-split pairs meet both targets, and the ranges seen."""
    rows = [r for r in rows if r["documents"]]
    rho = [r["spearman"] for r in rows if r["spearman"] is not None]
    diffs = [abs(r["auroc_diff"]) for r in rows if r["auroc_diff"] is not None]
    return (
        f"Both targets met by **{sum(meets(r) for r in rows)} of {len(rows)}** detector-split pairs; Spearman {min(rho):.3f} to "
        f"{max(rho):.5f}, |AUROC difference| up to {max(diffs):.3f}."
    )


def table(rows: list[dict]) -> str:
    def ok(r: dict) -> str:
        return "yes" if meets(r) else "**no**"

    head = ["split", "detector", "documents", "max abs. diff.", "median abs. diff.", "Spearman", "AUROC float32", "AUROC bfloat16", "targets met"]
    folders: dict[str, set[str]] = {}
    for r in rows:
        folders.setdefault(r["split"], set()).add(r["float32"])

    def label(r: dict) -> str:
        """The split, with its run's folder where two runs have a split of that name."""
        return r["split"] if len(folders[r["split"]]) == 1 else f"{r['split']} ({Path(r['float32']).name})"

    body = [
        [
            label(r),
            r["detector"],
            str(r["documents"]),
            f"{r['max_abs_diff']:.2e}",
            f"{r['median_abs_diff']:.2e}",
            f"{r['spearman']:.5f}",
            "n/a" if r["auroc_float32"] is None else f"{r['auroc_float32']:.4f}",
            "n/a" if r["auroc_bfloat16"] is None else f"{r['auroc_bfloat16']:.4f}",
            ok(r),
        ]
        for r in rows
        if r["documents"]
    ]
    return markdown_table(head, body)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("pairs", nargs="+", help="FLOAT32_FOLDER:BFLOAT16_FOLDER, results folders of llm-mia bench")
    ap.add_argument("--out", default=str(HERE / "results" / "dtype-agreement.json"))
    ap.add_argument("--update-readme", action="store_true")
    args = ap.parse_args()
    rows = []
    for pair in args.pairs:
        full, _, half = pair.partition(":")
        rows += [{"float32": full, "bfloat16": half, **r} for r in compare(Path(full), Path(half))]
    command = "python benchmarks/dtype_agreement.py " + " ".join(args.pairs)
    Path(args.out).write_text(json.dumps({"command": command, "rows": rows}, indent=2) + "\n")
    md = table(rows)
    print(md + "\n" + summary(rows))
    if args.update_readme:
        update_readme(
            "dtype",
            f"`{command}`; targets: Spearman >= {SPEARMAN_TARGET}, |AUROC difference| <= {AUROC_TARGET}:",
            md + "\n" + summary(rows) + "\n",
            section="## bfloat16 against float32: `dtype_agreement.py`\n\nThe same bench run in float32 and with `--dtype bfloat16`, "
            "per split and detector: how far the per-document scores move, and whether the ranking and the AUROC hold.",
        )


if __name__ == "__main__":
    main()
