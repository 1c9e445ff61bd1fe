"""The bench entry of memorization evidence: extractable rates per class."""

from __future__ import annotations

import json

from llm_mia.bench import run_bench
from llm_mia.scoring import WindowSettings


def test_a_suite_reports_memorized_windows_per_class(tiny_trained, tmp_path):
    lm, members, held_out = tiny_trained
    split = tmp_path / "split.jsonl"
    split.write_text(
        "".join(
            json.dumps({"id": f"d{i}", "text": t, "label": y}) + "\n" for i, (t, y) in enumerate([(m, 1) for m in members] + [(h, 0) for h in held_out[:20]])
        )
    )
    result = run_bench(str(split), model=lm, memorization=WindowSettings(4, 4), detectors=["loss"], n_bootstrap=20)
    (s,) = result.splits
    assert s.memorization is not None and set(s.memorization) == {"members", "non-members"}
    m, n = s.memorization["members"], s.memorization["non-members"]
    assert m.n_texts == 20 and n.n_texts == 20
    assert m.results[-1].suspect.memorized > n.results[-1].suspect.memorized == 0
    assert 0 < m.texts_memorized <= 20 and n.texts_memorized == 0
    table = result.table()
    assert "Memorization evidence: windows of 4 + 4 tokens" in table and f"{m.texts_memorized} of 20" in table
    data = result.to_json()["splits"][0]["memorization"]
    assert data["members"]["texts_memorized"] == m.texts_memorized and data["non-members"]["windows"] == n.n_windows


def test_without_the_option_there_is_none(tiny_trained, tmp_path):
    lm, members, held_out = tiny_trained
    split = tmp_path / "split.jsonl"
    split.write_text("".join(json.dumps({"text": t, "label": y}) + "\n" for t, y in [(members[0], 1), (members[1], 1), (held_out[0], 0), (held_out[1], 0)]))
    result = run_bench(str(split), model=lm, detectors=["loss"], n_bootstrap=20)
    assert result.splits[0].memorization is None and "Memorization evidence" not in result.table()
    assert result.to_json()["splits"][0]["memorization"] is None
