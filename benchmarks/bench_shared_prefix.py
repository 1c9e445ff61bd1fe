"""ReCaLL's shared prefix run once per batch, against each text run with its own copy of the
prefix (issue 26, item 5), measured in one run on the same documents.

The documents of detector_costs.py (excerpts of the controlled split, up to ``--max-tokens``,
every other one labelled a member), scored with ``recall`` and ``con_recall`` by the in-process
backend with ``share_prefix`` on and off, the order swapped at every repeat, no cache. Each
prefix view's seconds per text (the run's own cost accounting), and the largest difference of
each detector's scores between the two paths.

    python benchmarks/bench_shared_prefix.py --data-dir ../shared/data --update-readme
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from llm_mia import load_model  # noqa: E402
from llm_mia.backends import HFBackend  # noqa: E402
from llm_mia.bench import excerpts  # noqa: E402
from llm_mia.evaluation import markdown_table  # noqa: E402
from llm_mia.pipeline import open_run  # noqa: E402
from llm_mia.scoring import ScorerConfig  # noqa: E402
from llm_mia.types import Document  # noqa: E402
from readme_block import update_readme  # noqa: E402

RESULT = HERE / "results" / "shared-prefix.json"


def one_run(backend: HFBackend, docs: list[Document], detectors: list[str], max_tokens: int) -> tuple[dict[str, float], dict[str, list]]:
    """Seconds per text of each prefix view, and each detector's scores."""
    run = open_run(backend, detectors=detectors, config=ScorerConfig(max_tokens=max_tokens), use_cache=False)
    scored = run.score(docs)
    per_text = {view: cost["seconds"] / max(cost["texts"], 1) for view, cost in run.costs.items() if "context" in view}
    return per_text, {det: [r.scores.get(det) for r in scored.records] for det in scored.records[0].scores}


def table(result: dict) -> str:
    md = markdown_table(
        ["view", "seconds per text, each text with its own prefix", "seconds per text, the prefix run once per batch", "speed-up"],
        [[r["view"], f"{r['whole_s_per_text']:.3f}", f"{r['shared_s_per_text']:.3f}", f"{r['speedup']:.2f}x"] for r in result["views"]],
    )
    diffs = result["max_abs_score_difference"]
    return md + "\n\nLargest difference of the scores between the two paths: " + ", ".join(f"{d} {v:.1e}" for d, v in diffs.items()) + "."


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--shots", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--update-readme", action="store_true")
    args = ap.parse_args()
    docs = [Document(str(i), t, i % 2) for i, t in enumerate(excerpts(args.data_dir)[: args.n])]
    detectors = [f"recall:shots={args.shots}", f"con_recall:shots={args.shots}"]
    backend = HFBackend(load_model(args.model))
    times: dict[str, dict[str, list[float]]] = {"whole": {}, "shared": {}}
    scores: dict[str, dict[str, list]] = {}
    for r in range(args.repeats):
        for mode in ("whole", "shared") if r % 2 == 0 else ("shared", "whole"):
            backend.share_prefix = mode == "shared"
            per_text, scores[mode] = one_run(backend, docs, detectors, args.max_tokens)
            for view, s in per_text.items():
                times[mode].setdefault(view, []).append(s)
            print(mode, json.dumps(per_text), file=sys.stderr)
    diffs = {
        det: max((abs(a - b) for a, b in zip(scores["whole"][det], scores["shared"][det]) if a is not None and b is not None), default=float("nan"))
        for det in scores["whole"]
    }
    rows = []
    for view in times["whole"]:
        whole, shared = statistics.median(times["whole"][view]), statistics.median(times["shared"][view])
        rows.append({"view": view, "whole_s_per_text": whole, "shared_s_per_text": shared, "speedup": whole / shared})
    result = {
        "command": "python benchmarks/bench_shared_prefix.py" + "".join(f" {a}" for a in sys.argv[1:]),
        "model": args.model,
        "documents": len(docs),
        "max_tokens": args.max_tokens,
        "repeats": args.repeats,
        "machine": platform.machine(),
        "date": time.strftime("%Y-%m-%d"),
        "views": rows,
        "max_abs_score_difference": diffs,
    }
    RESULT.write_text(json.dumps(result, indent=1) + "\n")
    md = table(result)
    head = (
        f"`{result['command']}` ({result['date']}, {args.model}, {backend.lm.dtype}, {os.cpu_count()} CPU cores, {len(docs)} excerpts of the "
        f"controlled split, up to {args.max_tokens} tokens, batch {ScorerConfig().batch_size}, median of {args.repeats} runs each, the order swapped):"
    )
    print(md)
    if args.update_readme:
        update_readme(
            "shared-prefix",
            head,
            md,
            section="## A prefix shared by the batch, run once: `bench_shared_prefix.py`\n\n"
            "ReCaLL and Con-ReCall put the same prefix before every text; the in-process backend runs it once per batch and "
            "reuses its key-value cache (issue 26).",
        )


if __name__ == "__main__":
    main()
