"""The model-free bag-of-words baseline."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import random_sentences

from llm_mia.evaluation import features, model_free_auroc


def test_features_are_words_and_bigrams():
    assert features("The cat, the CAT.") == {"the": 2, "cat": 2, "the cat": 2, "cat the": 1}


def test_iid_split_sits_near_chance():
    texts = random_sentences(300, seed=7)
    labels = np.random.default_rng(0).integers(0, 2, 300)
    res = model_free_auroc(texts, labels, n_bootstrap=300)
    assert abs(res.auroc - 0.5) < 0.1, res.auroc


def test_a_topic_shift_is_caught():
    rng = np.random.default_rng(1)
    members = [s + (" Published in 2019." if rng.random() < 0.7 else "") for s in random_sentences(100, seed=1)]
    nonmembers = [s + (" Published in 2023." if rng.random() < 0.7 else "") for s in random_sentences(100, seed=2)]
    res = model_free_auroc(members + nonmembers, [1] * 100 + [0] * 100, n_bootstrap=300)
    assert res.auroc > 0.8 and res.n_members == 100 and res.folds == 5
    again = model_free_auroc(members + nonmembers, [1] * 100 + [0] * 100, n_bootstrap=300)
    assert again.scores == res.scores


def test_too_few_documents():
    with pytest.raises(ValueError, match="at least 5"):
        model_free_auroc(["a b"] * 6, [1, 1, 1, 0, 0, 0])


def test_group_folds_keep_a_books_passages_together():
    """Each 'book' has its own name in every passage: document folds learn the name, group folds cannot."""
    rng = np.random.default_rng(0)
    texts, labels, groups = [], [], []
    for b in range(20):
        label = b % 2
        for _ in range(6):
            words = rng.choice(["river", "stone", "light", "house", "garden", "winter", "paper"], size=12)
            texts.append(f"name{b} " + " ".join(words))
            labels.append(label)
            groups.append(f"book{b}")
    leaky = model_free_auroc(texts, labels, n_bootstrap=50)
    fair = model_free_auroc(texts, labels, groups=groups, n_bootstrap=50)
    assert leaky.auroc > 0.85 and not leaky.grouped
    assert fair.grouped and 0.25 < fair.auroc < 0.75
    with pytest.raises(ValueError, match="both members and non-members"):
        model_free_auroc(texts, labels, groups=["one"] * len(texts))
    with pytest.raises(ValueError, match="at least 5 groups"):
        model_free_auroc(texts[:24], labels[:24], groups=groups[:24])
