"""What each detector costs: passes and seconds per document, every view computed in one run.

Scores the same documents with every detector, no cache, in one process: the excerpts of the
controlled split (Gutenberg openings, cut to ``--max-tokens`` tokens as there), half of them
labelled members so that the detectors that use labelled texts get their prefix pool. The
model under test is also the reference model (the cost does not depend on the weights).
Each view (:mod:`llm_mia.views`) is computed once however many detectors use it; a detector
costs the views it uses beyond the shared pass over the text.

    python benchmarks/detector_costs.py --table TABLE.json   # writes results/detector-costs.json and a table in README.md
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from llm_mia.bench import excerpts  # noqa: E402
from llm_mia.pipeline import open_run  # noqa: E402
from llm_mia.scoring import ScorerConfig  # noqa: E402
from llm_mia.evaluation import markdown_table  # noqa: E402
from llm_mia.types import Document  # noqa: E402
from readme_block import update_readme  # noqa: E402

DETECTORS = "loss,zlib,lowercase,min_k,min_k_pp,gap_k,ref,wbc,recall:shots=1,con_recall:shots=1,camia,gradnorm"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--n", type=int, default=40, help="documents (default 40)")
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--table", default=None, help="a frequency table for dc_pdd (left out without one)")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--update-readme", action="store_true")
    args = ap.parse_args()
    detectors = DETECTORS.split(",") + ([f"dc_pdd:table={args.table}"] if args.table else [])
    texts = excerpts(args.data_dir)[: args.n]
    docs = [Document(str(i), t, i % 2) for i, t in enumerate(texts)]
    run = open_run(args.model, args.model, detectors=detectors, config=ScorerConfig(max_tokens=args.max_tokens), use_cache=False)
    started = time.perf_counter()
    scored = run.score(docs)
    seconds = time.perf_counter() - started
    held = sum(len(v) for v in scored.pool.values())
    rows = []
    for view, cost in run.costs.items():
        per_doc = cost["seconds"] / max(cost["texts"], 1)
        passes = "1 forward + 1 backward" if "gradient" in view else "1 forward"
        rows.append(
            {
                "view": view,
                "texts": cost["texts"],
                "batches": cost["batches"],
                "seconds": cost["seconds"],
                "seconds_per_text": per_doc,
                "passes_per_text": passes,
                "used_by": cost["used_by"],
            }
        )
    result = {
        "command": "python benchmarks/detector_costs.py" + "".join(f" {a}" for a in sys.argv[1:]),
        "model": args.model,
        "documents": len(docs),
        "held_out_as_prefixes": held,
        "max_tokens": args.max_tokens,
        "seconds_total": seconds,
        "machine": platform.machine(),
        "views": rows,
    }
    (HERE / "results" / "detector-costs.json").write_text(json.dumps(result, indent=2) + "\n")
    head = ["view (what is computed per text)", "passes per text", "seconds per text", "used by"]
    md = markdown_table(head, [[r["view"], r["passes_per_text"], f"{r['seconds_per_text']:.3f}", ", ".join(r["used_by"])] for r in rows])
    md = (
        f"`{result['command']}`: {len(docs) - held} excerpts of the controlled split scored ({held} held out as prefixes), "
        f"up to {args.max_tokens} tokens each, {args.model} as model and reference, float32, 2 CPU cores, no cache, one run "
        f"({seconds:.0f} s).\n\n" + md
    )
    print(md)
    if args.update_readme:
        update_readme(
            "detector-costs",
            "Cost of each view",
            md,
            section="## What each detector costs: `detector_costs.py`\n\nEvery view computed once, without the cache, in one run; a detector costs the views it uses beyond the shared pass over the text (`llm-mia detectors` says the same in words).",
        )


if __name__ == "__main__":
    main()
