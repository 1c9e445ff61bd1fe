"""Model-free baseline: how well can the split be told apart from the text alone?

A bag-of-words classifier (multinomial naive Bayes over word unigrams and bigrams, Laplace
smoothing) is scored by stratified k-fold cross-validation: each document's score is the
log-odds of "member" from a classifier fitted on the other folds, and the out-of-fold scores
give an AUROC with a bootstrap CI. When it matches or beats the detectors that use the model,
the split can be separated without the model (Das, Zhang and Tramèr 2024, "Blind Baselines
Beat Membership Inference Attacks for Foundation Models", reach AUROC 0.99 on WikiMIA).

Features: lowercased word tokens (``\\w+``) and adjacent pairs; a feature is kept when it
occurs in at least ``min_count`` training documents of the fold (the vocabulary is built on
the training folds only, so nothing leaks from the held-out fold).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from . import metrics

_WORD = re.compile(r"\w+", re.UNICODE)


def features(text: str) -> Counter[str]:
    """Counts of lowercased words and word bigrams."""
    words = _WORD.findall(text.lower())
    grams = Counter(words)
    grams.update(f"{a} {b}" for a, b in zip(words, words[1:]))
    return grams


@dataclass(frozen=True)
class BaselineResult:
    auroc: float
    ci: tuple[float, float]
    n_members: int
    n_nonmembers: int
    folds: int
    scores: list[float]  # out-of-fold log-odds per document, in input order
    grouped: bool = False  # folds were made of whole groups (books, papers)


def _fit_predict(train: list[Counter[str]], y: np.ndarray, test: list[Counter[str]], min_count: int) -> np.ndarray:
    doc_freq: Counter[str] = Counter()
    for c in train:
        doc_freq.update(c.keys())
    vocab = {w: i for i, w in enumerate(w for w, n in doc_freq.items() if n >= min_count)}
    counts = np.ones((2, len(vocab) + 1))  # Laplace smoothing; last column: out-of-vocabulary
    for c, label in zip(train, y):
        for w, n in c.items():
            counts[label, vocab.get(w, len(vocab))] += n
    log_ratio = np.log(counts[1] / counts[1].sum()) - np.log(counts[0] / counts[0].sum())
    prior = np.log((y == 1).mean()) - np.log((y == 0).mean())
    out = np.empty(len(test))
    for i, c in enumerate(test):
        idx = np.fromiter((vocab.get(w, len(vocab)) for w in c), dtype=np.int64, count=len(c))
        out[i] = prior + float(np.dot(log_ratio[idx], np.fromiter(c.values(), dtype=np.float64, count=len(c))))
    return out


def model_free_auroc(
    texts: Sequence[str],
    labels: Sequence[int],
    *,
    groups: Sequence[str] | None = None,
    folds: int = 5,
    min_count: int = 2,
    seed: int = 0,
    n_bootstrap: int = metrics.N_BOOTSTRAP,
) -> BaselineResult:
    """Out-of-fold AUROC of the bag-of-words classifier (stratified ``folds``-fold CV, seeded).

    With ``groups`` (the book or paper of each passage) whole groups are dealt into the folds,
    so that no fold is scored by a classifier that saw other passages of the same book: names
    and words peculiar to one book would otherwise identify its passages' label.
    """
    y = np.asarray(labels, dtype=int)
    if len(texts) != len(y) or (groups is not None and len(groups) != len(y)):
        raise ValueError("texts, labels and groups differ in length")
    n1, n0 = int((y == 1).sum()), int((y == 0).sum())
    units = list(groups) if groups is not None else [str(i) for i in range(len(y))]
    unit_label: dict[str, int] = {}
    for u, label in zip(units, y):
        if unit_label.setdefault(u, int(label)) != label:
            raise ValueError(f"group {u!r} holds both members and non-members")
    per_class = [sum(1 for v in unit_label.values() if v == c) for c in (1, 0)]
    what = "groups" if groups is not None else "documents"
    if min(per_class) < folds:
        raise ValueError(f"{folds}-fold cross-validation needs at least {folds} {what} of each class; got {per_class[0]} and {per_class[1]}")
    rng = np.random.default_rng(seed)
    fold_of_unit: dict[str, int] = {}
    for label in (0, 1):  # stratified: each class's units dealt round-robin over the folds after a shuffle
        names = [u for u, v in unit_label.items() if v == label]
        for k, j in enumerate(rng.permutation(len(names))):
            fold_of_unit[names[j]] = k % folds
    fold_of = np.array([fold_of_unit[u] for u in units])
    feats = [features(t) for t in texts]
    scores = np.empty(len(y))
    for f in range(folds):
        test = np.flatnonzero(fold_of == f)
        train = np.flatnonzero(fold_of != f)
        scores[test] = _fit_predict([feats[i] for i in train], y[train], [feats[i] for i in test], min_count)
    return BaselineResult(
        auroc=metrics.auroc(y, scores),
        ci=metrics.bootstrap_ci(y, scores, "auroc", n_resamples=n_bootstrap, seed=seed),
        n_members=n1,
        n_nonmembers=n0,
        folds=folds,
        scores=scores.tolist(),
        grouped=groups is not None,
    )
