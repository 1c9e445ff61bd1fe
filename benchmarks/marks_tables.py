"""Marks, measured (issue 25): the test's level on models that never saw the marks, its power on
copies trained on texts that carry them, and its cost.

- ``level``: ``--seeds`` manifests, each with a fresh seed (fresh marks and a fresh choice of the
  published half), tested on the base model, which never saw any: the share of p < 0.05 and
  p < 0.01, with Clopper-Pearson 95% intervals. Anything but the nominal level is a bug. Also
  the marks scored per second.
- ``power``: one manifest per design and length (``--marks`` candidates, half published); the
  controlled split's excerpts (``gutenberg_blind``) carry the published marks, ``--repeat``
  copies of each, a few marks per excerpt as paragraphs after it (the excerpt cut short so that
  they lie within the ``--max-tokens`` that training reads; the result counts those that do); a copy of the base model
  is trained on them as the controlled split trains (one pass, AdamW, lr 1e-4, batch 8) and
  tested. Fewer published marks are tested by taking the first k of them against all the
  secret ones: the marks' texts are drawn independently of their index and of the choice of
  which are published, so within that smaller pool the scores are exchangeable given the
  choice, and the permutation test over it stays exact.

    python benchmarks/marks_tables.py --part level --model smollm2-135m --seeds 1000
    python benchmarks/marks_tables.py --part power --model smollm2-135m --repeat 4 --data-dir ../shared/data
    python benchmarks/marks_tables.py --render                 # writes benchmarks/MARKS.md
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from llm_mia import ScorerConfig, load_model  # noqa: E402
from llm_mia.bench import ControlledConfig, excerpts, train_on_members  # noqa: E402
from llm_mia.evaluation import markdown_table  # noqa: E402
from llm_mia.marks import Manifest, make_marks, mark_test  # noqa: E402
from llm_mia.scoring import as_backend  # noqa: E402
from check_validity import share_ci  # noqa: E402  (Clopper-Pearson, as the other tables)

RESULTS = HERE / "results" / "marks.json"
PAGE = HERE / "MARKS.md"
DESIGNS = ("words", "chars")
LENGTHS = (16, 32)
PUBLISHED = (16, 64, 256)
MARKS_PER_EXCERPT = 8


def level(model: str, args: argparse.Namespace) -> dict[str, Any]:
    lm = load_model(model)
    backend = as_backend(lm, ScorerConfig())
    ps, seconds, marks = [], 0.0, 0
    for k in range(args.seeds):
        manifest = make_marks(backend, design=args.design, n_marks=args.marks, n_published=args.marks // 2, length=args.length, seed=f"{k + 1:x}")
        started = time.perf_counter()
        ps.append(mark_test(manifest, lm, n_draws=args.draws, seed=k, use_cache=False, progress=False).p_value)
        seconds += time.perf_counter() - started
        marks += len(manifest.marks)
        if (k + 1) % 100 == 0:
            print(f"{k + 1} seeds: {sum(p < 0.05 for p in ps)} with p < 0.05", file=sys.stderr)
    arr = np.array(ps)
    return {
        "design": args.design,
        "marks": args.marks,
        "length": args.length,
        "draws": args.draws,
        "seeds": args.seeds,
        "rows": [{"alpha": a, "hits": int((arr < a).sum())} for a in (0.05, 0.01)],
        "mean_p": float(arr.mean()),
        "marks_per_second": marks / seconds,
    }


def _marked_corpus(texts: list[str], manifests: list[Manifest], repeat: int, seed: int, backend: Any, max_tokens: int) -> tuple[list[str], int, int]:
    """The excerpts, each carrying up to ``MARKS_PER_EXCERPT`` copies of published marks (of every
    manifest, ``repeat`` copies each, in a seeded order) as paragraphs after it; excerpts are
    reused in turn when the marks outnumber them, and each is cut short so that its marks lie
    within the ``max_tokens`` tokens that training reads. Also how many copies did: counted on
    the training texts as training cuts them, not assumed; and the corpus's tokens."""
    copies = [m.text for man in manifests for m in man.published for _ in range(repeat)]
    order = np.random.default_rng(seed).permutation(len(copies))
    chunks = [[copies[i] for i in order[start : start + MARKS_PER_EXCERPT]] for start in range(0, len(copies), MARKS_PER_EXCERPT)]
    tails = ["\n\n" + "\n\n".join(chunk) for chunk in chunks]
    tail_tokens = backend.tokenize(tails, special_tokens=False)
    heads = backend.tokenize([texts[j % len(texts)] for j in range(len(chunks))], special_tokens=False)
    decode = backend.tokenizer.decode
    corpus = [decode(head[: max(0, max_tokens - len(ids) - 16)]) + tail for head, tail, ids in zip(heads, tails, tail_tokens)]
    tokenized = backend.tokenize(corpus)
    seen = [decode(ids[:max_tokens]) for ids in tokenized]  # what training reads of each text
    kept = sum(sum(seen[j].count(c) for c in set(chunk)) for j, chunk in enumerate(chunks))
    return corpus, kept, sum(map(len, tokenized))


