"""The scoring-backend interface (issue 10, item 3): the scorer's generic part runs on any
backend; the shipped test backend runs every command with no torch model; a detector that a
backend cannot serve is refused before any scoring."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import random_sentences

from llm_mia import Scorer, ScorerConfig, StatsCache, score_documents
from llm_mia.backends import LOGPROBS, MockBackend, ScoringBackend
from llm_mia.backends import BOS
from llm_mia.errors import InputError, ScoringError
from llm_mia.types import TokenStats, Unscorable

TEXTS = random_sentences(9, seed=41) + ["Ünïcödé ß ✓ text."]


def test_the_test_backend_is_a_backend_with_exact_statistics():
    backend = MockBackend()
    assert isinstance(backend, ScoringBackend)
    (st,) = Scorer(backend).score_texts(["abc"])
    ids = [BOS, 97, 98, 99]
    assert list(st.token_ids) == ids
    logp = backend.logp
    np.testing.assert_allclose(st.logprobs, [logp[a, b] for a, b in zip(ids, ids[1:])], rtol=1e-6)
    p = np.exp(logp[ids[:-1]])
    np.testing.assert_allclose(st.dist_mean, (p * logp[ids[:-1]]).sum(1), rtol=1e-6)


@pytest.mark.parametrize("max_tokens,stride", [(8, 3), (5, 1), (16, 15)])
def test_windows_score_every_token_exactly_once(max_tokens, stride):
    """On a bigram backend a token's statistics do not depend on the window: the windows
    must reproduce the whole text's values exactly, each token once."""
    text = " ".join(TEXTS)
    whole = Scorer(MockBackend(), ScorerConfig(max_tokens=4096)).score_texts([text])[0]
    windows = Scorer(MockBackend(), ScorerConfig(max_tokens=max_tokens, stride=stride, batch_size=3)).score_texts([text])[0]
    assert not windows.truncated and list(windows.token_ids) == list(whole.token_ids)
    np.testing.assert_array_equal(windows.logprobs, whole.logprobs)
    np.testing.assert_array_equal(windows.dist_var, whole.dist_var)


def test_generic_parts_cache_dedup_and_failure_splitting(tmp_path):
    poison = TEXTS[2].encode()

    def fail(batch):
        if len(batch) > 2:
            raise RuntimeError("out of memory (simulated)")
        if any(bytes(i for i in ids if i < 256) == poison for ids, _ in batch):
            raise RuntimeError("device-side assert (simulated)")

    backend = MockBackend(fail=fail)
    out = Scorer(backend, ScorerConfig(batch_size=8), cache=StatsCache(tmp_path)).score_texts(TEXTS + TEXTS[:3])
    assert isinstance(out[2], Unscorable) and "device-side assert" in out[2].reason
    assert all(isinstance(s, TokenStats) for i, s in enumerate(out) if i not in (2, len(TEXTS) + 2))
    again = MockBackend()
    cached = Scorer(again, ScorerConfig(batch_size=8), cache=StatsCache(tmp_path)).score_texts(TEXTS)
    assert again.calls == 1  # only the text that failed is scored again
    assert cached[0].logprobs.tolist() == out[0].logprobs.tolist()

    def always(batch):
        raise RuntimeError("the device is gone (simulated)")

    with pytest.raises(ScoringError, match="in a row"):
        Scorer(MockBackend(fail=always), ScorerConfig(batch_size=2)).score_texts(TEXTS)


def test_a_detector_the_backend_cannot_serve_is_refused_before_scoring():
    backend = MockBackend(capabilities=frozenset({LOGPROBS}))
    with pytest.raises(InputError, match="detector min_k_pp needs exact next-token moments .* from the model under test, which test-backend does not give"):
        score_documents(TEXTS, model=backend, detectors=["loss", "min_k_pp"], use_cache=False)
    assert backend.calls == 0
    records = score_documents(TEXTS, model=backend, detectors=["loss", "min_k", "zlib"], use_cache=False)
    assert all(r.status == "ok" and all(np.isfinite(v) for v in r.scores.values()) for r in records)


