"""A served run that loses its server: how long the client waits (``server_wait``,
``--server-wait``), what it says while it waits, and the exit code when the server stays away."""

from __future__ import annotations

import io
import json
import socket
import threading
import time
import urllib.error
import urllib.request
import warnings

import pytest
from conftest import random_sentences

from llm_mia import Scorer, ScorerConfig, score_documents
from llm_mia.backends import MockBackend
from llm_mia.backends import HTTPBackend, ServerWaitWarning, check_server_wait
from llm_mia.cli import main
from llm_mia.errors import BackendUnavailable, SettingError
from llm_mia.backends import load_model
from llm_mia.backends import ScoringService, make_server


def _dead_address() -> str:
    """The address of a port where nothing listens (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def _notes(seen: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in seen if issubclass(w.category, ServerWaitWarning)]


def test_each_wait_says_what_does_not_answer_and_how_long_it_keeps_trying():
    url = _dead_address()
    root = url.removesuffix("/v1")
    for outage in (1, 2):  # a second outage says the same again: no note is folded into an earlier one
        slept: list[float] = []
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("default")
            with pytest.raises(BackendUnavailable) as info:
                HTTPBackend(url, server_wait=10, sleep=slept.append)
        assert slept == [0.5, 1, 2, 4, 2.5], outage  # doubling, the last wait cut at the window's end
        notes = _notes(seen)
        assert len(notes) == 5, (outage, notes)
        for note, wait, left in zip(notes, ["0.5 s", "1 s", "2 s", "4 s", "2.5 s"], ["10 s", "9.5 s", "8.5 s", "6.5 s", "2.5 s"]):
            assert note.startswith(f"{root} is not answering GET /v1/models (URLError: ")
            assert f"trying again in {wait}, for up to {left} more" in note
            assert "Ctrl-C stops: finished texts are cached, and the same command resumes" in note
        message = str(info.value)
        assert message.startswith(f"{root} did not answer GET /v1/models after 6 tries in 10 s (last: URLError: ")
        assert "finished texts are cached" in message and message.endswith("give the server longer with server_wait (it had 10 s)")


def test_short_waits_after_the_first_are_not_said():
    slept: list[float] = []
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("default")
        with pytest.raises(BackendUnavailable, match="after 6 tries in 3 s"):
            HTTPBackend(_dead_address(), server_wait=3, backoff=0.1, sleep=slept.append)
    assert slept == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.5])
    notes = _notes(seen)
    assert len(notes) == 2 and "trying again in 0.1 s" in notes[0] and "trying again in 1.5 s" in notes[1]


def test_the_window_bounds_the_real_waiting_and_the_last_try_is_at_its_end(monkeypatch):
    url = _dead_address()
    tries: list[float] = []
    real = urllib.request.urlopen

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        tries.append(time.monotonic())
        return real(*args, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", counted)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ServerWaitWarning)
        started = time.monotonic()
        with pytest.raises(BackendUnavailable):
            HTTPBackend(url, server_wait=0.6, backoff=0.1)
        took = time.monotonic() - started
    assert 0.6 <= took < 1.5
    assert len(tries) >= 4 and tries[-1] - tries[0] >= 0.6 - 0.05  # the last try comes when the window is over


def test_retry_after_is_honoured_within_the_window(monkeypatch):
    calls: list[str] = []

    def busy(after: str):  # type: ignore[no-untyped-def]
        def urlopen(request, timeout):  # type: ignore[no-untyped-def]
            calls.append(request.full_url)
            raise urllib.error.HTTPError(request.full_url, 503, "busy", {"Retry-After": after}, io.BytesIO(b"{}"))  # type: ignore[arg-type]

        return urlopen

    for after, window, expected in (("30", 5, [5]), ("2", 10, [2, 2, 2, 4])):
        calls.clear()
        slept: list[float] = []
        monkeypatch.setattr(urllib.request, "urlopen", busy(after))
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            with pytest.raises(BackendUnavailable, match=r"\(last: 503 busy\)"):
                HTTPBackend("http://127.0.0.1:9/v1", server_wait=window, sleep=slept.append)
        assert slept == pytest.approx(expected, abs=0.05) and sum(slept) <= window
        assert len(calls) == len(expected) + 1  # the last try, at the window's end
        assert "(503 busy)" in _notes(seen)[0]


def test_server_wait_0_fails_at_the_first_refusal_without_sleeping():
    def no_sleep(seconds: float) -> None:
        raise AssertionError(f"slept {seconds} s")

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with pytest.raises(BackendUnavailable, match=r"did not answer GET /v1/models after 1 try \(last: .*\(it had 0 s\)$"):
            HTTPBackend(_dead_address(), server_wait=0, sleep=no_sleep)
    assert not _notes(seen)


@pytest.mark.parametrize("value", [-1, -0.5, float("nan"), float("inf"), True, "10"])
def test_a_bad_server_wait_is_refused_naming_the_setting(value):
    for attempt in (
        lambda: check_server_wait(value),
        lambda: load_model("test-backend", server_wait=value),
        lambda: HTTPBackend(_dead_address(), server_wait=value),
    ):
        with pytest.raises(SettingError, match="^server_wait must be a finite number of seconds, 0 or more"):
            attempt()


def test_the_python_api_passes_server_wait_to_a_served_model():
    started = time.monotonic()
    with pytest.raises(BackendUnavailable, match=r"after 1 try .*\(it had 0 s\)$"):
        score_documents(["a text to score"], model=_dead_address(), detectors=["loss"], use_cache=False, server_wait=0)
    assert time.monotonic() - started < 5


def _inputs(tmp_path):  # type: ignore[no-untyped-def]
    rows = [{"text": t, "label": i % 2} for i, t in enumerate(random_sentences(12, seed=3))]
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "r.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in random_sentences(12, seed=4)))
    return {
        "score": ["score", str(tmp_path / "d.jsonl"), "-o", str(tmp_path / "out.jsonl")],
        "check": ["check", str(tmp_path / "d.jsonl"), "--reference", str(tmp_path / "r.jsonl"), "--unit", "document", "--json", str(tmp_path / "c.json")],
        "bench": ["bench", str(tmp_path / "d.jsonl"), "--out", str(tmp_path / "bench")],
    }


@pytest.mark.parametrize("command", ["score", "check", "bench"])
def test_the_command_line_exits_4_when_the_server_does_not_answer(command, tmp_path, capsys):
    url = _dead_address()
    root = url.removesuffix("/v1")
    args = [*_inputs(tmp_path)[command], "--model", url, "--no-cache", "--no-progress"]
    assert main([*args, "--server-wait", "0"]) == 4
    err = capsys.readouterr().err
    assert err.startswith(f"llm-mia: error: {root} did not answer GET /v1/models after 1 try (last: ")
    assert "finished texts are cached, rerun to resume; give the server longer with --server-wait (it had 0 s)" in err
    assert "warning" not in err and not (tmp_path / "out.jsonl").exists() and not (tmp_path / "c.json").exists() and not (tmp_path / "bench").exists()
    if command == "score":  # a short window: the wait is said on stderr, one line a wait
        assert main([*args, "--server-wait", "0.3"]) == 4
        lines = capsys.readouterr().err.splitlines()
        assert lines[0].startswith(f"llm-mia: warning: {root} is not answering GET /v1/models (URLError: ") and "for up to 0.3 s more" in lines[0]
        assert lines[-1].startswith(f"llm-mia: error: {root} did not answer GET /v1/models after ") and "(it had 0.3 s)" in lines[-1]


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "soon"])
def test_a_bad_server_wait_on_the_command_line_exits_2_naming_the_flag(value, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main([*_inputs(tmp_path)["score"], "--model", "test-backend", "--server-wait", value])
    assert info.value.code == 2
    assert "argument --server-wait: expected a number of seconds, 0 or more" in capsys.readouterr().err


@pytest.mark.parametrize(("flag", "value"), [("--request-timeout", "0"), ("--request-timeout", "inf"), ("--idle-timeout", "-1"), ("--idle-timeout", "nan")])
def test_a_timeout_that_is_not_finite_and_above_0_exits_2_naming_the_flag(flag, value, tmp_path, capsys):
    command = [*_inputs(tmp_path)["score"], "--model", "test-backend"] if flag == "--request-timeout" else ["serve", "--model", "test-backend"]
    with pytest.raises(SystemExit) as info:
        main([*command, flag, value])
    assert info.value.code == 2
    assert f"argument {flag}: expected a number of seconds, finite and above 0" in capsys.readouterr().err


def test_a_server_lost_while_tokenizing_stops_the_run_after_one_window():
    """The texts are tokenized by the server: when it goes away then, the run stops with the
    server's error after one window, instead of waiting once a text and skipping every one."""
    server = make_server(ScoringService(MockBackend(0)), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        slept: list[float] = []
        remote = HTTPBackend(f"http://127.0.0.1:{server.server_address[1]}/v1", server_wait=1, sleep=slept.append)
    finally:
        server.shutdown()
        server.server_close()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ServerWaitWarning)
        with pytest.raises(BackendUnavailable, match="did not answer POST /tokenize"):
            Scorer(remote, ScorerConfig(batch_size=2)).score_texts(random_sentences(6, seed=1))
    assert sum(slept) == 1
