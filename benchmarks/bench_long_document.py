"""Memory and time of scoring one very long document (issue 9, defect 8).

In truncation mode the scorer keeps ``max_tokens`` tokens of a text, so scoring a 50 MB
one-line document should cost about what a 1 MB one does. Each size is scored in a fresh
process (default detectors, so the lowercased view too; no cache), which reports its peak
resident memory (VmHWM) after loading the model and after scoring. The figure that matters
is the ratio of the scoring's extra memory (peak after scoring minus peak after loading) for
the largest document to that for the smallest, measured in one run.

Usage (writes benchmarks/results/long_document.json and the table in benchmarks/README.md):
    python benchmarks/bench_long_document.py --update-readme

``--code DIR`` runs the children on the llm_mia package found in DIR instead (for example a
``git worktree`` of an earlier commit, to measure the behaviour before a change).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import time
from pathlib import Path

from readme_block import update_readme

HERE = Path(__file__).resolve().parent
MiB = 1 << 20
WORDS = (
    "the of and to in a is that for it as was with be by on not he this are or his from at which but have an they you "
    "were her she there been one all we their has would when if so no will more can about said what out up into them "
    "river stone light house garden winter summer paper window mountain quiet green silver morning evening"
).split()


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(field)


def _text(n_bytes: int, seed: int = 0) -> str:
    """One line of random English-like words, ``n_bytes`` characters long."""
    rng = random.Random(seed)
    words = []
    size = 0
    while size < n_bytes:
        w = rng.choice(WORDS)
        words.append(w)
        size += len(w) + 1
    return " ".join(words)[:n_bytes]


def child(model: str, n_bytes: int) -> dict:
    from llm_mia import load_model, score_documents

    text = _text(n_bytes)
    lm = load_model(model, device="cpu")
    loaded = _status_kib("VmHWM")
    started = time.perf_counter()
    (record,) = score_documents([text], model=lm, use_cache=False)
    seconds = time.perf_counter() - started
    return {
        "bytes": n_bytes,
        "peak_after_load_kib": loaded,
        "peak_after_scoring_kib": _status_kib("VmHWM"),
        "scoring_seconds": round(seconds, 2),
        "status": record.status,
        "n_tokens": record.n_tokens,
        "truncated": record.truncated,
    }


def measure(model: str, n_bytes: int, code: str | None) -> dict:
    env = dict(os.environ, PYTHONPATH=code) if code else None
    res = subprocess.run([sys.executable, __file__, "--child", model, str(n_bytes)], capture_output=True, text=True, env=env, check=False)
    if res.returncode != 0:
        raise SystemExit(f"child failed:\n{res.stderr[-3000:]}")
    out = json.loads(res.stdout.strip().splitlines()[-1])
    out["scoring_extra_mib"] = round((out["peak_after_scoring_kib"] - out["peak_after_load_kib"]) / 1024, 1)
    return out


def table(result: dict) -> str:
    rows = [
        "| document | peak RSS after loading the model | peak RSS after scoring | scoring's extra memory | scoring time | tokens kept |",
        "|---|---|---|---|---|---|",
    ]
    for r in result["runs"]:
        rows.append(
            f"| {r['bytes'] / MiB:.0f} MiB, one line | {r['peak_after_load_kib'] / 1024:.0f} MiB | {r['peak_after_scoring_kib'] / 1024:.0f} MiB | "
            f"{r['scoring_extra_mib']:.0f} MiB | {r['scoring_seconds']:.1f} s | {r['n_tokens']}{' (truncated)' if r['truncated'] else ''} |"
        )
    first, last = result["runs"][0], result["runs"][-1]
    rows.append(
        f"| ratio, {last['bytes'] / MiB:.0f} MiB against {first['bytes'] / MiB:.0f} MiB | | | "
        f"{last['scoring_extra_mib'] / max(first['scoring_extra_mib'], 1):.2f} | {last['scoring_seconds'] / first['scoring_seconds']:.2f} | target: about 1 |"
    )
    return "\n".join(rows)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2], int(sys.argv[3]))))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--sizes-mib", default="1,50", help="comma-separated document sizes in MiB, smallest first")
    ap.add_argument("--code", default=None, help="a folder holding the llm_mia package to measure instead of this one")
    ap.add_argument("--out", default=str(HERE / "results" / "long_document.json"))
    ap.add_argument("--update-readme", action="store_true")
    args = ap.parse_args()
    import torch

    result = {
        "command": "python benchmarks/bench_long_document.py " + " ".join(sys.argv[1:]),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}",
        "date": time.strftime("%Y-%m-%d"),
        "model": args.model,
        "code": args.code,
        "runs": [],
    }
    for size in args.sizes_mib.split(","):
        result["runs"].append(measure(args.model, int(float(size) * MiB), args.code))
        print(json.dumps(result["runs"][-1]), file=sys.stderr)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    md = table(result)
    print(md)
    if args.update_readme:
        update_readme("long", f"`{result['command']}` ({result['machine']}, {result['date']}, {result['model']}):", md)


if __name__ == "__main__":
    main()
