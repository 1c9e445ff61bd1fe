"""The detector interface and registry.

A detector turns already computed statistics into one membership score per document;
it never calls a model. Higher score = more likely a member. A detector declares the
*views* it needs; the pipeline computes each needed view once per document:

- ``target``: the text under the model under test;
- ``target_lower``: the lowercased text under the model under test;
- ``reference``: the text under the reference model.

Adding a detector is one file with one decorated class (see ``loss.py``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..registry import Registry
from ..types import TokenStats

TARGET = "target"
TARGET_LOWER = "target_lower"
REFERENCE = "reference"


class DetectorSkip(Exception):
    """Raised by a detector that cannot score this document; the message is the reason."""


@dataclass(frozen=True)
class DetectorInput:
    """What a detector sees for one document: its text and the statistics of each view."""

    text: str
    stats: Mapping[str, TokenStats]


@dataclass(frozen=True)
class Detector:
    """Base class. Subclasses set the class variables and implement :meth:`score`."""

    name: ClassVar[str]
    formula: ClassVar[str]
    citation: ClassVar[str]
    needs: ClassVar[frozenset[str]] = frozenset({TARGET})

    def score(self, inp: DetectorInput) -> float:
        raise NotImplementedError


DETECTORS: Registry[type[Detector]] = Registry("detector")


def register(cls: type[Detector]) -> type[Detector]:
    """Class decorator: make a detector available by its ``name``."""
    DETECTORS.add(cls.name, cls)
    return cls


def make_detector(name: str, **params: Any) -> Detector:
    """An instance of detector ``name``; only the parameters it declares are passed on."""
    cls = DETECTORS.get(name)
    accepted = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in params.items() if k in accepted and v is not None})


def default_detector_names() -> list[str]:
    """Every detector that needs no model besides the one under test."""
    return [name for name, cls in DETECTORS.items() if REFERENCE not in cls.needs]


def mean_nll(stats: TokenStats) -> float:
    """Mean negative log-likelihood (nats per scored token)."""
    return float(-np.mean(stats.logprobs, dtype=np.float64))


def lowest_mean(values: np.ndarray, k: float) -> float:
    """Mean of the ``max(1, floor(k * n))`` smallest of the n values."""
    n = values.shape[0]
    m = max(1, int(np.floor(k * n + 1e-9)))
    return float(np.mean(np.partition(values.astype(np.float64), m - 1)[:m]))


def check_fraction(k: float) -> None:
    if not 0.0 < k <= 1.0:
        raise ValueError(f"k must be in (0, 1]; got {k}")
