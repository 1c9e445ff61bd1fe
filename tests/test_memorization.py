"""Memorization evidence (llm_mia.evaluation.memorization): the rule, the controls, the words."""

from __future__ import annotations

import math

from conftest import random_sentences

from llm_mia import Scorer
from llm_mia.backends import MockBackend
from llm_mia.check import memorization_evidence
import llm_mia.evaluation.memorization as memorization
from llm_mia.scoring import WindowSettings, window_config

SETTINGS = WindowSettings(prefix=4, suffix=4)


def _scored(scorer, texts, tag):
    return [(f"{tag}{i}", s) for i, s in enumerate(scorer.score_texts(texts))]


def test_a_model_fitted_on_members_memorizes_them_and_not_the_held_out(tiny_trained):
    lm, members, held_out = tiny_trained
    scorer = Scorer(lm, window_config(SETTINGS))
    seen = memorization_evidence(scorer, _scored(scorer, members, "m"), settings=SETTINGS)
    unseen = memorization_evidence(scorer, _scored(scorer, held_out[:20], "h"), settings=SETTINGS)
    assert seen.found and seen.headline().startswith("memorized text found")
    assert not unseen.found and unseen.headline().startswith("no memorized text found (this does not show")
    by = {r.threshold: r for r in seen.results}
    assert by[1e-2].suspect.memorized > 0 and all(r.suspect.memorized == 0 for r in unseen.results)
    # held-out texts as the reference: the members' share is larger; members against members: no evidence
    against_held_out = memorization_evidence(scorer, _scored(scorer, members, "m"), _scored(scorer, held_out[:20], "h"), settings=SETTINGS)
    assert against_held_out.found and all(r.p_value is not None for r in against_held_out.results)
    against_themselves = memorization_evidence(scorer, _scored(scorer, members[:10], "m"), _scored(scorer, members[10:], "r"), settings=SETTINGS)
    assert not against_themselves.found  # the reference texts are memorized as much: predictable, not evidence
    assert against_themselves.headline().startswith("no evidence of memorization: ") and "so do" in against_themselves.headline()


def test_the_counts_follow_the_rule():
    backend = MockBackend(4)
    scorer = Scorer(backend, window_config(SETTINGS))
    texts = ["".join(chr(97 + (i * 7 + j * 3) % 26) for j in range(60)) for i in range(6)] + random_sentences(6, seed=85)
    ev = memorization_evidence(scorer, _scored(scorer, texts, "t"), settings=SETTINGS, min_lift=1.0)
    assert ev.n_windows == len(ev.positions) == sum(1 for _ in ev.positions)
    floor = math.log(min(memorization.MEMORIZATION_THRESHOLDS))
    controlled = [p for p in ev.passages if p.log_pz >= floor]
    assert all(p.lift is not None for p in controlled)
    for r in ev.results:
        assert r.suspect.clearing == sum(lp >= math.log(r.threshold) for _, _, lp, _ in ev.positions)
        assert r.suspect.memorized <= r.suspect.clearing and r.found == (r.suspect.memorized > 0)
        lo, hi = r.suspect.ci
        assert lo <= r.suspect.share <= hi
    assert [p.log_pz for p in ev.passages] == sorted((p.log_pz for p in ev.passages), reverse=True)
    assert memorization.DEFAULT_MIN_LIFT == math.log(100)


def test_a_reference_model_is_a_control(tiny_trained, tiny_lm):
    """The model under test against one that never saw the members (the same tokenizer): the
    members' windows stay memorized; against itself as the reference model, none is."""
    import pytest

    from llm_mia import InputError

    lm, members, _ = tiny_trained
    scorer, ref_scorer = Scorer(lm, window_config(SETTINGS)), Scorer(tiny_lm, window_config(SETTINGS))
    texts = _scored(scorer, members, "m")
    untrained = ref_scorer.score_texts(members)
    ev = memorization_evidence(scorer, texts, settings=SETTINGS, reference_model=untrained)
    assert ev.found and all(p.ref_log_pz is not None for p in ev.passages)
    assert all(p.log_pz - p.ref_log_pz >= ev.min_lift for p in ev.passages if p.memorized(0.5, ev.min_lift))
    itself = memorization_evidence(scorer, texts, settings=SETTINGS, reference_model=[s for _, s in texts])
    assert not itself.found and all(r.suspect.memorized == 0 for r in itself.results)
    assert max(r.suspect.clearing for r in itself.results) > 0  # they clear the thresholds, not the control
    with pytest.raises(InputError, match="other tokens"):
        memorization_evidence(scorer, texts[:2], settings=SETTINGS, reference_model=ref_scorer.score_texts(["other text", "and another"]))


