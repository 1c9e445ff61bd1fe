"""``llm-mia check`` end to end on tiny models: verdicts, reports, and every bad input."""

from __future__ import annotations

import dataclasses
import random
import html
import json
import re
from pathlib import Path

import pytest
from conftest import WORDS, build_epub, random_sentences

from llm_mia.check import CheckSettings, run_check, token_pieces
from llm_mia.errors import InputError
from llm_mia.cli import main
from llm_mia.cli import FLAGS
from llm_mia.check import summary, to_html, to_json


def _jsonl(path: Path, texts: list[str]) -> Path:
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    return path


def test_members_against_held_out_texts_are_significant(tiny_trained, tmp_path):
    lm, members, held_out = tiny_trained
    res = run_check(
        _jsonl(tmp_path / "s.jsonl", members),
        _jsonl(tmp_path / "r.jsonl", held_out[:20]),
        model=lm,
        settings=CheckSettings(n_splits=30),
        cache_dir=tmp_path / "c",
    )
    assert res.unit == "document" and res.significant is True
    assert res.collection.p_value < 0.01 and res.collection.effect > 0.9
    assert res.collection.n_suspect == 20 and res.collection.n_reference == 20
    # one text against 20 references: at best p = 1/21 per detector, 4/21 after Holm over the check's 4 default detectors
    assert len(res.documents) == 20 and sum(t.p_values["loss"] == pytest.approx(1 / 21) for t in res.documents) >= 15
    assert len(res.detectors) == 4 and min(t.p_value for t in res.documents) == pytest.approx(4 / 21)
    assert summary(res).splitlines()[2].startswith("SIGNIFICANT at alpha = 0.05") and summary(res).splitlines()[3].startswith("  p-value       0.001")
    assert len(res.top) == 5 and all(x.p_value is not None for x in res.top)
    assert not res.reference_unlike_suspect and to_json(res)["verdict_level"] == "significant"

    # the same result where a model-free classifier separates the sets: in the default (guarded)
    # mode no calibrated verdict, in the exchangeable mode a significant one marked weak
    free = res.model_free
    assert free is not None and res.settings.mode == "guarded" and res.calibrated
    apart = dataclasses.replace(res, model_free=dataclasses.replace(free, auroc=0.97, ci=(0.93, 0.99)))
    assert not apart.calibrated and apart.significant is None
    lines = summary(apart).splitlines()
    line = lines[2]
    assert line.startswith("NO CALIBRATED VERDICT: the reference texts are unlike") and "AUROC 0.97" in line
    # the declined verdict says what would give one, and never advertises a mode that is not at level (issue 22)
    assert "A verdict needs reference texts that such a classifier cannot tell from the suspect ones" in line
    assert "exchangeable" not in line and "p would be" not in line and "0.001" not in line
    # the p-value stays, labelled, after the model-free line, never first
    assert lines[3].startswith("  model-free") and "(0.5 = alike)" in lines[3]
    p_line = next(i for i, text in enumerate(lines) if text.startswith("  uncalibrated  p = 0.001 if suspect and reference texts were of one kind"))
    assert p_line > 3 and "not a verdict, not evidence of training" in lines[p_line] and not any(text.startswith("  p-value") for text in lines)
    saved = to_json(apart)
    assert saved["verdict"] == line and saved["verdict_level"] == "uncalibrated" and saved["significant"] is None and saved["mode"] == "guarded"
    assert saved["p_value_note"].startswith("if suspect and reference texts were of one kind") and to_json(res)["p_value_note"] is None
    assert not any("does not show that the texts were not used" in c for c in saved["caveats"])
    page = to_html(apart)
    assert f"<div class='verdict weak'>{html.escape(line)}</div>" in page
    numbers = page[page.index("<h2>Numbers</h2>") : page.index("<h2>What this can")]
    assert numbers.index("model-free check") < numbers.index("uncalibrated p-value") and "p-value (collection test)" not in numbers
    assert "(0.5 = alike)" in numbers and "Most suspicious" not in page and "they are not evidence of training" in page
    unchecked = dataclasses.replace(apart, model_free=None, model_free_problem="too few texts")
    assert unchecked.significant is None and summary(unchecked).splitlines()[2].startswith(
        "NO CALIBRATED VERDICT: the model-free check could not run (too few texts)"
    )
    weak = dataclasses.replace(apart, settings=dataclasses.replace(res.settings, mode="exchangeable"))
    line = summary(weak).splitlines()[2]
    assert line.startswith("A DIFFERENCE, NOT EVIDENCE OF TRAINING: p = 0.001 (exchangeable mode)") and "AUROC 0.97" in line
    assert to_json(weak)["verdict"] == line and to_json(weak)["verdict_level"] == "weak" and weak.significant is True
    assert f"<div class='verdict weak'>{html.escape(line)}</div>" in to_html(weak)


