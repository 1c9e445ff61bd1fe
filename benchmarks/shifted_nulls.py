"""Shifted nulls: how often does `llm-mia check` call two sets of NON-members significant when
they differ in kind? (issue 14)

Every text here was written in 2026, after the embedded models were trained (SmolLM2: 2024 data,
Gemma 3: 2025), so none is a member; a p-value below 0.05 is a false positive. The texts are
this project's own files at a fixed commit, cut into excerpts of 64 words:

- ``prose``: the README and the benchmark write-ups (Markdown);
- ``commits``: the commit messages, oldest first; ``earlier commits`` and ``later commits``: the
  older and the newer half of them;
- ``core``: the library's code, command-line modules excepted;
- ``cli``: the command-line and server modules (code by the same authors on other topics);
- ``tests``: the test files;
- ``readme`` and ``bench readme``: the README and the benchmarks' README (hand-written prose);
- ``scoring code`` (backends, scoring, cache, models, server) and ``detector code`` (detectors,
  tests, metrics, model-free baseline): the library's code on two topics.

Pairs of different kinds (prose vs code, commits vs tests), mild shifts (core vs cli, prose vs
commits, core vs tests), shifts within one kind by one author (another document, another topic,
another period; both directions), and i.i.d. nulls (two random halves of one collection). For
each pair and check mode, ``--draws`` random draws of ``--n`` excerpts per side; the share of
p < 0.05 with its Clopper-Pearson 95% interval. The model runs once per collection (cached
statistics). Then each mode's power on the controlled split (score files under ``results/``;
no model run): ``--power-sizes`` suspect texts, all, half or a fifth of them members.

    python benchmarks/shifted_nulls.py --model smollm2-135m      # writes results/shifted-nulls-MODEL.json

``--extra NAME=PATH`` adds another author's texts of a known date (for example the workplace's
documents for this project, written in 2026), compared with the README: one kind, another author.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from llm_mia import Document, score_documents  # noqa: E402
from llm_mia.evaluation import BaselineResult, model_free_auroc  # noqa: E402
from llm_mia.check import CHECK_DETECTORS, unlike  # noqa: E402
from llm_mia.check import cut_all  # noqa: E402
from llm_mia.check import collection_test, propensity_strata  # noqa: E402
from llm_mia.paths import sha256_file  # noqa: E402
from check_validity import share_ci  # noqa: E402  (Clopper-Pearson, as the other controls)

KINDS = {
    "prose": lambda f: f.endswith(".md") and not f.startswith(("notebooks/", "tests/")),
    "core": lambda f: f.startswith("llm_mia/") and f.endswith(".py") and not _cli(f),
    "cli": lambda f: f.startswith("llm_mia/") and _cli(f) and f.endswith(".py"),
    "tests": lambda f: f.startswith("tests/") and f.endswith(".py"),
    "readme": lambda f: f == "README.md",
    "bench readme": lambda f: f == "benchmarks/README.md",
    "scoring code": lambda f: f.startswith("llm_mia/backends/") or f in SCORING,
    "detector code": lambda f: f.startswith("llm_mia/detectors/") or f in STATISTICS,
}
# the files of each kind, in the flat layout of the commits before issue 23 and in the stage folders since
SCORING = (
    "llm_mia/scoring.py",
    "llm_mia/pipeline.py",
    "llm_mia/cache.py",
    "llm_mia/models.py",
    "llm_mia/serve.py",
    "llm_mia/scoring/scorer.py",
    "llm_mia/scoring/cache.py",
)
STATISTICS = (
    "llm_mia/inference.py",
    "llm_mia/metrics.py",
    "llm_mia/baseline.py",
    "llm_mia/check/stat_tests.py",
    "llm_mia/evaluation/metrics.py",
    "llm_mia/evaluation/baseline.py",
)


def _cli(f: str) -> bool:
    """The command line's and the server's modules (``cli*.py``, ``serve.py``; ``cli/``)."""
    return Path(f).name.startswith(("cli", "serve")) or f.startswith("llm_mia/cli/")


PAIRS = {  # name: (suspect collection, reference collection, kind of shift)
    "prose vs core code": ("prose", "core", "different kinds"),
    "commits vs tests": ("commits", "tests", "different kinds"),
    "core code vs cli code": ("core", "cli", "mild"),
    "core code vs tests": ("core", "tests", "mild"),
    "prose vs commits": ("prose", "commits", "mild"),
    "README vs benchmarks README": ("readme", "bench readme", "same kind, other document"),
    "benchmarks README vs README": ("bench readme", "readme", "same kind, other document"),
    "scoring code vs detector code": ("scoring code", "detector code", "same kind, other topic"),
    "detector code vs scoring code": ("detector code", "scoring code", "same kind, other topic"),
    "later vs earlier commits": ("later commits", "earlier commits", "same kind, other period"),
    "earlier vs later commits": ("earlier commits", "later commits", "same kind, other period"),
    "core code, two halves": ("core", "core", "i.i.d."),
    "prose, two halves": ("prose", "prose", "i.i.d."),
}
DETECTORS = list(CHECK_DETECTORS)  # llm-mia check's default detectors (before issue 22 with lowercase too)
CONTRAST = "reference contrast"
"""The collection test (exchangeable) on the ``ref`` detector alone: the target model's loss
against a reference model's that cannot have seen the suspect texts either (with
``--reference-model``; on the controlled split, the base model the copy was trained from)."""
GUARDED = "guarded"
MODES = {GUARDED: 0, "exchangeable": 0, "stratified": 10, "stratified, 5 per side mixed": 5, CONTRAST: 0}
"""Check modes, with the texts per side that the stratified test needs in mixed strata (llm-mia
check uses 10: with 5, prose against commit messages gave up to 19 false positives in 40 draws). The
guarded mode is the exchangeable test, answered only where the model-free check finds the two
sets alike (``llm_mia.check.run.unlike`` is false), as ``llm-mia check`` does by default."""


def git(commit: str, *args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True).stdout


def collections(commit: str, words: int, most: int | None = None, seed: int = 0) -> dict[str, list[Document]]:
    """The collections of excerpts at ``commit`` (see the module docstring), each at most
    ``most`` excerpts (a seeded random sample, in file order)."""
    files = git(commit, "ls-tree", "-r", "--name-only", commit).split()
    out: dict[str, list[Document]] = {}
    for kind, keep in KINDS.items():
        docs = [Document(f, git(commit, "show", f"{commit}:{f}")) for f in files if keep(f)]
        out[kind] = cut_all(docs, words)
    messages = [m.strip() for m in git(commit, "log", "--reverse", "--format=%B%x00", commit).split("\x00") if m.strip()]
    out["commits"] = cut_all([Document("commits", "\n\n".join(messages))], words)
    half = len(messages) // 2  # the earlier and the later half of the history, oldest first
    out["earlier commits"] = cut_all([Document("earlier commits", "\n\n".join(messages[:half]))], words)
    out["later commits"] = cut_all([Document("later commits", "\n\n".join(messages[half:]))], words)
    rng = np.random.default_rng(seed)
    for kind, docs in out.items():
        if most is not None and len(docs) > most:
            out[kind] = [docs[i] for i in sorted(rng.choice(len(docs), most, replace=False))]
    return out


def draw_p(sus: list[int], ref: list[int], x: np.ndarray, free: BaselineResult, mode: str, seed: int, splits: int, permutations: int) -> float | None:
    """The collection test's p-value for one draw (None: no calibrated answer in that mode).
    ``x``'s columns are ``DETECTORS`` then, where there is one, ``ref``; ``free`` is the draw's
    model-free check (:func:`model_free_check`), shared by its modes."""
    if mode == CONTRAST and x.shape[1] == len(DETECTORS):
        return None  # no reference model
    cols = [len(DETECTORS)] if mode == CONTRAST else list(range(len(DETECTORS)))
    a, b = x[sus][:, cols], x[ref][:, cols]
    x = x[:, cols]
    strata = None
    if mode == GUARDED and unlike(free):
        return None
    if mode not in ("exchangeable", CONTRAST, GUARDED):
        strata, n_s, n_r = propensity_strata(np.asarray(free.scores), len(sus))
        if min(n_s, n_r) < MODES[mode]:
            return None
    return collection_test(a, b, [str(j) for j in range(x.shape[1])], n_splits=splits, n_permutations=permutations, seed=seed, strata=strata).p_value


def model_free_check(sus: list[int], ref: list[int], texts: list[str], seed: int) -> BaselineResult:
    """The bag-of-words classifier telling one draw's suspect texts from its reference texts."""
    return model_free_auroc([texts[i] for i in sus + ref], [1] * len(sus) + [0] * len(ref), seed=seed)


