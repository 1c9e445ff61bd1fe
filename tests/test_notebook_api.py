"""The notebook-facing API: figures drawn on given axes without switching matplotlib's backend,
score records as a DataFrame, evaluate(labels, scores), rich display, run_check on texts."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import random_sentences

import llm_mia
from llm_mia import CheckSettings, EvaluationError, InputError, ScoreRecord
from llm_mia.types import STATUS_OK, STATUS_SKIPPED


def _records() -> list[ScoreRecord]:
    rng = np.random.default_rng(0)
    out = []
    for i in range(40):
        y = i % 2
        out.append(ScoreRecord(f"d{i}", y, 10, STATUS_OK, None, {"loss": float(rng.normal(y, 1)), "zlib": float(rng.normal(0, 1))}))
    out.append(ScoreRecord("bad", 1, 0, STATUS_SKIPPED, "empty text", {"loss": None, "zlib": None}))
    return out


def test_figures_draw_on_the_given_axes_and_leave_the_backend_alone(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    backend = matplotlib.get_backend()
    fig = Figure()
    ax = fig.subplots()
    assert llm_mia.roc_figure(_records(), ax=ax) is fig
    chance = [line for line in ax.get_lines() if line.get_label() == "chance"][0]
    assert np.allclose(chance.get_xdata(), chance.get_ydata()) and ax.get_xscale() == ax.get_yscale() == "log"  # y = x is straight on log-log
    panels = Figure().subplots(1, 2)
    assert llm_mia.histogram_figure(_records(), axes=panels) is panels[0].figure and panels[0].get_xlabel()
    with pytest.raises(ValueError, match="2 axes are needed"):
        llm_mia.histogram_figure(_records(), axes=ax)
    assert llm_mia.plot_roc(_records(), tmp_path / "roc.png").read_bytes()[:4] == b"\x89PNG"
    assert matplotlib.get_backend() == backend


def test_score_records_as_a_dataframe():
    frame = llm_mia.to_dataframe(_records())
    assert list(frame.columns) == ["id", "label", "status", "n_tokens", "truncated", "reason", "loss", "zlib"]
    assert len(frame) == 41 and frame["loss"].dtype == float and math.isnan(frame.loc[40, "loss"])
    assert frame.loc[40, "status"] == STATUS_SKIPPED and frame.loc[40, "reason"] == "empty text"
    assert int(frame["label"].sum()) == 21


def test_evaluate_takes_labels_and_scores_in_scikit_learns_order():
    records = [r for r in _records() if r.status == STATUS_OK]
    labels = [r.label for r in records]
    from_records = llm_mia.evaluate(records, n_bootstrap=50)
    from_arrays = llm_mia.evaluate(labels, {"loss": [r.scores["loss"] for r in records], "zlib": [r.scores["zlib"] for r in records]}, n_bootstrap=50)
    assert from_arrays.rows == from_records.rows
    one = llm_mia.evaluate(np.array(labels), np.array([r.scores["loss"] for r in records]), n_bootstrap=50)
    assert one.rows[0].detector == "score" and one.rows[0].auroc == from_records.rows[0].auroc
    with_nan = llm_mia.evaluate(labels, [math.nan] + [r.scores["loss"] for r in records[1:]], n_bootstrap=50)
    assert sum(with_nan.rows[0].excluded.values()) == 1
    frame = llm_mia.to_dataframe(records).sort_values("loss")  # a shuffled index: read by position, as the labels
    assert llm_mia.evaluate(frame["label"].astype(int), frame["loss"], n_bootstrap=50).rows[0].auroc == from_records.rows[0].auroc
    with pytest.raises(EvaluationError, match="labels and scores"):
        llm_mia.evaluate(np.array(labels))
    with pytest.raises(EvaluationError, match="40 labels but 3 scores"):
        llm_mia.evaluate(labels, [1.0, 2.0, 3.0])
    with pytest.raises(EvaluationError, match="labels must be 1"):
        llm_mia.evaluate([2] * 40, [0.0] * 40)
    with pytest.raises(EvaluationError, match="labels and scores"):
        llm_mia.evaluate(labels)
    html = from_records._repr_html_()
    assert html.startswith("<table><tr><th>detector</th>") and "<td>loss</td>" in html and "bootstrap" in html


def test_run_check_takes_texts_in_memory_and_displays_itself(tiny_lm, tmp_path):
    suspect, reference = random_sentences(12, seed=31), random_sentences(12, seed=32)
    settings = CheckSettings(n_splits=5, n_permutations=99)
    result = llm_mia.run_check(suspect, reference, model=tiny_lm, settings=settings, cache_dir=tmp_path / "c")
    assert result.unit == "document" and len(result.scored("suspect")) == 12 and result.suspect_source == "12 texts given in memory"
    assert repr(result).startswith("<CheckResult of 12 texts given in memory: ") and len(repr(result)) < 400
    frame = result._repr_html_()
    assert frame.startswith("<iframe srcdoc=") and " sandbox " in frame and "&lt;!DOCTYPE html&gt;" in frame
    assert result.summary().splitlines()[2] in result.to_json()["verdict"]
    docs = [llm_mia.Document(f"s{i}", t) for i, t in enumerate(suspect)]
    assert [r.id for r in llm_mia.run_check(docs, reference, model=tiny_lm, settings=settings, cache_dir=tmp_path / "c").suspect][:2] == [
        "suspect:s0",
        "suspect:s1",
    ]
    with pytest.raises(InputError, match="not a string or a Document"):
        llm_mia.run_check([1, 2], reference, model=tiny_lm)
    with pytest.raises(InputError, match="a list of texts"):
        llm_mia.run_check(42, reference, model=tiny_lm)  # type: ignore[arg-type]
