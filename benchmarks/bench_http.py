"""What does scoring over HTTP cost? (issue 12: at least 0.8x the in-process backend)

``llm-mia serve`` runs in its own process on this machine; this process loads the same model.
The same WikiMIA texts are scored through the HTTP backend and in process, no cache, the order
swapped at every repeat (``timing.alternate``); the server and the client never compute at
the same time, so each has the machine's cores while it works. The statistics of both are
also compared (they must be equal bit for bit). Measured in one run.

With ``--vllm PYTHON``, the model's folder is also served by vLLM (its CPU build here, run by
that interpreter: compiled, prefix caching off), scored the same way, and its log-probabilities
compared with the in-process ones (two implementations: equal to about 1e-5, not bit for bit).

Usage (writes benchmarks/results/http.json and the table in benchmarks/README.md):
    python benchmarks/bench_http.py --vllm .venv-vllm/bin/python --update-readme
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import numpy as np
from readme_block import update_readme
from timing import alternate, paired_median
from vllm_server import vllm_server

HERE = Path(__file__).resolve().parent


def start_server(model: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from llm_mia.cli.app import main; sys.exit(main(sys.argv[1:]))",
            "serve",
            "--model",
            model,
            "--port",
            "0",
            "--quiet",
        ],
        stderr=subprocess.PIPE,
        text=True,
        cwd=HERE.parent,
    )
    line = ""
    while "serving" not in line:
        line = proc.stderr.readline() if proc.stderr else ""
        if not line and proc.poll() is not None:
            raise SystemExit("llm-mia serve exited before it listened")
    return proc, line.split(" at ")[1].split()[0]


def table(r: dict) -> str:
    local, http = r["in_process_tok_s"], r["http_tok_s"]
    rows = [
        "| backend | tokens/s, best run | each run |",
        "|---|---|---|",
        f"| in process | {max(local):.0f} | {', '.join(f'{x:.0f}' for x in local)} |",
        f"| HTTP, `llm-mia serve` on this machine | {max(http):.0f} | {', '.join(f'{x:.0f}' for x in http)} |",
        f"| ratio (HTTP / in process) | **{max(http) / max(local):.3f}** | median of the {len(local)} paired ratios: "
        f"{paired_median(http, local):.3f}; target: >= 0.8 |",
        f"| statistics equal bit for bit | {r['identical']} | {r['documents']} documents |",
    ]
    vllm = r.get("vllm_tok_s")
    if vllm:
        rows += [
            f"| HTTP, vLLM's CPU build (`{r['vllm_version']}`, compiled, prefix caching off) on this machine | {max(vllm):.0f} | {', '.join(f'{x:.0f}' for x in vllm)} |",
            f"| ratio (vLLM / in process) | **{max(vllm) / max(local):.3f}** | median of the paired ratios: {paired_median(vllm, local):.3f} |",
            f"| ratio (vLLM / `llm-mia serve`) | **{max(vllm) / max(http):.3f}** | median of the paired ratios: {paired_median(vllm, http):.3f} |",
            f"| vLLM's log-probabilities against in process | largest difference {r['vllm_max_lp_diff']:.1e} | the same token ids: {r['vllm_same_ids']} |",
        ]
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    data = os.environ.get("LLM_MIA_DATA", str(HERE.parent.parent / "shared" / "data"))
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--input", default=f"{data}/wikimia/128.jsonl")
    ap.add_argument("--n-docs", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=6)
    ap.add_argument("--vllm", default=None, metavar="PYTHON", help="also serve the model with vLLM, run by this interpreter (its own environment)")
    ap.add_argument("--out", default=str(HERE / "results" / "http.json"))
    ap.add_argument("--update-readme", action="store_true")
    args = ap.parse_args()
    sys.path.insert(0, str(HERE.parent))
    import llm_mia
    from llm_mia.backends import HTTPBackend, resolve_spec

    texts = [d.text for d in llm_mia.read_documents(args.input) if d.text and d.error is None][: args.n_docs]
    proc, address = start_server(args.model)
    served: dict = {}
    with ExitStack() as stack:
        stack.callback(lambda: (proc.terminate(), proc.wait()))
        config = llm_mia.ScorerConfig(batch_size=8)
        scorers = {"http": llm_mia.Scorer(HTTPBackend(address), config), "in_process": llm_mia.Scorer(llm_mia.load_model(args.model, device="cpu"), config)}
        if args.vllm:
            folder = resolve_spec(args.model)[0]
            url = stack.enter_context(vllm_server(args.vllm, folder, Path(tempfile.gettempdir()) / "bench_http_vllm.log", names=("model",), eager=False))
            scorers["vllm"] = llm_mia.Scorer(HTTPBackend(url), config)  # the conformance probe runs here, outside the timing
            served["vllm_version"] = subprocess.run([args.vllm, "-c", "import vllm; print(vllm.__version__)"], capture_output=True, text=True).stdout.strip()
        runs = alternate(scorers, texts, args.repeats)
        stats = {name: s.score_texts(texts) for name, s in scorers.items()}
        a, b = stats["http"], stats["in_process"]
        identical = all(
            np.array_equal(x.token_ids, y.token_ids)
            and all(np.array_equal(getattr(x, c), getattr(y, c)) for c in ("logprobs", "dist_mean", "dist_var", "top_logprob"))
            for x, y in zip(a, b)
        )
        if args.vllm:
            served["vllm_tok_s"] = runs["vllm"]
            served["vllm_same_ids"] = all(np.array_equal(x.token_ids, y.token_ids) for x, y in zip(stats["vllm"], b))
            same = [(x, y) for x, y in zip(stats["vllm"], b) if np.array_equal(x.token_ids, y.token_ids)]
            served["vllm_max_lp_diff"] = max((float(np.abs(x.logprobs - y.logprobs).max()) for x, y in same), default=float("nan"))
    import torch

    result = {
        "command": "python benchmarks/bench_http.py " + " ".join(sys.argv[1:]),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}",
        "date": time.strftime("%Y-%m-%d"),
        "model": args.model,
        "documents": len(texts),
        "tokens": sum(s.n_tokens for s in a),
        "in_process_tok_s": runs["in_process"],
        "http_tok_s": runs["http"],
        "identical": identical,
        **served,
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    md = table(result)
    print(md)
    if args.update_readme:
        update_readme(
            "http",
            f"`{result['command']}` ({result['machine']}, {result['date']}, {result['model']}, {result['documents']} WikiMIA-128 texts, "
            f"{result['tokens']} tokens, batch 8, float32):",
            md,
            section="## Scoring over HTTP: `bench_http.py`\n\n`llm-mia serve` on this machine and the HTTP backend against the model "
            "in process, the same texts, the order swapped at every repeat. Target (issue 12): ratio >= 0.8.",
        )


if __name__ == "__main__":
    main()
