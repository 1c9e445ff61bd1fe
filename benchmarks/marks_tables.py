"""Marks, measured (issue 25): the test's level on models that never saw the marks, its power on
copies trained on texts that carry them, and its cost.

- ``level``: ``--seeds`` manifests, each with a fresh seed (fresh marks and a fresh choice of the
  published half), tested on the base model, which never saw any: the share of p < 0.05 and
  p < 0.01, with Clopper-Pearson 95% intervals. Anything but the nominal level is a bug. Also
  the marks scored per second.
- ``power``: one manifest per design and length (``--published`` marks published, ``--secret``
  kept secret); the controlled split's excerpts (``gutenberg_blind``) carry the published marks,
  ``--repeat`` copies of each in a seeded order, as paragraphs after the excerpt (cut short so
  that the marks lie within the ``--max-tokens`` that training reads; the result counts those
  that do); a copy of the base model is trained on them as the controlled split trains (one
  pass, AdamW, lr 1e-4, batch 8) and every mark is scored with ``loss`` and with ``ref`` (the
  untouched base model as the reference; computed from the two models' ``loss`` scores, which
  is the ``ref`` detector's value exactly: largest difference 0 in a check on tiny models). The published marks are then cut into disjoint groups
  of 16, 64 and 256, each tested against all the secret marks (:func:`_groups`): the share of
  groups found is the power at that size. The commands below keep published marks x repeats
  equal within a model (256 for SmolLM2, 64 for Gemma), so its copies train on corpora of one size.
- The owner's table (``--render``): for each design and number of repetitions, the fewest
  published mark tokens with which every group was found.

    python benchmarks/marks_tables.py --part level --model smollm2-135m --seeds 1000
    python benchmarks/marks_tables.py --part level --model gemma3-270m --seeds 1000 --dtype bfloat16
    python benchmarks/marks_tables.py --part power --model smollm2-135m --repeat 1 --published 256 --data-dir ../shared/data
    python benchmarks/marks_tables.py --part power --model smollm2-135m --repeat 4 --published 64 --data-dir ../shared/data
    python benchmarks/marks_tables.py --part power --model smollm2-135m --repeat 16 --published 16 --data-dir ../shared/data
    python benchmarks/marks_tables.py --part power --model gemma3-270m --repeat 1 --published 64 --max-tokens 256 --data-dir ../shared/data
    python benchmarks/marks_tables.py --part power --model gemma3-270m --repeat 4 --published 16 --max-tokens 256 --data-dir ../shared/data
    python benchmarks/marks_tables.py --part power --model gemma3-270m --repeat 16 --published 16 --lengths 16 --max-tokens 256 --data-dir ../shared/data
    python benchmarks/marks_tables.py --render                 # writes benchmarks/MARKS.md
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import binom

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from llm_mia import ScorerConfig, load_model  # noqa: E402
from llm_mia.bench import ControlledConfig, excerpts, train_on_members  # noqa: E402
from llm_mia.evaluation import markdown_table  # noqa: E402
from llm_mia.marks import DESIGNS, Manifest, MarkTest, make_marks, mark_test, permutation_p  # noqa: E402
from llm_mia.scoring import as_backend  # noqa: E402
from check_validity import share_ci  # noqa: E402  (Clopper-Pearson, as the other tables)

RESULTS = HERE / "results" / "marks.json"
PAGE = HERE / "MARKS.md"
LENGTHS = (16, 32, 64)
PUBLISHED = (16, 64, 256)
MARK_SHARE = 0.75
"""Of the tokens training reads of each text, at most this share are marks; the excerpt fills the rest."""
ALPHA = 0.01
"""A group of published marks counts as found at p < ALPHA."""


def level(model: str, args: argparse.Namespace) -> dict[str, Any]:
    lm = load_model(model, dtype=args.dtype)
    backend = as_backend(lm, ScorerConfig())
    ps, seconds, marks, methods = [], 0.0, 0, set()
    for k in range(args.first_seed - 1, args.first_seed - 1 + args.seeds):
        manifest = make_marks(backend, design=args.design, n_marks=args.marks, n_published=args.marks // 2, length=args.length, seed=f"{k + 1:x}")
        started = time.perf_counter()
        result = mark_test(manifest, lm, n_draws=args.draws, seed=k, use_cache=False, progress=False)
        seconds += time.perf_counter() - started
        ps.append(result.p_value)
        methods.add(f"{result.method} ({result.n_subsets:,} subsets)")
        marks += len(manifest.marks)
        if len(ps) % 100 == 0:
            print(f"{len(ps)} seeds: {sum(p < 0.05 for p in ps)} with p < 0.05", file=sys.stderr)
    arr = np.array(ps)
    return {
        "design": args.design,
        "dtype": args.dtype,
        "marks": args.marks,
        "length": args.length,
        "draws": args.draws,
        "seeds": args.seeds,
        "first_seed": args.first_seed,
        "p_values": [round(p, 6) for p in ps],
        "rows": [{"alpha": a, "hits": int((arr < a).sum())} for a in (0.05, 0.01)],
        "mean_p": float(arr.mean()),
        "method": ", ".join(sorted(methods)),
        "marks_per_second": marks / seconds,
    }


def _marked_corpus(texts: list[str], manifests: list[Manifest], repeat: int, seed: int, backend: Any, max_tokens: int) -> tuple[list[str], int, int]:
    """The excerpts, each carrying copies of published marks (of every manifest, ``repeat``
    copies each, in a seeded order) as paragraphs after it, up to ``MARK_SHARE`` of the
    ``max_tokens`` tokens that training reads; each excerpt is cut short so that its marks lie
    within them, and excerpts are reused in turn when the marks outnumber them. Also how many
    copies do lie within them: counted on the training texts as training cuts them, not
    assumed; and the corpus's tokens."""
    copies = [m.text for man in manifests for m in man.published for _ in range(repeat)]
    order = np.random.default_rng(seed).permutation(len(copies))
    sizes = [len(ids) + 2 for ids in backend.tokenize(copies, special_tokens=False)]  # + the paragraph break
    budget = int(MARK_SHARE * max_tokens)
    chunks: list[list[str]] = [[]]
    used = 0
    for i in order:
        if chunks[-1] and used + sizes[i] > budget:
            chunks.append([])
            used = 0
        chunks[-1].append(copies[i])
        used += sizes[i]
    tails = ["\n\n" + "\n\n".join(chunk) for chunk in chunks]
    tail_tokens = backend.tokenize(tails, special_tokens=False)
    heads = backend.tokenize([texts[j % len(texts)] for j in range(len(chunks))], special_tokens=False)
    decode = backend.tokenizer.decode
    corpus = [decode(head[: max(0, max_tokens - len(ids) - 16)]) + tail for head, tail, ids in zip(heads, tails, tail_tokens)]
    tokenized = backend.tokenize(corpus)
    seen = [decode(ids[:max_tokens]) for ids in tokenized]  # what training reads of each text
    kept = sum(sum(seen[j].count(c) for c in set(chunk)) for j, chunk in enumerate(chunks))
    return corpus, kept, sum(map(len, tokenized))


