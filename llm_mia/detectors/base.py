"""The detector interface and registry.

A detector turns already computed statistics into one membership score per document;
it never calls a model. Higher score = more likely a member. A detector declares the
*views* it needs (:mod:`llm_mia.views`: which model, a text transform, an optional context
that is conditioned on and never scored); the pipeline computes each distinct view once per
document. The common ones are ``TARGET`` (the text under the model under test),
``TARGET_LOWER`` (the lowercased text) and ``REFERENCE`` (the text under the reference
model). A detector whose views depend on its parameters overrides :meth:`Detector.views`.

Adding a detector is one file in this folder with one decorated class (see ``loss.py``):
the modules here are found and imported by ``__init__``. Its dataclass fields are its
parameters, set on every command line as ``name:param=value`` (``min_k:k=0.1``); an instance
is named in outputs by :attr:`Detector.key`.
"""

from __future__ import annotations

import dataclasses
import math
import re
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..backends import LOGPROBS, MOMENTS
from ..errors import UnknownNameError
from ..registry import Registry, did_you_mean
from ..types import TokenStats
from ..views import NAMED, REFERENCE, TARGET, TARGET_LOWER, View

__all__ = ["LOGPROBS", "MOMENTS", "REFERENCE", "TARGET", "TARGET_LOWER", "View"]  # re-exported for detector modules


BOUND: dict[str, bool] = {"bound": True}
"""Metadata of a detector field that a run sets and the user does not: the prefix that a
detector using labelled texts draws from a held-out pool (see :meth:`Detector.bind`). Such a
field is not a parameter: not settable, not in ``params`` or ``key``."""


def parameter_fields(detector: Any) -> list[dataclasses.Field[Any]]:
    """The dataclass fields of a detector class or instance that are its parameters."""
    return [f for f in dataclasses.fields(detector) if not f.metadata.get("bound")]


class DetectorSkip(Exception):
    """Raised by a detector that cannot score this document; the message is the reason."""


@dataclass(frozen=True)
class DetectorInput:
    """What a detector sees for one document: its text and the statistics of each view
    (keyed by :class:`View`; the names "target", "target_lower" and "reference" of earlier
    versions are accepted too)."""

    text: str
    stats: Mapping[View, TokenStats]

    def __post_init__(self) -> None:
        if any(isinstance(k, str) for k in self.stats):
            object.__setattr__(self, "stats", {NAMED[k] if isinstance(k, str) else k: v for k, v in self.stats.items()})


@dataclass(frozen=True)
class Detector:
    """Base class. Subclasses set the class variables and implement :meth:`score`; their
    dataclass fields (each with a default) are the detector's parameters."""

    name: ClassVar[str]
    formula: ClassVar[str]
    citation: ClassVar[str]
    needs: ClassVar[frozenset[View]] = frozenset({TARGET})
    requires: ClassVar[frozenset[str]] = frozenset({LOGPROBS})
    """What the backend must compute exactly for this detector (:mod:`llm_mia.backends.base`)."""
    default: ClassVar[bool] = True
    """Run when no detector is named (and it needs no reference model and no labelled texts).
    A new method joins the defaults once measured (benchmarks/RESULTS.md, CHECK_VALIDITY.md)."""
    cost: ClassVar[str] = "none beyond the shared forward pass over the text"
    """What the detector adds to a run, in plain words (``llm-mia detectors`` lists it)."""
    uses_labels: ClassVar[bool] = False
    """True for a detector that conditions on texts of known membership (ReCaLL's non-member
    prefix). The run draws them from a held-out pool (:meth:`pool_needs`, :meth:`bind`) and
    scores none of them, with any detector."""

    def score(self, inp: DetectorInput) -> float:
        raise NotImplementedError

    def views(self) -> frozenset[View]:
        """The views this instance needs: ``needs``, unless a subclass makes them depend on
        its parameters (a context view built from a prefix parameter, for example)."""
        return self.needs

    def pool_needs(self) -> dict[int, int]:
        """How many held-out texts of each label (1 member, 0 non-member) this instance
        conditions on; empty for a detector that uses no labelled texts."""
        return {}

    def bind(self, pool: Mapping[int, Sequence[str]]) -> Detector:
        """This detector with its prefixes taken from ``pool`` (held-out texts by label, in
        the pool's order; at least :meth:`pool_needs` of each). Others return themselves."""
        return self

    def check_models(self, models: Mapping[str, Any]) -> None:
        """Raise :class:`~llm_mia.errors.InputError` when this instance cannot be used with the
        run's backends (``models``: "target", and "reference" when there is one): a table
        built with another tokenizer, for example. Called once per run, before any scoring."""

    def prefix_texts(self) -> list[str]:
        """The texts a bound instance conditions on (none for most detectors): no document
        equal to one of them is scored."""
        return []

    @property
    def params(self) -> dict[str, Any]:
        """Every parameter of this instance, by name."""
        return {f.name: getattr(self, f.name) for f in parameter_fields(self)}

    @property
    def key(self) -> str:
        """The instance's name in outputs, and a spec that makes it again: ``name``, then
        ``:param=value`` for each parameter that differs from its default, in name order
        (``min_k``, ``min_k:k=0.1``)."""
        changed = sorted((f.name, getattr(self, f.name)) for f in parameter_fields(self) if getattr(self, f.name) != f.default)
        return self.name + "".join(f":{k}={_spell(v)}" for k, v in changed)


