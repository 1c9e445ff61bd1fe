"""The served path against hostile clients and broken servers (issue 27; each test failed before
its fix): bodies of a length that is not a non-negative number, bodies left unread after an
error (request smuggling), connections that never finish their headers or exceed the limit,
keys with line breaks, malformed requests and ids outside the vocabulary, too much work in one
request, the model folder's path in the card; on the client's side, impossible statistics, a
broken tokenizer, a server restarted with other settings and a server that never answers."""

from __future__ import annotations

import socket
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from llm_mia.backends import HTTPBackend, MockBackend, RequestError, ScoringService, ServerError, make_server, secret_from_env
from llm_mia.errors import InputError, ModelLoadError, UntrustedServer
from llm_mia.scoring import ScorerConfig, as_backend

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from load_test import exchange, statuses  # noqa: E402  (the load test's own client: benchmarks/load_test.py)


@contextmanager
def serving(service: ScoringService, **kw: Any):
    server = make_server(service, "127.0.0.1", 0, **kw)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def service() -> ScoringService:
    return ScoringService(MockBackend())


@pytest.mark.parametrize("length", [b"-1", b"abc", b"1e3", b"+5", b" 12 x"])
def test_a_body_length_that_is_not_a_non_negative_number_is_refused(service, length):
    """Content-Length: -1 skipped the 64 MiB limit and read the whole stream (defect 3)."""
    with serving(service) as port:
        answer = exchange(port, b"POST /v1/tokenize HTTP/1.1\r\nHost: x\r\nContent-Length: " + length + b"\r\n\r\n" + b'{"prompt": "hi"}')
    assert statuses(answer) == [400] and b"Content-Length" in answer


def test_a_chunked_body_is_refused_and_the_connection_closed(service):
    with serving(service) as port:
        answer = exchange(port, b"POST /v1/tokenize HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n" + b"x" * 16 + b"\r\n0\r\n\r\n")
    assert statuses(answer) == [411]


@pytest.mark.parametrize(("token", "path", "status"), [("t0ken", "/v1/models", 401), (None, "/v1/nope", 404)])
def test_a_body_left_unread_after_an_error_is_never_run_as_a_second_request(service, token, path, status):
    """The smuggled GET inside the body was answered as a second request (defect 6)."""
    smuggled = b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n"
    with serving(service, token=token) as port:
        answer = exchange(port, f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(smuggled)}\r\n\r\n".encode() + smuggled)
    assert statuses(answer) == [status]


def test_an_oversized_body_is_refused_unread_and_the_connection_closed(service):
    smuggled = b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n"
    with serving(service) as port:
        answer = exchange(port, b"POST /v1/tokenize HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999999\r\n\r\n" + smuggled)
    assert statuses(answer) == [413] and b"Connection: close" in answer


def test_a_connection_that_never_finishes_its_headers_is_closed(service):
    with serving(service, idle_timeout=0.5) as port:
        started = time.monotonic()
        answer = exchange(port, b"GET /v1/models HTTP/1.1\r\nHost: x\r\n", wait=10)
        assert time.monotonic() - started < 5 and statuses(answer) in ([], [408])


