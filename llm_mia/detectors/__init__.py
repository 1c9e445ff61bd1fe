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
    check_finite,
    default_detector_names,
    detector_listing,
    make_detector,
    mean_nll,
    parse_detector,
    register,
    uses_reference_model,
)

from . import loss, zlib_ratio, lowercase, min_k, reference  # noqa: F401, I001  (registration, in this order)
from .base import REFERENCE_NEED, parameter_fields, parameter_problem
from .camia import above_running_mean, lempel_ziv_phrases, quantised
from .dc_pdd import dc_pdd_score, first_occurrences
from .gap_k import window_means
from .min_k import DEFAULT_K
from .recall import SEPARATOR

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    if _module != "base":
        importlib.import_module(f"{__name__}.{_module}")

__all__ = [
    "DEFAULT_K",
    "DETECTORS",
    "GROUPS",
    "REFERENCE",
    "REFERENCE_NEED",
    "SEPARATOR",
    "TARGET",
    "TARGET_LOWER",
    "Detector",
    "DetectorInput",
    "DetectorSkip",
    "View",
    "above_running_mean",
    "dc_pdd_score",
    "check_finite",
    "default_detector_names",
    "detector_listing",
    "first_occurrences",
    "lempel_ziv_phrases",
    "make_detector",
    "mean_nll",
    "parameter_fields",
    "parameter_problem",
    "parse_detector",
    "quantised",
    "register",
    "uses_reference_model",
    "window_means",
]
