"""The command line end to end on a tiny local model: outputs, messages and exit codes."""

from __future__ import annotations

import json

import pytest
from conftest import random_sentences

from llm_mia.cli import main


@pytest.fixture()
def labelled(tmp_path):
    rows = [{"id": f"m{i}", "text": t, "label": 1} for i, t in enumerate(random_sentences(6, seed=1))]
    rows += [{"id": f"n{i}", "text": t, "label": 0} for i, t in enumerate(random_sentences(6, seed=2))]
    rows += [{"id": "empty", "text": "  ", "label": 0}, {"id": "bad", "text": "x y z", "label": "maybe"}]
    path = tmp_path / "docs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def run(argv, capsys):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_score_then_eval(tiny_model_dir, labelled, tmp_path, capsys):
    out = tmp_path / "s.jsonl"
    code, _, err = run(["score", labelled, "-o", out, "--model", tiny_model_dir, "--cache-dir", tmp_path / "c", "--no-progress"], capsys)
    assert code == 1, "some documents were skipped"
    assert "scored 12 of 14" in err and "skipped empty: empty or whitespace-only text" in err
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows][:2] == ["m0", "m1"] and len(rows) == 14
    assert set(rows[0]) >= {"id", "label", "n_tokens", "status", "reason", "scores"}
    assert set(rows[0]["scores"]) == {"loss", "zlib", "lowercase", "min_k", "min_k_pp"}
    assert rows[-1]["status"] == "skipped" and "invalid label 'maybe'" in rows[-1]["reason"]

    metrics = tmp_path / "m.json"
    code, table, _ = run(["eval", out, "--json", metrics, "--bootstrap", "50"], capsys)
    assert code == 0
    assert "AUROC [95% CI]" in table and "| min_k_pp |" in table and "excluded from every detector: 1 x skipped" in table  # Markdown, as bench
    assert table.count("x skipped: empty or whitespace-only text") == 1  # one line for a reason every detector shares (issue 22)
    data = json.loads(metrics.read_text())
    assert {r["detector"] for r in data["rows"]} == {"loss", "zlib", "lowercase", "min_k", "min_k_pp"}
    assert all(r["n_members"] == 6 and r["n_nonmembers"] == 6 for r in data["rows"])


def test_all_scored_exits_zero(tiny_model_dir, tmp_path, capsys):
    src = tmp_path / "d.jsonl"
    src.write_text(json.dumps({"text": "River stone light."}) + "\n")
    code, _, _ = run(["score", src, "-o", tmp_path / "o.jsonl", "--model", tiny_model_dir, "--no-cache", "--no-progress", "--detectors", "loss"], capsys)
    assert code == 0


def test_user_errors_have_messages_not_tracebacks(tiny_model_dir, labelled, tmp_path, capsys, monkeypatch):
    cases = [
        (["score", labelled, "-o", tmp_path / "o", "--model", "smollm-135m"], "Did you mean 'smollm2-135m'"),
        (["score", labelled, "-o", tmp_path / "o", "--model", "./no/such/dir"], "not found"),
        (["score", labelled, "-o", tmp_path / "o", "--model", tiny_model_dir, "--detectors", "los"], "Did you mean 'loss'"),
        (["score", labelled, "-o", tmp_path / "o", "--model", tiny_model_dir, "--detectors", "ref"], "reference model"),
        (["score", labelled, "-o", tmp_path / "o", "--model", tiny_model_dir, "--stride", "0"], "stride"),
        (["score", tmp_path / "missing.jsonl", "-o", tmp_path / "o"], "does not exist"),
        (["eval", tmp_path / "missing.jsonl"], "does not exist"),
    ]
    for argv, message in cases:
        code, _, err = run(argv, capsys)
        assert code == 2, argv
        assert message in err and "Traceback" not in err, (argv, err)


def test_hub_id_offline_fails_fast_with_alternatives(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    src = tmp_path / "d.jsonl"
    src.write_text('{"text": "hello there"}\n')
    code, _, err = run(["score", src, "-o", tmp_path / "o", "--model", "EleutherAI/pythia-70m"], capsys)
    assert code == 2 and "cannot be reached" in err and "smollm2-135m" in err and ".gguf" in err


def test_corrupt_gguf_file(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LLM_MIA_CACHE", str(tmp_path / "cache"))
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\x00" * 64)
    src = tmp_path / "d.jsonl"
    src.write_text('{"text": "hello there"}\n')
    code, _, err = run(["score", src, "-o", tmp_path / "o", "--model", bad], capsys)
    assert code == 2 and "could not read GGUF file" in err


def test_single_class_eval(tmp_path, capsys):
    rows = [{"id": str(i), "label": 1, "n_tokens": 5, "status": "ok", "reason": None, "scores": {"loss": -float(i)}} for i in range(4)]
    p = tmp_path / "s.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, _, err = run(["eval", p], capsys)
    assert code == 2 and "at least 2 members" in err and "found 4 member(s), 0 non-member(s)" in err


def test_eval_with_too_few_of_a_class_and_grouped_reasons(tmp_path, capsys):
    rows = [
        {"id": "a", "label": 1, "n_tokens": 5, "status": "ok", "reason": None, "scores": {"loss": -1.0, "min_k": None}},
        {"id": "b", "label": 1, "n_tokens": 5, "status": "ok", "reason": None, "scores": {"loss": -2.0, "min_k": -3.0}},
        {"id": "c", "label": 0, "n_tokens": 5, "status": "ok", "reason": None, "scores": {"loss": -3.0, "min_k": None}},
        {"id": "d", "label": 0, "n_tokens": 5, "status": "ok", "reason": None, "scores": {"loss": -4.0, "min_k": -5.0}},
        {"id": "e", "label": None, "n_tokens": 0, "status": "skipped", "reason": "row 7: invalid label 2", "reason_code": "bad_label", "scores": {}},
        {"id": "f", "label": None, "n_tokens": 0, "status": "skipped", "reason": "row 9: invalid label 5", "reason_code": "bad_label", "scores": {}},
        {"id": "g", "label": None, "n_tokens": 0, "status": "skipped", "reason": "written before reason codes", "scores": {}},
    ]
    p = tmp_path / "s.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, table, err = run(["eval", p, "--bootstrap", "20"], capsys)
    assert code == 0, err
    assert "min_k: needs at least 2 members and 2 non-members with a score; has 1 and 1" in table
    # counted by the reason's code, whatever its particulars (row numbers, values)
    assert "excluded from every detector: 2 x skipped: a label that is not 0 or 1" in table
    assert "excluded from every detector: 1 x skipped: another reason (see each record's reason)" in table


def test_bad_scores_file(tmp_path, capsys):
    p = tmp_path / "s.jsonl"
    p.write_text(json.dumps({"id": "a", "label": 1, "status": "ok", "scores": {"loss": "high"}}) + "\n")
    code, _, err = run(["eval", p], capsys)
    assert code == 2 and "must map detector names to numbers" in err


def test_listings(capsys):
    code, out, _ = run(["detectors"], capsys)
    assert code == 0 and "min_k_pp" in out and "Zhang et al. 2025" in out and "needs --reference-model" in out
    code, out, _ = run(["models"], capsys)
    assert code == 0 and "smollm2-135m" in out and "gemma3-270m" in out
    with pytest.raises(SystemExit) as exc:
        main(["score", "--help"])
    assert exc.value.code == 0 and "examples:" in capsys.readouterr().out