def test_every_command_runs_on_the_test_backend_without_torch(tmp_path):
    rows = [{"text": t, "label": i % 2} for i, t in enumerate(random_sentences(24, seed=42))]
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "s.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in random_sentences(12, seed=43)))
    (tmp_path / "r.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in random_sentences(12, seed=44)))
    probe = textwrap.dedent("""
        import json, sys
        from llm_mia.cli import main
        common = ["--model", "test-backend", "--cache-dir", "cache", "--no-progress"]
        codes = [
            main(["score", "d.jsonl", "-o", "s.out.jsonl", *common, "--detectors", "loss,zlib,lowercase,min_k:k=0.1,min_k_pp"]),
            main(["eval", "s.out.jsonl", "--bootstrap", "50", "--json", "m.json"]),
            main(["bench", "d.jsonl", "--out", "bench", "--bootstrap", "50", *common]),
            main(["check", "s.jsonl", "--reference", "r.jsonl", "--unit", "document", "--splits", "3", "--permutations", "19",
                  "--html", "c.html", "--json", "c.json", *common]),
        ]
        print(json.dumps({"codes": codes, "torch": "torch" in sys.modules, "transformers": "transformers" in sys.modules}))
    """)
    res = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, check=False)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out == {"codes": [0, 0, 0, 0], "torch": False, "transformers": False}, res.stderr
    scores = [json.loads(line) for line in (tmp_path / "s.out.jsonl").read_text().splitlines()]
    assert len(scores) == 24 and set(scores[0]["scores"]) == {"loss", "zlib", "lowercase", "min_k:k=0.1", "min_k_pp"}
    assert json.loads((tmp_path / "bench" / "results.json").read_text())["model"] == "test-backend"
    report = json.loads((tmp_path / "c.json").read_text())
    assert 0 < report["collection_test"]["p_value"] <= 1 and (tmp_path / "c.html").read_text().startswith("<!DOCTYPE html>")


def test_bfloat16_on_a_cpu_is_refused_without_native_support_and_close_to_float32_with_it(tiny_model_dir, monkeypatch):
    import numpy as np

    import llm_mia.backends.loading as models
    from llm_mia import Scorer, load_model
    from llm_mia.errors import ModelLoadError

    monkeypatch.setattr(models, "cpu_computes_bfloat16", lambda: False)
    with pytest.raises(ModelLoadError, match="no native bfloat16"):
        load_model(str(tiny_model_dir), device="cpu", dtype="bfloat16")
    with pytest.raises(ModelLoadError, match="float16 is only offered on a GPU"):
        load_model(str(tiny_model_dir), device="cpu", dtype="float16")
    monkeypatch.setattr(models, "cpu_computes_bfloat16", lambda: True)  # bfloat16 runs on any CPU, only slowly without it
    half = load_model(str(tiny_model_dir), device="cpu", dtype="bfloat16")
    full = load_model(str(tiny_model_dir), device="cpu")
    texts = ["River stone light house garden winter summer paper window.", "Hello, world! 123"]
    a, b = Scorer(half).score_texts(texts), Scorer(full).score_texts(texts)
    assert Scorer(half).settings()["dtype"] == "bfloat16" != Scorer(full).settings()["dtype"]  # keys the cache apart
    for x, y in zip(a, b):
        assert np.array_equal(x.token_ids, y.token_ids)
        assert x.logprobs.dtype == np.float32 and not np.array_equal(x.logprobs, y.logprobs)  # really computed in bfloat16
        assert np.allclose(x.logprobs, y.logprobs, atol=0.25, rtol=0.05) and np.allclose(x.dist_mean, y.dist_mean, atol=0.25, rtol=0.05)


