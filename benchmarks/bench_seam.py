"""Does the scoring-backend seam cost anything? (issue 10: within 3% of the code before it)

The scorer of this tree and of a baseline tree (the code before the refactor, checked out
with ``git worktree add``) score the same WikiMIA texts with the same model, no cache, in
fresh processes that alternate (baseline, this, baseline, this, ...) so that drift of the
machine affects both alike. Each process warms up once and then times ``score_texts``; the
figure is the ratio of the median tokens/s, measured in one run.

Usage (writes benchmarks/results/seam.json and the table in benchmarks/README.md):
    git worktree add /tmp/seam-base 1548b9f
    python benchmarks/bench_seam.py --baseline /tmp/seam-base --update-readme
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from readme_block import update_readme

HERE = Path(__file__).resolve().parent


def child(model: str, path: str, n_docs: int) -> dict:
    from llm_mia import Scorer, ScorerConfig, load_model, read_documents

    texts = [d.text for d in read_documents(path) if d.text and d.error is None][:n_docs]
    lm = load_model(model, device="cpu")
    scorer = Scorer(lm, ScorerConfig(batch_size=8))
    scorer.score_texts(texts[:8])  # warm-up
    started = time.perf_counter()
    stats = scorer.score_texts(texts)
    seconds = time.perf_counter() - started
    tokens = sum(s.n_tokens for s in stats)
    import llm_mia

    return {"tokens": tokens, "seconds": seconds, "tok_s": tokens / seconds, "code": str(Path(llm_mia.__file__).parent.parent)}


def run(code: str, args: argparse.Namespace) -> dict:
    env = dict(os.environ, PYTHONPATH=code)
    cmd = [sys.executable, __file__, "--child", args.model, args.input, str(args.n_docs)]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd="/", check=False)
    if res.returncode != 0:
        raise SystemExit(f"child failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def table(r: dict) -> str:
    base, this = r["baseline_tok_s"], r["this_tok_s"]
    return "\n".join([
        "| scorer | tokens/s, median of runs | each run |",
        "|---|---|---|",
        f"| before the seam (`{r['baseline_commit']}`) | {statistics.median(base):.0f} | {', '.join(f'{x:.0f}' for x in base)} |",
        f"| this tree | {statistics.median(this):.0f} | {', '.join(f'{x:.0f}' for x in this)} |",
        f"| ratio (this / before) | {statistics.median(this) / statistics.median(base):.3f} | target: >= 0.97 |",
    ])


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2], sys.argv[3], int(sys.argv[4]))))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    data = os.environ.get("LLM_MIA_DATA", str(HERE.parent.parent / "shared" / "data"))
    ap.add_argument("--baseline", required=True, help="a checkout of the code before the seam (git worktree add DIR COMMIT)")
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--input", default=f"{data}/wikimia/32.jsonl")
    ap.add_argument("--n-docs", type=int, default=96)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=str(HERE / "results" / "seam.json"))
    ap.add_argument("--update-readme", action="store_true")
    args = ap.parse_args()
    args.input = str(Path(args.input).resolve())
    this = str(HERE.parent)
    commit = subprocess.run(["git", "-C", args.baseline, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False).stdout.strip()
    base_runs, this_runs = [], []
    for _ in range(args.repeats):
        base_runs.append(run(args.baseline, args))
        this_runs.append(run(this, args))
        print(f"baseline {base_runs[-1]['tok_s']:.0f} tok/s, this {this_runs[-1]['tok_s']:.0f} tok/s", file=sys.stderr)
    assert all(r["code"] == str(Path(args.baseline).resolve()) for r in base_runs), "the baseline runs did not import the baseline code"
    import torch

    result = {
        "command": "python benchmarks/bench_seam.py " + " ".join(sys.argv[1:]),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}",
        "date": time.strftime("%Y-%m-%d"), "model": args.model, "documents": args.n_docs, "baseline_commit": commit,
        "baseline_tok_s": [r["tok_s"] for r in base_runs], "this_tok_s": [r["tok_s"] for r in this_runs],
        "tokens": this_runs[0]["tokens"],
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    md = table(result)
    print(md)
    if args.update_readme:
        update_readme(
            "seam", f"`{result['command']}` ({result['machine']}, {result['date']}, {result['model']}, {args.n_docs} WikiMIA-32 texts, {result['tokens']} tokens):", md,
            section="## The scoring-backend seam: `bench_seam.py`\n\nThe scorer calls the model through a backend interface since issue 10; "
            "the same texts scored by the code before and after, alternating in fresh processes, show what the seam costs. Target: ratio >= 0.97.",
        )

if __name__ == "__main__":
    main()