GROUPS = ("all", "default")
"""Names that stand for a set of detectors in a detector list (see :func:`llm_mia.pipeline.resolve_detectors`):
``all``, every detector the run can use, and ``default``, the default set."""

REFERENCE_NEED = "needs a reference model: --reference-model / reference_model="
LABELS_NEED = "labelled texts in the input, held out as a prefix"


def uses_reference_model(detector: Detector) -> bool:
    """True when one of the detector's views is of the reference model."""
    return any(v.model == "reference" for v in detector.views())


def parameter_problem(name: str) -> str | None:
    """Why detector ``name`` cannot be made with its default parameters (a parameter that has
    no usable default, such as dc_pdd's frequency table), or None when it can."""
    try:
        DETECTORS.get(name)()
    except ValueError as exc:
        return str(exc)
    return None


def _parameter_hint(name: str, problem: str) -> str:
    """The spec that a detector's message about a missing parameter shows (``dc_pdd:table=PATH``)."""
    spec = re.search(rf"\b{re.escape(name)}(?::\w+=[^\s,;)]+)+", problem)
    return spec.group(0) if spec else "a parameter without a default: see llm-mia detectors"


def detector_listing(*, reference_model: bool = False) -> str:
    """The detectors that can be named as they are (a list that works pasted into
    ``--detectors``), then what each of the others needs: "Known: loss, zlib, ... (or: all,
    default); need more: ref, wbc (--reference-model), dc_pdd (dc_pdd:table=PATH), ...".
    ``reference_model``: whether the run has one."""
    ready: list[str] = []
    more: dict[str, list[str]] = {}
    for name, cls in DETECTORS.items():
        problem = parameter_problem(name)
        if problem is not None:
            more.setdefault(_parameter_hint(name, problem), []).append(name)
        elif not reference_model and uses_reference_model(cls()):
            more.setdefault("--reference-model", []).append(name)
        elif cls.uses_labels:
            more.setdefault(LABELS_NEED, []).append(name)
        else:
            ready.append(name)
    need = ", ".join(f"{', '.join(names)} ({what})" for what, names in more.items())
    return f"Known: {', '.join(ready)} (or: {', '.join(GROUPS)})" + (f"; need more: {need}." if need else ".")


class DetectorRegistry(Registry[type[Detector]]):
    """The detector registry: an unknown name is answered with the names that can be used as
    they are and what the others need (:func:`detector_listing`), and ``all`` and ``default``
    count as names for "did you mean"."""

    def unknown_message(self, name: str, *, reference_model: bool = False) -> str:
        return f"unknown {self.kind} {name!r}. {self.suggest(name, reference_model=reference_model)}"

    def suggest(self, name: str, *, reference_model: bool = False) -> str:
        return f"{did_you_mean(name, [*self, *GROUPS])}{detector_listing(reference_model=reference_model)}"


DETECTORS: DetectorRegistry = DetectorRegistry("detector")


def register(cls: type[Detector]) -> type[Detector]:
    """Class decorator: make a detector available by its ``name``."""
    DETECTORS.add(cls.name, cls)
    return cls


