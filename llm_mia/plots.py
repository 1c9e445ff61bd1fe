"""PNG plots of score records: ROC curves with log-scaled axes, and score histograms.

The low-FPR region is what matters for a claim of membership, so the ROC plot uses a log
false-positive axis (and a log true-positive axis), from 1/n0 to 1; the diagonal is chance.
Needs matplotlib (``pip install 'llm-mia[plots]'``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .metrics import auroc, roc_curve
from .types import STATUS_OK, ScoreRecord


def _labelled(records: Sequence[ScoreRecord], name: str) -> tuple[np.ndarray, np.ndarray]:
    pairs = [(r.label, r.scores.get(name)) for r in records if r.status == STATUS_OK and r.label in (0, 1)]
    pairs = [(y, s) for y, s in pairs if s is not None and np.isfinite(s)]
    return np.array([y for y, _ in pairs], dtype=int), np.array([s for _, s in pairs], dtype=float)


def _pyplot():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_roc(records: Sequence[ScoreRecord], path: str | Path, *, title: str = "") -> Path:
    """One ROC curve per detector, log-log axes, saved as PNG."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    floor = 1.0
    for name in dict.fromkeys(n for r in records for n in r.scores):
        y, s = _labelled(records, name)
        if y.size == 0 or y.min() == y.max():
            continue
        fpr, tpr, _ = roc_curve(y, s)
        floor = min(floor, 1.0 / max(1, int((y == 0).sum())))
        ax.step(np.maximum(fpr, floor / 2), np.maximum(tpr, floor / 2), where="post", label=f"{name} ({auroc(y, s):.3f})")
    ax.plot([floor / 2, 1], [floor / 2, 1], "k:", lw=1, label="chance")
    ax.set(xscale="log", yscale="log", xlim=(floor / 2, 1), ylim=(floor / 2, 1.05))
    ax.set_xlabel("false-positive rate (log)")
    ax.set_ylabel("true-positive rate (log)")
    ax.set_title(title or "ROC", fontsize=10)
    ax.legend(fontsize=7, title="detector (AUROC)", title_fontsize=7, loc="lower right")
    return _save(fig, path, plt)


def plot_histograms(records: Sequence[ScoreRecord], path: str | Path, *, title: str = "") -> Path:
    """Member and non-member score histograms, one panel per detector, saved as PNG."""
    plt = _pyplot()
    names = list(dict.fromkeys(n for r in records for n in r.scores))
    fig, axes = plt.subplots(1, max(1, len(names)), figsize=(3.2 * max(1, len(names)), 2.8), squeeze=False)
    for ax, name in zip(axes[0], names):
        y, s = _labelled(records, name)
        if s.size:
            bins = np.histogram_bin_edges(s, bins=30)
            ax.hist(s[y == 0], bins=bins, alpha=0.6, label="non-members", density=True)
            ax.hist(s[y == 1], bins=bins, alpha=0.6, label="members", density=True)
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=7)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(title or "scores (higher = more likely member)", fontsize=10)
    return _save(fig, path, plt)


def _save(fig, path: str | Path, plt) -> Path:  # type: ignore[no-untyped-def]
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(target, dpi=120)
    plt.close(fig)
    return target
