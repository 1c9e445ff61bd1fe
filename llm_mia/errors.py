"""Exceptions with messages meant for the user (the command line prints them without a traceback)."""

from __future__ import annotations

import re
from collections.abc import Mapping


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


class SettingError(InputError, ValueError):
    """A setting that cannot take the value given. ``setting`` is its name in the Python API
    (``max_tokens``); ``problem`` says what is wrong and may name other settings as
    ``{name}``. The command line shows each setting as its flag (``--max-tokens``)."""

    def __init__(self, setting: str, problem: str) -> None:
        self.setting, self.problem = setting, problem
        super().__init__(self.message())

    def message(self, names: Mapping[str, str] | None = None) -> str:
        """The message with each setting called by ``names`` (for example the flags), else by its own name."""
        return (names or {}).get(self.setting, self.setting) + " " + name_settings(self.problem, names)


def name_settings(text: str, names: Mapping[str, str] | None = None) -> str:
    """``text`` with each ``{setting}`` written as ``names`` calls it (the command line: its
    flag, ``--stride``; Python: ``ScorerConfig(stride=...)``), else by its own name."""
    return re.sub(r"\{(\w+)\}", lambda m: (names or {}).get(m.group(1), m.group(1)), text)


def require(ok: bool, setting: str, problem: str) -> None:
    """Raise :class:`SettingError` (``setting``, ``problem``) unless ``ok``."""
    if not ok:
        raise SettingError(setting, problem)


def at_least(setting: str, value: object, minimum: int) -> None:
    """``value`` must be a whole number of at least ``minimum``."""
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= minimum
    require(ok, setting, f"must be a whole number of at least {minimum}, not {value!r}")


class ScoringError(LlmMiaError):
    """The model keeps failing (for example a broken device): the run cannot go on."""


class BackendUnavailable(ScoringError):
    """A served model that does not answer, after retries: the run stops (finished texts are
    cached). The command line exits 4. ``problem`` may name the retry window's setting as
    ``{server_wait}`` and one request's timeout as ``{request_timeout}``; the command line shows
    them as their flags (``--server-wait``, ``--request-timeout``)."""

    def __init__(self, problem: str) -> None:
        self.problem = problem
        super().__init__(self.message())

    def message(self, names: Mapping[str, str] | None = None) -> str:
        """The message with the setting called by ``names`` (for example the flags), else by its own name."""
        text = self.problem
        for setting in ("server_wait", "request_timeout"):
            text = text.replace("{" + setting + "}", (names or {}).get(setting, setting))
        return text


class UntrustedServer(ScoringError):
    """A served model that answered with impossible statistics (NaN, infinite or positive
    log-probabilities, a negative variance, ...): the run stops and keeps none of its answers."""


class EvaluationError(LlmMiaError):
    """Scores that cannot be evaluated (for example, a single-class label set)."""