def make_detector(name: str, **params: Any) -> Detector:
    """An instance of detector ``name`` with ``params`` (values may be strings, converted to
    the parameter's type). An unknown name or parameter raises :class:`UnknownNameError`
    (with the names it may have meant); a value the detector refuses raises ``ValueError``."""
    cls = DETECTORS.get(name)
    fields = {f.name: f for f in parameter_fields(cls)}
    unknown = [p for p in params if p not in fields]
    if unknown:
        hint = did_you_mean(unknown[0], list(fields))
        known = ", ".join(f"{f}={_spell(fields[f].default)}" for f in fields) or "none"
        raise UnknownNameError(f"detector {name!r} has no parameter {unknown[0]!r}. {hint}Its parameters: {known}.")
    hints = typing.get_type_hints(cls)
    values = {k: _convert(name, k, v, hints.get(k)) for k, v in params.items()}
    check_finite(name, values)
    try:
        return cls(**values)
    except ValueError as exc:  # the detector's own check of a value (for example k outside (0, 1])
        raise ValueError(f"detector {name!r}: {exc}") from None


def check_finite(name: str, params: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` for a number among ``params`` that is infinite or NaN: no detector
    parameter means anything there, and a run would fail only once it writes its scores."""
    for param, value in params.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"detector {name!r}: parameter {param} takes a finite number, not {value}")


def parse_detector(spec: str, **defaults: Any) -> Detector:
    """The detector written as ``name`` or ``name:param=value[:param=value...]`` (for example
    ``min_k:k=0.1``). ``defaults`` give values to parameters the spec leaves out, where the
    detector has them (``--k`` of ``llm-mia score``)."""
    name, *assignments = (part.strip() for part in spec.strip().split(":"))
    params: dict[str, Any] = {}
    for assignment in assignments:
        param, eq, value = (x.strip() for x in assignment.partition("="))
        if not eq or not param:
            raise ValueError(f"detector {spec!r}: write parameters as name:param=value (for example min_k:k=0.1), not {assignment!r}")
        if param in params:
            raise ValueError(f"detector {spec!r} sets {param!r} twice")
        params[param] = value
    fields = {f.name for f in parameter_fields(DETECTORS.get(name))}
    params = {**{k: v for k, v in defaults.items() if k in fields and v is not None}, **params}
    return make_detector(name, **params)


def _convert(detector: str, param: str, value: Any, kind: Any) -> Any:
    """A parameter's value from its command-line spelling (a string) to the field's type."""
    if not isinstance(value, str) or kind not in (int, float, bool):
        return value
    try:
        if kind is bool:
            if value.lower() not in ("true", "false", "1", "0"):
                raise ValueError(value)
            return value.lower() in ("true", "1")
        return kind(value)
    except ValueError:
        what = {int: "a whole number", float: "a number", bool: "true or false"}[kind]
        raise ValueError(f"detector {detector!r}: parameter {param} takes {what}, not {value!r}") from None


def _spell(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def default_detector_names() -> list[str]:
    """Every default detector that needs no model besides the one under test and no labelled texts."""
    return [name for name, cls in DETECTORS.items() if cls.default and REFERENCE not in cls.needs and not cls.uses_labels]


def mean_nll(stats: TokenStats) -> float:
    """Mean negative log-likelihood (nats per scored token)."""
    return float(-np.mean(stats.logprobs, dtype=np.float64))


def loss_ratio(numerator: float, nll: float) -> float:
    """``numerator / nll`` for a text's mean NLL; a text with loss 0 has no ratio (skipped)."""
    if nll <= 0.0:
        raise DetectorSkip("the text's loss is 0, the ratio is undefined")
    return numerator / nll


def lowest_mean(values: np.ndarray, k: float) -> float:
    """Mean of the ``max(1, floor(k * n))`` smallest of the n values."""
    n = values.shape[0]
    m = max(1, int(np.floor(k * n + 1e-9)))
    return float(np.mean(np.partition(values.astype(np.float64), m - 1)[:m]))


def check_fraction(k: float) -> None:
    if not 0.0 < k <= 1.0:
        raise ValueError(f"k must be in (0, 1]; got {k}")
