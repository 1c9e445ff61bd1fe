"""Speed by dtype and device, each figure measured in one run on the same documents (issue 12,
items 5 and 7); also the prepared GPU check.

For each model and dtype (float32, bfloat16; float16 on a GPU):
1. tokens/s of the scorer (every statistic) against the bare forward pass in that dtype;
2. documents/s of the pipeline (default detectors) against the per-document batch-1 loop;
3. the scorer's tokens/s in each dtype against float32's.
With ``--vllm`` (a GPU machine with vLLM installed), the model is also served by ``vllm serve``
and scored through the HTTP backend: documents/s and the mean absolute difference of the
token log-probabilities from the in-process float32 scorer.

CPU (bfloat16 where the CPU computes it natively):
    python benchmarks/bench_dtype.py --update-readme
GPU check (writes results/dtype-cuda.json; run it when a GPU is at hand):
    python benchmarks/bench_dtype.py --device cuda --models smollm2-135m,gemma3-270m --vllm
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_scorer import _texts, docs_per_second, throughput
from readme_block import update_readme
from vllm_server import VLLMFailed, vllm_server

HERE = Path(__file__).resolve().parent


def measure(spec: str, dtype: str, args: argparse.Namespace, texts: list[str]) -> dict:
    from llm_mia import load_model

    lm = load_model(spec, device=args.device, dtype=dtype)
    out = {"throughput": throughput(lm, texts, args.batch_size, args.repeats)}
    out["documents"] = docs_per_second(lm, texts[: args.n_docs_loop], args.batch_size)
    print(spec, dtype, json.dumps(out), file=sys.stderr)
    return out


def vllm_side_by_side(spec: str, texts: list[str], batch_size: int) -> dict:
    """vLLM serving the model's folder (float32, compiled), scored through the HTTP backend,
    against the in-process float32 scorer on the same texts."""
    from llm_mia.backends import resolve_spec

    if importlib.util.find_spec("vllm") is None:
        return {"skipped": "vllm is not installed here"}
    folder, _ = resolve_spec(spec)
    try:
        with vllm_server(sys.executable, folder, Path(tempfile.gettempdir()) / f"bench_dtype_vllm-{spec}.log", eager=False, max_logprobs=5) as url:
            return _side_by_side(spec, url, texts, batch_size)
    except VLLMFailed as exc:
        return {"skipped": str(exc).splitlines()[0]}


def _side_by_side(spec: str, url: str, texts: list[str], batch_size: int) -> dict:
    from llm_mia import Scorer, ScorerConfig, load_model, score_documents

    local = Scorer(load_model(spec, device="cuda")).score_texts(texts)
    served = load_model(url)  # the conformance probe runs here, outside the timing
    t = time.perf_counter()
    score_documents(texts, model=served, use_cache=False, detectors=["loss", "zlib", "min_k"], config=ScorerConfig(batch_size=batch_size))
    served_s = time.perf_counter() - t
    remote = Scorer(served).score_texts(texts)
    diffs = [float(np.abs(a.logprobs - b.logprobs).mean()) for a, b in zip(remote, local) if hasattr(a, "logprobs") and hasattr(b, "logprobs")]
    if not diffs:
        return {"skipped": "no text was scored both ways"}
    return {"documents": len(texts), "served_docs_s": len(texts) / served_s, "mean_abs_lp_diff": float(np.mean(diffs)), "max_doc_lp_diff": max(diffs)}


def table(r: dict) -> str:
    rows = ["| model | dtype | scorer tokens/s | bare pass tokens/s | ratio | pipeline docs/s | batch-1 loop docs/s | ratio | scorer tokens/s vs float32 |"]
    rows.append("|---|---|---|---|---|---|---|---|---|")
    for spec, by_dtype in r["models"].items():
        base = by_dtype["float32"]["throughput"]["scorer_tok_s"]
        for dtype, m in by_dtype.items():
            t, d = m["throughput"], m["documents"]
            rows.append(
                f"| {spec} | {dtype} | {t['scorer_tok_s']:.0f} | {t['bare_tok_s']:.0f} | {t['ratio']:.2f} | "
                f"{d['pipeline_docs_s']:.2f} | {d['loop_docs_s']:.2f} | {d['ratio']:.1f}x | {t['scorer_tok_s'] / base:.2f}x |"
            )
    for spec, v in r.get("vllm", {}).items():
        rows.append(f"\nvLLM, {spec}: " + json.dumps(v))
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    data = os.environ.get("LLM_MIA_DATA", str(HERE.parent.parent / "shared" / "data"))
    ap.add_argument("--input", default=f"{data}/wikimia/128.jsonl")
    ap.add_argument("--models", default="smollm2-135m")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtypes", default=None, help="default: float32,bfloat16 (and float16 on a GPU)")
    ap.add_argument("--n-docs", type=int, default=200)
    ap.add_argument("--n-docs-loop", type=int, default=48)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--vllm", action="store_true", help="also score through vllm serve (GPU machines with vLLM)")
    ap.add_argument("--out", default=None, help="default: results/dtype-DEVICE.json")
    ap.add_argument("--update-readme", action="store_true")
    args = ap.parse_args()

    import torch

    dtypes = (args.dtypes or ("float32,bfloat16,float16" if args.device.startswith("cuda") else "float32,bfloat16")).split(",")
    texts = _texts(args.input, args.n_docs)
    device_name = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else f"{platform.machine()}, {os.cpu_count()} cores"
    result = {
        "command": "python benchmarks/bench_dtype.py " + " ".join(sys.argv[1:]),
        "machine": f"{device_name}, torch {torch.__version__}, {torch.get_num_threads()} threads",
        "date": time.strftime("%Y-%m-%d"),
        "input": Path(args.input).name,
        "models": {spec: {dtype: measure(spec, dtype, args, texts) for dtype in dtypes} for spec in args.models.split(",")},
    }
    if args.vllm:
        result["vllm"] = {spec: vllm_side_by_side(spec, texts, args.batch_size) for spec in args.models.split(",")}
    out = Path(args.out or HERE / "results" / f"dtype-{args.device.split(':')[0]}.json")
    out.write_text(json.dumps(result, indent=2) + "\n")
    md = table(result)
    print(md)
    if args.update_readme:
        update_readme(
            f"dtype-speed-{args.device.split(':')[0]}",
            f"`{result['command']}` ({result['machine']}, {result['date']}, {len(texts)} texts of {result['input']}):",
            md,
            section=f"## Speed by dtype ({args.device.split(':')[0]}): `bench_dtype.py`\n\nThe scorer in each dtype against the bare forward pass in that dtype, the pipeline against the batch-1 loop, and each dtype against float32.",
        )


if __name__ == "__main__":
    main()