def power(model: str, args: argparse.Namespace) -> dict[str, Any]:
    base = load_model(model, device="cpu")
    backend = as_backend(base, ScorerConfig())
    manifests = {
        (d, n): make_marks(backend, design=d, n_marks=args.marks, n_published=args.marks // 2, length=n, seed=f"{DESIGNS.index(d) + 1}{n:02x}{args.seed:x}")
        for d in DESIGNS
        for n in LENGTHS
    }
    pool = excerpts(args.data_dir)
    corpus, kept, tokens = _marked_corpus(pool, list(manifests.values()), args.repeat, args.seed, backend, args.max_tokens)
    config = ControlledConfig(base_model=model, max_tokens=args.max_tokens)
    started = time.time()
    train_on_members(base, {1: corpus}, config, progress=True)
    train_seconds = time.time() - started
    rows = []
    for (design, length), man in manifests.items():
        for k in PUBLISHED:
            if k > len(man.published):
                continue
            keep = {m.index for m in man.published[:k]} | {m.index for m in man.secret}
            sub = replace(man, marks=[m for m in man.marks if m.index in keep])
            res = mark_test(sub, base, n_draws=args.draws, use_cache=False, progress=False)
            rows.append(
                {
                    "design": design,
                    "length": length,
                    "published": k,
                    "secret": len(man.secret),
                    "p_value": res.p_value,
                    "mean_rank": res.mean_rank,
                    "effect": res.effect,
                }
            )
            print(rows[-1], file=sys.stderr)
    return {
        "repeat": args.repeat,
        "marks": args.marks,
        "training_tokens": tokens,
        "draws": args.draws,
        "copies": sum(len(m.published) for m in manifests.values()) * args.repeat,
        "copies_in_training": kept,
        "training_seconds": round(train_seconds, 1),
        "max_tokens": args.max_tokens,
        "rows": rows,
    }


PARTS = {"level": level, "power": power}


def render(results: dict[str, Any]) -> str:
    lines = [
        "# Marks, measured",
        "",
        "Generated by `python benchmarks/marks_tables.py --render` from `results/marks.json`; each part by the command in its section.",
    ]
    for model, part in sorted(results.get("level", {}).items()):
        lines += [
            "",
            f"## Level: {model}, which never saw the marks",
            "",
            f"`{part['command']}`: {part['seeds']} manifests of {part['marks']} {part['design']} marks of {part['length']} tokens, half published, "
            f"Monte Carlo p-values with {part['draws']} draws. Mean p-value {part['mean_p']:.3f} (0.5 expected); {part['marks_per_second']:.0f} marks scored per second.",
            "",
        ]
        cis = [share_ci(r["hits"], part["seeds"]) for r in part["rows"]]  # Clopper-Pearson, from the counts
        rows = [
            [f"p < {r['alpha']:g}", f"{r['hits']} of {part['seeds']}", f"{100 * ci['share']:.1f}% [{100 * ci['ci_low']:.1f}, {100 * ci['ci_high']:.1f}]"]
            for r, ci in zip(part["rows"], cis)
        ]
        lines.append(markdown_table(["p-value", "manifests", "share [95% CI]"], rows))
    for key, part in sorted(results.get("power", {}).items()):
        model = key.rsplit(" x", 1)[0]
        lines += [
            "",
            f"## Power: {model}, trained on texts carrying each published mark {part['repeat']} time(s)",
            "",
            f"`{part['command']}`: {part['training_tokens']:,} training tokens, {part['training_seconds']:.0f} s; tested against all {part['marks'] // 2} secret marks. "
            + (
                f"{part['copies_in_training']:,} of {part['copies']:,} copies of published marks lie within the {part['max_tokens']} tokens that training reads of each text."
                if "copies" in part
                else "How many copies lay within the tokens training reads was not counted (an earlier layout, which put the marks after whole excerpts)."
            )
            + f" p-values from {part.get('draws', 999)} random choices of the published marks, so {1 / (part.get('draws', 999) + 1):.3g} is the smallest possible.",
            "",
        ]
        rows = [[r["design"], str(r["length"]), str(r["published"]), f"{r['p_value']:.2g}", f"{100 * r['mean_rank']:.0f}%"] for r in part["rows"]]
        lines.append(markdown_table(["design", "tokens", "published marks tested", "p-value", "mean rank of a published mark"], rows))
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=sorted(PARTS))
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--seeds", type=int, default=1000)
    ap.add_argument("--design", default="chars")
    ap.add_argument("--marks", type=int, default=None, help="candidates per manifest (default: 32 for level, 128 for power)")
    ap.add_argument("--length", type=int, default=16)
    ap.add_argument("--draws", type=int, default=999)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--max-tokens", type=int, default=512)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--render", action="store_true")
    args = ap.parse_args()
    if args.marks is None:
        args.marks = 32 if args.part == "level" else 128
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    if args.part:
        started = time.time()
        part = PARTS[args.part](args.model, args)
        argv = " ".join(a for a in sys.argv[1:] if a != "--render")
        part.update(command=f"python benchmarks/marks_tables.py {argv}", seconds=round(time.time() - started, 1), date=time.strftime("%Y-%m-%d"))
        key = args.model if args.part == "level" else f"{args.model} x{args.repeat}"
        results.setdefault(args.part, {})[key] = part
        RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    if args.render or not args.part:
        PAGE.write_text(render(results))


if __name__ == "__main__":
    main()
