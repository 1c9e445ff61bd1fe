"""Small inline SVG charts for the self-contained HTML reports (no script, no network)."""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np


def histogram_svg(groups: Sequence[tuple[np.ndarray, str]], title: str, *, xlabel: str = "score (higher = member)", width: int = 300, height: int = 170) -> str:
    """Overlaid density histograms of ``(values, colour)`` groups on shared bins (20 over the
    range of all values); empty when there are no values."""
    arrays = [np.asarray(v, dtype=float) for v, _ in groups]
    both = np.concatenate(arrays) if arrays else np.zeros(0)
    if both.size == 0:
        return ""
    lo, hi = float(both.min()), float(both.max())
    if hi <= lo:
        hi = lo + 1.0
    edges = np.linspace(lo, hi, 21)
    pad = 20
    dens = [np.histogram(x, bins=edges, density=True)[0] if x.size else np.zeros(20) for x in arrays]
    top = max(float(d.max()) for d in dens) or 1.0
    bw = (width - 2 * pad) / 20
    bars = []
    for d, (_, color) in zip(dens, groups):
        for i, v in enumerate(d):
            h = (height - 2 * pad) * v / top
            bars.append(f"<rect x='{pad + i * bw:.1f}' y='{height - pad - h:.1f}' width='{bw:.1f}' height='{h:.1f}' fill='{color}' fill-opacity='0.45'/>")
    label = (
        f"<line x1='{pad}' y1='{height - pad}' x2='{width - pad}' y2='{height - pad}' stroke='#888'/>"
        f"<line x1='{pad}' y1='{pad}' x2='{pad}' y2='{height - pad}' stroke='#888'/>"
        f"<text x='{pad}' y='{height - 6}' font-size='10'>{lo:.3g}</text>"
        f"<text x='{width - pad}' y='{height - 6}' font-size='10' text-anchor='end'>{hi:.3g}</text>"
        f"<text x='{width / 2}' y='{height - 6}' font-size='10' text-anchor='middle'>{html.escape(xlabel)}</text>"
        f"<text x='10' y='{height / 2}' font-size='10' text-anchor='middle' transform='rotate(-90 10 {height / 2})'>density</text>"
        f"<text x='{width / 2}' y='13' font-size='12' text-anchor='middle'>{html.escape(title)}</text>"
    )
    return f"<svg width='{width}' height='{height}' role='img' aria-label='{html.escape(title)} histogram'>{''.join(bars)}{label}</svg>"
