"""One orchestration path (issue 10, item 4): score, bench and check choose detectors, load
models and describe the run the same way; run_bench returns results and writing is a
separate step; a suite that brings its own models is not a special case of run_bench; the
check's shading reuses the statistics it computed."""

from __future__ import annotations

import json

import pytest
from conftest import random_sentences

from llm_mia.backends import MockBackend
from llm_mia.bench import run_bench, write_bench
from llm_mia.check import CheckSettings, run_check
from llm_mia.cli import main
from llm_mia.detectors import default_detector_names
from llm_mia.errors import InputError
from llm_mia.pipeline import choose_detectors, open_run
from llm_mia.scoring import Scorer, ScorerConfig
from llm_mia.bench import SUITES, OpenedSuite, Split, Suite
from llm_mia.types import Document


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def files(tmp_path):
    _jsonl(tmp_path / "d.jsonl", [{"text": t, "label": i % 2} for i, t in enumerate(random_sentences(16, seed=61))])
    _jsonl(tmp_path / "s.jsonl", [{"text": t} for t in random_sentences(10, seed=62)])
    _jsonl(tmp_path / "r.jsonl", [{"text": t} for t in random_sentences(10, seed=63)])
    return tmp_path


def test_a_reference_model_adds_the_ref_detector_in_every_command(files, monkeypatch, capsys):
    monkeypatch.chdir(files)
    common = ["--model", "test-backend", "--reference-model", "test-backend:1", "--detectors", "loss", "--cache-dir", "c", "--no-progress"]
    assert main(["score", "d.jsonl", "-o", "s.out.jsonl", *common]) == 0
    assert main(["bench", "d.jsonl", "--out", "bench", "--bootstrap", "20", *common]) == 0
    assert (
        main(
            [
                "check",
                "s.jsonl",
                "--reference",
                "r.jsonl",
                "--unit",
                "document",
                "--permutations",
                "19",
                "--splits",
                "2",
                "--html",
                "",
                "--json",
                "c.json",
                *common,
            ]
        )
        == 0
    )
    row = json.loads((files / "s.out.jsonl").read_text().splitlines()[0])
    bench = json.loads((files / "bench" / "results.json").read_text())["provenance"]
    check = json.loads((files / "c.json").read_text())["provenance"]
    assert set(row["scores"]) == {"loss", "ref"}
    assert [d["key"] for d in bench["detectors"]] == [d["key"] for d in check["detectors"]] == ["loss", "ref"]
    # one description of the run: the same models, scorer settings and software in both
    for key in ("model_spec", "model_identity", "tokenizer_identity", "reference_model", "scorer", "batch_size", "packages"):
        assert bench[key] == check[key], key
    assert bench["reference_model"] == {"spec": "test-backend:1", "identity": "mock-bigram-v1:seed1"}


def test_a_detector_that_needs_a_reference_model_is_refused_before_any_model_loads():
    with pytest.raises(InputError, match="need a reference model"):
        choose_detectors(["loss", "ref"])
    assert [d.key for d in choose_detectors(["ref"], reference_model="x")] == ["ref"]  # not added twice


def test_run_bench_returns_results_and_write_bench_writes_them(files):
    result = run_bench(str(files / "d.jsonl"), model=MockBackend(), cache_dir=files / "c", n_bootstrap=20)
    assert not (files / "out").exists() and len(result.splits[0].records) == 16
    write_bench(result, files / "out")
    saved = json.loads((files / "out" / "results.json").read_text())
    assert saved["splits"][0]["evaluation"] == json.loads(json.dumps(result.splits[0].evaluation.to_json()))
    lines = (files / "out" / "scores" / "d.jsonl").read_text().splitlines()
    assert [json.loads(x) for x in lines] == [r.to_json() for r in result.splits[0].records]