def _roles(result: MarkTest, before: MarkTest | None = None) -> tuple[list[float], list[float]]:
    """(published, secret) scores in index order: ``loss`` from ``result``, or with ``before``
    (the same marks under the model before training) ``ref`` = loss score - loss score before =
    NLL_before - NLL_after, the ``ref`` detector's value with that model as the reference,
    without scoring the trained model twice. A mark either model could not score is left out."""
    old = {m.index: m.score for m in before.scores} if before is not None else None
    published: list[float] = []
    secret: list[float] = []
    for m in result.scores:
        base = 0.0 if old is None else old.get(m.index)
        if m.score is None or base is None:
            continue
        (published if m.published else secret).append(m.score - base)
    return published, secret


def _groups(published: list[float], secret: list[float], k: int, draws: int) -> list[float]:
    """p-values of the disjoint groups of ``k`` published marks (in index order), each tested
    against every secret mark. The marks' texts are drawn independently of their index and of
    the choice of which are published, so within each smaller pool the scores are exchangeable
    given the choice, and each group's permutation test stays exact; the groups share the
    secret marks, so their outcomes are not independent."""
    mask = np.array([True] * k + [False] * len(secret))
    return [
        permutation_p(np.array(published[start : start + k] + secret, dtype=float), mask, n_draws=draws, seed=start)[0]
        for start in range(0, len(published) - k + 1, k)
    ]