def test_the_greedy_continuation_agrees_with_the_greedy_flags(tiny_trained):
    """The top passages' greedy continuations, decoded step by step with the key-value cache,
    agree with the true suffix exactly as far as the scorer's argmax flags say (its first
    non-greedy token is the first difference); a memorized member's is the suffix itself."""
    import numpy as np

    lm, members, held_out = tiny_trained
    scorer = Scorer(lm, window_config(SETTINGS))
    scored = _scored(scorer, members + held_out[:10], "t")
    ev = memorization_evidence(scorer, scored, settings=SETTINGS)
    stats = dict(scored)
    p, s = SETTINGS.prefix, SETTINGS.suffix
    assert ev.passages and all(x.continuation is not None for x in ev.passages)
    for x in ev.passages:
        st = stats[x.text_id]
        idx = np.arange(x.start + p - 1, x.start + p + s - 1)
        greedy = st.logprobs[idx] >= st.top_logprob[idx]
        leading = int(np.argmin(greedy)) if not greedy.all() else s
        assert x.continuation_matches == leading, (x, greedy)
        if x.greedy == s:
            assert x.continuation == x.suffix
    assert any(x.continuation_matches == s for x in ev.passages)


def test_texts_without_windows_are_named():
    scorer = Scorer(MockBackend(), window_config(SETTINGS))
    from llm_mia.types import Unscorable

    ev = memorization_evidence(
        scorer,
        [("long", scorer.score_texts(["abcdefghijklmnop" * 2])[0]), ("short", scorer.score_texts(["ab"])[0]), ("bad", Unscorable("no text"))],
        settings=SETTINGS,
    )
    assert ev.n_texts == 2 and dict(ev.left_out) == {"short": "shorter than one window (8 tokens)", "bad": "not scored: no text"}


def test_a_suffix_that_repeats_its_prefix_is_a_template_not_memorized_text():
    """The repeat control: a window whose suffix is made of its prefix's 4-token sequences (a
    text of period 4) is predictable, however likely; one that repeats nothing is not touched."""
    import pytest

    from llm_mia import InputError

    assert memorization.prefix_repeats([1, 2, 3, 4, 5], [2, 3, 4, 5, 9]) == 0.5
    assert memorization.prefix_repeats([1, 2, 3, 4], [5, 6, 7, 8]) == 0.0 and memorization.prefix_repeats([1], [1, 2]) is None
    settings = WindowSettings(prefix=8, suffix=8)  # the first prefix holds the BOS: 7 text tokens, more than one period
    scorer = Scorer(MockBackend(4), window_config(settings))
    texts = ["abcd" * 15, "".join(chr(97 + (j * 3) % 26) for j in range(60))]
    scored = _scored(scorer, texts, "t")
    loose = dict(settings=settings, min_lift=-1e9, thresholds=(1e-300,))  # every window clears p_z and the prior control
    off = memorization_evidence(scorer, scored, max_repeat=None, **loose)
    on = memorization_evidence(scorer, scored, **loose)
    assert off.results[0].suspect.memorized == off.n_windows > 0
    periodic = [hit for text_id, _, _, hit in on.positions if text_id == "t0"]
    other = [hit for text_id, _, _, hit in on.positions if text_id == "t1"]
    assert periodic and not any(periodic) and other and all(other)
    assert on.results[0].suspect.clearing - on.results[0].suspect.memorized == len(periodic)
    assert any("repeats" in c for c in on.controls) and not any("repeats" in c for c in off.controls)
    with pytest.raises(InputError, match="max_repeat"):
        memorization_evidence(scorer, scored, max_repeat=1.5, settings=SETTINGS)
