"""zlib-calibrated loss."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from .base import TARGET, Detector, DetectorInput, mean_nll, register


@register
@dataclass(frozen=True)
class Zlib(Detector):
    """Mean log-likelihood divided by the zlib-compressed size of the text in bytes.

    score = mean_t lp_t / len(zlib.compress(text.encode("utf-8")))  (default level).
    Texts that are easy for any compressor get less credit for a low loss. The size is that
    of the whole text, also when ``max_tokens`` truncated the tokens the loss was taken over.

    Carlini et al. (2021), "Extracting Training Data from Large Language Models", USENIX Security.
    """

    name = "zlib"
    formula = "mean_t lp_t / len(zlib.compress(utf8(text)))"
    citation = "Carlini et al. 2021, Extracting Training Data from Large Language Models (USENIX Security)"

    def score(self, inp: DetectorInput) -> float:
        size = len(zlib.compress(inp.text.encode("utf-8", "surrogatepass")))
        return -mean_nll(inp.stats[TARGET]) / size
