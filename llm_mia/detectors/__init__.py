"""Membership detectors: one file per family, each registered by name."""

# import order = registration order = the order of columns and table rows
from . import loss, zlib_ratio, lowercase, min_k, reference  # noqa: F401, I001  (registration)
from .base import (
    DETECTORS,
    REFERENCE,
    TARGET,
    TARGET_LOWER,
    Detector,
    DetectorInput,
    DetectorSkip,
    default_detector_names,
    make_detector,
    register,
)

__all__ = [
    "DETECTORS",
    "REFERENCE",
    "TARGET",
    "TARGET_LOWER",
    "Detector",
    "DetectorInput",
    "DetectorSkip",
    "default_detector_names",
    "make_detector",
    "register",
]
