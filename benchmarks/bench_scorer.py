"""Speed and memory of the scorer, each figure a ratio measured in one run on the same documents.

1. tokens/s of the scorer (every statistic) against a bare forward pass of the same model
   on the same batches (full logits, nothing else)                      target >= 0.9
2. documents/s of the pipeline (default detectors) against a per-document loop that runs
   one forward pass per detector family at batch size 1                 target >= 5x
3. peak memory (RSS) with gemma3-270m at batch 8 x 512 tokens, against the size of its
   weights, measured in a fresh process                                 target <= weights + 1.5 GiB

Figures 1 and 2 are measured for each model in ``--models`` (default: both embedded models).

Usage (writes benchmarks/results/scorer.json and the table in benchmarks/README.md):
    python benchmarks/bench_scorer.py --naive-memory --update-readme
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
from readme_block import update_readme

HERE = Path(__file__).resolve().parent
GiB = 1 << 30


def _texts(path: str, n: int) -> list[str]:
    from llm_mia import read_documents

    docs = [d.text for d in read_documents(path) if d.text and d.error is None]
    return docs[:n]


def padded_batches(ids: list[list[int]], batch_size: int):  # type: ignore[no-untyped-def]
    """Token-id sequences in batches of ``batch_size``, right-padded: (input ids, attention mask,
    position ids) tensors per batch, as the scorer feeds the model."""
    import torch

    out = []
    for b in range(0, len(ids), batch_size):
        chunk = ids[b : b + batch_size]
        width = max(map(len, chunk))
        x = torch.zeros((len(chunk), width), dtype=torch.long)
        m = torch.zeros_like(x)
        for r, row in enumerate(chunk):
            x[r, : len(row)] = torch.tensor(row)
            m[r, : len(row)] = 1
        out.append((x, m, (m.cumsum(-1) - 1).clamp(min=0)))
    return out


def _bare_batches(lm, texts, batch_size):
    """The scorer's batches (sorted by length, right-padded), as tensors."""
    ids = sorted(lm.tokenizer(texts)["input_ids"], key=len, reverse=True)
    return padded_batches(ids, batch_size), sum(map(len, ids))


def _sync(device) -> None:  # type: ignore[no-untyped-def]
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def _bare_pass_seconds(lm, batches) -> float:
    """Wall time of the model's own forward pass (full logits, nothing else) over ``batches``."""
    import torch

    dev = lm.model.device
    t = time.perf_counter()
    with torch.inference_mode():
        for x, m, pos in batches:
            _ = lm.model(input_ids=x.to(dev), attention_mask=m.to(dev), position_ids=pos.to(dev), use_cache=False).logits
        _sync(dev)
    return time.perf_counter() - t


def throughput(lm, texts, batch_size, repeats):
    from llm_mia import Scorer, ScorerConfig

    batches, n_tokens = _bare_batches(lm, texts, batch_size)
    scorer = Scorer(lm, ScorerConfig(batch_size=batch_size))
    scorer.score_texts(texts[:batch_size])  # warm-up (and the one-time head check)
    bare_t, ours_t = [], []
    for _ in range(repeats):  # interleaved, so drift hits both alike
        bare_t.append(_bare_pass_seconds(lm, batches))
        t = time.perf_counter()
        scorer.score_texts(texts)
        ours_t.append(time.perf_counter() - t)
    bare, ours = n_tokens / np.median(bare_t), n_tokens / np.median(ours_t)
    return {"tokens": n_tokens, "bare_tok_s": bare, "scorer_tok_s": ours, "ratio": ours / bare}


def batching_gain(lm, texts, batch_sizes):
    """tokens/s of the bare forward pass at each batch size: what batching alone can give here."""
    out = {}
    for bs in batch_sizes:
        batches, n_tokens = _bare_batches(lm, texts, bs)
        out[str(bs)] = n_tokens / _bare_pass_seconds(lm, batches)
    return out


def per_document_loop(lm, texts, k=0.2):
    """Research-code style: batch size 1, one forward pass per detector family."""
    import torch

    def logits_of(text):
        ids = lm.tokenizer(text, return_tensors="pt")["input_ids"].to(lm.model.device)
        with torch.no_grad():
            return lm.model(ids).logits[0, :-1].float(), ids[0, 1:]

    out = []
    for text in texts:
        logits, tgt = logits_of(text)  # loss family (loss, zlib)
        lp = torch.log_softmax(logits, -1).gather(1, tgt[:, None]).squeeze(1)
        loss = lp.mean().item()
        zl = loss / len(zlib.compress(text.encode()))
        logits, tgt = logits_of(text)  # Min-K%
        lp = torch.log_softmax(logits, -1).gather(1, tgt[:, None]).squeeze(1)
        m = max(1, int(k * len(lp)))
        mink = torch.sort(lp)[0][:m].mean().item()
        logits, tgt = logits_of(text)  # Min-K%++
        logp = torch.log_softmax(logits, -1)
        p = logp.exp()
        mu = (p * logp).sum(-1)
        sigma = ((p * logp**2).sum(-1) - mu**2).clamp(min=0).sqrt()
        z = (logp.gather(1, tgt[:, None]).squeeze(1) - mu) / sigma
        minkpp = torch.sort(z)[0][:m].mean().item()
        logits, tgt = logits_of(text.lower())  # lowercase
        lower = -torch.log_softmax(logits, -1).gather(1, tgt[:, None]).squeeze(1).mean().item() / -loss
        out.append((loss, zl, mink, minkpp, lower))
    return out


