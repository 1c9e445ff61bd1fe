"""Memorization evidence, measured (issue 24): false positives on texts no model has seen, power
on the controlled split, and texts the models have surely seen many times.

Every window is 50 + 50 tokens (the defaults), the controls as ``llm-mia check`` runs them
(prior-aware control, lift >= log 100); counts at p_z >= 0.5, 1e-2, 1e-4 with Clopper-Pearson
95% intervals. Parts (each run adds its part and model to ``results/memorization.json``):

- ``false-positives``: this repository's own files at ``--commit`` (written in 2026, after both
  embedded models were trained: certainly unseen), of the kinds ``shifted_nulls.py`` uses (prose,
  core code, command-line code, tests, commit messages), and the workplace's documents for this
  project (``--docs``, 2026); each kind at most ``--max-windows`` windows (whole files in a seeded
  order). Each file is a collection too: how many get "memorized text found".
- ``power``: the controlled split (``llm-mia bench controlled``'s trained copy of the model; its
  members seen once or 4 times, the non-members never), the first ``max_tokens`` tokens of each
  excerpt (what the copy was trained on); per class the windows memorized, and how many excerpts
  get "memorized text found": with the prior-aware control alone, and with the base model as
  reference model too.
- ``seen``: licence texts installed on every Debian machine (``/usr/share/common-licenses``) and
  the demo's standard-library text, which the models have surely seen many times; also under
  top-40 sampling.
- ``shared``: model-free, how much of the controlled split's non-members is found word for word
  in its members (Project Gutenberg front matter), which explains memorized non-member windows.
- ``topk-serve``: the LGPL-2.1's top-k p_z (k = 40 and 1,000) in process and through ``llm-mia serve``.

    python benchmarks/memorization_tables.py --part false-positives --model smollm2-135m
    python benchmarks/memorization_tables.py --part power --model smollm2-135m --data-dir ../shared/data
    python benchmarks/memorization_tables.py --part shared --model smollm2-135m --data-dir ../shared/data
    python benchmarks/memorization_tables.py --part seen --model gemma3-270m
    python benchmarks/memorization_tables.py --part topk-serve --model smollm2-135m  # in process against llm-mia serve
    python benchmarks/memorization_tables.py --render      # writes benchmarks/MEMORIZATION.md
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from llm_mia import Document, Scorer, ScorerConfig, StatsCache, load_model  # noqa: E402
from llm_mia.bench import open_suite, split_memorization  # noqa: E402
from llm_mia.pipeline import open_run  # noqa: E402
from llm_mia.check import MemorizationEvidence, memorization_evidence, write_demo_texts  # noqa: E402
from llm_mia.evaluation import REPEAT_NGRAM, markdown_table  # noqa: E402
from llm_mia.paths import cache_home  # noqa: E402
from llm_mia.scoring import WindowSettings, window_config  # noqa: E402
from llm_mia.types import TokenStats  # noqa: E402
from shifted_nulls import KINDS, git  # noqa: E402

RESULTS = HERE / "results" / "memorization.json"
PAGE = HERE / "MEMORIZATION.md"
SETTINGS = WindowSettings()
FP_KINDS = ("prose", "core", "cli", "tests")
STRESS = (0.5, 1e-2, 1e-4, 1e-8, 1e-16)
"""The false-positive part also counts at p_z >= 1e-8 and 1e-16, far below any threshold of a
verdict, to see the controls at work on predictable text that clears them."""
LICENCES = ("GPL-3", "GPL-2", "LGPL-2.1", "Apache-2.0", "MPL-2.0")
LICENCE_DIR = Path("/usr/share/common-licenses")
TOP_K = 40
"""The seen texts' windows also under top-40 sampling (Cooper et al.'s main scheme)."""


def summarize(ev: MemorizationEvidence) -> dict[str, Any]:
    """The numbers of one collection's evidence, and how many of its texts have a memorized window."""
    best = ev.passages[0] if ev.passages else None
    return {
        "texts": ev.n_texts,
        "windows": ev.n_windows,
        "found": ev.found,
        "texts_found": ev.texts_memorized,
        "thresholds": [
            {
                "threshold": r.threshold,
                "clearing": r.suspect.clearing,
                "memorized": r.suspect.memorized,
                "ci": list(r.suspect.ci),
                "clearing_topk": r.suspect.clearing_topk,
            }
            for r in ev.results
        ],
        "best": None
        if best is None
        else {
            "id": best.text_id,
            "log_pz": best.log_pz,
            "greedy": best.greedy,
            "lift": best.lift,
            "ref_log_pz": best.ref_log_pz,
            "topk_log_pz": best.topk_log_pz,
            "suffix": best.suffix,
        },
        "best_topk_log_pz": ev.best_topk_log_pz,
        "longest_run": ev.longest_run,
        "left_out": len(ev.left_out),
    }


