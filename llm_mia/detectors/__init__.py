"""Membership detectors: one file per family, each registered by name.

Every module of this folder is imported, so a new detector is one new file. The built-in
families come first, in the order of the import line below (the order of columns and table rows);
any other module follows in name order.
"""

import importlib
import pkgutil

from .base import (
    DETECTORS,
    GROUPS,
    REFERENCE,
    TARGET,
    TARGET_LOWER,
    Detector,
    DetectorInput,
    DetectorSkip,
    View,
    default_detector_names,
    detector_listing,
    make_detector,
    mean_nll,
    parse_detector,
    register,
    uses_reference_model,
)

from . import loss, zlib_ratio, lowercase, min_k, reference  # noqa: F401, I001  (registration, in this order)

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    if _module != "base":
        importlib.import_module(f"{__name__}.{_module}")

__all__ = [
    "DETECTORS",
    "GROUPS",
    "REFERENCE",
    "TARGET",
    "TARGET_LOWER",
    "Detector",
    "DetectorInput",
    "DetectorSkip",
    "View",
    "default_detector_names",
    "detector_listing",
    "make_detector",
    "mean_nll",
    "parse_detector",
    "register",
    "uses_reference_model",
]
