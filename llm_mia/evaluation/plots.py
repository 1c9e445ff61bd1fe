"""Plots of score records: ROC curves with log-scaled axes, and score histograms.

The low-FPR region is what matters for a claim of membership, so the ROC plot uses a log
false-positive axis (and a log true-positive axis), from 1/n0 to 1; the diagonal is chance
(a straight line on log-log axes, since TPR = FPR there).

``roc_figure`` and ``histogram_figure`` draw on the axes given (or on a new figure) and return
the figure, without touching matplotlib's backend, so they show inline in a notebook;
``plot_roc`` and ``plot_histograms`` write a PNG. Needs matplotlib (``pip install 'llm-mia[plots]'``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..types import STATUS_OK, ScoreRecord
from .metrics import auroc, roc_curve


def _labelled(records: Sequence[ScoreRecord], name: str) -> tuple[np.ndarray, np.ndarray]:
    pairs = [(r.label, r.scores.get(name)) for r in records if r.status == STATUS_OK and r.label in (0, 1)]
    pairs = [(y, s) for y, s in pairs if s is not None and np.isfinite(s)]
    return np.array([y for y, _ in pairs], dtype=int), np.array([s for _, s in pairs], dtype=float)


def _axes(ax: Any, n: int, size: tuple[float, float]) -> list[Any]:
    """``n`` axes: the ones given (one Axes, or a sequence), or those of a new figure (made
    without pyplot, so no backend is chosen and nothing is kept open)."""
    if ax is not None:
        axes = list(np.ravel(ax))
        if len(axes) < n:
            raise ValueError(f"{n} axes are needed, {len(axes)} were given")
        return axes
    from matplotlib.figure import Figure

    fig = Figure(figsize=size)
    return list(np.ravel(fig.subplots(1, n, squeeze=False)))


def roc_figure(records: Sequence[ScoreRecord], ax: Any = None, *, title: str = "") -> Any:
    """One ROC curve per detector on log-log axes (``ax``, or a new figure); returns the figure."""
    (ax,) = _axes(ax, 1, (5.5, 4.5))
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
    return ax.figure


def histogram_figure(records: Sequence[ScoreRecord], axes: Any = None, *, title: str = "") -> Any:
    """Member and non-member score histograms, one panel per detector (``axes``, or a new
    figure); returns the figure."""
    names = list(dict.fromkeys(n for r in records for n in r.scores))
    panels = _axes(axes, max(1, len(names)), (3.2 * max(1, len(names)), 2.8))
    for ax, name in zip(panels, names):
        y, s = _labelled(records, name)
        if s.size:
            bins = np.histogram_bin_edges(s, bins=30)
            ax.hist(s[y == 0], bins=bins, alpha=0.6, label="non-members", density=True)
            ax.hist(s[y == 1], bins=bins, alpha=0.6, label="members", density=True)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("score (higher = member)", fontsize=7)
        ax.set_ylabel("density", fontsize=7)
        ax.tick_params(labelsize=7)
    panels[0].legend(fontsize=7)
    fig = panels[0].figure
    fig.suptitle(title or "scores (higher = more likely member)", fontsize=10)
    return fig


def plot_roc(records: Sequence[ScoreRecord], path: str | Path, *, title: str = "") -> Path:
    """:func:`roc_figure` saved as a PNG at ``path``."""
    return _save(roc_figure(records, title=title), path)


def plot_histograms(records: Sequence[ScoreRecord], path: str | Path, *, title: str = "") -> Path:
    """:func:`histogram_figure` saved as a PNG at ``path``."""
    return _save(histogram_figure(records, title=title), path)


def _save(fig: Any, path: str | Path) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(target, dpi=120)
    return target
