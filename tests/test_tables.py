"""Reports in one place (issue 10, item 5): eval, bench and check format their cells through
:mod:`llm_mia.evaluation.tables`, so one set of scores reads the same in each."""

from __future__ import annotations

import json

from conftest import random_sentences

from llm_mia.backends import MockBackend
from llm_mia.bench import run_bench
from llm_mia.check import CheckSettings, run_check
from llm_mia.evaluation import FPR_BUDGETS, TprAtFpr, evaluate
from llm_mia.check import summary, to_html
from llm_mia.evaluation import detector_cells, markdown_table, p_value, text_table, tpr_cell, with_ci


def test_cells():
    assert with_ci(0.61234, (0.5, 0.7)) == "0.612 [0.500, 0.700]"
    assert tpr_cell(TprAtFpr(0.01, 0.125, (0.0, 0.25), True)) == "12.5% [0.0, 25.0] (!)"
    assert tpr_cell(TprAtFpr(0.01, 0.125, (0.0, 0.25), False), ci=False) == "12.5%"
    assert [p_value(p) for p in (None, 0.5, 0.01, 0.00012)] == ["n/a", "0.500", "0.010", "1.20e-04"]


def test_tables_align_and_escape():
    assert text_table(["a", "bb"], [["ccc", "d"]]).splitlines() == ["a    bb", "---  --", "ccc  d"]
    assert markdown_table(["a", "b"], [["x|y", "z"]]).splitlines() == ["| a | b |", "|---|---|", "| x\\|y | z |"]


def test_eval_bench_and_check_show_the_same_cells(tmp_path):
    rows = [{"text": t, "label": i % 2} for i, t in enumerate(random_sentences(30, seed=71))]
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    bench = run_bench(str(tmp_path / "d.jsonl"), model=MockBackend(), detectors=["loss", "zlib"], n_bootstrap=50, use_cache=False)
    split = bench.splits[0]
    report = evaluate(split.records, n_bootstrap=50, seed=0)
    for row in report.rows:  # the same AUROC cell in the terminal table of eval and the Markdown table of bench
        auroc = detector_cells(row, FPR_BUDGETS)[0]
        assert auroc in report.table() and f"| {row.detector} | {auroc} |" in bench.table()
    assert with_ci(split.baseline.auroc, split.baseline.ci) in bench.table()

    (tmp_path / "s.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in random_sentences(10, seed=72)))
    (tmp_path / "r.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in random_sentences(10, seed=73)))
    settings = CheckSettings(unit="document", n_splits=2, n_permutations=19)
    check = run_check(tmp_path / "s.jsonl", tmp_path / "r.jsonl", model=MockBackend(), settings=settings, use_cache=False)
    cell = with_ci(check.model_free.auroc, check.model_free.ci)
    assert cell in summary(check) and cell in to_html(check)
    assert f"p = {p_value(check.collection.p_value)}" in summary(check)
