"""Suites read from a data directory laid out like shared/data, and the benchmark runner."""

from __future__ import annotations

import json

import pytest
from conftest import random_sentences

from llm_mia.bench import limit_split, run_bench, write_bench
from llm_mia.cli import main
from llm_mia.errors import InputError, UnknownNameError
from llm_mia.bench import SUITES, load_suite


@pytest.fixture()
def data_dir(tmp_path):
    root = tmp_path / "data"
    (root / "wikimia").mkdir(parents=True)
    for n in (32, 64, 128, 256):
        rows = [{"input": t, "label": 1} for t in random_sentences(20, seed=n)]
        rows += [{"input": t + " In 2023.", "label": 0} for t in random_sentences(20, seed=n + 1)]
        (root / "wikimia" / f"{n}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    for sub in ("members", "non-members"):
        (root / "mimir_ngram_7_0.2" / sub).mkdir(parents=True)
    for domain in ("wikipedia", "github", "pile_cc", "pubmed", "arxiv", "dm", "hackernews"):
        (root / "mimir_ngram_7_0.2/members" / f"{domain}.jsonl").write_text("".join(json.dumps(t) + "\n" for t in random_sentences(9, seed=1)))
        (root / "mimir_ngram_7_0.2/non-members" / f"{domain}.jsonl").write_text("".join(json.dumps(t) + "\n" for t in random_sentences(4, seed=2)))
    (root / "booktection128").mkdir()
    lines = ["book,passage_idx,label,text"] + [f'Book{b},{i},{int(b < 2)},"{t}"' for b in range(4) for i, t in enumerate(random_sentences(3, seed=b))]
    (root / "booktection128" / "passages.csv").write_text("\n".join(lines) + "\n")
    return root


def test_registered_suites_load_and_balance(data_dir):
    assert set(SUITES) >= {"wikimia", "mimir-7gram", "arxivtection", "booktection", "gutenberg"}
    _, splits = load_suite("wikimia", data_dir)
    assert [s.name for s in splits] == ["wikimia-32", "wikimia-64", "wikimia-128", "wikimia-256"]
    assert [d.label for d in splits[0].documents].count(1) == 20
    _, mimir = load_suite("mimir-7gram", data_dir)
    assert len(mimir) == 7 and all(len(s.documents) == 8 for s in mimir)  # first 4 members, 4 non-members
    assert [d.label for d in mimir[0].documents] == [1] * 4 + [0] * 4
    _, (books,) = load_suite("booktection", data_dir)
    assert books.groups[:3] == ["Book0"] * 3 and books.documents[0].id == "Book0#0"
    assert books.fingerprint == load_suite("booktection", data_dir)[1][0].fingerprint


def test_missing_data_says_where_it_looked(data_dir, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(InputError, match="arxivtection/arXivTection.csv"):
        load_suite("arxivtection", data_dir)
    monkeypatch.delenv("LLM_MIA_DATA", raising=False)
    with pytest.raises(InputError, match="no data directory"):
        load_suite("gutenberg")
    with pytest.raises(InputError, match="Did you mean 'wikimia'"):
        load_suite("wikimi")
    assert isinstance(UnknownNameError("x"), KeyError)


def test_user_file_and_config(data_dir, tmp_path):
    suite, (split,) = load_suite(str(data_dir / "wikimia" / "32.jsonl"))
    assert len(split.documents) == 40 and suite.valid_patterns == ()
    cfg = tmp_path / "mine.json"
    cfg.write_text(json.dumps({"name": "mine", "path": "data/wikimia/64.jsonl", "valid_for": "my model"}))
    suite, (split,) = load_suite(str(cfg))
    assert suite.name == "mine" and suite.valid_for == "my model" and len(split.documents) == 40


def test_limit_split_is_seeded_balanced_and_nested(data_dir):
    _, splits = load_suite("wikimia", data_dir)
    small = limit_split(splits[0], 5)
    assert [d.label for d in small.documents] == [1, 1, 1, 0, 0]
    assert small.documents == limit_split(splits[0], 5).documents  # same seed, same subset
    ids = lambda s: {d.id for d in s.documents}
    assert ids(small) != ids(limit_split(splits[0], 5, seed=1))
    assert ids(small) <= ids(limit_split(splits[0], 12))  # extending a run reuses what was scored
    position = {d.id: i for i, d in enumerate(splits[0].documents)}
    assert [position[d.id] for d in small.documents] == sorted(position[d.id] for d in small.documents)


def test_limit_split_takes_whole_groups(data_dir):
    _, (split,) = load_suite("booktection", data_dir)  # 4 books of 3 passages, 2 members
    small = limit_split(split, 4)
    assert small.groups is not None and len(set(small.groups)) == 2
    assert all(small.groups.count(g) == 3 for g in set(small.groups))
    assert sorted(d.label for d in small.documents) == [0, 0, 0, 1, 1, 1]


def test_bench_table_has_model_free_column_and_warning(tiny_lm, data_dir, tmp_path):
    out = tmp_path / "run"
    res = run_bench("wikimia", model=tiny_lm, data_dir=data_dir, cache_dir=tmp_path / "c", n_bootstrap=50)
    assert not out.exists()  # run_bench writes nothing
    write_bench(res, out)
    table = res.table()
    assert "model-free AUROC" in table and "| wikimia-32 | loss |" in table
    assert res.labels_valid is False and "WARNING" in table and "not among the models" in table
    # the non-members all end in "In 2023.": a bag of words sees it, an untrained tiny model does not
    assert all(s.baseline.auroc > 0.85 for s in res.splits)
    assert "separable without the model" in table
    saved = json.loads((out / "results.json").read_text())
    assert saved["provenance"]["model_identity"] == tiny_lm.identity and len(saved["splits"]) == 4
    assert (out / "table.md").exists() and (out / "scores" / "wikimia-32.jsonl").exists()
    assert (out / "plots" / "wikimia-32_roc.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "plots" / "wikimia-256_hist.png").stat().st_size > 1000


def test_bench_group_level_and_cli(tiny_model_dir, data_dir, tmp_path, capsys):
    code = main(
        [
            "bench",
            "booktection",
            "--model",
            str(tiny_model_dir),
            "--data-dir",
            str(data_dir),
            "--cache-dir",
            str(tmp_path / "c"),
            "--bootstrap",
            "20",
            "--no-progress",
            "--detectors",
            "loss,min_k",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and "| booktection (per group) | loss |" in out and "2 / 2" in out


def test_wikimia_loads_from_the_hub_when_the_files_are_absent(tmp_path, monkeypatch):
    import datasets

    import llm_mia.bench.suites as suites  # where the suites look the hub up

    calls = []

    def fake_load_dataset(name, split):
        calls.append((name, split))
        return [{"input": f"text {split} {i}", "label": i % 2} for i in range(6)]

    monkeypatch.setattr(suites, "hub_reachable", lambda: True)
    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    _, splits = load_suite("wikimia", tmp_path)  # an empty data directory
    assert calls == [("swj0419/WikiMIA", f"WikiMIA_length{n}") for n in (32, 64, 128, 256)]
    assert [d.label for d in splits[0].documents] == [0, 1, 0, 1, 0, 1] and splits[3].documents[0].text == "text WikiMIA_length256 0"


def test_a_missing_split_says_where_it_looked_when_the_hub_is_offline(tmp_path, monkeypatch):
    import llm_mia.bench.suites as suites  # where the suites look the hub up

    monkeypatch.setattr(suites, "hub_reachable", lambda: False)
    with pytest.raises(InputError, match=r"data not found at .*wikimia/32.jsonl.*'swj0419/WikiMIA' needs the Hugging Face hub"):
        load_suite("wikimia", tmp_path)
    with pytest.raises(InputError, match="data not found at .*arXivTection"):
        load_suite("arxivtection", tmp_path)


def test_provenance_counts_forward_passes(tiny_lm, data_dir, tmp_path):
    first = run_bench("wikimia", model=tiny_lm, data_dir=data_dir, cache_dir=tmp_path / "c", n_bootstrap=20, limit=8)
    again = run_bench("wikimia", model=tiny_lm, data_dir=data_dir, cache_dir=tmp_path / "c", n_bootstrap=20, limit=8)
    assert first.provenance["forward_passes"] > 0 and again.provenance["forward_passes"] == 0


def test_rows_that_are_not_evaluated_are_counted_in_the_table_and_one_class_is_refused_before_scoring(tmp_path, capsys):
    """Issue 27, defect 10: 9 of 24 rows with invalid or missing labels vanished from the terminal
    and table.md (exit 0); one-class labels were refused only after every text was scored."""
    import json

    from llm_mia.cli import main
    from llm_mia.scoring import Scorer

    rows = [{"id": f"m{i}", "text": f"a member text number {i} with some words", "label": 1} for i in range(8)]
    rows += [{"id": f"n{i}", "text": f"another text, a non-member, number {i}", "label": 0} for i in range(7)]
    rows += [{"id": f"x{i}", "text": f"a text whose label is wrong {i}", "label": bad} for i, bad in enumerate([2, "yes", -1, 0.5, "", 7])]
    rows += [{"id": f"y{i}", "text": f"a text without a label {i}"} for i in range(3)]
    data = tmp_path / "mixed.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out"
    assert (
        main(["bench", str(data), "--model", "test-backend", "--out", str(out), "--bootstrap", "20", "--no-cache", "--no-progress", "--detectors", "loss"]) == 0
    )
    printed = capsys.readouterr().out
    for page in (printed, (out / "table.md").read_text()):
        assert "mixed: 9 of 24 rows not evaluated: 5 x a label that is not 0 or 1; 4 x no label." in page
    one_class = tmp_path / "members.jsonl"
    one_class.write_text("".join(json.dumps(r) + "\n" for r in rows[:8]))
    before = Scorer.forward_passes_total
    assert main(["bench", str(one_class), "--model", "test-backend", "--out", str(tmp_path / "o2"), "--no-cache", "--no-progress"]) == 2
    assert "8 members and 0 non-members" in capsys.readouterr().err and Scorer.forward_passes_total == before  # nothing scored
