"""llm-mia serve and the HTTP backend: the same statistics over HTTP as in this process, and
a client that survives refused connections, 429s and a server restarted mid-run."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import random_sentences

from llm_mia import Scorer, ScorerConfig, StatsCache
from llm_mia.scoring import as_backend
from llm_mia.backends import HTTPBackend, ServerError
from llm_mia.cli import main
from llm_mia.errors import BackendUnavailable, InputError, ModelLoadError
from llm_mia.backends import ScoringService, make_server
from llm_mia.types import TokenStats, Unscorable

TEXTS = random_sentences(12, seed=5) + ["Hello, world! 123 ÄÖÜ ß é", "x"]


@contextmanager
def serving(service: ScoringService, port: int = 0, token: str | None = None):
    server = make_server(service, "127.0.0.1", port, token=token)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def service(tiny_lm) -> ScoringService:
    return ScoringService(as_backend(tiny_lm, ScorerConfig()))


@pytest.fixture(scope="module")
def url(service):
    with serving(service) as (address, _):
        yield address


def _fast(url: str, **kw: Any) -> HTTPBackend:
    return HTTPBackend(url, backoff=0.01, **kw)


def _same(a: list, b: list) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert type(x) is type(y)
        if isinstance(x, TokenStats):
            assert np.array_equal(x.token_ids, y.token_ids) and x.truncated == y.truncated
            for col in ("logprobs", "dist_mean", "dist_var", "top_logprob"):
                assert np.array_equal(getattr(x, col), getattr(y, col)), col  # bit for bit: the same computation
        else:
            assert x.reason.code == y.reason.code


def test_the_served_statistics_equal_the_in_process_ones_bit_for_bit(tiny_lm, url):
    remote = _fast(url)
    cfg = ScorerConfig(batch_size=4, max_tokens=12)
    _same(Scorer(remote, cfg).score_texts(TEXTS), Scorer(tiny_lm, cfg).score_texts(TEXTS))
    # a context (ReCaLL's prefix) travels as score_from: its positions are not scored
    _same(Scorer(remote, cfg).score_texts(TEXTS, context="Storm harbor village."), Scorer(tiny_lm, cfg).score_texts(TEXTS, context="Storm harbor village."))
    # windows over long texts too
    wcfg = ScorerConfig(batch_size=3, max_tokens=8, stride=4)
    long = [" ".join(TEXTS[:4]), TEXTS[5]]
    _same(Scorer(remote, wcfg).score_texts(long), Scorer(tiny_lm, wcfg).score_texts(long))


def test_top_k_window_probabilities_over_http_equal_the_in_process_ones(tiny_lm, url):
    """The top-k p_z of extraction windows from llm-mia serve: the same numbers as in process,
    bit for bit (the same computation); a bad top-k request is refused."""
    from llm_mia.scoring import WindowSettings, window_config, window_stats, with_topk

    settings = WindowSettings(prefix=5, suffix=4)
    remote = Scorer(_fast(url), window_config(settings, ScorerConfig(batch_size=3)))
    local = Scorer(tiny_lm, window_config(settings, ScorerConfig(batch_size=3)))
    long = [" ".join(TEXTS[:4]), " ".join(TEXTS[4:])]
    got, want = [], []
    for scorer, out in ((remote, got), (local, want)):
        stats = scorer.score_texts(long)
        out += [w.topk_log_pz for w in with_topk(scorer, stats, [window_stats(s, settings) for s in stats], 40)]
    assert "topk" in remote.backend.capabilities and sum(len(w) for w in want) >= 6
    for a, b in zip(got, want):
        assert np.array_equal(a, b)
    with pytest.raises(ServerError, match="positive whole number"):
        _fast(url).post("/completions", {"prompt": [1, 2, 3], "echo": True, "max_tokens": 0, "llm_mia": {"topk": 0}})


def test_the_server_says_what_it_serves_and_shares_the_cache_key(tiny_lm, url):
    remote = _fast(url)
    assert remote.identity == tiny_lm.identity and remote.tokenizer_identity == tiny_lm.tokenizer_identity
    assert remote.cache_identity() == as_backend(tiny_lm, ScorerConfig()).cache_identity()
    assert "gradient" not in remote.capabilities and {"logprobs", "moments", "top1"} <= remote.capabilities
    assert remote.tokenize(["Hello, world!", "river"]) == [tiny_lm.tokenizer(t)["input_ids"] for t in ("Hello, world!", "river")]
    assert remote.post("/tokenize", {"prompt": "Hello, world!"}, root=True)["tokens"] == tiny_lm.tokenizer("Hello, world!")["input_ids"]  # vLLM's form
    assert remote.tokenizer.decode(remote.tokenize(["Hello, world!"])[0]) == tiny_lm.tokenizer.decode(tiny_lm.tokenizer("Hello, world!")["input_ids"])
    assert len(remote.tokenizer) == len(tiny_lm.tokenizer)
    plausible = remote.describe()["plausibility"]  # the probe sentences scored at connection
    assert plausible["log_vocab_size"] == pytest.approx(np.log(len(tiny_lm.tokenizer))) and plausible["logprob_std"] > 1


def test_a_served_model_without_its_embedding_is_refused(tiny_model_dir):
    """Zeroed (tied) embeddings, as a model folder whose embedding did not load: every token at -log V."""
    from llm_mia import load_model

    lm = load_model(str(tiny_model_dir), device="cpu")
    lm.model.get_input_embeddings().weight.data.zero_()
    with serving(ScoringService(as_backend(lm, ScorerConfig()))) as (address, _):
        with pytest.raises(ModelLoadError, match=r"-log\(400\), the uniform distribution over that many tokens"):
            _fast(address)


def test_gradnorm_is_refused_over_http_before_any_scoring(url):
    from llm_mia.pipeline import open_run

    with pytest.raises(InputError, match="gradient"):
        open_run(_fast(url), detectors=["gradnorm"], use_cache=False).score(["some text here"])


@pytest.mark.parametrize(
    "body, status, words",
    [
        ({"prompt": [1, 2, 3], "echo": True, "max_tokens": 5, "logprobs": 0}, 400, "max_tokens: 0"),
        ({"prompt": [1, 2, 3], "echo": True, "max_tokens": 0, "logprobs": 5}, 400, "top-k"),
        ({"prompt": "a string", "echo": True, "max_tokens": 0}, 400, "tokenize first"),
        ({"prompt": [1], "echo": True, "max_tokens": 0}, 400, "at least 2"),
        ({"prompt": [1, 2, 3], "echo": True, "max_tokens": 0, "model": "other"}, 404, "not 'other'"),
        ({"prompt": [1, 2, 3], "echo": True, "max_tokens": 0, "llm_mia": {"score_from": 3}}, 400, "score_from"),
        ({"prompt": [1, 2, 3] * 200, "echo": True, "max_tokens": 0}, 400, "context length"),
    ],
)
def test_requests_the_server_cannot_answer_get_a_clear_4xx(url, body, status, words):
    with pytest.raises(ServerError, match=words) as info:
        _fast(url).post("/completions", body)
    assert info.value.status == status


def test_an_openai_client_reads_echoed_prompt_logprobs(tiny_lm, url):
    """The plain OpenAI fields: token_logprobs with null first, equal to the scorer's lp."""
    ids = tiny_lm.tokenizer(TEXTS[0])["input_ids"]
    req = urllib.request.Request(
        url + "/completions",
        data=json.dumps({"model": _fast(url).model_name, "prompt": ids, "echo": True, "max_tokens": 0, "logprobs": 0}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        choice = json.loads(resp.read())["choices"][0]
    lps = choice["logprobs"]["token_logprobs"]
    assert lps[0] is None and len(lps) == len(ids) == len(choice["logprobs"]["tokens"])
    (st,) = Scorer(tiny_lm, ScorerConfig()).score_texts([TEXTS[0]])
    assert np.array_equal(np.asarray(lps[1:], dtype=np.float32), st.logprobs)


def test_a_token_is_required_and_never_shown(service, monkeypatch, tmp_path):
    with serving(service, token="s3cret-token") as (address, _):
        monkeypatch.delenv("LLM_MIA_API_KEY", raising=False)
        with pytest.raises(ModelLoadError, match="401") as info:
            _fast(address)
        assert "s3cret" not in str(info.value)
        monkeypatch.setenv("LLM_MIA_API_KEY", "s3cret-token")
        remote = _fast(address)
        assert isinstance(Scorer(remote).score_texts(TEXTS[:2])[0], TokenStats)
        data = tmp_path / "d.jsonl"
        data.write_text("".join(json.dumps({"text": t, "label": i % 2}) + "\n" for i, t in enumerate(TEXTS[:-1])))
        out = tmp_path / "s.jsonl"
        assert main(["score", str(data), "-o", str(out), "--model", address, "--no-cache", "--no-progress"]) == 0
        assert "s3cret" not in out.read_text()


def test_429_and_a_server_that_is_down_for_a_while_are_retried(service, tmp_path):
    from llm_mia.backends import RequestError

    calls = {"n": 0}
    real = service.completions

    def sometimes_busy(body: dict) -> dict:
        calls["n"] += 1
        if calls["n"] in (1, 3):
            from http import HTTPStatus

            raise RequestError(HTTPStatus.TOO_MANY_REQUESTS, "busy")
        return real(body)

    service.completions = sometimes_busy  # type: ignore[method-assign]
    try:
        with serving(service) as (address, _):
            slept: list[float] = []
            remote = _fast(address, sleep=slept.append)
            got = Scorer(remote, ScorerConfig(batch_size=5)).score_texts(TEXTS)
    finally:
        service.completions = real  # type: ignore[method-assign]
    assert len(slept) == 2
    _same(got, Scorer(service.backend, ScorerConfig(batch_size=5)).score_texts(TEXTS))


def start_server(model_dir: Path, port: int = 0) -> tuple[subprocess.Popen, str]:
    """``llm-mia serve`` in its own process; returns it and its address once it listens."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from llm_mia.cli import main; sys.exit(main(sys.argv[1:]))",
            "serve",
            "--model",
            str(model_dir),
            "--port",
            str(port),
            "--quiet",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    line, deadline = "", time.time() + 120
    while "serving" not in line and time.time() < deadline:
        line = proc.stderr.readline() if proc.stderr else ""
        assert line or proc.poll() is None, "the server exited"
    return proc, line.split(" at ")[1].split()[0]


def test_a_server_killed_and_restarted_mid_run_loses_and_duplicates_nothing(tiny_model_dir, tiny_lm, tmp_path):
    """The server process is killed (SIGKILL) after the client's second batch and started
    again on the same port: the client retries until it answers, and the run ends with every
    text, each once, equal to an uninterrupted run."""
    cfg = ScorerConfig(batch_size=3)
    expected = Scorer(tiny_lm, cfg).score_texts(TEXTS)
    proc, address = start_server(tiny_model_dir)
    port = int(address.rsplit(":", 1)[1].split("/")[0])
    procs = [proc]
    try:
        slept: list[float] = []
        remote = HTTPBackend(address, backoff=0.25, retries=10, sleep=lambda s: (slept.append(s), time.sleep(s)))
        real, batches = remote.forward, []

        def forward(batch):  # type: ignore[no-untyped-def]
            if len(batches) == 2:  # the server dies before the third batch
                procs[0].kill()
                procs[0].wait()
                threading.Thread(target=lambda: procs.append(start_server(tiny_model_dir, port)[0]), daemon=True).start()
            batches.append(len(batch))
            return real(batch)

        remote.forward = forward  # type: ignore[method-assign]
        cache = StatsCache(tmp_path / "cache")
        got = Scorer(remote, cfg, cache=cache).score_texts(TEXTS)
    finally:
        for p in procs:
            p.kill()
            p.wait()
    assert len(procs) == 2 and slept  # the server did go away, and the client waited for it
    _same(got, expected)
    scored = sum(isinstance(e, TokenStats) for e in expected)
    assert sum(batches) == scored and len(cache) == scored  # each text sent once, cached once


def test_a_server_that_stays_down_stops_the_run_and_a_rerun_resumes_from_the_cache(service, tmp_path):
    cfg = ScorerConfig(batch_size=2)
    cache_dir = tmp_path / "cache"
    with serving(service) as (address, server):
        remote = HTTPBackend(address, backoff=0.01, retries=2)
        real = remote.forward
        done = {"n": 0}

        def forward_then_die(batch):  # type: ignore[no-untyped-def]
            done["n"] += 1
            if done["n"] == 3:
                server.shutdown()
                server.server_close()
            return real(batch)

        remote.forward = forward_then_die  # type: ignore[method-assign]
        with pytest.raises(BackendUnavailable, match="after 3 tries.*rerun to resume"):
            Scorer(remote, cfg, cache=StatsCache(cache_dir)).score_texts(TEXTS)
    assert len(StatsCache(cache_dir)) == 4  # the two batches answered before the server went away
    with serving(service) as (address, _):
        remote = _fast(address)
        batches: list[int] = []
        real = remote.forward
        remote.forward = lambda batch: (batches.append(len(batch)), real(batch))[1]  # type: ignore[method-assign]
        got = Scorer(remote, cfg, cache=StatsCache(cache_dir)).score_texts(TEXTS)
    _same(got, Scorer(service.backend, cfg).score_texts(TEXTS))
    assert sum(batches) == sum(isinstance(g, TokenStats) for g in got) - 4  # only what the cache did not hold


def test_a_batch_the_model_fails_on_is_split_and_only_that_text_is_skipped(service):
    backend = service.backend
    real = backend.forward
    bad = backend.tokenize([TEXTS[3]])[0]

    def fails_on_one(batch):  # type: ignore[no-untyped-def]
        if any(ids == bad for ids, _ in batch):
            raise RuntimeError("out of memory (simulated)")
        return real(batch)

    backend.forward = fails_on_one  # type: ignore[method-assign]
    try:
        with serving(service) as (address, _):
            got = Scorer(_fast(address), ScorerConfig(batch_size=4)).score_texts(TEXTS)
    finally:
        backend.forward = real  # type: ignore[method-assign]
    assert isinstance(got[3], Unscorable) and "out of memory (simulated)" in got[3].reason and got[3].reason.code == "model_failed"
    expected = Scorer(backend, ScorerConfig(batch_size=4)).score_texts(TEXTS)
    _same(got[:3] + got[4:], expected[:3] + expected[4:])


def test_nothing_answers_at_the_address(monkeypatch):
    with pytest.raises(BackendUnavailable, match="did not answer GET /v1/models"):
        HTTPBackend("http://127.0.0.1:9/v1", backoff=0.0, retries=1)
    with pytest.raises(ModelLoadError, match="not a server address"):
        HTTPBackend("ftp://x")
    with pytest.raises(ModelLoadError, match="without credentials"):
        HTTPBackend("http://user:pw@127.0.0.1:9/v1")


def test_score_and_serve_on_the_command_line(tiny_model_dir, tmp_path):
    """``llm-mia serve`` in its own process, ``llm-mia score --model http://...`` against it:
    the same score file as scoring in this process."""
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"id": str(i), "text": t, "label": i % 2}) + "\n" for i, t in enumerate(TEXTS[:-1])))
    proc, address = start_server(tiny_model_dir)
    try:
        remote, local = tmp_path / "remote.jsonl", tmp_path / "local.jsonl"
        common = ["--detectors", "loss,zlib,min_k,min_k_pp,gap_k", "--no-cache", "--no-progress", "--max-tokens", "16"]
        assert main(["score", str(data), "-o", str(remote), "--model", address, *common]) == 0
        assert main(["score", str(data), "-o", str(local), "--model", str(tiny_model_dir), "--device", "cpu", *common]) == 0
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    rows = lambda p: [(r["id"], r["status"], r["scores"]) for r in map(json.loads, Path(p).read_text().splitlines())]  # noqa: E731
    assert rows(remote) == rows(local)


def test_serve_refuses_what_it_cannot_do(capsys, monkeypatch):
    monkeypatch.delenv("LLM_MIA_SERVE_TOKEN", raising=False)
    assert main(["serve", "--require-token"]) == 2
    assert "LLM_MIA_SERVE_TOKEN" in capsys.readouterr().err
    assert main(["serve", "--model", "http://127.0.0.1:9/v1"]) == 2
    assert "not another server" in capsys.readouterr().err


def test_check_over_http_gives_the_verdict_and_shading_of_the_model_in_process(tiny_lm, url, tmp_path):
    from llm_mia.check import CheckSettings, run_check

    suspect, reference = tmp_path / "s.jsonl", tmp_path / "r.jsonl"
    suspect.write_text("".join(json.dumps({"text": t}) + "\n" for t in random_sentences(20, seed=31)))
    reference.write_text("".join(json.dumps({"text": t}) + "\n" for t in random_sentences(20, seed=32)))
    settings = CheckSettings(n_splits=5, top=3)
    here = run_check(suspect, reference, model=tiny_lm, settings=settings, use_cache=False)
    there = run_check(suspect, reference, model=_fast(url), settings=settings, use_cache=False)
    assert there.collection is not None and here.collection is not None
    assert (there.collection.p_value, there.collection.effect) == (here.collection.p_value, here.collection.effect)
    assert [t.p_values for t in there.documents] == [t.p_values for t in here.documents]
    # the served tokenizer gives no offsets: the pieces come from decoding, and rebuild the same text
    assert ["".join(p for p, _ in x.pieces) for x in there.top] == ["".join(p for p, _ in x.pieces) for x in here.top]
    assert [[lp for _, lp in x.pieces if lp is not None] for x in there.top] == [[lp for _, lp in x.pieces if lp is not None] for x in here.top]
