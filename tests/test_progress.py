"""Progress on stderr (issue 22): plain lines where stderr is not a terminal, a bar where it
is, the work announced before a run and the time it will take once measured."""

from __future__ import annotations

import io
import json

import pytest

import llm_mia.progress as progress
from llm_mia.cli import main
from llm_mia.progress import Progress, duration


class Clock:
    """A stand-in for ``time.perf_counter`` that moves only when told."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(progress.time, "perf_counter", c)
    return c


def test_durations_read_at_a_glance():
    assert [duration(s) for s in (0, 44.6, 60, 250, 3600, 4330)] == ["0 s", "45 s", "1 min 00 s", "4 min 10 s", "1 h 00 min", "1 h 12 min"]


def test_plain_lines_where_stderr_is_not_a_terminal(clock, monkeypatch):
    monkeypatch.setattr(progress, "ESTIMATE_AFTER", 5.0)
    out = io.StringIO()
    bar = Progress(1000, "scoring text (m)", stream=out, terminal=False)
    bar.write("llm-mia: 10 texts: 1,000 tokens in 1 pass (text)")
    clock.now += 1.0
    bar.update(50)  # too early for an estimate
    clock.now += 4.0
    bar.update(50)  # 100 tokens in 5 s: 20 tok/s, 900 left = 45 s
    clock.now += progress.LINE_EVERY
    bar.update(500)
    bar.close()
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert lines[0] == "llm-mia: 10 texts: 1,000 tokens in 1 pass (text)"
    assert lines[1] == "llm-mia: about 45 s left of 50 s (1,000 tok at the 20 tok/s measured on this machine so far)"
    assert lines[2].startswith("scoring text (m): 600 of 1,000 tok (60%), 35 s elapsed, about 23 s left")
    assert lines[3] == "llm-mia: done, 600 tok in 35 s"
    assert len(lines) == 4


def test_a_bar_on_a_terminal_and_nothing_when_disabled(clock):
    out = io.StringIO()
    with Progress(100, "scoring", stream=out, terminal=True) as bar:
        bar.update(100)
    assert "\r" in out.getvalue() and "100/100" in out.getvalue()
    quiet = io.StringIO()
    with Progress(100, "scoring", stream=quiet, terminal=False, enabled=False) as bar:
        bar.write("x")
        bar.update(100)
    assert quiet.getvalue() == ""


def test_a_run_announces_its_work_and_estimates_its_time(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(progress, "ESTIMATE_AFTER", 0.0)  # estimate after the first batch (the test backend is fast)
    src = tmp_path / "d.jsonl"
    src.write_text("".join(json.dumps({"text": f"Text number {i} about rivers and stones."}) + "\n" for i in range(12)))
    args = ["score", str(src), "-o", str(tmp_path / "s.jsonl"), "--model", "test-backend", "--cache-dir", str(tmp_path / "c"), "--batch-size", "2"]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "\r" not in err  # captured stderr is not a terminal: plain lines
    head = next(line for line in err.splitlines() if line.startswith("llm-mia: 12 texts:"))
    assert "tokens in 2 passes (text; lowercased text)" in head
    assert any(line.startswith("llm-mia: about ") and "measured on this machine" in line for line in err.splitlines())
    assert main([*args[:3], str(tmp_path / "s2.jsonl"), *args[4:]]) == 0  # the same texts again: all from the cache, no progress shown
    err = capsys.readouterr().err
    assert "scored 12 of 12 documents" in err and not any(line.startswith("llm-mia: 12 texts") for line in err.splitlines())
