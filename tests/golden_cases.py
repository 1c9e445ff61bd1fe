"""Golden outputs for the refactor of issue 10: every number the pipeline produces on the test
suite's tiny models, computed by the code as it was before the refactor and committed in
``tests/golden/tiny.json``; ``tests/test_golden.py`` recomputes and compares them to 1e-9.

Write the files again (only when a change of numbers is intended, or on another machine, and
say so in the commit):
    python tests/golden_cases.py              # tests/golden/tiny.json
    python tests/golden_cases.py --wikimia    # and WikiMIA-32 on SmolLM2 (minutes)

Written again for issue 11: the statistics version became "stats-v2" (the top-1 column), which
changes the cache keys and checksums of the ``cache`` section; every score, metric and p-value
of the file came out identical to the file written before the refactor (1548b9f).

Written again for issue 22 on an AMD EPYC without AVX-512 (torch's AVX2 kernels): the file now
holds the input of each statistical stage (``evaluation_input``: the trained model's score
records; ``check_input``: the check's suspect and reference records), so that on another
machine the evaluation and the check are recomputed from the file's own scores
(:func:`downstream`) and compared to 1e-9, while the model's outputs are compared at a float
tolerance. ``environment`` now names torch's CPU kernels and the CPU's vector instructions.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing

import json
import platform
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
GOLDEN_TINY = HERE / "golden" / "tiny.json"
WIKIMIA_GOLDEN = HERE / "golden" / "wikimia-32.smollm2-135m.jsonl"  # WikiMIA-32 scored by smollm2-135m, no cache (write_wikimia)
WIKIMIA_ENV = HERE / "golden" / "wikimia-32.smollm2-135m.env.json"  # environment() where it was written
WIKIMIA = HERE.parent.parent / "shared" / "data" / "wikimia" / "32.jsonl"


VECTOR_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx_vnni", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_tile")
"""The CPU flags that decide which kernels torch, MKL and oneDNN run (and so the float results)."""
BLAS_SETTINGS = ("ATEN_CPU_CAPABILITY", "MKL_ENABLE_INSTRUCTIONS", "MKL_CBWR", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA")
"""Environment variables that change those kernels (recorded when set)."""


def environment() -> dict[str, str]:
    """What the golden outputs depend on besides the code: the same values are expected only
    where every entry is the same (a CPU model name such as "AMD EPYC" alone covers machines
    with and without AVX-512; a new transformers release changed the tokenizer's identity, and
    so every cache key, on 2026-12-03)."""
    import importlib.metadata
    import os

    import torch

    info = Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []
    field = lambda name: next((line.split(":", 1)[1].strip() for line in info if line.startswith(name)), "?")  # noqa: E731
    flags = set(field("flags").split())
    env = {
        "torch": torch.__version__,
        "transformers": importlib.metadata.version("transformers"),  # the tokenizer's identity (and so the cache keys) follows its release
        "tokenizers": importlib.metadata.version("tokenizers"),
        "machine": platform.machine(),
        "cpu": field("model name"),
        "cpu_flags": " ".join(f for f in VECTOR_FLAGS if f in flags),
        "torch_kernels": torch.backends.cpu.get_cpu_capability(),
        "threads": str(torch.get_num_threads()),
    }
    return env | {name: os.environ[name] for name in BLAS_SETTINGS if name in os.environ}


def compute(model_dir: Path, bos_model_dir: Path, work: Path) -> dict:
    """Scores (every detector, truncation and windows), evaluation metrics, a check's
    p-values, and cached statistics with their cache keys, on the tiny models."""
    from conftest import random_sentences, train_on

    from llm_mia import Scorer, ScorerConfig, StatsCache, load_model, run_check, score_documents
    from llm_mia.scoring import stats_key

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
    with closing(sqlite3.connect(cache.path)) as db:  # the cache's own rows, as stored
        rows = db.execute("SELECT key, truncated, token_ids, logprobs, dist_mean, dist_var, checksum FROM stats ORDER BY key").fetchall()
    out["cache"] = {
        "keys": [stats_key(settings, t) for t in texts[-3:]],
        "rows": [[k, t, ids.hex(), lp.hex(), mu.hex(), var.hex(), c] for k, t, ids, lp, mu, var, c in rows],
        "unscorable": [getattr(s, "reason", None) for s in stats],
    }
    cache.close()

    trained = load_model(str(model_dir), device="cpu")
    members, held_out = trained_texts()
    train_on(trained, members)
    docs = [(t, 1) for t in members] + [(t, 0) for t in held_out]
    from llm_mia.types import Document

    records = score_documents([Document(str(i), t, y) for i, (t, y) in enumerate(docs)], model=trained, use_cache=False)
    out["evaluation_input"] = [r.to_json() for r in records]
    out["evaluation"] = _evaluation(records)

    suspect, reference = check_texts()
    sus, ref = work / "s.jsonl", work / "r.jsonl"
    sus.write_text("".join(json.dumps({"text": t}) + "\n" for t in suspect))
    ref.write_text("".join(json.dumps({"text": t}) + "\n" for t in reference))
    res = run_check(sus, ref, model=trained, settings=check_settings(), cache_dir=work / "c2")
    out["check_input"] = {"detectors": res.detectors, "suspect": [r.to_json() for r in res.suspect], "reference": [r.to_json() for r in res.reference]}
    out["check"] = _check_section(res)
    return out


def check_settings():  # type: ignore[no-untyped-def]
    """The check's settings (small, so that the test is fast; the five detectors of the check's
    default before issue 22, named, so that the file does not follow a change of default)."""
    from llm_mia.check import CheckSettings

    return CheckSettings(detectors=("loss", "zlib", "lowercase", "min_k", "min_k_pp"), n_splits=5, n_permutations=99, seed=2)


def trained_texts() -> tuple[list[str], list[str]]:
    """The 20 texts the trained model is fitted on (members) and 40 it never sees."""
    from conftest import random_sentences

    return random_sentences(20, seed=300), random_sentences(40, seed=400)


def check_texts() -> tuple[list[str], list[str]]:
    """The check's suspect texts (12 members of the trained model, 4 held-out texts) and reference texts (20 held-out)."""
    members, held_out = trained_texts()
    return members[:12] + held_out[:4], held_out[10:30]


