"""Does the scoring-backend seam cost anything? (issue 10: within 3% of the code before it)

The scorer of this tree and the scorer of a baseline tree (the code before the refactor,
checked out with ``git worktree add``; imported in the same process under another package
name) score the same WikiMIA texts with the same loaded model, no cache, one after the other,
the order swapped at every repeat (ABBA), so that the machine's drift affects both alike.
The figure is the ratio of the best runs' tokens/s (noise only slows a run), next to the
median of the paired ratios, measured in one run.

Usage (writes benchmarks/results/seam.json and the table in benchmarks/README.md):
    git worktree add /tmp/seam-base 1548b9f
    python benchmarks/bench_seam.py --baseline /tmp/seam-base --update-readme
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from readme_block import update_readme
from timing import alternate, paired_median

HERE = Path(__file__).resolve().parent


def import_as(name: str, folder: Path):  # type: ignore[no-untyped-def]
    """The llm_mia package found in ``folder``, imported as the package ``name``."""
    spec = importlib.util.spec_from_file_location(name, folder / "llm_mia" / "__init__.py", submodule_search_locations=[str(folder / "llm_mia")])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def table(r: dict) -> str:
    """Best run of each (noise on a shared machine only ever slows a run, so the fastest run is
    the best estimate of the cost: timeit's rule) and the median of the paired ratios."""
    base, this = r["baseline_tok_s"], r["this_tok_s"]
    paired = paired_median(this, base)
    return "\n".join(
        [
            "| scorer | tokens/s, best run | median run | each run |",
            "|---|---|---|---|",
            f"| before the seam (`{r['baseline_commit']}`) | {max(base):.0f} | {statistics.median(base):.0f} | {', '.join(f'{x:.0f}' for x in base)} |",
            f"| this tree | {max(this):.0f} | {statistics.median(this):.0f} | {', '.join(f'{x:.0f}' for x in this)} |",
            f"| ratio (this / before) | **{max(this) / max(base):.3f}** | median of the {len(base)} paired ratios: {paired:.3f} | target: >= 0.97 |",
        ]
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    data = os.environ.get("LLM_MIA_DATA", str(HERE.parent.parent / "shared" / "data"))
    ap.add_argument("--baseline", required=True, help="a checkout of the code before the seam (git worktree add DIR COMMIT)")
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--input", default=f"{data}/wikimia/32.jsonl")
    ap.add_argument("--n-docs", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=12)
    ap.add_argument("--out", default=str(HERE / "results" / "seam.json"))
    ap.add_argument("--update-readme", action="store_true")
    args = ap.parse_args()
    sys.path.insert(0, str(HERE.parent))
    import llm_mia

    base = import_as("llm_mia_baseline", Path(args.baseline).resolve())
    commit = subprocess.run(["git", "-C", args.baseline, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False).stdout.strip()
    texts = [d.text for d in llm_mia.read_documents(args.input) if d.text and d.error is None][: args.n_docs]
    lm = llm_mia.load_model(args.model, device="cpu")
    scorers = {"this": llm_mia.Scorer(lm, llm_mia.ScorerConfig(batch_size=8)), "baseline": base.Scorer(lm, base.ScorerConfig(batch_size=8))}
    runs = alternate(scorers, texts, args.repeats)
    import torch

    result = {
        "command": "python benchmarks/bench_seam.py " + " ".join(sys.argv[1:]),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}",
        "date": time.strftime("%Y-%m-%d"),
        "model": args.model,
        "documents": args.n_docs,
        "baseline_commit": commit,
        "baseline_tok_s": runs["baseline"],
        "this_tok_s": runs["this"],
        "tokens": sum(min(len(ids), scorers["this"].max_tokens) for ids in scorers["this"].tokenize(texts)),
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    md = table(result)
    print(md)
    if args.update_readme:
        update_readme(
            "seam",
            f"`{result['command']}` ({result['machine']}, {result['date']}, {result['model']}, {args.n_docs} WikiMIA-32 texts, {result['tokens']} tokens):",
            md,
            section="## The scoring-backend seam: `bench_seam.py`\n\nThe scorer calls the model through a backend interface since issue 10; "
            "the same texts scored by the code before and after, in one process with one loaded model, the order swapped at every repeat, show what the seam costs. Target: ratio >= 0.97.",
        )


if __name__ == "__main__":
    main()
