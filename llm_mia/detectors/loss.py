"""Loss (average log-likelihood) attack."""

from __future__ import annotations

from dataclasses import dataclass

from .base import TARGET, Detector, DetectorInput, mean_nll, register


@register
@dataclass(frozen=True)
class Loss(Detector):
    """Negated mean negative log-likelihood of the text: members tend to have lower loss.

    score = (1/n) * sum_t lp_t, with lp_t = log p(x_t | x_<t) over the n scored tokens.

    Yeom, Giacomelli, Fredrikson and Jha (2018), "Privacy Risk in Machine Learning:
    Analyzing the Connection to Overfitting", IEEE CSF.
    """

    name = "loss"
    formula = "mean_t lp_t  (= -mean NLL)"
    citation = "Yeom et al. 2018, Privacy Risk in Machine Learning (CSF)"

    def score(self, inp: DetectorInput) -> float:
        return -mean_nll(inp.stats[TARGET])
