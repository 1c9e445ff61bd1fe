"""Views as values (issue 10, item 1): a view is (model, text transform, optional context that
is conditioned on and never scored); the scorer takes the context, the cache key includes it,
and the pipeline computes each distinct view once per document."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass

import numpy as np
import pytest
from conftest import package_with_detector, random_sentences
from reference import reference_token_stats

from llm_mia import Scorer, ScorerConfig, StatsCache, score_documents
from llm_mia.detectors import TARGET, Detector, DetectorInput, mean_nll
from llm_mia.errors import InputError
from llm_mia.types import TokenStats
from llm_mia.views import TARGET_LOWER, View

CONTEXT = "Quiet green field. River stone light house garden."


@pytest.mark.parametrize("fixture", ["tiny_lm", "tiny_bos_lm"])
@pytest.mark.parametrize("config", [ScorerConfig(batch_size=1), ScorerConfig(batch_size=8, padding_side="left"), ScorerConfig(max_tokens=6)])
def test_a_context_is_conditioned_on_and_never_scored(fixture, config, request):
    """Against the float64 loop reference on context + text: every text token scored, no
    context token, whatever the batch, padding or truncation."""
    lm = request.getfixturevalue(fixture)
    texts = random_sentences(5, seed=31)
    scorer = Scorer(lm, config)
    stats = scorer.score_texts(texts, context=CONTEXT)
    ctx = scorer.tokenize([CONTEXT])[0]
    for text, st in zip(texts, stats):
        ids = scorer.tokenize([text], special_tokens=False)[0][: scorer.max_tokens]
        want = reference_token_stats(lm.model, ctx + ids, len(ctx) + len(ids), None)[-len(ids) :]
        assert list(st.token_ids) == ctx[-1:] + ids and st.n_scored == len(ids)
        np.testing.assert_allclose(np.stack([st.logprobs, st.dist_mean, st.dist_var], 1), np.array(want), atol=2e-5)
        assert st.truncated == (len(scorer.tokenize([text], special_tokens=False)[0]) > scorer.max_tokens)


def test_the_context_keys_the_cache(tiny_lm, tmp_path):
    texts = random_sentences(4, seed=32)
    cache = StatsCache(tmp_path)
    plain = Scorer(tiny_lm, cache=cache).score_texts(texts)
    first = Scorer(tiny_lm, cache=cache).score_texts(texts, context=CONTEXT)
    other = Scorer(tiny_lm, cache=cache).score_texts(texts, context="Winter " + CONTEXT)
    assert len(cache) == 12
    assert all(not np.array_equal(a.logprobs[-3:], b.logprobs[-3:]) for a, b in zip(first, other))
    again = Scorer(tiny_lm, cache=cache)
    assert [s.logprobs.tolist() for s in again.score_texts(texts, context=CONTEXT)] == [s.logprobs.tolist() for s in first]
    assert [s.logprobs.tolist() for s in again.score_texts(texts)] == [s.logprobs.tolist() for s in plain]
    assert again.forward_passes == 0


def test_context_limits_are_errors(tiny_lm):
    with pytest.raises(InputError, match="sliding windows"):
        Scorer(tiny_lm, ScorerConfig(max_tokens=16, stride=8)).score_texts(["River stone."], context=CONTEXT)
    with pytest.raises(InputError, match="exceed the model's context length"):
        Scorer(tiny_lm, ScorerConfig(max_tokens=250)).score_texts(["River stone."], context=CONTEXT * 10)
    with pytest.raises(ValueError, match="some text"):
        View(context="  ")
    with pytest.raises(ValueError, match="transform"):
        View(transform="upper")


@dataclass(frozen=True)
class Prefixed(Detector):
    """A test detector: the loss of the text after a prefix minus its plain loss (ReCaLL's shape)."""

    name = "prefixed"
    formula = "test"
    citation = "test"
    prefix: str = CONTEXT

    def views(self) -> frozenset[View]:
        return frozenset({TARGET, View(context=self.prefix)})

    def score(self, inp: DetectorInput) -> float:
        return mean_nll(inp.stats[TARGET]) - mean_nll(inp.stats[View(context=self.prefix)])


@dataclass(frozen=True)
class PrefixedLower(Prefixed):
    name = "prefixed_lower"

    def views(self) -> frozenset[View]:
        return frozenset({TARGET, TARGET_LOWER, View(context=self.prefix)})


def test_each_distinct_view_is_computed_once(tiny_lm, monkeypatch):
    calls: list[tuple[int, str | None]] = []
    real, real_plan, real_label = Scorer.score_texts, Scorer.plan, Scorer.progress_label
    labels: list[str] = []

    def spy(self, texts, context=None, gradient=False):  # every pass over texts is planned first
        calls.append((len(texts), context))
        return real_plan(self, texts, context=context, gradient=gradient)

    def label_spy(self, label=""):
        labels.append(label)
        return real_label(self, label)

    monkeypatch.setattr(Scorer, "plan", spy)
    monkeypatch.setattr(Scorer, "progress_label", label_spy)
    texts = random_sentences(6, seed=33)
    records = score_documents(texts, model=tiny_lm, detectors=["loss", "lowercase", Prefixed(), PrefixedLower(), Prefixed("Other prefix.")], use_cache=False)
    assert sorted(calls, key=repr) == sorted([(6, None), (6, None), (6, CONTEXT), (6, "Other prefix.")], key=repr)  # text, lowercased, two contexts
    assert sorted(labels) == ["lowercased text", "text", "text after a context", "text after a context"]  # each progress bar says what it scores
    stats = real(Scorer(tiny_lm), texts)
    with_ctx = real(Scorer(tiny_lm), texts, context=CONTEXT)
    for r, st, sc in zip(records, stats, with_ctx):
        assert set(r.scores) == {"loss", "lowercase", "prefixed", "prefixed_lower", "prefixed:prefix=Other prefix."}
        assert r.scores["prefixed"] == pytest.approx(mean_nll(st) - mean_nll(sc), abs=1e-9)
        assert r.params["prefixed"] == {"prefix": CONTEXT}


def test_a_context_too_long_stops_before_any_scoring(tiny_lm, monkeypatch):
    monkeypatch.setattr(Scorer, "_run", lambda *a, **k: pytest.fail("scored before checking every view"))
    with pytest.raises(InputError, match="exceed the model's context length"):
        score_documents(["Hello river."], model=tiny_lm, detectors=[Prefixed(), Prefixed("Z " * 600)], config=ScorerConfig(max_tokens=16), use_cache=False)


def test_views_accept_the_names_of_earlier_versions(tiny_lm):
    (st,) = Scorer(tiny_lm).score_texts(["River stone light."])
    inp = DetectorInput("River stone light.", {"target": st})
    assert isinstance(inp.stats[TARGET], TokenStats)


def test_a_detector_with_a_prefix_view_is_one_file(tiny_model_dir, tmp_path):
    """The done-when of issue 10: a detector with a context view, added as one file to a copy
    of the package, runs from the command line with its parameter, and nothing else changes."""
    package_with_detector(
        tmp_path,
        "prefix_gain",
        '''
        """An example written by a test: loss after a fixed prefix against the loss alone."""
        from dataclasses import dataclass

        from .base import TARGET, Detector, DetectorInput, View, mean_nll, register


        @register
        @dataclass(frozen=True)
        class PrefixGain(Detector):
            """NLL(text) - NLL(text | prefix): how much the prefix helps (an example, not a method)."""

            name = "prefix_gain"
            formula = "NLL(text) - NLL(text | prefix)"
            citation = "none (test)"
            prefix: str = "Once upon a time."

            def views(self):
                return frozenset({TARGET, View(context=self.prefix)})

            def score(self, inp: DetectorInput) -> float:
                return mean_nll(inp.stats[TARGET]) - mean_nll(inp.stats[View(context=self.prefix)])
    ''',
    )
    src = tmp_path / "d.jsonl"
    src.write_text("".join(json.dumps({"text": t}) + "\n" for t in random_sentences(3, seed=34)))
    cmd = [
        sys.executable,
        "-m",
        "llm_mia.cli",
        "score",
        str(src),
        "-o",
        str(tmp_path / "o.jsonl"),
        "--model",
        str(tiny_model_dir),
        "--detectors",
        "loss,prefix_gain,prefix_gain:prefix=River stone.",
        "--no-cache",
        "--no-progress",
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"}, check=False)
    assert res.returncode == 0, res.stderr
    rows = [json.loads(line) for line in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert list(rows[0]["scores"]) == ["loss", "prefix_gain", "prefix_gain:prefix=River stone."]
    assert all(isinstance(v, float) for r in rows for v in r["scores"].values())
    assert rows[0]["params"]["prefix_gain"] == {"prefix": "Once upon a time."}


def test_distinct_views_are_described_differently():
    """Costs and messages are keyed by the description: two contexts of one length must not merge."""
    views = [View(), View(transform="lower"), View(model="reference"), View(context="a" * 5), View(context="b" * 5), View(gradient=True)]
    assert len({v.describe() for v in views}) == len(views)