def test_a_suite_that_brings_its_own_models_runs_through_the_same_path(request):
    """What the controlled split does (train a model, score with it against the base model),
    any suite can do through its opener: run_bench does not know the suite."""
    texts = random_sentences(12, seed=64)
    split = Split("own", "own-1", [Document(f"d{i}", t, i % 2) for i, t in enumerate(texts)])
    seen = {}

    def opener(suite, root, *, model, options, progress, load):
        seen.update(model=model, options=options, load=load)
        return OpenedSuite(suite, [split], MockBackend(5), MockBackend(6), 32, {"own": {"setting": options}})

    SUITES.add("own", Suite("own", "test", "the brought model", ("test-backend:5",), "-", lambda r: [], opener=opener))
    request.addfinalizer(lambda: SUITES.remove("own"))
    result = run_bench("own", model="base-spec", controlled="opts", n_bootstrap=20, use_cache=False, dtype="bfloat16")
    assert seen == {"model": "base-spec", "options": "opts", "load": {"dtype": "bfloat16"}}  # the run's dtype reaches the models it brings
    assert result.model == "test-backend:5" and result.labels_valid is True
    p = result.provenance
    assert p["reference_model"]["spec"] == "test-backend:6" and p["scorer"]["max_tokens"] == 32 and p["own"] == {"setting": "opts"}
    assert [d["key"] for d in p["detectors"]][-1] == "ref"


@pytest.fixture
def passes(monkeypatch) -> list[int]:
    """The texts of each pass a scorer makes (every pass is planned first, Scorer.score_texts's too)."""
    calls: list[int] = []
    real = Scorer.plan

    def counting(self, texts, context=None, gradient=False):
        calls.append(len(texts))
        return real(self, texts, context=context, gradient=gradient)

    monkeypatch.setattr(Scorer, "plan", counting)
    return calls


def test_the_check_shades_excerpts_from_the_statistics_it_computed(files, passes):
    settings = CheckSettings(unit="document", detectors=("loss", "lowercase"), n_splits=2, n_permutations=19, top=3)
    result = run_check(files / "s.jsonl", files / "r.jsonl", model=MockBackend(), settings=settings, cache_dir=files / "c")
    # the text and its lowercased view, once each: no third pass for the shading; the last pass
    # reads the whole texts in extraction windows (none is long enough for one here)
    assert passes == [20, 20, 20] and "long enough" in (result.memorization_problem or "")
    assert len(result.top) == 3
    for excerpt in result.top:  # every token's log-probability is shown, as the model gave it
        (stats,) = Scorer(MockBackend()).score_texts(["".join(piece for piece, _ in excerpt.pieces)])
        shown = [lp for _, lp in excerpt.pieces if lp is not None]
        assert sum(shown) == pytest.approx(float(stats.logprobs.sum()), rel=1e-6)


def test_open_run_checks_the_cache_folder_before_loading_a_model(tmp_path, monkeypatch):
    import llm_mia.pipeline as pipeline

    (tmp_path / "file").write_text("x")
    monkeypatch.setattr(pipeline, "get_model", lambda *a, **k: pytest.fail("a model was loaded"))
    with pytest.raises(InputError, match="cannot use the cache directory"):
        open_run("test-backend", cache_dir=tmp_path / "file", config=ScorerConfig())


def test_the_checks_default_detectors_take_one_pass(files, passes):
    """The check's default set has no lowercase (it added no power: CHECK_VALIDITY.md), so one
    pass over the texts instead of two; score and bench keep theirs (issue 22)."""
    from llm_mia.check import CHECK_DETECTORS

    settings = CheckSettings(n_splits=2, n_permutations=19, memorization=False)
    result = run_check(files / "s.jsonl", files / "r.jsonl", model=MockBackend(), settings=settings, cache_dir=files / "c")
    assert result.detectors == list(CHECK_DETECTORS) == ["loss", "zlib", "min_k", "min_k_pp"] and passes == [20]
    again = run_check(
        files / "s.jsonl",
        files / "r.jsonl",
        model=MockBackend(),
        settings=CheckSettings(detectors="default,lowercase", n_splits=2, n_permutations=19),
        cache_dir=files / "c",
    )
    assert again.detectors == [*CHECK_DETECTORS, "lowercase"] and "lowercase" in default_detector_names()
