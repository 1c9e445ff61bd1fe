"""Exceptions with messages meant for the user (the command line prints them without a traceback)."""

from __future__ import annotations


class LlmMiaError(Exception):
    """Base class: the message says what went wrong and what to do about it."""


class UnknownNameError(LlmMiaError, KeyError):
    """A detector, model alias or other registered name that does not exist."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ModelLoadError(LlmMiaError):
    """A model spec that cannot be resolved or a model file that cannot be read."""


class InputError(LlmMiaError):
    """An input file or option that cannot be used at all (per-row problems become statuses)."""


class ScoringError(LlmMiaError):
    """The model keeps failing (for example a broken device): the run cannot go on."""


class EvaluationError(LlmMiaError):
    """Scores that cannot be evaluated (for example, a single-class label set)."""
