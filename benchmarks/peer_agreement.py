"""Per-document agreement with a peer implementation of the same detector (issue 11).

Reads the per-document scores that ``../shared/tools/peers/`` wrote for a peer (its raw
scores, in its own sign convention), scores the same documents with llm-mia on the same
embedded model and the same setting, and prints how closely the two agree. Nothing of the
peer's code is used here; only its output file.

Compared so far:
- ``recall``: mimir's ReCaLL (1 shot; the prefix is the first non-member row of the scored
  rows, as mimir's run.py does). llm-mia scores with ``recall:shots=1:prefix_file=<that
  text>``; the prefix row itself is held out by llm-mia (mimir scores it with itself as
  prefix), so it is not compared. llm-mia computes NLL(x | P) / NLL(x). mimir divides its
  conditional log-likelihood (-NLL(x | P)) by its ``get_ll``, which returns the mean loss
  (+NLL(x)), so its raw value is -NLL(x | P) / NLL(x), and its convention is "lower = member":
  the same ordering as llm-mia's "higher = member". The values are compared as llm-mia's
  against minus mimir's, the AUROCs as each tool orients its scores.

Usage (after running the peer, see ../shared/tools/peers/README.md):
    python benchmarks/peer_agreement.py --peer-file $PEERS_ROOT/out/mimir.jsonl --update-readme
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
from scipy import stats

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from llm_mia.metrics import auroc  # noqa: E402
from llm_mia.pipeline import open_run  # noqa: E402
from llm_mia.tables import markdown_table  # noqa: E402
from llm_mia.types import Document  # noqa: E402
from readme_block import update_readme  # noqa: E402

PEER_KEYS = {"recall": "recall"}  # llm-mia detector -> the peer's key


def compare_recall(rows: list[dict], model: str) -> dict:
    prefix_row = next(r for r in rows if r["label"] == 0)
    with tempfile.TemporaryDirectory() as tmp:
        prefix = Path(tmp) / "prefix.jsonl"
        prefix.write_text(json.dumps({"text": prefix_row["input"]}) + "\n")
        run = open_run(model, detectors=[f"recall:shots=1:prefix_file={prefix}"], use_cache=False)
        docs = [Document(str(r["idx"]), r["input"], r["label"]) for r in rows]
        records = run.score(docs).records
    ours, theirs, labels = [], [], []
    for r, rec in zip(rows, records):
        value = next(iter(rec.scores.values()))
        peer = r["scores"].get(PEER_KEYS["recall"])
        if value is None or peer is None:
            continue
        ours.append(value)
        theirs.append(peer)
        labels.append(r["label"])
    a, b, y = np.asarray(ours), -np.asarray(theirs), np.asarray(labels)  # mimir's raw value is minus the ratio
    rel = np.abs(a - b) / np.abs(b)
    return {
        "detector": "recall (1 shot)",
        "peer": "mimir ReCaLL",
        "documents": int(a.size),
        "left_out": [str(prefix_row["idx"])],
        "max_rel_diff": float(rel.max()),
        "median_rel_diff": float(np.median(rel)),
        "spearman": float(stats.spearmanr(a, b).statistic),
        "auroc_llm_mia": auroc(y, a),
        "auroc_peer_as_peer_orients": auroc(y, b),  # mimir: lower raw value = member
    }


def table(results: list[dict], command: str) -> str:
    head = [
        "detector",
        "peer",
        "documents compared",
        "max rel. difference (vs minus the peer's raw value)",
        "median rel. difference",
        "Spearman",
        "AUROC llm-mia",
        "AUROC peer (its orientation)",
    ]
    rows = [
        [
            r["detector"],
            r["peer"],
            str(r["documents"]),
            f"{r['max_rel_diff']:.1e}",
            f"{r['median_rel_diff']:.1e}",
            f"{r['spearman']:.6f}",
            f"{r['auroc_llm_mia']:.3f}",
            f"{r['auroc_peer_as_peer_orients']:.3f}",
        ]
        for r in results
    ]
    return f"`{command}` (WikiMIA-32, the peer's first rows, smollm2-135m float32 CPU)\n\n" + markdown_table(head, rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--peer-file", required=True, help="per-document JSONL written by the peer harness")
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--update-readme", action="store_true")
    args = ap.parse_args()
    rows = [json.loads(line) for line in Path(args.peer_file).read_text().splitlines() if line.strip()]
    results = [compare_recall(rows, args.model)]
    out = HERE / "results" / "peer_agreement.json"
    command = "python benchmarks/peer_agreement.py --peer-file $PEERS_ROOT/out/mimir.jsonl --update-readme"
    out.write_text(json.dumps({"command": command, "peer_file_rows": len(rows), "results": results}, indent=2) + "\n")
    md = table(results, command)
    print(md)
    if args.update_readme:
        update_readme(
            "peer-agreement",
            "Agreement with peer implementations",
            md,
            section="## Agreement with peer implementations\n\nGenerated by `benchmarks/peer_agreement.py` from the peer harness's per-document output (`../shared/tools/peers/`) and llm-mia's scores of the same documents.",
        )


if __name__ == "__main__":
    main()