def docs_per_second(lm, texts, batch_size, other_batches=()):
    """The loop once; the pipeline at the default ``batch_size`` and at each of ``other_batches``."""
    from llm_mia import ScorerConfig, score_documents

    t = time.perf_counter()
    per_document_loop(lm, texts)
    loop_s = time.perf_counter() - t
    by_batch = {}
    for bs in dict.fromkeys([batch_size, *other_batches]):
        t = time.perf_counter()
        score_documents(texts, model=lm, use_cache=False, config=ScorerConfig(batch_size=bs))
        by_batch[str(bs)] = len(texts) / (time.perf_counter() - t)
    loop = len(texts) / loop_s
    return {
        "documents": len(texts),
        "loop_docs_s": loop,
        "pipeline_docs_s": by_batch[str(batch_size)],
        "ratio": by_batch[str(batch_size)] / loop,
        "pipeline_docs_s_by_batch": by_batch,
    }


def _status_kib(field: str) -> int:
    text = Path("/proc/self/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", text, re.M).group(1))


def memory_child(model: str, batch: int, tokens: int, naive: bool) -> dict:
    """Run in a fresh process: RSS before loading, after loading, and peak while scoring."""
    import torch

    from llm_mia import Scorer, ScorerConfig, load_model

    base = _status_kib("VmRSS")
    lm = load_model(model, device="cpu")
    weights = sum(p.numel() * p.element_size() for p in lm.model.parameters())
    loaded = _status_kib("VmRSS")
    rng = np.random.default_rng(0)
    vocab = lm.tokenizer.vocab_size
    texts = [lm.tokenizer.decode(rng.integers(1000, min(vocab, 30000), size=tokens * 2).tolist()) for _ in range(batch)]
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak (VmHWM) to the current RSS
    t = time.perf_counter()
    stats = Scorer(lm, ScorerConfig(max_tokens=tokens, batch_size=batch)).score_texts(texts)
    seconds = time.perf_counter() - t
    peak = _status_kib("VmHWM")
    assert all(s.n_tokens == tokens for s in stats)
    out = {
        "model": model,
        "batch": batch,
        "tokens": tokens,
        "vocab": int(lm.model.get_output_embeddings().weight.shape[0]),
        "weights_bytes": weights,
        "rss_before_load_kib": base,
        "rss_after_load_kib": loaded,
        "peak_rss_scoring_kib": peak,
        "scoring_seconds": seconds,
    }
    if naive:
        Path("/proc/self/clear_refs").write_text("5")
        ids = torch.tensor([s.token_ids.tolist() for s in stats])
        with torch.inference_mode():
            logits = lm.model(input_ids=ids, use_cache=False).logits
            torch.log_softmax(logits.float(), -1)
        out["peak_rss_full_logits_kib"] = _status_kib("VmHWM")
    return out


def memory(model, batch, tokens, naive):
    cmd = [sys.executable, __file__, "--memory-child", model, str(batch), str(tokens), "1" if naive else "0"]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise SystemExit(f"memory child failed:\n{res.stderr[-3000:]}")
    m = json.loads(res.stdout.strip().splitlines()[-1])
    used = (m["peak_rss_scoring_kib"] - m["rss_before_load_kib"]) * 1024
    m["scoring_peak_above_baseline_bytes"] = used
    m["overhead_over_weights_gib"] = (used - m["weights_bytes"]) / GiB
    if "peak_rss_full_logits_kib" in m:
        m["full_logits_overhead_gib"] = ((m["peak_rss_full_logits_kib"] - m["rss_before_load_kib"]) * 1024 - m["weights_bytes"]) / GiB
    return m


def _model_rows(name: str, r: dict, batch_size: int) -> list[str]:
    t, d, g = r["throughput"], r["documents"], r["batching"]
    best = max(g, key=g.get)
    sweep = ", ".join(f"{b}: {v:.0f}" for b, v in g.items())
    rows = [
        f"| tokens/s, {name}, {t['tokens']} tokens, batch {batch_size} | {t['scorer_tok_s']:.0f} (all statistics) | {t['bare_tok_s']:.0f} (bare forward pass) | {t['ratio']:.2f} | >= 0.9 |",
        f"| documents/s, {name}, {d['documents']} documents, default detectors, batch {batch_size} | {d['pipeline_docs_s']:.2f} | {d['loop_docs_s']:.2f} (per-document loop, 4 passes at batch 1) | {d['ratio']:.1f}x | >= 5x |",
    ]
    by = d.get("pipeline_docs_s_by_batch", {})
    if len(by) > 1:
        fast = max(by, key=by.get)
        rows.append(
            f"| documents/s, {name}, the same at the fastest `--batch-size` ({', '.join(f'{b}: {v:.2f}' for b, v in by.items())}) | "
            f"{by[fast]:.2f} (batch {fast}) | {d['loop_docs_s']:.2f} | {by[fast] / d['loop_docs_s']:.1f}x | >= 5x |"
        )
    return rows + [
        f"| bare forward pass, {name}, tokens/s by batch size ({sweep}): best batch vs batch 1 (what batching alone can give on this machine) | "
        f"{g[best]:.0f} tok/s (batch {best}) | {g['1']:.0f} tok/s (batch 1) | {g[best] / g['1']:.2f} | "
        f"documents/s that batching alone predicts, with 2 passes instead of 4: {2 * g[best] / g['1']:.1f}x |",
    ]