def test_two_sets_of_non_members_are_not_significant(tiny_trained, tmp_path):
    lm, _, held_out = tiny_trained
    res = run_check(
        _jsonl(tmp_path / "s.jsonl", held_out[:20]),
        _jsonl(tmp_path / "r.jsonl", held_out[20:]),
        model=lm,
        settings=CheckSettings(n_splits=30, mode="exchangeable"),
        cache_dir=tmp_path / "c",
    )
    assert res.significant is False and res.collection.p_value > 0.05
    assert "NOT SIGNIFICANT" in summary(res) and "does not show that the texts were not used" in summary(res)
    # these two halves of one pool happen to be among the ~5% that the model-free check tells
    # apart by chance (AUROC 0.78): the guarded mode then gives no verdict, never a significant one
    guarded = dataclasses.replace(res, settings=dataclasses.replace(res.settings, mode="guarded"))
    assert guarded.reference_unlike_suspect and guarded.significant is None and to_json(guarded)["verdict_level"] == "uncalibrated"


def test_without_reference_no_p_value_is_claimed(tiny_trained, tmp_path):
    lm, members, _ = tiny_trained
    res = run_check(_jsonl(tmp_path / "s.jsonl", members), model=lm, cache_dir=tmp_path / "c")
    assert res.collection is None and res.documents == [] and res.significant is None
    text = summary(res)
    assert "NO CALIBRATED VERDICT" in text and "no p-value can be claimed" in text
    saved = to_json(res)
    assert saved["collection_test"] is None and saved["documents"] == [] and len(saved["suspect"]) == 20


def test_a_book_is_cut_into_excerpts_and_the_html_escapes_its_text(tiny_lm, tmp_path):
    lm, members, held_out = tiny_lm, random_sentences(20, seed=300), random_sentences(40, seed=400)
    hostile = "<script>alert('x')</script> <img src=x onerror=alert(1)> & "
    book = tmp_path / "book.txt"
    book.write_text(hostile + " ".join(members * 2))
    ref = tmp_path / "ref"
    ref.mkdir()
    for i, t in enumerate(held_out):
        (ref / f"{i}.txt").write_text(t + " " + held_out[(i + 1) % len(held_out)])
    res = run_check(book, ref, model=lm, settings=CheckSettings(excerpt_words=16, n_splits=20, top=100), cache_dir=tmp_path / "c")
    assert res.unit == "book" and all(r.id.startswith("suspect:book.txt#") for r in res.suspect)
    n_words = len(book.read_text().split())
    assert len(res.suspect) == n_words // 16 + (n_words % 16 >= 8) and len(res.top) == len(res.suspect)
    page = to_html(res)
    assert "<script" not in page and "<img" not in page  # the document's markup is never markup on the page
    assert hostile.strip() in html.unescape(re.sub(r"<[^>]+>", "", page))  # ... it shows as text
    assert "http://" not in page and "https://" not in page and "<svg" in page
    assert page.count("class='excerpt'") == len(res.top)


def test_token_pieces_rebuild_the_text(tiny_lm):
    from llm_mia.scoring import Scorer

    text = "Hello, world! 123 ÄÖÜ ß é river stone"
    stats = Scorer(tiny_lm).score_texts([text])[0]
    pieces = token_pieces(tiny_lm.tokenizer, text, stats)
    assert "".join(p for p, _ in pieces) == text
    assert sum(lp is not None for _, lp in pieces) <= stats.n_scored
    assert pieces[0][1] is None or tiny_lm.tokenizer.bos_token_id is not None


