"""Pieces shared by the command-line modules: option types, the scorer settings, detector lists."""

from __future__ import annotations

import argparse

from .errors import LlmMiaError
from .scoring import ScorerConfig

DEFAULTS = ScorerConfig()
DETECTORS_HELP = (
    "comma-separated detectors, each a name or name:param=value[:param=value] "
    "(e.g. loss,min_k:k=0.1,min_k:k=0.3; see llm-mia detectors; default: every detector that needs no extra model)"
)


def _count(minimum: int):  # type: ignore[no-untyped-def]
    """An argparse type: a whole number of at least ``minimum``."""

    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, not {value!r}") from None
        if number < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, not {number}")
        return number

    return parse


SEED = _count(0)
POSITIVE = _count(1)


def _names(value: str | None) -> list[str] | None:
    """A comma-separated option as a list of names (None when not given; an error when it
    names nothing, such as ``--detectors ,``)."""
    if value is None:
        return None
    names = [d.strip() for d in value.split(",") if d.strip()]
    if not names:
        raise LlmMiaError(f"--detectors {value!r} names no detector (see llm-mia detectors)")
    return names


def _scorer_config(args: argparse.Namespace) -> ScorerConfig:
    """The scorer settings of score, bench and check (``--stride`` where the command has it)."""
    try:
        return ScorerConfig(max_tokens=args.max_tokens, stride=getattr(args, "stride", None), batch_size=args.batch_size)
    except ValueError as exc:
        raise LlmMiaError(str(exc)) from None
