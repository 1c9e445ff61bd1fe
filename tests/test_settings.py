"""One way to validate settings (issue 10, item 6): the library raises SettingError naming the
setting as the Python API calls it; the command line names the flag instead."""

from __future__ import annotations

import json

import pytest
from conftest import random_sentences

from llm_mia.backends import MockBackend
from llm_mia.bench import run_bench
from llm_mia.check import CheckSettings
from llm_mia.cli import main
from llm_mia.bench import ControlledConfig
from llm_mia.errors import InputError, SettingError
from llm_mia.evaluation import evaluate
from llm_mia.scoring import Scorer, ScorerConfig


@pytest.mark.parametrize(
    "make, setting",
    [
        (lambda: ScorerConfig(max_tokens=1), "max_tokens"),
        (lambda: ScorerConfig(stride=0), "stride"),
        (lambda: ScorerConfig(batch_size=0), "batch_size"),
        (lambda: Scorer(MockBackend(max_positions=16), ScorerConfig(max_tokens=32)), "max_tokens"),
        (lambda: Scorer(MockBackend(), ScorerConfig(max_tokens=8, stride=8)), "stride"),
        (lambda: CheckSettings(alpha=1.5), "alpha"),
        (lambda: CheckSettings(excerpt_words=3), "excerpt_words"),
        (lambda: CheckSettings(n_splits=0), "n_splits"),
        (lambda: CheckSettings(unit="chapter"), "unit"),
        (lambda: ControlledConfig(exposures=()), "exposures"),
        (lambda: ControlledConfig(exposures=(1, 0)), "exposures"),
        (lambda: ControlledConfig(n_nonmembers=0), "n_nonmembers"),
        (lambda: evaluate([], seed=-1), "seed"),
        (lambda: run_bench("wikimia", model=MockBackend(), limit=1), "limit"),
    ],
)
def test_the_library_names_the_setting(make, setting):
    with pytest.raises(SettingError) as info:
        make()
    assert info.value.setting == setting and str(info.value).startswith(setting + " ")
    assert isinstance(info.value, InputError) and isinstance(info.value, ValueError)  # what callers caught before


def test_a_message_that_names_a_second_setting_names_it_the_same_way():
    with pytest.raises(SettingError) as info:
        Scorer(MockBackend(), ScorerConfig(max_tokens=8, stride=9))
    assert str(info.value) == "stride must be smaller than max_tokens (8); got 9"
    assert info.value.message({"stride": "--stride", "max_tokens": "--max-tokens"}) == "--stride must be smaller than --max-tokens (8); got 9"


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["score", "d.jsonl", "-o", "o.jsonl", "--max-tokens", "8", "--stride", "9"], "--stride must be smaller than --max-tokens (8); got 9"),
        (["score", "d.jsonl", "-o", "o.jsonl", "--batch-size", "0"], "--batch-size must be a whole number of at least 1, not 0"),
        (
            ["check", "d.jsonl", "--permutations", "9", "--html", ""],
            "--permutations is 9: the smallest p-value is then 0.1, above --alpha = 0.05; use at least 20",
        ),
        (["check", "d.jsonl", "--alpha", "2", "--html", ""], "--alpha must lie between 0 and 1, not 2.0"),
        (["bench", "d.jsonl", "--exposures", "1,0"], "--exposures must be a whole number of at least 1, not 0"),
        (["bench", "d.jsonl", "--members", "0"], "--members must be a whole number of at least 1, not 0"),
    ],
)
def test_the_command_line_names_the_flag(argv, expected, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d.jsonl").write_text("".join(json.dumps({"text": t, "label": i % 2}) + "\n" for i, t in enumerate(random_sentences(8, seed=81))))
    code = main([*argv, "--model", "test-backend", "--no-progress", "--no-cache"])
    err = capsys.readouterr().err
    assert code == 2 and err.strip() == f"llm-mia: error: {expected}"


def test_skipped_documents_carry_reason_codes_that_eval_counts(tmp_path, capsys):
    """Reasons for skipped documents are structured codes: written to the score file, read
    back, and counted by the evaluation (no pattern matching on the texts)."""
    from llm_mia.io import read_score_file
    from llm_mia.types import REASONS

    rows = [{"id": f"r{i}", "text": t, "label": i % 2} for i, t in enumerate(random_sentences(8, seed=82))]
    rows += [
        {"id": "r0", "text": "again", "label": 1},
        {"id": "e", "text": "   ", "label": 0},
        {"id": "s", "text": "", "label": 1},
        {"id": "b", "text": "x", "label": 7},
        {"text": "no id", "label": 0},
        {"id": "t", "label": 1},
    ]
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows) + "{broken\n")
    assert main(["score", str(tmp_path / "d.jsonl"), "-o", str(tmp_path / "s.jsonl"), "--model", "test-backend", "--no-cache", "--no-progress"]) == 1
    written = [json.loads(line) for line in (tmp_path / "s.jsonl").read_text().splitlines()]
    assert [r["id"] for r in written if r["status"] == "ok"] == [f"r{i}" for i in range(8)] and len(written) == 15
    skipped = {r["id"]: r["reason_code"] for r in written if r["status"] == "skipped"}
    assert sorted(skipped.values()) == sorted(["duplicate_id", "empty_text", "empty_text", "bad_label", "missing_id", "missing_text", "bad_row"])
    assert {r.id: r.reason.code for r in read_score_file(tmp_path / "s.jsonl") if r.reason is not None} == skipped
    capsys.readouterr()
    assert main(["eval", str(tmp_path / "s.jsonl"), "--bootstrap", "20"]) == 0
    table = capsys.readouterr().out
    assert f"excluded from every detector: 2 x skipped: {REASONS['empty_text']}" in table
    assert f"excluded from every detector: 1 x skipped: {REASONS['duplicate_id']}" in table