def test_device_auto_shards_with_accelerate_and_gives_the_same_statistics(tiny_model_dir, monkeypatch):
    """``--device auto`` loads with ``device_map="auto"`` (on a machine without a GPU, every
    layer lands on the CPU): the same statistics and cache key as ``--device cpu``."""
    import numpy as np
    from transformers import AutoModelForCausalLM

    from llm_mia import Scorer, load_model

    seen: list[object] = []
    original = AutoModelForCausalLM.from_pretrained

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(kwargs.get("device_map"))
        return original(*args, **kwargs)

    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", spy)
    sharded, plain = load_model(str(tiny_model_dir), device="auto"), load_model(str(tiny_model_dir), device="cpu")
    assert seen == ["auto", None]
    if sharded.device == "cpu":
        assert Scorer(sharded).settings() == Scorer(plain).settings()
        texts = ["River stone light house garden winter summer paper window.", "Hello, world! 123"]
        for x, y in zip(Scorer(sharded).score_texts(texts), Scorer(plain).score_texts(texts)):
            assert np.array_equal(x.logprobs, y.logprobs) and np.array_equal(x.dist_var, y.dist_var)


def test_cuda_on_a_cpu_only_torch_stops_before_loading_with_the_install_hint(tiny_model_dir, monkeypatch):
    import torch
    from transformers import AutoModelForCausalLM

    from llm_mia import load_model
    from llm_mia.errors import ModelLoadError

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible")
    calls: list[object] = []
    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", lambda *a, **k: calls.append(a))
    hint = "CPU-only build" if torch.version.cuda is None else "sees no GPU"
    with pytest.raises(ModelLoadError, match=hint):
        load_model(str(tiny_model_dir), device="cuda")
    with pytest.raises(ModelLoadError, match=hint):
        load_model(str(tiny_model_dir), device="cuda:1")
    assert calls == []  # no weights were read


def test_a_hub_revision_loads_that_snapshot_from_the_local_cache(tiny_model_dir, tmp_path, monkeypatch):
    """``org/name@REVISION`` (and ``--revision``) resolves the revision's commit in the local hub
    cache (offline), and the identity names that commit; other specs refuse a revision."""
    import shutil

    import huggingface_hub.constants as hub

    from llm_mia import load_model
    import llm_mia.backends.loading as models
    from llm_mia.errors import ModelLoadError

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--org--tiny"
    shutil.copytree(tiny_model_dir, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "step100").write_text(commit)
    monkeypatch.setattr(hub, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(models, "hub_reachable", lambda timeout=3.0: False)
    lm = load_model(models.with_revision("org/tiny", "step100"), device="cpu")
    assert lm.identity == f"hub:org/tiny@{commit}" and lm.spec == "org/tiny@step100"
    with pytest.raises(ModelLoadError, match="at revision 'step999' is not in the local Hugging Face cache"):
        load_model("org/tiny@step999", device="cpu")
    for spec in ("smollm2-135m", str(tiny_model_dir), "org/tiny@main", "http://127.0.0.1:1/v1"):
        with pytest.raises(ModelLoadError, match="--revision applies to a hub id"):
            models.with_revision(spec, "step100")
    assert models.with_revision("smollm2-135m", None) == "smollm2-135m"


def test_a_registered_kind_of_spec_loads_its_own_backend(request):
    """The seam a new backend plugs into: a kind registered in SPEC_KINDS is what load_model
    and load_tokenizer give for its specs (and score_documents, through them)."""
    from llm_mia import load_model, score_documents
    from llm_mia.backends import SPEC_KINDS, MockBackend, SpecKind, load_tokenizer

    opened = []

    def open_seven(spec, *, device, dtype, server_wait, request_timeout):
        opened.append((spec, device, dtype, server_wait, request_timeout))
        return MockBackend(7)

    SPEC_KINDS.add("seven", SpecKind(lambda spec: spec.startswith("seven:"), open_seven))
    request.addfinalizer(lambda: SPEC_KINDS.remove("seven"))
    assert load_model("seven:a", device="cpu", server_wait=3).identity == "mock-bigram-v1:seed7"
    assert load_tokenizer("seven:b").identity == "mock-bigram-v1:seed7"
    assert opened == [("seven:a", "cpu", None, 3.0, 300.0), ("seven:b", None, None, None, None)]
    records = score_documents(["a text to score", "another one"], model="seven:c", detectors="loss", use_cache=False)
    assert [r.status for r in records] == ["ok", "ok"]
    assert load_model("test-backend:7").identity == "mock-bigram-v1:seed7"  # the built-in kinds are registered so too
