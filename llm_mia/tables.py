"""Tables and cells, one implementation for every report (eval, bench, check, the benchmark
scripts): a value with its confidence interval, a TPR at an FPR budget with its ``(!)`` flag,
a p-value, and the same rows as an aligned terminal table or a Markdown table."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .evaluation import DetectorEvaluation, EvaluationReport, TprAtFpr

NA = "n/a"
TOO_FEW_FLAG = " (!)"
"""Marks a TPR whose FPR budget allows no false positive with this many non-members."""


def with_ci(value: float, ci: Sequence[float], digits: int = 3) -> str:
    """``0.612 [0.551, 0.670]``."""
    return f"{value:.{digits}f} [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"


def auroc_cell(row: DetectorEvaluation) -> str:
    """The AUROC with its CI, or ``n/a`` when it could not be computed."""
    return NA if row.auroc is None or row.auroc_ci is None else with_ci(row.auroc, row.auroc_ci)


def tpr_cell(t: TprAtFpr, ci: bool = True) -> str:
    """``12.0% [3.1, 20.0]`` (percent), with :data:`TOO_FEW_FLAG` when the budget allows no
    false positive (the figure is then the TPR at FPR 0)."""
    cell = f"{100 * t.tpr:.1f}%" + (f" [{100 * t.ci[0]:.1f}, {100 * t.ci[1]:.1f}]" if ci else "")
    return cell + (TOO_FEW_FLAG if t.too_few_nonmembers else "")


def percent(budget: float) -> str:
    """An FPR budget as a percentage: ``1%``, ``0.1%``."""
    return f"{100 * budget:g}%"


def p_value(p: float | None) -> str:
    """``0.012``; ``3.40e-05`` below 0.001; ``n/a`` for None."""
    if p is None:
        return NA
    return f"{p:.2e}" if p < 1e-3 else f"{p:.3f}"


def detector_cells(row: DetectorEvaluation, budgets: Sequence[float], tpr_ci: bool = True) -> list[str]:
    """AUROC [CI] and one TPR cell per FPR budget (``n/a`` when no metric could be computed)."""
    if row.auroc is None:
        return [NA] * (1 + len(budgets))
    return [auroc_cell(row)] + [tpr_cell(t, tpr_ci) for t in row.tpr]


def metric_headers(budgets: Iterable[float], tpr_ci: bool = True) -> list[str]:
    return ["AUROC [95% CI]"] + [f"TPR@{percent(b)}FPR" + (" [CI]" if tpr_ci else "") for b in budgets]


def too_few_notes(reports: Iterable[EvaluationReport]) -> list[str]:
    """One footnote per number of non-members for which a flagged budget allows no false positive."""
    flagged = sorted({(r.n_nonmembers, t.budget) for rep in reports for r in rep.rows for t in r.tpr if t.too_few_nonmembers})
    notes = []
    for n0 in sorted({n for n, _ in flagged}):
        budgets = ", ".join(percent(b) for n, b in flagged if n == n0)
        notes.append(
            f"{TOO_FEW_FLAG.strip()} with {n0} non-members an FPR of {budgets} allows no false positive: the figure is "
            f"the TPR at FPR 0; too few non-members for that budget to mean much."
        )
    return notes


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
