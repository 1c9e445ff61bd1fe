"""A generic OpenAI-compatible server through the HTTP backend: the conformance probe accepts a
correct server and refuses the known defects, log-probabilities and the top-1 column match the
model in this process, detectors needing more are refused before any request, and requests
go in flight together, bounded by the batch size."""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager

import numpy as np
import pytest
from conftest import random_sentences
from openai_fake import FakeOpenAIServer

from llm_mia import Scorer, ScorerConfig
from llm_mia.backends import LOGPROBS, TOP1
from llm_mia.backends import HTTPBackend
from llm_mia.backends import PROBE_TOLERANCE, NotConformant, plausibility
from llm_mia.cli import main
from llm_mia.errors import ModelLoadError
from llm_mia.pipeline import open_run
from llm_mia.backends import make_server
from llm_mia.types import TokenStats

TEXTS = random_sentences(10, seed=8)


@contextmanager
def serving(fake: FakeOpenAIServer):
    server = make_server(fake, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def fake(tiny_model_dir) -> FakeOpenAIServer:
    return FakeOpenAIServer(tiny_model_dir, delay=0.05)


def test_a_correct_server_passes_the_probe_and_matches_the_model_in_this_process(tiny_lm, fake):
    with serving(fake) as url:
        backend = HTTPBackend(url, backoff=0.01)
        assert backend.protocol == "openai" and backend.capabilities == {LOGPROBS, TOP1}
        assert backend.probe is not None and backend.probe.max_lp_diff < 1e-4 and backend.probe.checked >= 1
        remote = Scorer(backend, ScorerConfig(batch_size=4)).score_texts(TEXTS)
    local = Scorer(tiny_lm, ScorerConfig(batch_size=4)).score_texts(TEXTS)
    for r, x in zip(remote, local):
        assert isinstance(r, TokenStats) and isinstance(x, TokenStats)
        assert np.array_equal(r.token_ids, x.token_ids)
        np.testing.assert_allclose(r.logprobs, x.logprobs, atol=1e-4)  # two implementations, float32
        np.testing.assert_allclose(r.top_logprob, x.top_logprob, atol=1e-4)
        assert np.isnan(r.dist_mean).all() and np.isnan(r.dist_var).all()  # no whole distribution: no moments


def test_a_context_is_sent_but_not_scored(tiny_lm, fake):
    with serving(fake) as url:
        remote = Scorer(HTTPBackend(url), ScorerConfig()).score_texts(TEXTS[:3], context=TEXTS[5])
    local = Scorer(tiny_lm, ScorerConfig()).score_texts(TEXTS[:3], context=TEXTS[5])
    for r, x in zip(remote, local):
        assert isinstance(r, TokenStats) and isinstance(x, TokenStats)
        assert len(r.logprobs) == len(x.logprobs)
        np.testing.assert_allclose(r.logprobs, x.logprobs, atol=1e-4)


def test_requests_go_in_flight_together_bounded_by_the_batch_size(fake):
    with serving(fake) as url:
        backend = HTTPBackend(url)
        fake.max_in_flight = 0
        Scorer(backend, ScorerConfig(batch_size=3)).score_texts(random_sentences(9, seed=21))
    assert 2 <= fake.max_in_flight <= 3


@pytest.mark.parametrize(
    ("defect", "words"),
    [({"late": True}, "one position late"), ({"first_value": True}, "first prompt token")],
)
def test_a_server_with_a_known_defect_is_refused(tiny_model_dir, defect, words):
    with serving(FakeOpenAIServer(tiny_model_dir, **defect)) as url:
        with pytest.raises(ModelLoadError, match=words):
            HTTPBackend(url)


@pytest.mark.parametrize(
    ("broken", "words"),
    [
        ({"uniform": True}, r"nearly\) constant: \d+ probe tokens at a mean of -5\.9915 = -log\(400\), the uniform distribution"),
        ({"flatten": 300.0}, r"nearly\) constant: .* standard deviation 0\.0"),
    ],
)
def test_a_server_serving_a_uniform_or_near_uniform_distribution_is_refused(tiny_model_dir, broken, words):
    """Such a server agrees with itself (echo and generation give the same values), so only the
    plausibility check can refuse it: vLLM served a model folder without its embedding so."""
    fake = FakeOpenAIServer(tiny_model_dir, **broken)
    with serving(fake) as url:
        with pytest.raises(ModelLoadError, match=words):
            HTTPBackend(url)
    assert fake.completions_served >= 2  # it passed the consistency part and was refused after


def test_plausibility_refuses_each_sign_with_its_numbers():
    real = [-0.01, -3.2, -0.4, -7.5, -1.1, -0.02, -2.6]
    ok = plausibility(real, [[-0.1, -4.0, -5.5]], vocab_size=49152)
    assert ok.tokens == 7 and ok.spread > 2 and ok.top_gap > 4 and abs(ok.log_vocab - np.log(49152)) < 1e-12
    with pytest.raises(NotConformant, match=r"within 1 of log of the vocabulary size \(10\.803\)"):
        plausibility([-10.0, -11.5, -10.3, -9.9], [[-9.9, -10.0]], vocab_size=49152)  # spread, but uniform-like
    assert plausibility([-10.0, -11.5, -10.3, -9.9], [[-5.0, -10.0]], vocab_size=None).nll > 10  # unknown vocabulary: not judged
    with pytest.raises(NotConformant, match="top candidate is no likelier"):
        plausibility(real, [[-2.0, -2.01, -2.02], [-3.0, -3.05]], vocab_size=None)
    for bad in ([-1.0, float("nan")], [-1.0, 0.5], [-1.0]):
        with pytest.raises(NotConformant, match="not finite values at most 0"):
            plausibility(bad, [], vocab_size=None)


def test_without_top_k_for_prompt_positions_only_log_probabilities_are_offered(tiny_model_dir):
    """Also when the server sends top_logprobs unasked for prompt positions (the token itself,
    as vLLM does with logprobs 0): the top-1 column stays NaN, never the token's own value."""
    with serving(FakeOpenAIServer(tiny_model_dir, tops=False, tops_unasked=True)) as url:
        backend = HTTPBackend(url)
        assert backend.capabilities == {LOGPROBS} and backend.probe is not None and backend.probe.max_top_diff > PROBE_TOLERANCE  # measured, refused
        assert backend.max_positions == 255  # max_model_len 256, less the one token each request asks for
        (stats,) = Scorer(backend, ScorerConfig()).score_texts(TEXTS[:1])
    assert isinstance(stats, TokenStats) and np.isnan(stats.top_logprob).all() and np.isfinite(stats.logprobs).all()


def test_llama_cpp_pythons_tokenize_dialect_and_model_choice(tiny_model_dir):
    with serving(FakeOpenAIServer(tiny_model_dir, dialect="extras", extra_models=("other",))) as url:
        with pytest.raises(ModelLoadError, match="serves 2 models.*#NAME"):
            HTTPBackend(url)
        with pytest.raises(ModelLoadError, match="does not serve 'nope'"):
            HTTPBackend(url + "#nope")
        backend = HTTPBackend(url + "#tiny")
        assert backend.model_name == "tiny" and backend.tokenize(["Hello, world!"])[0]
        assert backend.tokenizer.decode(backend.tokenize(["river stone"], special_tokens=False)[0]) == "river stone"


def test_score_on_the_command_line_refuses_min_k_pp_before_any_request_and_records_the_probe(fake, tmp_path, capsys):
    data = tmp_path / "docs.jsonl"
    data.write_text("".join(json.dumps({"id": f"d{i}", "text": t}) + "\n" for i, t in enumerate(TEXTS)))
    with serving(fake) as url:
        served = fake.completions_served
        HTTPBackend(url)
        probe_requests, served = fake.completions_served - served, fake.completions_served
        code = main(["score", str(data), "--model", url, "--detectors", "min_k_pp", "--out", str(tmp_path / "refused"), "--no-cache", "--no-progress"])
        assert code != 0 and "moments" in capsys.readouterr().err
        assert fake.completions_served - served == probe_requests  # the probe's requests only
        out = tmp_path / "run.jsonl"
        assert main(["score", str(data), "--model", url, "--detectors", "loss,zlib,min_k,camia", "--out", str(out), "--no-cache", "--no-progress"]) == 0
        served_info = open_run(url, detectors=["loss"], use_cache=False).provenance()["served"]["target"]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == len(TEXTS) and all(r["status"] == "ok" and r["scores"]["camia"] is not None for r in rows)
    assert served_info["protocol"] == "openai" and served_info["conformance_probe"]["max_lp_diff"] <= PROBE_TOLERANCE
    plausible = served_info["conformance_probe"]["plausibility"]  # the probe sentences' figures, in the provenance
    assert plausible["tokens"] > 20 and plausible["logprob_std"] > 1 and plausible["top_gap"] > 1