def test_connections_beyond_the_limit_are_refused_and_honest_clients_still_served(service):
    with serving(service, max_connections=4, idle_timeout=5) as port:
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(4)]
        try:
            time.sleep(0.3)
            assert statuses(exchange(port, b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n")) == [503]
        finally:
            for conn in idle:
                conn.close()
        time.sleep(0.3)
        assert statuses(exchange(port, b"GET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")) == [200]


@pytest.mark.parametrize("written", ["s3cret-token\n", "  s3cret-token\r\n"])
def test_a_key_read_from_a_file_with_its_line_break_works_and_is_never_shown(service, monkeypatch, written, capsys):
    """Defect 4: a key ending in a newline was printed in full (urllib's invalid-header error)."""
    monkeypatch.setenv("LLM_MIA_API_KEY", written)
    with serving(service, token="s3cret-token") as port:
        backend = HTTPBackend(f"http://127.0.0.1:{port}/v1", backoff=0.01)
        assert backend.tokenize(["hi"])[0]
    assert "s3cret" not in capsys.readouterr().err


def test_a_key_with_a_line_break_inside_is_refused_without_showing_it(service, monkeypatch):
    monkeypatch.setenv("LLM_MIA_API_KEY", "s3cret\ntoken")
    with serving(service, token="s3cret-token") as port:
        with pytest.raises(ModelLoadError, match="LLM_MIA_API_KEY holds a line break or another control character") as info:
            HTTPBackend(f"http://127.0.0.1:{port}/v1", backoff=0.01)
    assert "s3cret" not in str(info.value) and "token" not in str(info.value).replace("the token", "")


def test_a_server_token_read_with_its_line_break_is_stripped(monkeypatch, capsys):
    from llm_mia.cli import main

    monkeypatch.setenv("LLM_MIA_SERVE_TOKEN", "s3cret-token\n")
    assert secret_from_env("LLM_MIA_SERVE_TOKEN", InputError) == "s3cret-token"
    monkeypatch.setenv("LLM_MIA_SERVE_TOKEN", "s3cret\ntoken")
    assert main(["serve", "--model", "test-backend", "--require-token", "--port", "0"]) == 2  # refused before serving
    err = capsys.readouterr().err
    assert "LLM_MIA_SERVE_TOKEN holds a line break or another control character" in err and "s3cret" not in err


@pytest.mark.parametrize(
    ("route", "body", "words"),
    [
        ("completions", {"prompt": [[5, 1_000_000]], "echo": True, "max_tokens": 0}, "outside the vocabulary"),
        ("completions", {"prompt": [5, 300], "echo": True, "max_tokens": 0}, "outside the vocabulary"),
        ("detokenize", {"tokens": [5, 1_000_000]}, "outside the vocabulary"),
        ("completions", {"prompt": [5, 6], "echo": True, "max_tokens": 0, "llm_mia": "x"}, "llm_mia must be an object"),
        ("completions", {"prompt": [5, 6], "echo": True, "max_tokens": 0, "llm_mia": {"score_from": True}}, "score_from"),
        ("tokenize", {"prompt": "hi", "add_special_tokens": "yes"}, "add_special_tokens"),
    ],
)
def test_a_malformed_request_gets_400_not_500_and_never_reaches_the_model(service, route, body, words):
    """Defect 8: ids outside the vocabulary reached the model (500 on CPU; on CUDA a device assert)."""
    with pytest.raises(RequestError, match=words) as info:
        getattr(service, route)(body)
    assert info.value.status == 400


def test_a_non_ascii_authorization_header_is_refused_with_401(service):
    """Defect 8: comparing non-ASCII strings raised a TypeError (500)."""
    with serving(service, token="s3cret-token") as port:
        answer = exchange(port, "GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sécret\r\n\r\n".encode("latin-1"))
    assert statuses(answer) == [401]


class Corrupt(MockBackend):
    """The mock backend with one column of its statistics replaced, or its token ids changed."""

    def __init__(self, column: int | None = None, value: float = 0.0, ids: str | None = None) -> None:
        super().__init__()
        self.column, self.value, self.ids = column, value, ids

    def forward(self, batch):  # type: ignore[no-untyped-def]
        out = super().forward(batch)
        if self.column is not None:
            for arr in out:
                arr[len(arr) // 2 :, self.column] = self.value
        return out

    def tokenize(self, texts, special_tokens=True):  # type: ignore[no-untyped-def]
        got = super().tokenize(texts, special_tokens)
        if self.ids == "same":
            return [[65, 66, 67] for _ in got]
        if self.ids == "shifted":
            return [[(i + 1) % 256 for i in ids] for ids in got]
        return got


@pytest.mark.parametrize(
    ("column", "value", "words"),
    [
        (0, float("nan"), "log-probability NaN"),
        (0, float("inf"), "log-probability inf"),
        (0, 0.7, "log-probability 0.7 above 0"),
        (2, -0.5, "variance -0.5 below 0"),
        (3, -99.0, "top-1 log-probability -99 below the token's own"),
    ],
)
def test_impossible_statistics_from_a_server_stop_the_run_and_none_is_kept(column, value, words, tmp_path, capsys):
    """Defect 2: NaN, +inf, log-probabilities above 0 were scored "ok" (exit 0)."""
    from llm_mia.cli import main

    data = tmp_path / "d.jsonl"
    data.write_text("".join(f'{{"id": "d{i}", "text": "a text of some length, number {i}"}}\n' for i in range(6)))
    broken = Corrupt()
    with serving(ScoringService(broken)) as port:
        url = f"http://127.0.0.1:{port}/v1"
        backend = HTTPBackend(url, backoff=0.01)  # the connection's checks pass
        broken.column, broken.value = column, value
        with pytest.raises(UntrustedServer, match=words):
            backend.forward([(backend.tokenize(["a text of some length"])[0], 1)])
        out = tmp_path / "s.jsonl"
        code = main(["score", str(data), "-o", str(out), "--model", url, "--no-cache", "--no-progress", "--detectors", "loss,min_k"])
    assert code == 2 and words in capsys.readouterr().err
    assert not out.exists() or '"ok"' not in out.read_text()


@pytest.mark.parametrize(("ids", "words"), [("same", "the same token ids for different texts"), ("shifted", "do not decode back to the text")])
def test_a_server_whose_tokenizer_is_broken_is_refused(ids, words):
    with serving(ScoringService(Corrupt(ids=ids))) as port:
        with pytest.raises(ModelLoadError, match=words):
            HTTPBackend(f"http://127.0.0.1:{port}/v1", backoff=0.01)


def test_a_server_restarted_with_other_settings_mid_run_is_refused_and_nothing_mixed(tmp_path, capsys):
    """Defect 1: a server restarted with --dtype bfloat16 mid-run gave half a float32 run, cached under the float32 key."""
    service = ScoringService(MockBackend())
    with serving(service) as port:
        backend = HTTPBackend(f"http://127.0.0.1:{port}/v1", backoff=0.01)
        ids = backend.tokenize(["a text of some length"])[0]
        assert backend.forward([(ids, 1)])[0].shape[0] == len(ids) - 1
        service.card["llm_mia"]["dtype"] = "bfloat16"  # what a restarted server with other settings says
        with pytest.raises(UntrustedServer, match=r"now serves .*bfloat16.* not .*float64"):
            backend.forward([(ids, 1)])


def test_work_per_request_is_bounded_and_the_client_splits_its_batches_to_fit():
    """Defect 5: 256 prompts of 8,192 tokens were one forward pass under the lock (about an hour)."""
    service = ScoringService(MockBackend(), max_request_tokens=100)
    prompts = [[(7 * i + j) % 250 for j in range(60)] for i in range(3)]
    with pytest.raises(RequestError, match="180 tokens in one request, more than this server takes at once \\(100\\)") as info:
        service.completions({"prompt": prompts, "echo": True, "max_tokens": 0})
    assert info.value.status == 413
    with pytest.raises(RequestError, match="more than this server takes at once"):
        service.completions({"prompt": [[1] * 101], "echo": True, "max_tokens": 0})
    with serving(service) as port:
        backend = HTTPBackend(f"http://127.0.0.1:{port}/v1", backoff=0.01)
        got = backend.forward([(p, 1) for p in prompts])  # split into requests of at most 100 tokens
        with pytest.raises(ServerError, match="more than this server takes at once"):
            backend.forward([([1] * 101, 1)])  # one prompt over the limit: that text alone fails
    expected = MockBackend().forward([(p, 1) for p in prompts])
    assert all(np.array_equal(a, b) for a, b in zip(got, expected))


def test_the_model_card_names_the_model_without_the_servers_folders(tiny_model_dir, tiny_lm):
    """Defect 12: any client, token or not, saw the model folder's absolute path in /v1/models."""
    import json

    service = ScoringService(as_backend(tiny_lm, ScorerConfig()))
    with serving(service) as port:
        answer = exchange(port, b"GET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert str(tiny_model_dir) not in answer.decode() and str(tiny_model_dir.parent) not in answer.decode()
        card = json.loads(answer.split(b"\r\n\r\n", 1)[1])["data"][0]
        assert card["id"] == tiny_model_dir.name
        remote = HTTPBackend(f"http://127.0.0.1:{port}/v1", backoff=0.01)
        assert remote.model_name == tiny_model_dir.name and remote.forward([(remote.tokenize(["river stone"])[0], 1)])


def test_a_hung_server_fails_within_the_request_timeout_set_on_the_command_line(tmp_path, capsys):
    """Defect 9: a server that accepts connections and never answers cost 47 minutes of silence;
    the timeout could not be set from the command line."""
    from llm_mia.cli import main

    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(listener.accept()[0])  # and never answer
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    data = tmp_path / "d.jsonl"
    data.write_text('{"text": "a text"}\n')
    try:
        started = time.monotonic()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
        code = main(["score", str(data), "-o", str(tmp_path / "s.jsonl"), "--model", url, "--request-timeout", "0.5", "--server-wait", "0", "--no-progress"])
        took = time.monotonic() - started
    finally:
        listener.close()
        for conn in held:
            conn.close()
    err = capsys.readouterr().err
    assert code == 4 and took < 10 and "no answer within 0.5 s" in err and "--request-timeout" in err
