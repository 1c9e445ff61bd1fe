"""GradNorm's memory: the peak a backward pass adds, measured, against the estimate that the
scorer's guard uses (``HFBackend.gradient_bytes``; issue 27, defect 11).

Each (model, dtype, tokens) runs in a fresh process: the model is loaded, a 16-token pass warms
it, the peak resident set is reset (``/proc/self/clear_refs``), one ``forward_with_gradient``
runs, and the peak (``VmHWM``) less the resident set before it is the measured cost. The guard
is safe where measured / estimated stays at or below 1 (Linux only).

    python benchmarks/gradient_memory.py --update-readme
    python benchmarks/gradient_memory.py --render    # the table again from results/gradient-memory.json
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from readme_block import update_readme  # noqa: E402

RESULT = HERE / "results" / "gradient-memory.json"
CASES = [
    ("smollm2-135m", "float32", (128, 512, 1024, 2048, 4096)),
    ("smollm2-135m", "bfloat16", (512, 2048)),
    ("gemma3-270m", "float32", (128, 512, 1024, 2048)),
]


def _status(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) * 1024
    raise SystemExit(f"no {key} in /proc/self/status (Linux only)")


def one(model: str, dtype: str, n: int) -> dict:
    """Measure one pass in this process (the subprocess side)."""
    from llm_mia.backends import HFBackend, load_model

    backend = HFBackend(load_model(model, dtype=dtype))
    ids = backend.tokenize(["warm up " * 8])[0][:16]
    backend.forward_with_gradient(ids)
    ids = [ids[0]] + [(7 * i + 11) % 4000 + 100 for i in range(n - 1)]  # any ids: the cost depends on the length alone
    needed = backend.gradient_bytes(n)
    gc.collect()
    before = _status("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak
    started = time.perf_counter()
    backend.forward_with_gradient(ids)
    seconds = time.perf_counter() - started
    measured = _status("VmHWM") - before
    return {"model": model, "dtype": dtype, "tokens": n, "measured": measured, "estimated": needed, "ratio": measured / needed, "seconds": seconds}


def table(rows: list[dict]) -> str:
    lines = ["| model | dtype | tokens | measured GB | estimated GB | measured / estimated |", "|---|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['dtype']} | {r['tokens']:,} | {r['measured'] / 1e9:.2f} | {r['estimated'] / 1e9:.2f} | {r['ratio']:.2f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--one", nargs=3, metavar=("MODEL", "DTYPE", "TOKENS"), help=argparse.SUPPRESS)
    ap.add_argument("--update-readme", action="store_true")
    ap.add_argument("--render", action="store_true", help="only write the README's table from results/gradient-memory.json")
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one[0], args.one[1], int(args.one[2]))))
        return
    if args.render:
        render(json.loads(RESULT.read_text()))
        return
    rows = []
    for model, dtype, lengths in CASES:
        for n in lengths:
            out = subprocess.run([sys.executable, __file__, "--one", model, dtype, str(n)], capture_output=True, text=True)
            if out.returncode != 0:
                raise SystemExit(f"{model} {dtype} {n}: {out.stderr.strip()[-2000:]}")
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(json.dumps(rows[-1]), file=sys.stderr)
    result = {
        "rows": rows,
        "machine": platform.processor() or platform.machine(),
        "command": "python benchmarks/gradient_memory.py --update-readme",
        "date": time.strftime("%Y-%m-%d"),
    }
    RESULT.write_text(json.dumps(result, indent=1) + "\n")
    print(table(rows))
    if args.update_readme:
        render(result)


def render(result: dict) -> None:
    update_readme(
        "gradient-memory",
        f"Measured with `{result['command']}` ({result['date']}); the guard is safe where the ratio is at most 1.",
        table(result["rows"]),
        section="## GradNorm's memory, measured against the guard's estimate: `gradient_memory.py`\n\n"
        "The peak memory one backward pass adds (a fresh process per row), against the estimate with which the scorer refuses, "
        "as a per-text status, a text whose gradient would not fit in the memory free.",
    )


if __name__ == "__main__":
    main()