def _mean_rank(published: list[float], secret: list[float]) -> float:
    """The published marks' mean share of secret marks that score lower (ties count half)."""
    s = np.array(secret)
    return float(np.mean([((s < v).sum() + 0.5 * (s == v).sum()) / s.size for v in published]))


def power(model: str, args: argparse.Namespace) -> dict[str, Any]:
    base = load_model(model, device="cpu")
    backend = as_backend(base, ScorerConfig())
    manifests = {
        (d, n): make_marks(
            backend, design=d, n_marks=args.published + args.secret, n_published=args.published, length=n, seed=f"{DESIGNS.index(d) + 1}{n:02x}{args.seed:x}"
        )
        for d in args.designs
        for n in args.lengths
    }
    pool = excerpts(args.data_dir)
    corpus, kept, tokens = _marked_corpus(pool, list(manifests.values()), args.repeat, args.seed, backend, args.max_tokens)
    config = ControlledConfig(base_model=model, max_tokens=args.max_tokens)
    started = time.time()
    train_on_members(base, {1: corpus}, config, progress=True)
    train_seconds = time.time() - started
    untouched = load_model(model, device="cpu")  # the reference for ``ref``: the model before training
    rows = []
    for (design, length), man in manifests.items():
        trained = mark_test(man, base, n_draws=args.draws, use_cache=False, progress=False)
        before = mark_test(man, untouched, n_draws=args.draws, use_cache=False, progress=False)
        for statistic, (published, secret) in (("loss", _roles(trained)), ("ref", _roles(trained, before))):
            for k in PUBLISHED:
                if k > len(published):
                    continue
                ps = _groups(published, secret, k, args.draws)
                rows.append(
                    {
                        "design": design,
                        "length": length,
                        "statistic": statistic,
                        "published": k,
                        "secret": len(secret),
                        "p_values": ps,
                        "mean_rank": _mean_rank(published, secret),
                    }
                )
                print({**rows[-1], "p_values": f"{sum(p < ALPHA for p in ps)} of {len(ps)} below {ALPHA}"}, file=sys.stderr)
    return {
        "repeat": args.repeat,
        "marks": args.published + args.secret,
        "published": args.published,
        "training_tokens": tokens,
        "draws": args.draws,
        "copies": sum(len(m.published) for m in manifests.values()) * args.repeat,
        "copies_in_training": kept,
        "training_seconds": round(train_seconds, 1),
        "max_tokens": args.max_tokens,
        "rows": rows,
    }


PARTS = {"level": level, "power": power}


def _papers(power: dict[str, Any]) -> str:
    tokens = [part["training_tokens"] for part in power.values()]
    return (
        "Published figures, for scale: copyright traps of 100 tokens repeated 1,000 times in a 1.3B model's training data gave "
        "AUC 0.75 (Meeus et al., ICML 2024); random-sequence data watermarks were found in BLOOM-176B from about 90 occurrences "
        f"(Wei, Wang and Jia, 2024). The copies here are trained once over corpora of {min(tokens):,} to {max(tokens):,} tokens, "
        "not among billions: a mark's trace is far easier to find than in a real pretraining run, so these are the least an owner "
        "needs, not enough."
    )


def _found(ps: list[float]) -> str:
    hits = sum(p < ALPHA for p in ps)
    return f"{hits} of {len(ps)}" + (f" (p = {ps[0]:.2g})" if len(ps) == 1 else f" (median p {float(np.median(ps)):.2g})")