def table(r: dict) -> str:
    m = r["memory"]
    rows = ["| measure | llm-mia | baseline | ratio | target |", "|---|---|---|---|---|"]
    for name, per_model in r["models"].items():
        rows += _model_rows(name, per_model, r["batch_size"])
    rows.append(
        f"| peak RSS above baseline, {m['model']} (vocabulary {m['vocab']:,}), batch {m['batch']} x {m['tokens']} | {m['scoring_peak_above_baseline_bytes'] / GiB:.2f} GiB | weights {m['weights_bytes'] / GiB:.2f} GiB | weights + {m['overhead_over_weights_gib']:.2f} GiB | <= weights + 1.5 GiB |"
    )
    if "full_logits_overhead_gib" in m:
        rows.append(
            f"| same batch through the model's own forward + log-softmax (full logits) | weights + {m['full_logits_overhead_gib']:.2f} GiB | | | for comparison |"
        )
    return "\n".join(rows)


def measure_model(spec: str, args: argparse.Namespace) -> dict:
    """tokens/s, the batching sweep and documents/s for one model, on the same documents."""
    from llm_mia import load_model

    lm = load_model(spec, device=args.device)
    texts = _texts(args.input, args.n_docs)
    out = {"throughput": throughput(lm, texts, args.batch_size, args.repeats)}
    print(spec, json.dumps(out["throughput"]), file=sys.stderr)
    out["batching"] = batching_gain(lm, texts[: args.n_docs_loop], [int(b) for b in args.batch_sweep.split(",")])
    print(spec, json.dumps(out["batching"]), file=sys.stderr)
    out["documents"] = docs_per_second(lm, texts[: args.n_docs_loop], args.batch_size, [int(b) for b in args.pipeline_batches.split(",") if b])
    print(spec, json.dumps(out["documents"]), file=sys.stderr)
    return out


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--memory-child":
        _, _, model, batch, tokens, naive = sys.argv
        print(json.dumps(memory_child(model, int(batch), int(tokens), naive == "1")))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    data = os.environ.get("LLM_MIA_DATA", str(HERE.parent.parent / "shared" / "data"))
    ap.add_argument("--input", default=f"{data}/wikimia/32.jsonl")
    ap.add_argument("--models", default="smollm2-135m,gemma3-270m", help="comma-separated model specs, measured one after another")
    ap.add_argument("--n-docs", type=int, default=96)
    ap.add_argument("--n-docs-loop", type=int, default=48)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch-sweep", default="1,2,4,8,16,32", help="batch sizes for the bare-pass sweep (must include 1)")
    ap.add_argument("--pipeline-batches", default="4,16,32", help="other batch sizes at which to time the pipeline")
    ap.add_argument("--memory-model", default="gemma3-270m")
    ap.add_argument("--memory-batch", type=int, default=8)
    ap.add_argument("--memory-tokens", type=int, default=512)
    ap.add_argument("--naive-memory", action="store_true", help="also measure the full-logits pass")
    ap.add_argument("--device", default="cpu", help="cpu or cuda (memory is measured on the CPU only)")
    ap.add_argument("--out", default=str(HERE / "results" / "scorer.json"))
    ap.add_argument("--update-readme", action="store_true")
    ap.add_argument("--from-json", metavar="PATH", help="measure nothing: rewrite the README table from a results file")
    args = ap.parse_args()
    if args.from_json:
        result = json.loads(Path(args.from_json).read_text())
        _write_readme(result, table(result))
        return

    import torch

    result = {
        "command": "python benchmarks/bench_scorer.py " + " ".join(sys.argv[1:]),
        "input": Path(args.input).name,
        "batch_size": args.batch_size,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads",
        "date": time.strftime("%Y-%m-%d"),
        "models": {spec: measure_model(spec, args) for spec in args.models.split(",")},
    }
    result["memory"] = memory(args.memory_model, args.memory_batch, args.memory_tokens, args.naive_memory)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    md = table(result)
    print(md)
    if args.update_readme:
        _write_readme(result, md)


def _write_readme(result: dict, md: str) -> None:
    update_readme("scorer", f"`{result['command']}` ({result['machine']}, {result['date']}):", md)


if __name__ == "__main__":
    main()
