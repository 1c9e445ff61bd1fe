"""The collection test and the per-document p-values: level under the null, power, edge cases."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from llm_mia.check import MIN_PER_SIDE, collection_test, document_tests, holm, propensity_strata

NAMES = ["a", "b", "c"]


def _draw(rng, n, shift=(0.0, 0.0, 0.0)):
    cov = np.array([[1, 0.8, 0.5], [0.8, 1, 0.5], [0.5, 0.5, 1]])  # correlated, like real detectors
    return rng.multivariate_normal(shift, cov, size=n)


def test_level_under_the_null():
    rng = np.random.default_rng(0)
    p = np.array([collection_test(_draw(rng, 20), _draw(rng, 30), NAMES, n_splits=5, n_permutations=99, seed=i).p_value for i in range(300)])
    # valid: at most 5% below 0.05 (the lower end of a binomial 99% CI of the rate stays below it);
    # and not merely conservative: about half below 0.5
    assert stats.binomtest(int((p < 0.05).sum()), len(p)).proportion_ci(0.99).low <= 0.05
    assert 0.4 < (p < 0.5).mean() < 0.6


def test_power_and_the_detector_that_carries_it():
    rng = np.random.default_rng(1)
    res = collection_test(_draw(rng, 60, shift=(0.0, 0.0, 1.0)), _draw(rng, 60), NAMES, seed=0)
    assert res.p_value == res.min_attainable_p == 1 / 1000 and res.effect > 0.7
    assert res.carried_by()[0] == "c" and res.single_auroc["c"] > 0.7
    assert abs(sum(res.weights.values()) - 1) < 1e-9


def test_less_familiar_suspects_are_not_significant():
    """Weights are kept non-negative: being *less* member-like than the reference is no evidence."""
    rng = np.random.default_rng(2)
    res = collection_test(_draw(rng, 60, shift=(-1.0, -1.0, -1.0)), _draw(rng, 60), NAMES, seed=0)
    assert res.p_value > 0.5 and res.effect < 0.5


def test_too_few_texts_and_bad_shapes():
    rng = np.random.default_rng(3)
    with pytest.raises(ValueError, match=f"at least {MIN_PER_SIDE}"):
        collection_test(_draw(rng, MIN_PER_SIDE - 1), _draw(rng, 50), NAMES)
    with pytest.raises(ValueError, match="one column per detector"):
        collection_test(_draw(rng, 20), _draw(rng, 20), ["a", "b"])
    bad = _draw(rng, 20)
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        collection_test(bad, _draw(rng, 20), NAMES)


def test_p_value_is_a_permutation_p_value():
    rng = np.random.default_rng(4)
    res = collection_test(_draw(rng, 10, shift=(9.0, 9.0, 9.0)), _draw(rng, 10), NAMES, n_splits=5, n_permutations=49)
    assert res.effect == 1.0 and res.p_value == pytest.approx(1 / 50)  # complete separation: the floor
    flat = np.ones((15, 3))
    tied = collection_test(flat, flat, NAMES, n_splits=3, n_permutations=19)
    assert tied.effect == 0.5 and tied.p_value == 1.0  # constant scores: every permutation ties, ties count against


def test_holm_by_hand():
    assert holm({"a": 0.01, "b": 0.04, "c": 0.03}) == pytest.approx({"a": 0.03, "c": 0.06, "b": 0.06})
    assert holm({"a": 0.5, "b": 0.6}) == pytest.approx({"a": 1.0, "b": 1.0})
    assert holm({}) == {}


def test_empirical_p_values_by_hand():
    ref = {"x": [1.0, 2.0, 3.0, 4.0, None], "y": [0.0, 0.0, 0.0, 0.0]}
    tests = document_tests([("d1", {"x": 3.5, "y": None}), ("d2", {"x": 3.0, "y": 1.0}), ("d3", {"x": None, "y": None})], ref)
    d1, d2, d3 = tests
    assert d1.p_values == pytest.approx({"x": 2 / 5}) and d1.p_value == pytest.approx(2 / 5)
    assert d2.p_values == pytest.approx({"x": 3 / 5, "y": 1 / 5})  # ties count against the document
    assert d2.p_value == pytest.approx(2 / 5)  # Holm: min(1, 2 x 1/5)
    assert d3.p_value is None and d3.q_value is None
    assert d1.q_value == pytest.approx(2 / 5) and d2.q_value == pytest.approx(2 / 5)


def test_document_p_values_are_valid_under_the_null():
    rng = np.random.default_rng(5)  # a fresh reference set per document: P(p <= 0.05) = 5/100 exactly
    hits = [document_tests([("d", {"x": float(rng.normal())})], {"x": rng.normal(size=99).tolist()})[0].p_value <= 0.05 for _ in range(3000)]
    assert stats.binomtest(sum(hits), len(hits), 0.05).pvalue > 0.001


def _shifted(seed: int, member_shift: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """60 suspect and 60 reference texts of two kinds (80% / 20% of kind 1): the scores and a
    text-only propensity both follow the kind; ``member_shift`` adds training on top."""
    rng = np.random.default_rng(seed)
    kind = np.concatenate([rng.random(60) < 0.8, rng.random(60) < 0.2]).astype(float)
    scores = kind[:, None] * 1.0 + rng.normal(size=(120, 2))
    scores[:60] += member_shift
    propensity = kind + 0.1 * rng.normal(size=120)
    return scores, propensity, kind


def test_strata_of_text_only_propensity_keep_a_difference_of_kind_from_making_the_result():
    plain, stratified = 0, 0
    for seed in range(40):
        x, prop, _ = _shifted(seed)
        strata, n_s, n_r = propensity_strata(prop, 60)
        assert n_s >= 10 and n_r >= 10  # both kinds on both sides: mixed strata
        plain += collection_test(x[:60], x[60:], ["a", "b"], n_splits=4, n_permutations=99, seed=seed).p_value < 0.05
        stratified += collection_test(x[:60], x[60:], ["a", "b"], n_splits=4, n_permutations=99, seed=seed, strata=strata).p_value < 0.05
    assert plain >= 35  # the exchangeable test calls the difference of kind significant (37 of 40)
    assert stratified <= 8  # 5 of 40 here (9.5% over 200 draws): far fewer, not yet at the 5% level


def test_the_stratified_test_keeps_power_for_training_within_each_kind():
    hits = 0
    for seed in range(10):
        x, prop, _ = _shifted(seed, member_shift=1.0)
        strata, _, _ = propensity_strata(prop, 60)
        hits += collection_test(x[:60], x[60:], ["a", "b"], n_splits=4, n_permutations=99, seed=seed, strata=strata).p_value < 0.05
    assert hits >= 8


def test_separable_sets_leave_no_mixed_stratum():
    prop = np.concatenate([np.linspace(2, 3, 30), np.linspace(-3, -2, 30)])
    strata, n_s, n_r = propensity_strata(prop, 30, n_strata=5)
    assert (n_s, n_r) == (0, 0) and len(set(strata[:30]) & set(strata[30:])) == 0
    with pytest.raises(ValueError, match="one stratum per text"):
        collection_test(np.zeros((10, 1)), np.ones((10, 1)), ["a"], strata=np.zeros(5))