def _level_section(model: str, part: dict[str, Any]) -> list[str]:
    method = part.get("method") or f"monte carlo ({part['draws']} draws)"
    lines = [
        "",
        f"## Level: {model}, which never saw the marks",
        "",
        f"`{part['command']}`: {part['seeds']} manifests (seeds {part.get('first_seed', 1)} to {part.get('first_seed', 1) + part['seeds'] - 1}) "
        f"of {part['marks']} {part['design']} marks of {part['length']} tokens, half published, "
        f"scored in {part.get('dtype', 'float32')}; p-values by {method}. "
        f"Mean p-value {part['mean_p']:.3f} (0.5 expected); {part['marks_per_second']:.0f} marks scored per second.",
        "",
    ]
    cis = [share_ci(r["hits"], part["seeds"]) for r in part["rows"]]  # Clopper-Pearson, from the counts
    rows = [
        [f"p < {r['alpha']:g}", f"{r['hits']} of {part['seeds']}", f"{100 * ci['share']:.1f}% [{100 * ci['ci_low']:.1f}, {100 * ci['ci_high']:.1f}]"]
        for r, ci in zip(part["rows"], cis)
    ]
    lines.append(markdown_table(["p-value", "manifests", "share [95% CI]"], rows))
    for r, ci in zip(part["rows"], cis):
        if not ci["ci_low"] <= r["alpha"] <= ci["ci_high"]:
            tail = float(binom.sf(r["hits"] - 1, part["seeds"], r["alpha"]))
            lines += [
                "",
                f"**Outside the nominal level:** the interval of p < {r['alpha']:g} excludes {r['alpha']:g} "
                f"({r['hits']} or more of {part['seeds']} has probability {tail:.3f} at the nominal level). The test is exact by "
                "construction (the published half is drawn independently of the marks), so this is chance or a defect not yet "
                "found, which a replication on other seeds tells apart (this model's other level runs on this page).",
            ]
    return lines


def _power_section(model: str, part: dict[str, Any]) -> list[str]:
    ks = sorted({r["published"] for r in part["rows"]})
    lines = [
        "",
        f"## Power: {model}, each published mark {part['repeat']} time(s) in the training text",
        "",
        f"`{part['command']}`: {part['published']} published and {part['marks'] - part['published']} secret marks per design and length; "
        f"{part['training_tokens']:,} training tokens, trained in {part['training_seconds']:.0f} s; "
        f"{part['copies_in_training']:,} of {part['copies']:,} copies of published marks lie within the {part['max_tokens']} tokens that training reads of each text. "
        f"Each cell: the disjoint groups of that many published marks, each tested against all the secret marks, found at p < {ALPHA:g} "
        f"(p-values from {part['draws']:,} random choices, so {1 / (part['draws'] + 1):.2g} is the smallest possible). "
        "`loss`: the model alone; `ref`: calibrated by the model before training, the ideal reference model "
        "(an owner has one only where an earlier version of the model predates the marks' release).",
        "",
    ]
    rows = []
    for (design, length, statistic), group in _by_config(part["rows"]).items():
        by_k = {r["published"]: r for r in group}
        rank = group[0]["mean_rank"]
        rows.append([design, str(length), statistic] + [_found(by_k[k]["p_values"]) if k in by_k else "" for k in ks] + [f"{100 * rank:.0f}%"])
    head = ["design", "tokens", "statistic"] + [f"{k} published" for k in ks] + ["mean rank of a published mark"]
    return lines + [markdown_table(head, rows)]


