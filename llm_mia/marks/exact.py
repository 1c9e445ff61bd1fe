"""The marks test: are the published marks more familiar to the model than the secret ones?

Every mark, published and secret, is scored alone (from the tokenizer's start token) by one
detector: ``loss`` (minus the mean token loss) or, with a reference model, ``ref`` (the
reference model's loss minus the target's). Higher = more familiar. The statistic is

    T(S) = mean_{i in S} s_i - mean_{i not in S} s_i

for the published set S. Its p-value is the share of equally likely choices S' (the ``m``-subsets
of the N candidates, one of which the manifest's seed drew uniformly) with T(S') >= T(S): by
enumeration of all C(N, m) subsets where there are at most ``ENUMERATE`` of them, else from B
uniform random subsets with the +1 correction, ``p = (1 + #{b: T(S_b) >= T(S)}) / (1 + B)``
(Phipson and Smyth 2010). If the model never trained on text carrying the published marks,
the scores do not depend on which marks were published, S is exchangeable with S', and the
p-value is exact (enumeration) or valid (Monte Carlo: P(p <= a) <= a), whatever the model, the
design or the text the marks were placed in: the randomization test of the random choice
itself, as STAMP's design permits (Rastogi, Maini and Pruthi, ICML 2025) though its own test is a
t-test. A mark the model cannot score is left out, with the choice restricted to the rest (the
failure does not depend on which marks were published). What it cannot show: marks never
published, or published where no crawler read them, leave nothing to find.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..backends import DEFAULT_MODEL
from ..errors import InputError, at_least
from ..pipeline import RunOptions, open_run
from ..types import STATUS_OK, Document
from .manifest import Manifest, regenerated

ENUMERATE = 100_000
"""At most this many subsets: the p-value counts every one (exact); more: Monte Carlo."""
DEFAULT_DRAWS = 9_999
TIE = 1e-12


@dataclass(frozen=True)
class MarkScore:
    index: int
    published: bool
    score: float | None
    reason: str | None = None


@dataclass(frozen=True)
class MarkTest:
    """The test's numbers: each mark's score, the statistic, the p-value and how it was computed."""

    statistic: str
    """The detector whose score compares the marks (``loss`` or ``ref``)."""
    scores: list[MarkScore]
    published_mean: float
    secret_mean: float
    p_value: float
    method: str
    """``enumeration`` (every subset counted: exact) or ``monte carlo`` (random subsets, +1)."""
    n_subsets: int
    """Subsets counted (enumeration), or drawn (Monte Carlo)."""
    ranks: list[float]
    """Each published mark's share of the secret marks that score lower (ties count half): 0.5 on average when nothing is found."""
    alpha: float = 0.05
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def effect(self) -> float:
        return self.published_mean - self.secret_mean

    @property
    def n_published(self) -> int:
        return sum(1 for s in self.scores if s.published and s.score is not None)

    @property
    def n_secret(self) -> int:
        return sum(1 for s in self.scores if not s.published and s.score is not None)

    @property
    def mean_rank(self) -> float:
        return float(np.mean(self.ranks)) if self.ranks else math.nan

    @property
    def min_p(self) -> float:
        """The smallest p-value the method could give."""
        return 1.0 / self.n_subsets if self.method == "enumeration" else 1.0 / (self.n_subsets + 1)

    @property
    def significant(self) -> bool:
        return self.p_value < self.alpha


