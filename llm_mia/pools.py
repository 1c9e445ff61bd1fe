"""Held-out pools of labelled texts, for detectors that condition on texts of known membership
(ReCaLL's non-member prefix, Con-ReCall's member and non-member prefixes).

Research code often draws such prefixes from the very texts it then scores, which leaks the
labels into the scores. Here a run draws one seeded pool from its own labelled documents (in
a check: from the reference texts only), binds every such detector to it, and scores no pool
text with any detector: each pool document becomes "skipped" with the reason code
``prefix_pool``, so that every row of a table is computed on the same documents and none of
them is part of a prefix.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .detectors import Detector
from .errors import InputError
from .types import Document, Reason

KIND = {0: "non-member", 1: "member"}


def pool_needs(detectors: Sequence[Detector]) -> dict[int, int]:
    """For each label, the most texts that one of ``detectors`` conditions on."""
    needs: dict[int, int] = {}
    for d in detectors:
        for label, n in d.pool_needs().items():
            needs[label] = max(needs.get(label, 0), n)
    return needs


def draw_pool(
    docs: Sequence[Document], needs: dict[int, int], *, seed: int = 0, eligible: Sequence[bool] | None = None, where: str = "the input"
) -> dict[int, list[int]]:
    """Indices of the pool documents, by label: for each label in ``needs`` (in label order),
    a seeded random draw of that many usable documents (text present, no error) with that
    label, among the ``eligible`` ones (default: all). Raises :class:`InputError` when there
    are too few."""
    rng = np.random.default_rng(seed)
    pool: dict[int, list[int]] = {}
    for label in sorted(needs):
        candidates = [i for i, d in enumerate(docs) if d.label == label and d.error is None and d.text and d.text.strip() and (eligible is None or eligible[i])]
        want = needs[label]
        if len(candidates) < want:
            raise InputError(
                f"{want} labelled {KIND[label]} text(s) are needed as a prefix (detectors that use labelled texts); "
                f"{where} has {len(candidates)} usable ones. Lower the detector's shots, give known non-members in a file "
                f"(recall:prefix_file=PATH), or leave the detector out"
            )
        order = rng.permutation(len(candidates))[:want]
        pool[label] = [candidates[j] for j in order]
    return pool


def hold_out(
    docs: Sequence[Document],
    detectors: Sequence[Detector],
    *,
    seed: int = 0,
    eligible: Sequence[bool] | None = None,
    where: str = "the input",
    groups: Sequence[str] | None = None,
) -> tuple[list[Document], list[Detector], dict[int, list[str]]]:
    """The documents with the pool's marked "held out" (never scored), the detectors bound to
    the pool, and the pool's ids by label. Without a detector that uses labelled texts:
    everything unchanged and an empty pool.

    ``groups`` (one name per document: the book or paper a passage comes from): every other
    document of a pool document's group is held out too (reason code ``prefix_group``), since
    a prefix from the same book tells the model about its other passages."""
    if not any(d.uses_labels for d in detectors):
        return list(docs), list(detectors), {}
    needs = pool_needs(detectors)
    pool = draw_pool(docs, needs, seed=seed, eligible=eligible, where=where) if needs else {}
    texts = {label: [docs[i].text or "" for i in idx] for label, idx in pool.items()}
    try:
        bound = [d.bind(texts) if d.uses_labels else d for d in detectors]
    except ValueError as exc:  # a prefix file with too few texts
        raise InputError(str(exc)) from None
    users = ", ".join(d.key for d in detectors if d.uses_labels)
    reason = Reason("prefix_pool", f"held out as a prefix text of {users} (scored by no detector)")
    fixed = {t.strip() for d in bound for t in d.prefix_texts()}  # also a text of a prefix file
    held = {i for idx in pool.values() for i in idx} | {i for i, d in enumerate(docs) if d.text is not None and d.text.strip() in fixed}
    pool_groups = {groups[i] for i in held} if groups is not None else set()
    mates = {i for i in range(len(docs)) if groups is not None and groups[i] in pool_groups} - held
    mate_reason = Reason("prefix_group", f"held out: from the same book or paper as a prefix text of {users} (scored by no detector)")
    out = [
        Document(d.id, d.text, d.label, reason if i in held else mate_reason) if (i in held or i in mates) and d.error is None else d
        for i, d in enumerate(docs)
    ]
    return out, bound, {label: [docs[i].id for i in idx] for label, idx in pool.items()}