@pytest.mark.parametrize(
    "setup, message",
    [
        ("empty_book", "holds no text to check"),
        ("small_reference", "the test needs at least 10"),
        ("overlap", "the reference set overlaps the suspect texts"),
        ("short_excerpts", "too short to test"),
        ("unscorable", "no suspect text could be scored"),
        ("short_book", "the collection test needs at least 10"),
    ],
)
def test_bad_inputs_get_clear_messages(setup, message, tiny_model_dir, tmp_path, capsys):
    sentences = random_sentences(60, seed=500)
    book = tmp_path / "book.txt"
    book.write_text(" ".join(sentences))
    ref = _jsonl(tmp_path / "ref.jsonl", random_sentences(30, seed=501))
    args = [str(book), "--reference", str(ref), "--excerpt-words", "16"]
    if setup == "empty_book":
        book.write_text("   \n")
    elif setup == "small_reference":
        _jsonl(ref, random_sentences(5, seed=502))
        args += ["--unit", "document"]
    elif setup == "overlap":
        _jsonl(ref, random_sentences(30, seed=501) + [" ".join(sentences[3:6])])
    elif setup == "short_excerpts":
        args[-1] = "4"
    elif setup == "unscorable":
        args = [str(_jsonl(tmp_path / "s.jsonl", ["a", "b", ""])), "--reference", str(ref)]
    elif setup == "short_book":
        book.write_text(" ".join(sentences[:8]))
    code = main(
        [
            "check",
            *args,
            "--model",
            str(tiny_model_dir),
            "--cache-dir",
            str(tmp_path / "c"),
            "--html",
            str(tmp_path / "r.html"),
            "--no-progress",
            "--device",
            "cpu",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "r.html").exists()


def test_drop_overlap_leaves_the_shared_excerpts_out(tiny_model_dir, tmp_path, capsys):
    sentences = random_sentences(80, seed=600)
    book = tmp_path / "book.txt"
    book.write_text(" ".join(sentences))
    ref = _jsonl(tmp_path / "ref.jsonl", random_sentences(30, seed=601) + [" ".join(sentences[:3])])
    code = main(
        [
            "check",
            str(book),
            "--reference",
            str(ref),
            "--excerpt-words",
            "16",
            "--drop-overlap",
            "--splits",
            "10",
            "--model",
            str(tiny_model_dir),
            "--cache-dir",
            str(tmp_path / "c"),
            "--html",
            str(tmp_path / "r.html"),
            "--json",
            str(tmp_path / "r.json"),
            "--no-progress",
            "--device",
            "cpu",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and "were left out (--drop-overlap)" in out and "HTML report:" in out
    saved = json.loads((tmp_path / "r.json").read_text())
    assert saved["dropped_overlaps"] and saved["dropped_overlaps"][0]["suspect_id"] == "suspect:book.txt#1"
    assert (tmp_path / "r.html").read_text().startswith("<!DOCTYPE html>")
    assert saved["mode"] == "guarded" and saved["provenance"]["settings"]["mode"] == "guarded"  # the default


def test_the_check_command_takes_a_mode(tiny_model_dir, tmp_path, capsys):
    args = [
        "check",
        str(_jsonl(tmp_path / "s.jsonl", random_sentences(12, seed=1))),
        "--reference",
        str(_jsonl(tmp_path / "r.jsonl", random_sentences(12, seed=2))),
    ]
    args += ["--model", str(tiny_model_dir), "--cache-dir", str(tmp_path / "c"), "--html", "", "--splits", "3", "--permutations", "99", "--no-progress"]
    assert main([*args, "--mode", "exchangeable", "--json", str(tmp_path / "e.json")]) == 0
    assert json.loads((tmp_path / "e.json").read_text())["mode"] == "exchangeable"
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main([*args, "--mode", "trusting"])
    err = capsys.readouterr().err
    assert "invalid choice: 'trusting'" in err and "'guarded'" in err


def test_epub_books_are_read_in_reading_order(tmp_path):
    pytest.importorskip("ebooklib.epub")
    from llm_mia.check import read_texts

    bodies = ["<h1>One</h1><p>First &amp; <b>bold</b> paragraph.</p><script>var x;</script>", "<p>Second chapter.</p>"]
    path = build_epub(tmp_path / "b.epub", bodies, order=[1, 0])  # reading order is the spine's, not the files'
    (doc,) = read_texts(path, "document", 128)
    assert doc.text == "Second chapter.\n\nOne\n\nFirst & bold paragraph." and doc.error is None


def test_html_to_text_keeps_paragraphs():
    from llm_mia.io import html_to_text

    assert html_to_text("<p>a  b</p><p>c<br/>d</p><style>p{}</style>") == "a b\n\nc\n\nd"


def test_demo_writes_its_texts_and_runs_a_check(tiny_model_dir, tmp_path, capsys):
    code = main(
        [
            "demo",
            "--dir",
            str(tmp_path / "demo"),
            "--model",
            str(tiny_model_dir),
            "--cache-dir",
            str(tmp_path / "c"),
            "--html",
            str(tmp_path / "r.html"),
            "--splits",
            "5",
            "--permutations",
            "99",
            "--no-progress",
            "--device",
            "cpu",
        ]
    )
    out = capsys.readouterr().out
    suspect = (tmp_path / "demo" / "suspect" / "python_stdlib.txt").read_text()
    reference = (tmp_path / "demo" / "reference" / "llm_mia_source.txt").read_text()
    assert code == 0 and "def dedent(" in suspect and "def write_demo_texts(" not in suspect
    assert reference.startswith('"""llm-mia: membership inference')  # llm_mia/__init__.py comes first
    # the reference is the snapshot shipped with the package, not today's source (stable figures)
    from llm_mia.check import REFERENCE_SNAPSHOT

    assert reference.strip() == REFERENCE_SNAPSHOT.read_text().strip()
    assert "REFERENCE_SNAPSHOT" not in reference and "def write_demo_texts(" not in reference
    assert 3000 <= len(suspect.split()) <= 3400 and 3000 <= len(reference.split()) <= 3400
    assert "50 excerpts of 64 words" in out and "About this demo" in out and (tmp_path / "r.html").exists()


def test_token_pieces_without_offsets_decode_prefixes(tiny_lm):
    from llm_mia.scoring import Scorer

    class NoOffsets:  # a slow tokenizer: no offset mapping
        def __init__(self, tok):
            self.tok, self.all_special_ids = tok, tok.all_special_ids

        def __call__(self, *a, **k):
            raise NotImplementedError

        def decode(self, ids):
            return self.tok.decode(ids)

    text = "Hello, world! ÄÖÜ ß é river stone"
    stats = Scorer(tiny_lm).score_texts([text])[0]
    pieces = token_pieces(NoOffsets(tiny_lm.tokenizer), text, stats)
    assert "".join(p for p, _ in pieces) == text and "\ufffd" not in "".join(p for p, _ in pieces)
    scored = sum(stats.logprobs.tolist())
    assert sum(lp for _, lp in pieces if lp is not None) == pytest.approx(scored)  # no probability lost


def test_token_pieces_keep_every_probability(tiny_lm):
    from llm_mia.scoring import Scorer

    text = "ÄÖÜ ß é Hello"
    stats = Scorer(tiny_lm).score_texts([text])[0]
    pieces = token_pieces(tiny_lm.tokenizer, text, stats)
    assert "".join(p for p, _ in pieces) == text
    assert sum(lp for _, lp in pieces if lp is not None) == pytest.approx(float(stats.logprobs.sum()))


def test_overlap_across_an_excerpt_boundary_is_found_and_both_excerpts_dropped(tiny_lm, tmp_path):
    words = " ".join(random_sentences(40, seed=700)).split()
    book = tmp_path / "book.txt"
    book.write_text(" ".join(words[:224]))  # 14 excerpts of 16 words: #1 = words 0-15, #2 = 16-31, ...
    shared = words[10:23]  # 13 words across the boundary of #1 and #2
    ref = _jsonl(tmp_path / "ref.jsonl", random_sentences(20, seed=701) + ["Quoted: " + " ".join(shared).upper() + "!"])
    with pytest.raises(InputError, match="2 suspect excerpt"):
        run_check(book, ref, model=tiny_lm, settings=CheckSettings(excerpt_words=16), cache_dir=tmp_path / "c")
    res = run_check(
        book, ref, model=tiny_lm, settings=CheckSettings(excerpt_words=16, drop_overlap=True, n_splits=3, n_permutations=19), cache_dir=tmp_path / "c"
    )
    assert sorted(o.suspect_id for o in res.dropped_overlaps) == ["suspect:book.txt#1", "suspect:book.txt#2"]
    assert [r.id for r in res.suspect] == [f"suspect:book.txt#{k}" for k in range(3, 15)]


def test_settings_and_outputs_are_checked_before_the_run(tiny_model_dir, tmp_path, capsys):
    with pytest.raises(InputError, match="n_permutations is 9: .* use at least 20"):
        CheckSettings(n_permutations=9)
    book = tmp_path / "book.txt"
    book.write_text(" ".join(random_sentences(60, seed=800)))
    code = main(["check", str(book), "--model", "no-such-model", "--html", str(tmp_path / "missing" / "r.html")])
    err = capsys.readouterr().err
    assert code == 2 and "folder" in err and "does not exist" in err and "no-such-model" not in err


def test_exit_code_one_when_texts_were_skipped(tiny_model_dir, tmp_path, capsys):
    texts = random_sentences(12, seed=900) + ["x"]  # one token: cannot be scored
    code = main(
        [
            "check",
            str(_jsonl(tmp_path / "s.jsonl", texts)),
            "--reference",
            str(_jsonl(tmp_path / "r.jsonl", random_sentences(12, seed=901))),
            "--model",
            str(tiny_model_dir),
            "--cache-dir",
            str(tmp_path / "c"),
            "--html",
            "",
            "--splits",
            "3",
            "--permutations",
            "19",
            "--no-progress",
            "--device",
            "cpu",
        ]
    )
    out = capsys.readouterr().out
    assert code == 1 and "could not be scored" in out and "12 suspect, 12 reference" in out


GUTENBERG = """The Project Gutenberg eBook of A Tale, by Someone

This eBook is for the use of anyone anywhere in the United States and most other parts of the world at no cost.

*** START OF THE PROJECT GUTENBERG EBOOK A TALE ***

{body}

*** END OF THE PROJECT GUTENBERG EBOOK A TALE ***

Updated editions will replace the previous one--the old editions will be renamed. Section 1. General Terms of Use and Redistributing Project Gutenberg electronic works.
"""


def test_project_gutenberg_boilerplate_is_removed_unless_kept():
    from llm_mia.io import strip_gutenberg

    body = "Chapter one.\n\nIt was a dark night."
    text, cut = strip_gutenberg(GUTENBERG.format(body=body))
    assert cut and text == body + "\n"
    assert strip_gutenberg(body) == (body, False)
    assert strip_gutenberg("*** START OF THIS PROJECT GUTENBERG ETEXT X ***\nbody\nEnd of the Project Gutenberg EBook of X\nlicence")[0] == "body\n"


def test_a_gutenberg_book_is_checked_without_its_licence(tiny_lm, tmp_path, capsys):
    words = " ".join(random_sentences(60, seed=41))
    book = tmp_path / "book.txt"
    book.write_text(GUTENBERG.format(body=words))
    ref = _jsonl(tmp_path / "r.jsonl", random_sentences(30, seed=42))
    settings = CheckSettings(unit="book", excerpt_words=32, n_splits=5, n_permutations=99)
    res = run_check(book, ref, model=tiny_lm, settings=settings, cache_dir=tmp_path / "c")
    scored_text = " ".join(r for r in (tmp_path / "book.txt").read_text().split())  # the input is never changed
    assert "Redistributing" in scored_text and res.boilerplate_removed == ["suspect:book.txt"]
    assert any("Project Gutenberg's header and licence were removed from 1 text" in c for c in to_json(res)["caveats"])
    # in Python the summary names the setting, on the command line its flag (issue 22)
    assert "(CheckSettings(keep_boilerplate=True) keeps them)" in res.summary() and "--keep-boilerplate" not in res.summary()
    assert "(--keep-boilerplate keeps them)" in summary(res, names=FLAGS)
    kept = run_check(book, ref, model=tiny_lm, settings=dataclasses.replace(settings, keep_boilerplate=True), cache_dir=tmp_path / "c")
    assert kept.boilerplate_removed == [] and len(kept.suspect) > len(res.suspect)
    assert main(
        [
            "check",
            str(book),
            "--reference",
            str(ref),
            "--model",
            str(_model_dir(tiny_lm)),
            "--keep-boilerplate",
            "--html",
            "",
            "--excerpt-words",
            "32",
            "--splits",
            "3",
            "--permutations",
            "99",
            "--cache-dir",
            str(tmp_path / "c"),
            "--no-progress",
            "--device",
            "cpu",
        ]
    ) in (0, 1)
    assert "Gutenberg" not in capsys.readouterr().out


def _model_dir(lm) -> str:
    return lm.source


def test_the_report_shades_tokens_by_log_probability_with_a_key_and_labels_its_tables(tiny_lm, tmp_path):
    from llm_mia.check import SHADES, looks_like_code

    suspect = _jsonl(tmp_path / "s.jsonl", random_sentences(12, seed=51))
    ref = _jsonl(tmp_path / "r.jsonl", random_sentences(12, seed=52))
    res = run_check(suspect, ref, model=tiny_lm, settings=CheckSettings(n_splits=3, n_permutations=99), cache_dir=tmp_path / "c")
    page = to_html(res)
    assert "How likely the model found each token (not a p-value):" in page and all(html.escape(label) in page for *_, label in SHADES)
    assert not any(label.startswith("p ") for *_, label in SHADES)  # token probabilities are not written as p, which the report keeps for p-values
    colours = set(re.findall(r"class='tok' title='the model gave this token probability [^']+' style='background:(#[0-9a-f]{6})", page))
    assert len(colours) >= 2  # the log scale spreads the tokens over several bands
    assert "q-value (Benjamini-Hochberg over the documents)" in page and "p-value, loss alone" in page
    assert "score (higher = member)" in page and ">density<" in page and "print-color-adjust:exact" in page
    assert looks_like_code("def f(x):\n    return x + 1\n") and not looks_like_code("It was a dark night. The rain fell.")
    assert "<h2>Words used in this report</h2>" in page and "<dt>p-value</dt>" in page and "<dt>model-free check, AUROC</dt>" in page


def test_without_reference_the_terminal_shows_the_scores(tiny_trained, tmp_path):
    lm, members, _ = tiny_trained
    res = run_check(_jsonl(tmp_path / "s.jsonl", members), None, model=lm, settings=CheckSettings(n_splits=3), cache_dir=tmp_path / "c")
    text = summary(res)
    assert "uncalibrated without reference texts" in text and re.search(r"loss\s+median -?\d", text)


def test_the_stratified_mode_gives_no_verdict_for_sets_a_classifier_separates(tiny_lm, tmp_path):
    words_a, words_b = WORDS[:15], WORDS[15:]
    rng = random.Random(3)
    side = lambda vocab, n: [" ".join(rng.choice(vocab) for _ in range(12)).capitalize() + "." for _ in range(n)]  # noqa: E731
    settings = CheckSettings(n_splits=3, n_permutations=99, mode="stratified")
    far = run_check(side(words_a, 20), side(words_b, 20), model=tiny_lm, settings=settings, cache_dir=tmp_path / "c")
    assert far.collection is None and "told apart without the model" in far.collection_problem
    assert summary(far).splitlines()[2].startswith("PER-TEXT RESULTS ONLY (the suspect and reference texts are told apart")
    near = run_check(random_sentences(40, seed=71), random_sentences(40, seed=72), model=tiny_lm, settings=settings, cache_dir=tmp_path / "c")
    assert near.collection is not None and "permutations within strata of text-only propensity" in summary(near)
    with pytest.raises(Exception, match="mode"):
        CheckSettings(mode="other")


def test_a_file_name_with_a_right_to_left_override_is_escaped_on_the_page(tiny_lm, tmp_path):
    """Issue 27, defect 12: the terminal escaped such names, the HTML report showed them raw (a name can read backwards)."""
    members, held_out = random_sentences(20, seed=310), random_sentences(40, seed=410)
    book = tmp_path / "book\u202ecod.txt"
    book.write_text(" ".join(members * 2))
    ref = tmp_path / "ref"
    ref.mkdir()
    for i, t in enumerate(held_out):
        (ref / f"{i}.txt").write_text(t + " " + held_out[(i + 1) % len(held_out)])
    res = run_check(book, ref, model=tiny_lm, settings=CheckSettings(excerpt_words=16, n_splits=20, top=3), cache_dir=tmp_path / "c")
    page = to_html(res)
    assert "\u202e" not in page and "book\\u202ecod.txt" in page


def test_an_epub_that_expands_past_the_bound_is_refused_before_it_is_read(tmp_path):
    """Issue 27, defect 11: a 718 KB EPUB zip bomb took 4.1 GB to read. Here 300 MB of one
    repeated line, written in chunks, compressed to well under a megabyte."""
    pytest.importorskip("ebooklib.epub")
    import zipfile

    from llm_mia.io import read_documents

    path = build_epub(tmp_path / "bomb.epub", ["<p>Short chapter.</p>"])
    chunk = b"all work and no play makes jack a dull boy " * 24_000  # about 1 MB
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as z, z.open("EPUB/padding.xhtml", "w", force_zip64=True) as f:
        for _ in range(300):
            f.write(chunk)
    assert path.stat().st_size < 2_000_000
    with pytest.raises(InputError, match=r"bomb.epub expands to 309,6\d\d,\d\d\d bytes, more than the 268,435,456 llm-mia reads from one EPUB"):
        read_documents(path)
