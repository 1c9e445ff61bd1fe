"""Tables and cells, one implementation for every report (eval, bench, check, the benchmark
scripts): a value with its confidence interval, an FPR budget, a p-value, and the same rows as
an aligned terminal, HTML or Markdown table. A leaf: the cells of an evaluation's rows (which know
its record types) are in :mod:`~llm_mia.evaluation.evaluator`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

NA = "n/a"
TOO_FEW_FLAG = " (!)"
"""Marks a TPR whose FPR budget allows no false positive with this many non-members."""


def with_ci(value: float, ci: Sequence[float], digits: int = 3) -> str:
    """``0.612 [0.551, 0.670]``."""
    return f"{value:.{digits}f} [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"


def percent(budget: float) -> str:
    """An FPR budget as a percentage: ``1%``, ``0.1%``."""
    return f"{100 * budget:g}%"


def p_value(p: float | None) -> str:
    """``0.012``; ``3.40e-05`` below 0.001; ``n/a`` for None."""
    if p is None:
        return NA
    return f"{p:.2e}" if p < 1e-3 else f"{p:.3f}"


def metric_headers(budgets: Iterable[float], tpr_ci: bool = True) -> list[str]:
    return ["AUROC [95% CI]"] + [f"TPR@{percent(b)}FPR" + (" [CI]" if tpr_ci else "") for b in budgets]


def text_table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns aligned with spaces, a dashed rule under the header."""
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()

    return "\n".join([line(head), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def html_table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """An HTML table (cells escaped)."""
    import html

    def line(tag: str, cells: Sequence[str]) -> str:
        return "<tr>" + "".join(f"<{tag}>{html.escape(c)}</{tag}>" for c in cells) + "</tr>"

    return "<table>" + line("th", head) + "".join(line("td", r) for r in rows) + "</table>"


def markdown_table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub Markdown table (``|`` inside a cell is escaped)."""

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(head), "|" + "---|" * len(head), *(line(r) for r in rows)])