def permutation_p(scores: np.ndarray, published: np.ndarray, *, n_draws: int = DEFAULT_DRAWS, seed: int = 0) -> tuple[float, str, int]:
    """(p-value, method, subsets) of T for the boolean mask ``published`` over ``scores``
    (see the module docstring). Only the mean of the published scores varies with the subset
    (the total is fixed), so subsets are compared by their sum."""
    n, m = len(scores), int(published.sum())
    if not 1 <= m < n:
        raise InputError(f"the test needs published and secret marks; there are {m} of {n} published")
    observed = float(scores[published].sum())
    tol = TIE * max(1.0, abs(observed))
    total = math.comb(n, m)
    if total <= ENUMERATE:
        sums = np.fromiter((scores[list(c)].sum() for c in itertools.combinations(range(n), m)), dtype=float, count=total)
        return float((sums >= observed - tol).sum() / total), "enumeration", total
    at_least("n_draws", n_draws, 1)
    rng = np.random.default_rng(seed)
    hits, done, chunk = 0, 0, max(1, 2_000_000 // n)
    while done < n_draws:
        k = min(chunk, n_draws - done)
        picks = np.argpartition(rng.random((k, n)), m - 1, axis=1)[:, :m]  # a uniform m-subset per row
        hits += int((scores[picks].sum(axis=1) >= observed - tol).sum())
        done += k
    return (1 + hits) / (1 + n_draws), "monte carlo", n_draws


def mark_test(
    manifest: Manifest,
    model: Any = DEFAULT_MODEL,
    *,
    alpha: float = 0.05,
    n_draws: int = DEFAULT_DRAWS,
    seed: int = 0,
    options: RunOptions | None = None,
    **changes: Any,
) -> MarkTest:
    """Score every mark of ``manifest`` with ``model`` (a spec, a loaded model or a backend)
    and test (module docstring). The run's options are ``options`` with ``changes``
    (:class:`~llm_mia.pipeline.RunOptions`): with a ``reference_model`` the statistic is the
    ``ref`` detector, else ``loss``; ``detectors`` cannot be chosen. The marks are never put in
    the statistics cache (it would keep the secret ones on disk, readable by others).

    Raises :class:`InputError` before scoring for a mark longer than the model (or the reference
    model) scores at once, and for ``words`` or ``chars`` marks that the manifest's seed does not
    give again with the same tokenizer (:func:`~llm_mia.marks.manifest.regenerated`: a manifest
    rewritten, commitment and all)."""
    if not 0 < alpha < 1:
        raise InputError(f"alpha must lie between 0 and 1, not {alpha}")
    opts = RunOptions.build(options, **changes)
    if opts.detectors:
        raise InputError("the marks test scores every mark with one statistic (loss, or ref with a reference model); detectors cannot be chosen")
    statistic = "ref" if opts.reference_model is not None else "loss"
    run = open_run(model, options=replace(opts, detectors=[statistic], use_cache=False), seed=seed)
    scorer = run.scorer()
    lengths = [len(ids) for ids in scorer.tokenize([m.text for m in manifest.marks])]
    for role in ("target", "reference") if run.reference is not None else ("target",):
        limit = run.scorer(role).max_tokens
        if max(lengths) > limit:
            worst = manifest.marks[int(np.argmax(lengths))]
            raise InputError(f"mark {worst.index} has {max(lengths)} tokens, more than the {role} model scores at once ({limit}); make shorter marks")
    changed = regenerated(manifest, scorer.backend)
    if changed:
        raise InputError(
            f"{len(changed)} of the manifest's marks (e.g. mark {changed[0]}) are not the ones its seed gives: the manifest was "
            "rewritten after the marks were made, and a test on it would not be exact"
        )
    docs = [Document(f"mark-{m.index}", m.text) for m in manifest.marks]
    records = run.score(docs).records
    scores = [
        MarkScore(
            m.index,
            m.published,
            r.scores.get(statistic) if r.status == STATUS_OK else None,
            None if r.status == STATUS_OK and r.scores.get(statistic) is not None else str(r.reason or r.notes.get(statistic, "no score")),
        )
        for m, r in zip(manifest.marks, records)
    ]
    failed = [s for s in scores if s.score is None]
    if failed and (all(s.published for s in scores if s.score is not None) or not any(s.published for s in scores if s.score is not None)):
        raise InputError(
            f"{len(failed)} mark(s) could not be scored (e.g. mark {failed[0].index}: {failed[0].reason}), "
            "which leaves no published or no secret mark to compare"
        )
    kept = [s for s in scores if s.score is not None]
    values = np.array([s.score for s in kept], dtype=float)
    mask = np.array([s.published for s in kept])
    p, method, n_subsets = permutation_p(values, mask, n_draws=n_draws, seed=seed)
    secret = values[~mask]
    ranks = [float(((secret < v).sum() + 0.5 * (secret == v).sum()) / secret.size) for v in values[mask]]
    return MarkTest(
        statistic=statistic,
        scores=scores,
        published_mean=float(values[mask].mean()),
        secret_mean=float(secret.mean()),
        p_value=float(p),
        method=method,
        n_subsets=n_subsets,
        ranks=ranks,
        alpha=alpha,
        provenance={**run.provenance(), "manifest": {"design": manifest.design, "commitment": manifest.commitment, "marks": len(manifest.marks)}},
    )
