"""Complexity: how concentrated is an explanation? Properties of the maps alone, no model pass.

- **complexity** (Bhatt, Weller & Moura, IJCAI 2020; Quantus ``Complexity``): the entropy of the fractional
  contributions P_i = |a_i| / sum_j |a_j|,  mu_C = -sum_i P_i ln P_i  (0 ln 0 = 0). In [0, ln d]: 0 for a map with
  one non-zero feature, ln d for a uniform map. Lower is better.
- **sparseness** (Chalasani et al., ICML 2020; Quantus ``Sparseness``): the Gini index of |a|,
  G = sum_i (2i - d - 1) |a|_(i) / (d sum_i |a|_(i)) with |a|_(1) <= ... <= |a|_(d) sorted ascending. In [0, 1 - 1/d]:
  0 for a uniform map, 1 - 1/d for a one-hot map. Higher is better.

An all-zero map has neither (NaN).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch

from .core import EvaluationPlan, Metric, MetricChunk, MetricSpec, run_maps


def entropy_complexity(a: torch.Tensor) -> torch.Tensor:
    """-sum P ln P of P = |a| / sum |a| per row of a (N, ...)."""
    m = a.reshape(a.shape[0], -1).abs()
    total = m.sum(1, keepdim=True)
    p = m / total
    plogp = torch.where(p > 0, p * torch.log(torch.where(p > 0, p, torch.ones_like(p))), torch.zeros_like(p))
    h = -plogp.sum(1)
    return torch.where(total[:, 0] > 0, h, torch.full_like(h, float("nan")))


def gini_sparseness(a: torch.Tensor) -> torch.Tensor:
    """The Gini index of |a| per row of a (N, ...)."""
    m = a.reshape(a.shape[0], -1).abs().sort(1).values
    d = m.shape[1]
    i = torch.arange(1, d + 1, dtype=m.dtype, device=m.device)
    return ((2 * i - d - 1) * m).sum(1) / (d * m.sum(1))


class _MapScore(Metric):
    """A score of each attribution map alone: no model pass, no parameters; ``score`` maps (N, ...) to (N,)."""

    defaults: dict = {}
    score: Callable[[torch.Tensor], torch.Tensor]

    def run(self, plan: EvaluationPlan, spec: MetricSpec) -> Iterator[MetricChunk]:
        yield from run_maps(plan, lambda a, b: {"values": self.score(plan.attributions[a:b])})


class Complexity(_MapScore):
    name = "complexity"
    higher_is_better = False
    description = "entropy of |a| / sum |a| (0 = one feature, ln d = uniform; Bhatt et al. 2020)"
    score = staticmethod(entropy_complexity)


class Sparseness(_MapScore):
    name = "sparseness"
    higher_is_better = True
    description = "Gini index of |a| (0 = uniform, 1 - 1/d = one feature; Chalasani et al. 2020)"
    score = staticmethod(gini_sparseness)
