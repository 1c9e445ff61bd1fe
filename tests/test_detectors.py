"""Detectors on hand-checkable statistics, and the generic checks every registered detector gets."""

from __future__ import annotations

import math
from dataclasses import replace
import re
import zlib

import numpy as np
import pytest

from llm_mia.detectors import DETECTORS, REFERENCE, TARGET, TARGET_LOWER, DetectorInput, DetectorSkip, make_detector
from llm_mia.errors import UnknownNameError
from llm_mia.types import TokenStats


def stats(lp, mu=None, var=None):
    lp = np.asarray(lp, dtype=np.float32)
    mu = np.zeros_like(lp) if mu is None else np.asarray(mu, dtype=np.float32)
    var = np.ones_like(lp) if var is None else np.asarray(var, dtype=np.float32)
    return TokenStats(np.arange(len(lp) + 1), lp, mu, var, top_logprob=np.zeros_like(lp))  # top-1 log p: 0 (certain)


LP = [-1.0, -4.0, -2.0, -8.0, -0.5, -3.0, -6.0, -0.25, -1.5, -2.5]  # n = 10


def test_loss_and_min_k_by_hand():
    inp = DetectorInput("x", {TARGET: stats(LP)})
    assert make_detector("loss").score(inp) == pytest.approx(-28.75 / 10)
    # k = 0.2: floor(2) lowest = -8, -6
    assert make_detector("min_k", k=0.2).score(inp) == pytest.approx(-7.0)
    # k = 0.05: floor(0.5) = 0 -> at least one value: -8
    assert make_detector("min_k", k=0.05).score(inp) == pytest.approx(-8.0)
    # k = 0.35: floor(3.5) = 3 lowest: -8, -6, -4
    assert make_detector("min_k", k=0.35).score(inp) == pytest.approx(-6.0)


def test_min_k_pp_by_hand_and_degenerate_sigma():
    lp = [-1.0, -3.0, -2.0, -0.1]
    mu = [-2.0, -2.0, -2.0, -0.1]
    var = [4.0, 1.0, 0.25, 0.0]  # z = 0.5, -1, 0, and 0 (sigma 0: degenerate)
    inp = DetectorInput("x", {TARGET: stats(lp, mu, var)})
    assert make_detector("min_k_pp", k=0.5).score(inp) == pytest.approx((-1 + 0) / 2)
    assert make_detector("min_k_pp", k=1.0).score(inp) == pytest.approx((0.5 - 1 + 0 + 0) / 4)


def test_zlib_lowercase_ref_by_hand():
    text = "The Quick Brown Fox"
    inp = DetectorInput(text, {TARGET: stats([-2.0, -4.0]), TARGET_LOWER: stats([-6.0, -3.0]), REFERENCE: stats([-5.0])})
    assert make_detector("zlib").score(inp) == pytest.approx(-3.0 / len(zlib.compress(text.encode())))
    assert make_detector("lowercase").score(inp) == pytest.approx(4.5 / 3.0)
    assert make_detector("ref").score(inp) == pytest.approx(5.0 - 3.0)
    with pytest.raises(DetectorSkip):
        make_detector("lowercase").score(DetectorInput(text, {TARGET: stats([0.0]), TARGET_LOWER: stats([-1.0])}))


def test_unknown_detector_suggests():
    with pytest.raises(UnknownNameError, match="Did you mean 'min_k'"):
        make_detector("mink")
    with pytest.raises(ValueError):
        make_detector("min_k", k=0.0)


GENERIC_PARAMS = {
    "dc_pdd": lambda tmp: {"table": str(write_uniform_table(tmp)), "a": 100.0},  # needs a table; a cap high enough not to bind
    "camia": lambda tmp: {"signal": "count_above"},  # the default signal depends on the trajectory's shape, not its level (test_camia.py)
}


def write_uniform_table(folder):
    from llm_mia.io import FrequencyTable, save_table

    save_table(FrequencyTable(np.ones(64, dtype=np.int64), "any"), folder / "t.json")
    return folder / "t.json"


@pytest.mark.parametrize("name", list(DETECTORS))
def test_every_detector_generic(name, tmp_path):
    """Registry-driven: metadata present, finite scores, higher for a better-predicted text
    (for gradnorm: a smaller gradient)."""
    cls = DETECTORS.get(name)
    assert re.fullmatch(r"[a-z][a-z0-9_]*", name)
    assert cls.formula and re.search(r"(19|20)\d\d", cls.citation)
    assert cls.__doc__ and re.search(r"(19|20)\d\d", cls.__doc__)
    det = make_detector(name, **GENERIC_PARAMS.get(name, lambda tmp: {})(tmp_path))
    if cls.uses_labels:  # bound to a pool of held-out labelled texts, as a run does
        det = det.bind({0: ["A non-member text.", "Another one."] * 5, 1: ["A member text.", "And another."] * 5})
    rng = np.random.default_rng(0)
    lp = -rng.exponential(2.0, size=50)
    mu = lp - rng.normal(size=50)
    views_worse = {v: replace(stats(lp * 1.5, mu * 1.5), grad_norms=np.full(3, 3.0)) for v in {TARGET, TARGET_LOWER, REFERENCE, *det.views()}}
    views_better = {**views_worse, TARGET: stats(lp * 0.5, mu * 1.5)}
    views_better.update({v: replace(views_worse[v], grad_norms=np.full(3, 1.0)) for v in det.views() if v.gradient})
    worse = det.score(DetectorInput("some text", views_worse))
    better = det.score(DetectorInput("some text", views_better))
    assert math.isfinite(worse) and math.isfinite(better)
    assert better > worse, "higher score must mean more likely member"
