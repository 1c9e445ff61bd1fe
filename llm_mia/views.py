"""Views: what a detector needs computed for a document.

A view is a value: which model scores the text (``model``: the model under test, "target",
or the "reference" model), a text transform (``transform``: "none" or "lower", see
:data:`TRANSFORMS`), and an optional ``context``: a text the model conditions on before the
document and that is never scored (ReCaLL's non-member prefix, for example). Detectors
declare the views they need, from their own parameters where a view depends on one; the
pipeline computes each distinct view once per document, however many detectors need it.

With a context, every token of the document is scored (the context gives the first one its
history): the view's statistics have ``token_ids`` = [the context's last token] + the
document's tokens, so that, as for every view, ``x_0`` is context only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

MODELS = ("target", "reference")
TRANSFORMS: dict[str, Callable[[str], str]] = {"none": lambda text: text, "lower": str.lower}
_WORDS = {"none": "text", "lower": "lowercased text"}


@dataclass(frozen=True)
class View:
    model: str = "target"
    transform: str = "none"
    context: str | None = None
    gradient: bool = False
    """Also the gradient of the text's loss with respect to the weights (a backward pass per
    text, on a backend with the gradient capability): its statistics carry ``grad_norms``."""

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ValueError(f"a view's model is one of {', '.join(MODELS)}, not {self.model!r}")
        if self.transform not in TRANSFORMS:
            raise ValueError(f"a view's transform is one of {', '.join(TRANSFORMS)}, not {self.transform!r}")
        if self.context is not None and not self.context.strip():
            raise ValueError("a view's context must hold some text (None for no context)")
        if self.gradient and self.context is not None:
            raise ValueError("a gradient view has no context")

    def apply(self, text: str) -> str:
        """The document's text as this view scores it."""
        return TRANSFORMS[self.transform](text)

    def describe(self, short: bool = False) -> str:
        """Plain words for messages, different for different views: "lowercased text under
        the reference model", ... ``short``: without the context's size and hash (a progress
        bar's label; two contexts may then read alike)."""
        words = _WORDS.get(self.transform, f"text ({self.transform})")
        if self.model == "reference":
            words += " under the reference model"
        if self.context is not None and short:
            words += " after a context"
        elif self.context is not None:
            digest = hashlib.sha256(self.context.encode("utf-8", "surrogatepass")).hexdigest()[:8]
            words += f" after a context of {len(self.context)} characters (sha256 {digest})"  # two contexts of one length differ
        if self.gradient:
            words += ", with the loss's gradient"
        return words


TARGET = View()
TARGET_LOWER = View(transform="lower")
TARGET_GRADIENT = View(gradient=True)
REFERENCE = View(model="reference")
NAMED = {"target": TARGET, "target_lower": TARGET_LOWER, "reference": REFERENCE}
"""The views' names of earlier versions (``DetectorInput(text, {"target": stats})``)."""
