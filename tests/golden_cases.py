"""Golden outputs for the refactor of issue 10: every number the pipeline produces on the test
suite's tiny models, computed by the code as it was before the refactor and committed in
``tests/golden/tiny.json``; ``tests/test_golden.py`` recomputes and compares them to 1e-9.

Write the file again (only when a change of numbers is intended, and say so in the commit):
    python tests/golden_cases.py

Written again for issue 11: the statistics version became "stats-v2" (the top-1 column), which
changes the cache keys and checksums of the ``cache`` section; every score, metric and p-value
of the file came out identical to the file written before the refactor (1548b9f).
"""

from __future__ import annotations

import json
import platform
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
GOLDEN_TINY = HERE / "golden" / "tiny.json"


def environment() -> dict[str, str]:
    """What float32 results depend on besides the code: the same values are expected only here."""
    import torch

    cpu = (
        next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), "?")
        if Path("/proc/cpuinfo").exists()
        else "?"
    )
    return {"torch": torch.__version__, "machine": platform.machine(), "cpu": cpu, "threads": str(torch.get_num_threads())}


def compute(model_dir: Path, bos_model_dir: Path, work: Path) -> dict:
    """Scores (every detector, truncation and windows), evaluation metrics, a check's
    p-values, and cached statistics with their cache keys, on the tiny models."""
    from conftest import random_sentences, train_on

    from llm_mia import Scorer, ScorerConfig, StatsCache, evaluate, load_model, run_check, score_documents
    from llm_mia.check import CheckSettings
    from llm_mia.cache import stats_key

    lm, bos = load_model(str(model_dir), device="cpu"), load_model(str(bos_model_dir), device="cpu")
    texts = random_sentences(24, seed=500) + [" ".join(random_sentences(12, seed=501)), "Hello, world! 123 ÄÖÜ ß é", "x"]
    out: dict = {"environment": environment(), "scores": {}}
    configs = {"default": ScorerConfig(), "truncated": ScorerConfig(max_tokens=16), "windows": ScorerConfig(max_tokens=16, stride=5)}
    for name, config in configs.items():
        records = score_documents(
            texts, model=lm, reference_model=bos, detectors=["loss", "zlib", "lowercase", "min_k", "min_k_pp", "ref"], config=config, use_cache=False
        )
        out["scores"][name] = [r.to_json() for r in records]
    records = score_documents(texts, model=lm, detectors=["min_k", "min_k_pp"], k=0.5, use_cache=False)
    out["scores"]["k=0.5"] = [r.to_json() for r in records]

    cache = StatsCache(work / "cache")
    scorer = Scorer(lm, ScorerConfig(max_tokens=16, stride=5), cache=cache)
    stats = scorer.score_texts(texts[-3:])
    settings = scorer.settings()
    rows = cache._db.execute("SELECT key, truncated, token_ids, logprobs, dist_mean, dist_var, checksum FROM stats ORDER BY key").fetchall()
    out["cache"] = {
        "keys": [stats_key(settings, t) for t in texts[-3:]],
        "rows": [[k, t, ids.hex(), lp.hex(), mu.hex(), var.hex(), c] for k, t, ids, lp, mu, var, c in rows],
        "unscorable": [getattr(s, "reason", None) for s in stats],
    }
    cache.close()

    trained = load_model(str(model_dir), device="cpu")
    members, held_out = random_sentences(20, seed=300), random_sentences(40, seed=400)
    train_on(trained, members)
    docs = [(t, 1) for t in members] + [(t, 0) for t in held_out]
    from llm_mia.types import Document

    records = score_documents([Document(str(i), t, y) for i, (t, y) in enumerate(docs)], model=trained, use_cache=False)
    report = evaluate(records, n_bootstrap=200, seed=3)
    out["evaluation"] = report.to_json()

    sus, ref = work / "s.jsonl", work / "r.jsonl"
    sus.write_text("".join(json.dumps({"text": t}) + "\n" for t in members[:12] + held_out[:4]))
    ref.write_text("".join(json.dumps({"text": t}) + "\n" for t in held_out[10:30]))
    res = run_check(sus, ref, model=trained, settings=CheckSettings(n_splits=5, n_permutations=99, seed=2), cache_dir=work / "c2")
    c = res.collection
    assert c is not None
    out["check"] = {
        "p_value": c.p_value,
        "effect": c.effect,
        "effect_range": list(c.effect_range),
        "z": c.z,
        "weights": c.weights,
        "single_auroc": c.single_auroc,
        "documents": [[t.id, t.p_value, t.q_value, t.p_values] for t in res.documents],
        "model_free_auroc": None if res.model_free is None else res.model_free.auroc,
    }
    return out


def main() -> None:
    sys.path.insert(0, str(HERE))
    from conftest import build_model_dir

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        result = compute(build_model_dir(work / "m", bos=False), build_model_dir(work / "b", bos=True, seed=1), work)
    GOLDEN_TINY.parent.mkdir(exist_ok=True)
    GOLDEN_TINY.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {GOLDEN_TINY}")


if __name__ == "__main__":
    main()
