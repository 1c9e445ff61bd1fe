"""Scoring backends: what runs a model for the scorer (see :mod:`llm_mia.backends.base`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import CAPABILITY_WORDS, GRADIENT, LOGPROBS, MOMENTS, TOP1, ScoringBackend
from .mock import MockBackend

if TYPE_CHECKING:
    from ..models import LoadedModel
    from ..scoring import ScorerConfig

__all__ = ["CAPABILITY_WORDS", "GRADIENT", "LOGPROBS", "MOMENTS", "TOP1", "MockBackend", "ScoringBackend", "as_backend"]


def as_backend(model: LoadedModel | ScoringBackend, config: ScorerConfig) -> ScoringBackend:
    """``model`` itself when it is a backend; a loaded Hugging Face model behind :class:`HFBackend`."""
    from ..models import LoadedModel

    if isinstance(model, LoadedModel):
        from .hf import HFBackend

        return HFBackend(model, config)
    return model
