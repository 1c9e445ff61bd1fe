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
- ``gradnorm``: mimir's GradNorm (p = inf) returns -mean over weight tensors of the tensor's
  largest absolute gradient, llm-mia's ``gradnorm`` exactly (same sign).
- ``dc_pdd``: mimir's DC-PDD, run on the frequency table of ``$DC_PDD_TABLE`` (an llm-mia
  table handed to mimir as its cached C4 table, ``$PEERS_ROOT/run_dc_pdd.py``), returns
  -score. mimir puts the end-of-text token before every text and so also scores the text's
  first token, which llm-mia does not score for a model without a beginning-of-text token
  (SmolLM2): the two differ by that token's term, so expect close, not equal, values. A
  second row applies llm-mia's formula to mimir's tokens (each text scored after the
  end-of-text token as a one-token context), where the two should agree to rounding. The
  authors' code (zhang-wei-chao/DC-PDD) scores from the text's second token, as llm-mia does.

Usage (after running the peer, see ../shared/tools/peers/README.md):
    python benchmarks/peer_agreement.py --peer-file $PEERS_ROOT/out/mimir.jsonl [--peer-file ...] --update-readme
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy import stats

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from llm_mia.evaluation import auroc  # noqa: E402
from llm_mia.pipeline import open_run  # noqa: E402
from llm_mia.evaluation import markdown_table  # noqa: E402
from llm_mia.types import Document  # noqa: E402
from readme_block import update_readme  # noqa: E402


def compare_recall(rows: list[dict], model: str) -> dict:
    """mimir's ReCaLL (see the module docstring): its raw value is minus llm-mia's."""
    prefix_row = next(r for r in rows if r["label"] == 0)
    with tempfile.TemporaryDirectory() as tmp:
        prefix = Path(tmp) / "prefix.jsonl"
        prefix.write_text(json.dumps({"text": prefix_row["input"]}) + "\n")
        return compare(rows, model, f"recall:shots=1:prefix_file={prefix}", "recall", -1.0, "recall (1 shot)", "mimir ReCaLL", [prefix_row["idx"]])


def compare(rows: list[dict], model: str, spec: str, peer_key: str, sign: float, name: str, peer: str, left_out: list | None = None) -> dict:
    """llm-mia's ``spec`` against the peer's ``peer_key`` times ``sign`` (the peer's raw value
    in llm-mia's orientation) on the rows where the peer has a value."""
    rows = [r for r in rows if r["scores"].get(peer_key) is not None]
    run = open_run(model, detectors=[spec], use_cache=False)
    records = run.score([Document(str(r["idx"]), r["input"], r["label"]) for r in rows]).records
    return agreement([next(iter(rec.scores.values())) for rec in records], rows, peer_key, sign, name, peer, left_out)


def compare_dc_pdd_after_eos(rows: list[dict], model: str) -> dict:
    """llm-mia's DC-PDD formula (:func:`llm_mia.detectors.dc_pdd.dc_pdd_score`) on the tokens
    mimir scores: each text after the end-of-text token (a one-token context), so that the
    text's first token is scored too. The definitions then meet, so the values should agree
    to rounding."""
    from llm_mia.detectors import dc_pdd_score
    from llm_mia.io import load_table
    from llm_mia.backends import load_model
    from llm_mia.scoring import Scorer, ScorerConfig
    from llm_mia.types import TokenStats

    rows = [r for r in rows if r["scores"].get("dc_pdd") is not None]
    lm = load_model(model, device="cpu")
    scorer = Scorer(lm, ScorerConfig())
    eos = lm.tokenizer.eos_token
    if scorer.context_ids(eos) != [lm.tokenizer.eos_token_id]:
        raise SystemExit(f"the end-of-text token {eos!r} does not tokenize to itself alone")
    table = load_table(os.environ["DC_PDD_TABLE"])
    values: list[float | None] = []
    for st in scorer.score_texts([r["input"] for r in rows], context=eos):
        values.append(dc_pdd_score(np.asarray(st.token_ids[1:]), st.logprobs, table, 0.01) if isinstance(st, TokenStats) else None)
    return agreement(values, rows, "dc_pdd", -1.0, "dc_pdd formula, first token after end-of-text", "mimir DC-PDD")


def agreement(values: list[float | None], rows: list[dict], peer_key: str, sign: float, name: str, peer: str, left_out: list | None = None) -> dict:
    """How closely llm-mia's ``values`` (one per row, None: not scored) match the peer's
    ``peer_key`` times ``sign``."""
    ours, theirs, labels = [], [], []
    for r, value in zip(rows, values):
        if value is None:
            continue
        ours.append(value)
        theirs.append(sign * r["scores"][peer_key])
        labels.append(r["label"])
    a, b, y = np.asarray(ours), np.asarray(theirs), np.asarray(labels)
    rel = np.abs(a - b) / np.abs(b)
    return {
        "detector": name,
        "peer": peer,
        "documents": int(a.size),
        "left_out": [str(i) for i in left_out or []],
        "max_rel_diff": float(rel.max()),
        "median_rel_diff": float(np.median(rel)),
        "spearman": float(stats.spearmanr(a, b).statistic),
        "auroc_llm_mia": auroc(y, a),
        "auroc_peer_as_peer_orients": auroc(y, b),
    }


COMPARISONS: list[tuple[str, Callable[[list[dict], str], dict]]] = [  # (the peer's score key, comparison)
    ("recall", compare_recall),
    # mimir's GradNorm returns -mean over weight tensors of ||grad||_inf: llm-mia's gradnorm (norm=inf) exactly
    ("gradnorm", lambda rows, model: compare(rows, model, "gradnorm", "gradnorm", 1.0, "gradnorm (norm inf)", "mimir GradNorm")),
    # mimir's DC-PDD returns -beta (lower = member), from the same frequency table (see the module docstring)
    (
        "dc_pdd",
        lambda rows, model: compare(rows, model, f"dc_pdd:table={os.environ.get('DC_PDD_TABLE', '')}", "dc_pdd", -1.0, "dc_pdd (a = 0.01)", "mimir DC-PDD"),
    ),
    ("dc_pdd", compare_dc_pdd_after_eos),
]


def table(results: list[dict], command: str) -> str:
    head = [
        "detector",
        "peer",
        "documents compared",
        "max rel. difference (vs the peer's value, in llm-mia's orientation)",
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
    ap.add_argument("--peer-file", required=True, action="append", help="per-document JSONL written by the peer harness (repeat for several)")
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--update-readme", action="store_true")
    args = ap.parse_args()
    rows: dict[int, dict] = {}
    for path in args.peer_file:  # the same documents (the peer's first rows), scores of several runs
        for line in Path(path).read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                rows.setdefault(row["idx"], {**row, "scores": {}})["scores"].update(row["scores"])
    merged = [rows[i] for i in sorted(rows)]
    results = [compare_fn(merged, args.model) for key, compare_fn in COMPARISONS if any(key in r["scores"] for r in merged)]
    out = HERE / "results" / "peer_agreement.json"
    command = "python benchmarks/peer_agreement.py " + " ".join(f"--peer-file {p}" for p in args.peer_file) + " --update-readme"
    out.write_text(json.dumps({"command": command, "peer_file_rows": len(merged), "results": results}, indent=2) + "\n")
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