POWER = {  # setting: (results folder with the controlled split's score files, split, share of members among the suspect texts)
    "x1": ("controlled-smollm2-135m", "controlled-x1", 1.0),
    "x4": ("controlled-smollm2-135m", "controlled-x4", 1.0),
    "x1, larger split": ("controlled-large-smollm2-135m", "controlled-x1", 1.0),
    "x1, larger split, 50% members": ("controlled-large-smollm2-135m", "controlled-x1", 0.5),
    "x1, larger split, 20% members": ("controlled-large-smollm2-135m", "controlled-x1", 0.2),
    "x4, 50% members": ("controlled-smollm2-135m", "controlled-x4", 0.5),
    "x4, 20% members": ("controlled-smollm2-135m", "controlled-x4", 0.2),
}


def controlled_texts(folder: Path, data_dir: str | None) -> dict[str, str]:
    """The controlled split's texts by id, rebuilt from the data and the run's recorded settings
    (the same seeded assignment as ``llm-mia bench controlled``)."""
    from llm_mia.bench import ControlledConfig, assign, excerpts

    cfg = ControlledConfig(
        **{k: tuple(v) if isinstance(v, list) else v for k, v in json.loads((folder / "results.json").read_text())["provenance"]["controlled"].items()}
    )
    members, non = assign(excerpts(data_dir), cfg)
    out = {f"n{i}": t for i, t in enumerate(non)}
    out.update({f"x{e}-m{i}": t for e, texts in members.items() for i, t in enumerate(texts)})
    return out


