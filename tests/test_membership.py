"""A tiny model trained on member strings: the detectors must tell members from held-out strings."""

from __future__ import annotations

import numpy as np
from llm_mia import auroc, score_documents


def test_trained_model_separates_members(tiny_trained):
    lm, members, held_out = tiny_trained
    held_out = held_out[: len(members)]
    records = score_documents(members + held_out, model=lm, detectors=["loss", "min_k", "min_k_pp"], use_cache=False)
    y = np.r_[np.ones(len(members)), np.zeros(len(held_out))].astype(int)
    for name in ("loss", "min_k", "min_k_pp"):
        s = np.array([r.scores[name] for r in records])
        assert auroc(y, s) >= 0.9, name