def _by_config(rows: list[dict[str, Any]]) -> dict[tuple[str, int, str], list[dict[str, Any]]]:
    out: dict[tuple[str, int, str], list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault((r["design"], r["length"], r["statistic"]), []).append(r)
    return out


def _guide(power: dict[str, Any]) -> list[str]:
    """The owner's table: per model, design and statistic, for each number of repetitions, the
    fewest published tokens (marks x tokens per mark) among the tried configurations in which
    every group of published marks was found at p < ALPHA."""
    found: dict[tuple[str, str, str], dict[int, list[tuple[int, int, int]]]] = {}
    for key, part in power.items():
        model = key.rsplit(" x", 1)[0]
        for (design, length, statistic), group in _by_config(part["rows"]).items():
            cell = found.setdefault((model, design, statistic), {}).setdefault(part["repeat"], [])
            cell += [(r["published"] * length, r["published"], length) for r in group if all(p < ALPHA for p in r["p_values"])]
    rs = sorted({part["repeat"] for part in power.values()})

    def text(cell: list[tuple[int, int, int]] | None) -> str:
        if cell is None:
            return "not tried"
        if not cell:
            return "none of those tried"
        tokens, k, length = min(cell)
        return f"{tokens:,} ({k} marks of {length} tokens)"

    rows = [[model, design, statistic] + [text(by_repeat.get(r)) for r in rs] for (model, design, statistic), by_repeat in sorted(found.items())]
    return [
        "",
        "## How many marks to insert",
        "",
        f"From the power tables above: the fewest published mark tokens (marks x tokens per mark) with which every group tried was found at p < {ALPHA:g}, "
        "by how many times each mark appears in the training text. The smallest tried is 16 marks of 16 tokens (256), so a cell of 256 "
        'may need fewer; "none of those tried": not found with up to the largest tried (the power tables). '
        "Measured on small models trained here for one pass (AdamW, learning rate 1e-4, batch 8): a floor for a real model, "
        "which reads each copy among far more text. Repetitions help more than marks: place each mark several times, "
        "and prefer `words` to `chars`; `sentences` are found mostly with a reference model.",
        "",
        markdown_table(["model", "design", "statistic"] + [f"{r} time(s) each" for r in rs], rows),
        "",
        _papers(power),
    ]


def render(results: dict[str, Any]) -> str:
    lines = [
        "# Marks, measured",
        "",
        "Generated by `python benchmarks/marks_tables.py --render` from `results/marks.json`; each part by the command in its section.",
    ]
    for model, part in sorted(results.get("level", {}).items()):
        lines += _level_section(model, part)
    power = results.get("power", {})
    if power:
        lines += _guide(power)
    for key, part in sorted(power.items(), key=lambda kv: (kv[0].rsplit(" x", 1)[0], kv[1]["repeat"])):
        lines += _power_section(key.rsplit(" x", 1)[0], part)
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=sorted(PARTS))
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--seeds", type=int, default=1000)
    ap.add_argument("--first-seed", type=int, default=1, help="level: the first manifest's seed (seeds run from it, one per manifest)")
    ap.add_argument("--design", default="chars")
    ap.add_argument("--marks", type=int, default=32, help="level: candidates per manifest, half published")
    ap.add_argument("--length", type=int, default=16, help="level: tokens per mark")
    ap.add_argument("--dtype", default="float32", help="level: the model's dtype (the test is exact for any deterministic scorer)")
    ap.add_argument("--designs", type=lambda v: v.split(","), default=list(DESIGNS), help="power: designs, comma-separated (default: all)")
    ap.add_argument("--lengths", type=lambda v: [int(x) for x in v.split(",")], default=list(LENGTHS), help="power: tokens per mark, comma-separated")
    ap.add_argument("--published", type=int, default=64, help="power: published marks per design and length (groups of 16, 64, 256 of them are tested)")
    ap.add_argument("--secret", type=int, default=64, help="power: secret marks per design and length")
    ap.add_argument("--draws", type=int, default=None, help="Monte Carlo draws per p-value (default: 999 for level, 9999 for power)")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--max-tokens", type=int, default=512)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--render", action="store_true")
    args = ap.parse_args()
    if args.draws is None:
        args.draws = 999 if args.part == "level" else 9999
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    if args.part:
        started = time.time()
        part = PARTS[args.part](args.model, args)
        argv = " ".join(a for a in sys.argv[1:] if a != "--render")
        part.update(command=f"python benchmarks/marks_tables.py {argv}", seconds=round(time.time() - started, 1), date=time.strftime("%Y-%m-%d"))
        key = f"{args.model} x{args.repeat}" if args.part == "power" else args.model if args.first_seed == 1 else f"{args.model} from seed {args.first_seed}"
        results.setdefault(args.part, {})[key] = part
        RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    if args.render or not args.part:
        PAGE.write_text(render(results))


if __name__ == "__main__":
    main()
