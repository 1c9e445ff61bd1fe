"""Memorization evidence inside a check: the summary, the JSON, the HTML and the command line."""

from __future__ import annotations

import json

from llm_mia.check import CheckSettings, run_check

SMALL = dict(window_prefix=4, window_suffix=4, unit="document")


def test_a_check_without_reference_reports_memorized_members(tiny_trained):
    """The tiny model fitted on members: a check of the members, with no reference texts,
    finds memorized text, in every report; one of held-out texts does not, and never says
    "not trained on"."""
    lm, members, held_out = tiny_trained
    seen = run_check(members, model=lm, settings=CheckSettings(**SMALL))
    ev = seen.memorization
    assert ev is not None and ev.found and seen.memorization_problem is None
    summary = seen.summary()
    assert "Memorization evidence (needs no reference texts): memorized text found" in summary
    assert "read          the passages" in summary  # found: the reader is sent to the passages
    data = json.loads(json.dumps(seen.to_json()))
    memo = data["memorization"]
    assert memo["found"] and memo["windows"] == ev.n_windows == len(memo["positions"])
    assert sum(p["memorized"] for p in memo["positions"]) == ev.results[-1].suspect.memorized > 0
    assert memo["passages"][0]["continuation"] is not None
    page = seen.to_html()
    assert "<h2>Memorization evidence</h2>" in page and "log p_z of every window over the work" in page
    assert page.count("fill='#c0392b' fill-opacity='0.7'") == ev.results[-1].suspect.memorized  # memorized windows drawn red

    unseen = run_check(held_out[:20], model=lm, settings=CheckSettings(**SMALL))
    assert unseen.memorization is not None and not unseen.memorization.found
    assert "no memorized text found (this does not show that the text was not trained on" in unseen.summary()
    assert "not trained on:" not in unseen.summary().replace("was not trained on: most", "")
    assert "read          the passages" not in unseen.summary()


def test_memorization_against_reference_texts_and_turned_off(tiny_trained):
    lm, members, held_out = tiny_trained
    both = run_check(members, held_out, model=lm, settings=CheckSettings(**SMALL))
    ev = both.memorization
    assert ev is not None and ev.reference_windows > 0 and all(r.reference is not None for r in ev.results)
    off = run_check(members, model=lm, settings=CheckSettings(memorization=False, unit="document"))
    assert off.memorization is None and off.memorization_problem == "turned off"
    assert "Memorization evidence: not computed: turned off" in off.summary()
    assert off.to_json()["memorization"] == {"problem": "turned off"}


def test_texts_too_short_for_a_window(tiny_trained):
    lm, _, _ = tiny_trained
    res = run_check(["one two", "three four"], model=lm, settings=CheckSettings(window_prefix=40, window_suffix=40, unit="document"))
    assert res.memorization is None and "long enough for one extraction window (80 tokens)" in (res.memorization_problem or "")


def test_the_command_line_flags(tmp_path, capsys):
    from llm_mia.cli import main

    book = tmp_path / "book.txt"
    book.write_text(" ".join(f"Sentence number {i} of a small book about nothing much." for i in range(200)))
    out = tmp_path / "r.json"
    code = main(["check", str(book), "--model", "test-backend", "--top-k", "--window-prefix", "8", "--window-suffix", "8", "--json", str(out), "--html", ""])
    assert code == 0
    memo = json.loads(out.read_text())["memorization"]
    assert memo["top_k"] == 40 and memo["settings"] == {"prefix": 8, "suffix": 8}
    assert all(r["suspect"]["clearing_topk"] is not None for r in memo["thresholds"])
    assert "under top-40 sampling" in capsys.readouterr().out
    code = main(["check", str(book), "--model", "test-backend", "--no-memorization", "--html", ""])
    assert code == 0 and "Memorization evidence: not computed: turned off" in capsys.readouterr().out


def test_a_reference_model_is_a_control_only_with_the_same_tokenizer(tiny_lm):
    texts = [" ".join(["a plain sentence about rivers and hills"] * 6)] * 1 + [" ".join(["another one about the sea and boats"] * 6)]
    same = run_check(texts, model="test-backend", reference_model="test-backend:1", settings=CheckSettings(**SMALL))
    assert same.memorization is not None and any(c.startswith("reference model") for c in same.memorization.controls) and not same.memorization.notes
    other = run_check(texts, model=tiny_lm, reference_model="test-backend", settings=CheckSettings(**SMALL))
    assert other.memorization is not None and not any(c.startswith("reference model") for c in other.memorization.controls)
    assert "cuts text into other tokens" in other.memorization.notes[0] and "note          the reference model" in other.summary()