def _scorer(model: Any, batch_size: int) -> Scorer:
    return Scorer(model, window_config(SETTINGS, ScorerConfig(batch_size=batch_size)), cache=StatsCache(cache_home() / "stats"))


def _evidence(scorer: Scorer, docs: list[Document], **kw: Any) -> tuple[MemorizationEvidence, list[TokenStats]]:
    stats = scorer.score_texts([d.text or "" for d in docs])
    return memorization_evidence(scorer, [(d.id, s) for d, s in zip(docs, stats)], settings=SETTINGS, **kw), stats  # type: ignore[misc]


def _budget(scorer: Scorer, docs: list[Document], max_windows: int, seed: int) -> list[Document]:
    """Whole documents in a seeded order until they hold about ``max_windows`` windows."""
    order = np.random.default_rng(seed).permutation(len(docs))
    ids = scorer.tokenize([d.text or "" for d in docs])
    out, windows = [], 0
    for i in order:
        if windows >= max_windows:
            break
        n = max(0, (len(ids[i]) - SETTINGS.prefix) // SETTINGS.suffix)
        if n:
            out.append(docs[i])
            windows += n
    return out


def false_positives(model: str, args: argparse.Namespace) -> dict[str, Any]:
    scorer = _scorer(load_model(model), args.batch_size)
    files = git(args.commit, "ls-tree", "-r", "--name-only", args.commit).split()
    kinds: dict[str, list[Document]] = {}
    for kind in FP_KINDS:
        kinds[kind] = [Document(f, git(args.commit, "show", f"{args.commit}:{f}")) for f in files if KINDS[kind](f)]
    messages = [m.strip() for m in git(args.commit, "log", "--reverse", "--format=%H%x01%B%x00", args.commit).split("\x00") if m.strip()]
    kinds["commits"] = [Document(m.split("\x01")[0][:10], m.split("\x01", 1)[1]) for m in messages]
    if args.docs:
        kinds["organizers' docs"] = [Document(p.name, p.read_text(encoding="utf-8")) for p in sorted(Path(args.docs).glob("*.md"))]
    out = {}
    for kind, docs in kinds.items():
        if kind == "commits":  # one message is short: the messages, oldest first, as one text
            docs = [Document("commit messages", "\n\n".join(d.text or "" for d in docs))]
        chosen = _budget(scorer, docs, args.max_windows, args.seed)
        ev, stats = _evidence(scorer, chosen, seed=args.seed, thresholds=STRESS)
        row = summarize(ev)
        # each file a collection of its own: the controls drawn within the file
        row["collections"] = len(chosen)
        row["collections_found"] = sum(
            memorization_evidence(scorer, [(d.id, s)], settings=SETTINGS, seed=args.seed, continuations=False).found for d, s in zip(chosen, stats)
        )
        out[kind] = row
        print(f"{kind}: {row['windows']} windows, {row['thresholds'][-1]['memorized']} memorized at 1e-4, best {row['best']}", file=sys.stderr)
    return {"commit": git(args.commit, "rev-parse", args.commit).strip(), "max_windows": args.max_windows, "kinds": out}


def power(model: str, args: argparse.Namespace) -> dict[str, Any]:
    opened = open_suite("controlled", args.data_dir, model=model, progress=True)
    run = open_run(opened.model, reference_model=opened.reference_model, detectors=["loss"], config=ScorerConfig(batch_size=args.batch_size))
    tok = opened.model.tokenizer
    ids = {d.id: tok(d.text or "", add_special_tokens=False)["input_ids"] for split in opened.splits for d in split.documents}
    members = {d.id for split in opened.splits for d in split.documents if d.label == 1}
    trained = {i: tok.decode(ids[i][: opened.max_tokens]) for i in members}  # what the copy was trained on
    whole = {i: tok.decode(t) for i, t in ids.items()}
    classes: dict[str, dict[str, Any]] = {}
    for split in opened.splits:  # controlled-x1, controlled-x4: the members seen once or 4 times, against the same non-members
        exposure = split.name.rsplit("-x", 1)[-1]
        for use_ref, control in ((False, "prior control"), (True, "prior control and base model")):
            by_class = split_memorization(run, split, SETTINGS, opened.max_tokens, args.seed, use_reference_model=use_ref)
            for name, key in (("members", f"members seen {exposure}x"), ("non-members", "non-members")):  # non-members: the same texts in both splits
                ev = by_class[name]
                classes.setdefault(key, {})[control] = {**summarize(ev), "copies": _copies(ev, tok, ids, whole, trained)}
        print(f"x{exposure}: {classes[f'members seen {exposure}x']}", file=sys.stderr)
    return {"max_tokens": opened.max_tokens, "controlled": opened.provenance.get("controlled"), "classes": classes}


def _copies(ev: MemorizationEvidence, tok: Any, ids: dict[str, list[int]], whole: dict[str, str], trained: dict[str, str]) -> dict[str, int]:
    """Of the windows memorized at the lowest threshold, those whose suffix (its tokens 5 to 45:
    robust to where a decoded piece begins) is found word for word in a training text other
    than its own (a copy of trained text, not the text's own), and those whose suffix could not
    be found in its own text (a check on the token offsets: should be 0)."""
    copies = unchecked = 0
    for text_id, start, _, hit in ev.positions:
        if hit:
            core = ids[text_id][start + SETTINGS.prefix + 5 : start + SETTINGS.prefix + SETTINGS.suffix - 5]
            piece = tok.decode(core).strip()
            unchecked += piece not in whole[text_id]
            copies += any(piece in t for i, t in trained.items() if i != text_id)
    return {"copies": copies, "not_in_own_text": unchecked}


def _longest_shared(text: str, corpus: str) -> int:
    """Length in characters of the longest passage of ``text`` found word for word in
    ``corpus`` (binary search on the length: a passage of n shared implies one of n - 1)."""
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if any(text[i : i + mid] in corpus for i in range(len(text) - mid + 1)):
            lo = mid
        else:
            hi = mid - 1
    return lo


def shared(model: str, args: argparse.Namespace) -> dict[str, Any]:
    """Model-free: how much of each non-member excerpt of the controlled split appears word for
    word in the member excerpts the copy was trained on (Project Gutenberg front matter:
    producers' credits, transcriber's notes): where memorized windows in non-members can come
    from (templates and copies of trained text)."""
    from llm_mia.bench import ControlledConfig, assign, excerpts

    members, non = assign(excerpts(args.data_dir), ControlledConfig(base_model=model))
    corpus = "\n\n".join(t for texts in members.values() for t in texts)
    lengths = [_longest_shared(t, corpus) for t in non]
    return {
        "non_members": len(non),
        "longest_shared": {str(n): sum(x >= n for x in lengths) for n in (50, 100, 200)},
        "lengths": {f"n{i}": x for i, x in enumerate(lengths)},
    }


def seen(model: str, args: argparse.Namespace) -> dict[str, Any]:
    scorer = _scorer(load_model(model), args.batch_size)
    docs = [Document(name, (LICENCE_DIR / name).read_text(encoding="utf-8")) for name in LICENCES if (LICENCE_DIR / name).is_file()]
    suspect, _ = write_demo_texts(Path(args.work) / "demo")
    docs.append(Document("the demo's standard-library text", Path(suspect).read_text(encoding="utf-8")))
    out = {}
    for d in docs:
        ev, _ = _evidence(scorer, [d], seed=args.seed, top_k=TOP_K)
        out[d.id] = summarize(ev)
        print(f"{d.id}: {out[d.id]['windows']} windows, best {out[d.id]['best']}", file=sys.stderr)
    return {"texts": out}


def topk_serve(model: str, args: argparse.Namespace) -> dict[str, Any]:
    """Top-k log p_z of the LGPL-2.1's windows (some of them inside the top 40 with SmolLM2) in
    process and through ``llm-mia serve`` (a server in this process, on a free port, over
    HTTP), for k = 40 and 1,000: their largest difference."""
    import threading

    from llm_mia.backends import HTTPBackend, ScoringService, make_server
    from llm_mia.scoring import window_stats, with_topk

    lm = load_model(model)
    server = make_server(ScoringService(_scorer(lm, args.batch_size).backend), "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    ks = (TOP_K, 1000)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        text = (LICENCE_DIR / "LGPL-2.1").read_text(encoding="utf-8")
        values: dict[int, list[np.ndarray]] = {k: [] for k in ks}
        for backend in (lm, HTTPBackend(url)):
            scorer = Scorer(backend, window_config(SETTINGS, ScorerConfig(batch_size=args.batch_size)))  # no cache: each computes its own
            (stats,) = scorer.score_texts([text])
            for k in ks:
                (w,) = with_topk(scorer, [stats], [window_stats(stats, SETTINGS)], k)
                values[k].append(w.topk_log_pz)
    finally:
        server.shutdown()
        server.server_close()
    rows = []
    for k, (a, b) in values.items():
        both = np.isfinite(a) & np.isfinite(b)
        rows.append(
            {
                "k": k,
                "windows": int(a.shape[0]),
                "inside_top_k": int(both.sum()),
                "same_zero": int((np.isinf(a) == np.isinf(b)).sum()),
                "max_abs_difference": float(np.abs(a[both] - b[both]).max()) if both.any() else None,
                "best_topk_log_pz": float(np.max(a)),
            }
        )
    return {"text": "LGPL-2.1", "rows": rows}


PARTS = {"false-positives": false_positives, "power": power, "shared": shared, "seen": seen, "topk-serve": topk_serve}


def _cells(row: dict[str, Any]) -> list[str]:
    cells = []
    for t in row["thresholds"]:
        lo, hi = t["ci"]
        cells.append(
            f"{t['memorized']} ({100 * lo:.1f}-{100 * hi:.1f}%)" + (f", {t['clearing'] - t['memorized']} predictable" if t["clearing"] > t["memorized"] else "")
        )
    return cells


def _best(row: dict[str, Any]) -> str:
    b = row["best"]
    return "" if b is None else f"{b['log_pz']:.1f} ({b['greedy']}/50 greedy)"


def _shared_note(part: dict[str, Any], sh: dict[str, Any]) -> str:
    """The paragraph under a power table: how much of the non-members the members share, and
    what the non-members' likeliest window (under the strictest controls) is."""
    non = list(part["classes"]["non-members"].values())[-1]
    best, lowest = non["best"], non["thresholds"][-1]
    counts = ", ".join(f"{c} of {sh['non_members']} at least {k} characters" for k, c in sh["longest_shared"].items())
    return (
        f"The non-members are not all unseen text: their longest passage found word for word in the member excerpts ({counts};"
        f" `{sh['command']}`) lies in Project Gutenberg front matter (producers' credits, notes that give the book's number in"
        " file names and web addresses), which the copy was trained on in the members. The last column counts the memorized"
        " windows whose suffix (its tokens 5 to 45) is found word for word in a trained text other than their own. The"
        f" non-members' likeliest window, in {best['id']} (longest passage shared with the members:"
        f" {sh['lengths'].get(best['id'], '(not a non-member id)')} characters), continues its prefix with"
        f" {_quote(best.get('suffix', ''))}: a template learned from the members, filled in from the prefix. The repeat control"
        f" (a suffix mostly made of its prefix's {REPEAT_NGRAM}-token sequences is not counted) leaves {lowest['memorized']} of"
        f" their {lowest['clearing']} windows at p_z >= {lowest['threshold']:g} counted as memorized. Memorization"
        " evidence shows training on a text, on copies of it or on its boilerplate; read the passages a report shows before"
        " calling a work memorized. The false-positive part above measures texts with no copy in any training data."
    )


def _quote(text: str, limit: int = 160) -> str:
    """A passage as an inline code span on one line (newlines shown as \\n)."""
    one = json.dumps(text[:limit], ensure_ascii=False)[1:-1].replace("`", "'")
    return f"`{one}{'...' if len(text) > limit else ''}`" if text else "(text not recorded)"


def _head(row: dict[str, Any]) -> list[str]:
    return ["windows", *(f"p_z >= {t['threshold']:g}" for t in row["thresholds"]), "best log p_z"]


def render(results: dict[str, Any]) -> str:
    """MEMORIZATION.md from the result file."""
    lines = [
        "# Memorization evidence, measured",
        "",
        "Generated by `python benchmarks/memorization_tables.py --render` from `results/memorization.json`; each part by the command",
        "in its section. Windows of 50 + 50 tokens; a window counts as memorized when p_z clears the threshold and its suffix is at",
        "least 100 times likelier after its own prefix than after 8 unrelated prefixes of the same collection (the prior-aware",
        'control). Cells: memorized windows (Clopper-Pearson 95% interval of their share); "predictable": windows that clear p_z but',
        "fail the control.",
    ]
    for model, part in sorted(results.get("false-positives", {}).items()):
        lines += [
            "",
            f"## False positives: texts no model has seen ({model})",
            "",
            f"`{part['command']}` (commit {part['commit'][:10]}, at most {part['max_windows']} windows per kind)",
            "",
        ]
        rows = [[k, str(r["windows"]), *_cells(r), _best(r), f"{r['collections_found']} of {r['collections']}"] for k, r in part["kinds"].items()]
        lines.append(markdown_table(["kind", *_head(next(iter(part["kinds"].values()))), "files with memorized text found"], rows))
    for model, part in sorted(results.get("power", {}).items()):
        lines += [
            "",
            f"## Power: the controlled split ({model})",
            "",
            f"`{part['command']}` (the first {part['max_tokens']} tokens of each excerpt: what the copy was trained on)",
            "",
        ]
        rows = []
        for cls, by in part["classes"].items():
            for control, r in by.items():
                c = r.get("copies")
                copied = "" if c is None else f"{c['copies']} of {r['thresholds'][-1]['memorized']}"
                rows.append([cls, control, str(r["windows"]), *_cells(r), _best(r), f"{r['texts_found']} of {r['texts']}", copied])
        first = next(iter(next(iter(part["classes"].values())).values()))
        head = [*_head(first), "excerpts with memorized text", f"memorized at p_z >= {first['thresholds'][-1]['threshold']:g}: found in another trained text"]
        lines.append(markdown_table(["class", "controls", *head], rows))
        sh = results.get("shared", {}).get(model)
        if sh:
            lines += ["", _shared_note(part, sh)]
    for model, part in sorted(results.get("topk-serve", {}).items()):
        lines += [
            "",
            f"## Top-k p_z through `llm-mia serve` ({model})",
            "",
            f"`{part['command']}`: the {part['text']}'s windows in process and served over HTTP.",
            "",
        ]
        rows = [
            [
                str(r["k"]),
                str(r["windows"]),
                f"{r['same_zero']} of {r['windows']}",
                str(r["inside_top_k"]),
                "(none)" if r["max_abs_difference"] is None else f"{r['max_abs_difference']:.2g}",
                f"{r['best_topk_log_pz']:.1f}",
            ]
            for r in part["rows"]
        ]
        lines.append(
            markdown_table(["k", "windows", "agree on p_z = 0", "every token inside the top k", "largest difference of log p_z", "best log p_z"], rows)
        )
    for model, part in sorted(results.get("seen", {}).items()):
        lines += ["", f"## Texts the model has surely seen ({model})", "", f"`{part['command']}`", ""]
        rows = [
            [name, str(r["windows"]), *_cells(r), _best(r), "" if r.get("best_topk_log_pz") is None else f"{r['best_topk_log_pz']:.1f}", str(r["longest_run"])]
            for name, r in part["texts"].items()
        ]
        lines.append(markdown_table(["text", *_head(next(iter(part["texts"].values()))), f"best top-{TOP_K} log p_z", "longest greedy run"], rows))
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=sorted(PARTS))
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--commit", default="HEAD")
    ap.add_argument("--docs", default=str(ROOT.parent / "shared" / "docs"), help="the workplace's documents for this project (2026); '' for none")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--max-windows", type=int, default=400)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", default=str(cache_home() / "memorization-bench"))
    ap.add_argument("--render", action="store_true")
    args = ap.parse_args()
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    if args.part:
        started = time.time()
        part = PARTS[args.part](args.model, args)
        argv = " ".join(a for a in sys.argv[1:] if a != "--render")
        part.update(command=f"python benchmarks/memorization_tables.py {argv}", seconds=round(time.time() - started, 1), date=time.strftime("%Y-%m-%d"))
        results.setdefault(args.part, {})[args.model] = part
        RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    if args.render or not args.part:
        PAGE.write_text(render(results))


if __name__ == "__main__":
    main()