def power(sizes: list[int], draws: int, splits: int, permutations: int, rng: np.random.Generator, data_dir: str | None) -> list[dict]:
    """Each mode's share of p < 0.05 on the controlled split: n suspect texts (that share of
    members, the rest non-members from one half of the non-members) against the other
    non-members (all of them when every suspect text is a member)."""
    from llm_mia.io import read_score_file

    rows = []
    for setting, (folder, split, fraction) in POWER.items():
        path = HERE / "results" / folder / "scores" / f"{split}.jsonl"
        if not path.exists():
            continue
        texts = controlled_texts(HERE / "results" / folder, data_dir)
        records = [r for r in read_score_file(path) if r.status == "ok"]
        names = [*DETECTORS, "ref"]
        records = [r for r in records if all(r.scores.get(n) is not None for n in names)]
        x = np.array([[r.scores[n] for n in names] for r in records])
        ids = [r.id for r in records]
        members = [i for i, r in enumerate(records) if r.label == 1]
        non = [i for i, r in enumerate(records) if r.label == 0]
        for n in sizes:
            k = round(fraction * n)
            order = list(rng.permutation(non))
            filler_pool, reference = (order[: len(non) // 2], order[len(non) // 2 :]) if fraction < 1 else ([], order)
            if k > len(members) or n - k > len(filler_pool):
                continue
            counts = {m: [0, 0] for m in MODES}
            for d in range(draws):
                sus = (
                    list(rng.choice(members, k, replace=False)) + list(rng.choice(filler_pool, n - k, replace=False))
                    if n > k
                    else list(rng.choice(members, k, replace=False))
                )
                both = np.vstack([x[sus], x[reference]])
                all_texts = [texts[ids[i]] for i in sus + reference]
                s_idx, r_idx = list(range(len(sus))), list(range(len(sus), len(both)))
                free = model_free_check(s_idx, r_idx, all_texts, d)
                for m in MODES:
                    p = draw_p(s_idx, r_idx, both, free, m, d, splits, permutations)
                    counts[m][0] += p is not None and p < 0.05
                    counts[m][1] += p is None
            for m in MODES:
                rows.append(
                    {
                        "setting": setting,
                        "n_suspect": n,
                        "members": k,
                        "n_reference": len(reference),
                        "mode": m,
                        "no_answer": counts[m][1],
                        **share_ci(counts[m][0], draws),
                    }
                )
                print(f"power {setting:<32} n={n:<4} {m:<30} p<0.05 in {counts[m][0]}/{draws}, no answer in {counts[m][1]}", file=sys.stderr)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--reference-model", default=None, help="a model that cannot have seen the texts either, for the reference contrast mode")
    ap.add_argument("--commit", default="HEAD", help="the commit whose files make the collections (resolved and recorded)")
    ap.add_argument("--words", type=int, default=64)
    ap.add_argument("--most", type=int, default=200, help="excerpts per collection at most (a seeded sample)")
    ap.add_argument("--n", type=int, default=20, help="excerpts per side in each draw")
    ap.add_argument("--draws", type=int, default=40)
    ap.add_argument("--splits", type=int, default=10)
    ap.add_argument("--permutations", type=int, default=199)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None)
    ap.add_argument("--power-sizes", default="20,50,100", help="suspect set sizes of the power part (controlled split); '' to skip it")
    ap.add_argument("--power-draws", type=int, default=20)
    ap.add_argument("--data-dir", default=None, help="benchmark data (the controlled split's texts, for the power part; default $LLM_MIA_DATA)")
    ap.add_argument(
        "--extra",
        action="append",
        default=[],
        metavar="NAME=PATH[,PATH...]",
        help="another author's texts of a known date (Markdown or text files, or folders of them), compared with the README "
        "in both directions and in two halves",
    )
    ap.add_argument("--only-extra", action="store_true", help="only the pairs of --extra (the others are in an earlier result file)")
    args = ap.parse_args()
    commit = git(args.commit, "rev-parse", args.commit).strip()
    started = time.time()
    cols = collections(commit, args.words, args.most, args.seed)
    pairs = {} if args.only_extra else dict(PAIRS)
    sources: dict[str, list[str]] = {}
    for spec in args.extra:
        name, _, paths = spec.partition("=")
        files = sorted(f for p in paths.split(",") for f in (Path(p).rglob("*") if Path(p).is_dir() else [Path(p)]) if f.suffix in (".md", ".txt"))
        if not name or not files:
            ap.error(f"--extra {spec!r}: NAME=PATH with Markdown or text files")
        cols[name] = cut_all([Document(str(f), f.read_text(encoding="utf-8")) for f in files], args.words)
        sources[name] = [f"{f} (sha256 {sha256_file(f)[:16]})" for f in files]
        pairs.update(
            {
                f"README vs {name}": ("readme", name, "same kind, another author"),
                f"{name} vs README": (name, "readme", "same kind, another author"),
                f"{name}, two halves": (name, name, "i.i.d."),
            }
        )
    if args.only_extra:
        cols = {k: v for k, v in cols.items() if k == "readme" or k in sources}
    scored: dict[str, tuple[np.ndarray, list[str]]] = {}
    for kind, docs in cols.items():
        extra = ["ref"] if args.reference_model else []
        records = score_documents(docs, model=args.model, reference_model=args.reference_model, detectors=[*DETECTORS, *extra], progress=True)
        names = [*DETECTORS, *extra]
        keep = [i for i, r in enumerate(records) if r.status == "ok" and all(r.scores.get(n) is not None for n in names)]
        scored[kind] = (np.array([[records[i].scores[n] for n in names] for i in keep]), [docs[i].text or "" for i in keep])
        print(f"{kind}: {len(keep)} excerpts scored", file=sys.stderr)
    rng = np.random.default_rng(args.seed)
    rows = []
    for pair, (s_kind, r_kind, shift) in pairs.items():
        xs, ts = scored[s_kind]
        xr, tr = scored[r_kind]
        same = s_kind == r_kind
        x = xs if same else np.vstack([xs, xr])
        texts = ts if same else ts + tr
        if (2 * args.n > len(xs)) if same else (args.n > min(len(xs), len(xr))):
            print(f"{pair}: too few excerpts for {args.n} per side ({len(xs)}, {len(xr)}); left out", file=sys.stderr)
            continue
        counts = {m: [0, 0, 0] for m in MODES}  # p < 0.05, no answer, draws
        for d in range(args.draws):
            if same:
                order = rng.permutation(len(xs))
                sus, ref = order[: args.n].tolist(), order[args.n : 2 * args.n].tolist()
            else:
                sus = rng.choice(len(xs), args.n, replace=False).tolist()
                ref = (len(xs) + rng.choice(len(xr), args.n, replace=False)).tolist()
            free = model_free_check(sus, ref, texts, args.seed + d)
            for m in MODES:
                p = draw_p(sus, ref, x, free, m, args.seed + d, args.splits, args.permutations)
                counts[m][2] += 1
                if p is None:
                    counts[m][1] += 1
                elif p < 0.05:
                    counts[m][0] += 1
        for m in MODES:
            hits, none, n = counts[m]
            rows.append({"pair": pair, "shift": shift, "mode": m, "no_answer": none, **share_ci(hits, n)})
            print(f"{pair:<24} {shift:<16} {m:<13} p<0.05 in {hits}/{n}, no answer in {none}", file=sys.stderr)
    sizes = [int(v) for v in args.power_sizes.split(",") if v]
    power_rows = power(sizes, args.power_draws, args.splits, args.permutations, rng, args.data_dir) if sizes else []
    result = {
        "command": "python benchmarks/shifted_nulls.py " + " ".join(sys.argv[1:]),
        "commit": commit,
        "model": args.model,
        "reference_model": args.reference_model,
        "sizes": {k: len(v[0]) for k, v in scored.items()},
        "extra_sources": sources,
        "seconds": round(time.time() - started, 1),
        "rows": rows,
        "power": power_rows,
    }
    out = Path(args.out or HERE / "results" / f"shifted-nulls-{args.model}.json")
    out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
