"""Cost of extraction windows (issue 24): windows per second of llm-mia against a bare forward pass.

Both run the same sequences: every window x[kS, kS+P+S) of one text (prefix P, suffix S, a step
of S tokens), in batches of ``--batch-size``. The bare pass is the model's own forward pass on
them (full logits, nothing else); llm-mia's is ``Scorer`` with ``window_config`` (every
statistic, no cache) and ``window_stats``. The ratio is measured in one run, interleaved; the
time for a 100,000-token book follows from llm-mia's windows per second.

Usage (writes benchmarks/results/windows.json and the table in benchmarks/README.md):
    python benchmarks/bench_windows.py --update-readme
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from readme_block import update_readme

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from llm_mia.evaluation import markdown_table  # noqa: E402

BOOK_TOKENS = 100_000


def _window_batches(ids: list[int], prefix: int, suffix: int, batch_size: int):  # type: ignore[no-untyped-def]
    """The scorer's sequences for the windows of ``ids``, as padded tensors."""
    from bench_scorer import padded_batches

    seqs = [ids[: prefix + suffix]] + [ids[s : s + prefix + suffix] for s in range(suffix, len(ids) - prefix, suffix)]
    return padded_batches(seqs, batch_size)


def measure(spec: str, text: str, prefix: int, suffix: int, batch_size: int, repeats: int, device: str = "cpu") -> dict:
    from bench_scorer import _bare_pass_seconds

    from llm_mia import Scorer, ScorerConfig, load_model
    from llm_mia.scoring import WindowSettings, window_config, window_stats

    lm = load_model(spec, device=device)
    settings = WindowSettings(prefix, suffix)
    config = window_config(settings, ScorerConfig(batch_size=batch_size))
    scorer = Scorer(lm, config)
    (stats,) = scorer.score_texts([text])  # warm-up (and the one-time head check)
    windows = window_stats(stats, settings)
    batches = _window_batches(stats.token_ids.tolist(), prefix, suffix, batch_size)
    _bare_pass_seconds(lm, batches[:1])  # the bare pass's warm-up too
    bare_t, ours_t = [], []
    for _ in range(repeats):  # interleaved, so drift hits both alike
        bare_t.append(_bare_pass_seconds(lm, batches))
        t = time.perf_counter()
        (again,) = scorer.score_texts([text])
        window_stats(again, settings)
        ours_t.append(time.perf_counter() - t)
    bare, ours = float(np.median(bare_t)), float(np.median(ours_t))
    per_s = windows.n_windows / ours
    book_windows = (BOOK_TOKENS - prefix) // suffix
    return {
        "model": spec,
        "tokens": stats.n_tokens,
        "windows": windows.n_windows,
        "sequences": sum(len(x) for x, _, _ in batches),
        "bare_windows_per_s": windows.n_windows / bare,
        "windows_per_s": per_s,
        "ratio": bare / ours,
        "book_windows": book_windows,
        "book_seconds": book_windows / per_s,
    }


def table(r: dict) -> str:
    rows = [
        [
            f"windows/s, {m['model']}, {m['windows']} windows of {r['prefix']} + {r['suffix']} tokens ({m['tokens']} tokens), batch {r['batch_size']}",
            f"{m['windows_per_s']:.1f} (every statistic, window_stats)",
            f"{m['bare_windows_per_s']:.1f} (bare forward pass)",
            f"{m['ratio']:.2f}",
            f"a {BOOK_TOKENS:,}-token book ({m['book_windows']} windows): {m['book_seconds'] / 60:.1f} min",
        ]
        for m in r["models"]
    ]
    return markdown_table(["measure", "llm-mia", "baseline", "ratio", "what it means"], rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="smollm2-135m", help="comma-separated model specs (default smollm2-135m)")
    ap.add_argument("--text", default="/usr/share/common-licenses/GPL-3", help="the text cut into windows (default: the GPL-3 licence of this machine)")
    ap.add_argument("--prefix", type=int, default=50)
    ap.add_argument("--suffix", type=int, default=50)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="cpu", help="cpu (default) or cuda: on a GPU, python benchmarks/bench_windows.py --device cuda")
    ap.add_argument("--out", default=str(HERE / "results" / "windows.json"))
    ap.add_argument("--update-readme", action="store_true")
    args = ap.parse_args()
    import torch

    text = Path(args.text).read_text(encoding="utf-8")
    result = {
        "command": "python benchmarks/bench_windows.py" + "".join(f" {a}" for a in sys.argv[1:]),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads",
        "date": time.strftime("%Y-%m-%d"),
        "text": args.text,
        "prefix": args.prefix,
        "suffix": args.suffix,
        "batch_size": args.batch_size,
        "device": args.device,
        "models": [measure(m, text, args.prefix, args.suffix, args.batch_size, args.repeats, args.device) for m in args.models.split(",")],
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    md = table(result)
    print(md)
    if args.update_readme:
        update_readme(
            "windows",
            f"`{result['command']}` ({result['machine']}, {result['date']}, the text: {result['text']}):",
            md,
            section="## Extraction windows: `bench_windows.py`\n\nThe windows of memorization evidence (issue 24: a prefix of P tokens, the model asked "
            "for the next S) against the bare forward pass of the same sequences, and the time that gives for a book.",
        )


if __name__ == "__main__":
    main()