def _evaluation(records) -> dict:  # type: ignore[no-untyped-def]
    from llm_mia import evaluate

    return evaluate(records, n_bootstrap=200, seed=3).to_json()


def _check_section(tests) -> dict:  # type: ignore[no-untyped-def]
    """The check's numbers, from a :class:`CheckResult` or :class:`CheckTests`."""
    c = tests.collection
    assert c is not None
    return {
        "p_value": c.p_value,
        "effect": c.effect,
        "effect_range": list(c.effect_range),
        "z": c.z,
        "weights": c.weights,
        "single_auroc": c.single_auroc,
        "documents": [[t.id, t.p_value, t.q_value, t.p_values] for t in tests.documents],
        "model_free_auroc": None if tests.model_free is None else tests.model_free.auroc,
    }


def downstream(golden: dict) -> dict:
    """The ``evaluation`` and ``check`` sections recomputed from the golden file's own stage
    inputs (its score records and the check's texts): no model, so the same numbers to 1e-9 on
    any machine while the code is unchanged."""
    from llm_mia.check import check_scores
    from llm_mia.io import records_from_json
    from llm_mia.types import Document

    inputs = golden["check_input"]
    sus_rec, ref_rec = records_from_json(inputs["suspect"]), records_from_json(inputs["reference"])
    suspect, reference = check_texts()
    sus_docs = [Document(r.id, t) for r, t in zip(sus_rec, suspect)]
    ref_docs = [Document(r.id, t, 0) for r, t in zip(ref_rec, reference)]
    tests = check_scores(sus_docs, sus_rec, ref_docs, ref_rec, inputs["detectors"], check_settings())
    out = {"evaluation": _evaluation(records_from_json(golden["evaluation_input"])), "check": _check_section(tests)}
    return json.loads(json.dumps(out))  # as the file holds it (tuples as lists)


def as_before(rows: list[dict]) -> list[dict]:
    """Score rows as the code before the refactor of issue 10 wrote them: detectors named
    without their parameters (``min_k:k=0.5`` was ``min_k``), no ``params``, ``reason_code``
    or ``note_codes`` fields. Names changed; numbers must not."""
    out = []
    for row in rows:
        row = {k: v for k, v in row.items() if k not in ("params", "reason_code", "note_codes")}
        for field in ("scores", "notes"):
            if field in row:
                row[field] = {key.split(":")[0]: v for key, v in row[field].items()}
        out.append(row)
    return out


def wikimia_rows() -> list[dict]:
    """WikiMIA-32 scored by the embedded SmolLM2 (default detectors, no cache), as :func:`as_before` writes rows."""
    from llm_mia import read_documents, score_documents

    return as_before([r.to_json() for r in score_documents(read_documents(WIKIMIA), model="smollm2-135m", use_cache=False)])


def main() -> None:
    sys.path.insert(0, str(HERE))
    from conftest import build_model_dir

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        result = compute(build_model_dir(work / "m", bos=False), build_model_dir(work / "b", bos=True, seed=1), work)
    GOLDEN_TINY.parent.mkdir(exist_ok=True)
    GOLDEN_TINY.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {GOLDEN_TINY}")
    if "--wikimia" in sys.argv[1:]:  # slow: the embedded model over 776 texts
        WIKIMIA_GOLDEN.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in wikimia_rows()))
        WIKIMIA_ENV.write_text(json.dumps(environment()))
        print(f"wrote {WIKIMIA_GOLDEN} and {WIKIMIA_ENV}")


if __name__ == "__main__":
    main()
