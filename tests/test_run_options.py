"""RunOptions: the options that score, bench, check and the demo share, defined once."""

from __future__ import annotations

import dataclasses

import pytest
from conftest import random_sentences

from llm_mia import CheckSettings, ScorerConfig, SettingError, UnknownNameError, run_check, score_documents
from llm_mia.cli import build_parser, run_options
from llm_mia.pipeline import RunOptions, open_run

TEXTS = random_sentences(6, seed=71)


def test_every_option_is_set_by_the_command_line() -> None:
    """Each RunOptions field reads a flag: parsing non-default flags changes every field, so a
    new option that the command line forgets fails here."""
    flags = ["--reference-model", "test-backend:1", "--detectors", "loss", "--k", "0.3", "--max-tokens", "64", "--cache-dir", "c", "--no-cache"]
    flags += ["--device", "cpu", "--dtype", "bfloat16", "--trust-remote-code", "--server-wait", "5", "--request-timeout", "30"]
    for command in (["score", "in.jsonl", "-o", "out.jsonl"], ["bench", "wikimia"], ["check", "book.txt"], ["demo"]):
        args = build_parser().parse_args([*command, *flags])  # --no-progress left out: the default is off in Python, on here
        model, options = run_options(args)
        default = RunOptions()
        unchanged = [f.name for f in dataclasses.fields(RunOptions) if getattr(options, f.name) == getattr(default, f.name)]
        assert unchanged == [], command
        assert model == "smollm2-135m"


def test_keywords_change_single_options() -> None:
    base = RunOptions(k=0.1, use_cache=False)
    both = RunOptions.build(base, detectors="loss")
    assert (both.k, both.use_cache, both.detectors) == (0.1, False, "loss") and base.detectors is None


def test_an_unknown_option_names_the_known_ones() -> None:
    with pytest.raises(UnknownNameError, match=r"unknown run option 'use_cach'. Did you mean 'use_cache'\?"):
        score_documents(TEXTS, model="test-backend", use_cach=False)


def test_bad_values_stop_at_construction() -> None:
    with pytest.raises(SettingError, match="server_wait"):
        RunOptions(server_wait=-1)
    with pytest.raises(SettingError, match="config must be a ScorerConfig"):
        RunOptions(config={"max_tokens": 8})  # type: ignore[arg-type]


def test_options_and_keywords_score_alike() -> None:
    by_keywords = score_documents(TEXTS, model="test-backend", detectors="loss,zlib", config=ScorerConfig(max_tokens=16), use_cache=False)
    options = RunOptions(detectors="loss,zlib", config=ScorerConfig(max_tokens=16), use_cache=False)
    by_options = score_documents(TEXTS, model="test-backend", options=options)
    assert [r.to_json() for r in by_options] == [r.to_json() for r in by_keywords]
    run = open_run("test-backend", options=options)
    assert [d.key for d in run.detectors] == ["loss", "zlib"] and run.config.max_tokens == 16


def test_the_check_takes_its_detectors_once() -> None:
    with pytest.raises(SettingError, match="detectors is given twice"):
        run_check(TEXTS[:3], TEXTS[3:], model="test-backend", settings=CheckSettings(detectors=("loss",)), detectors="zlib")
