"""fxwidgets' own attribution methods as an ``explain_func(model, inputs, target) -> attributions``, so the metrics
that re-explain (sensitivity, randomisation, random target, the aggregate) can use the method that made the maps."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ..attribution import ALIASES, METHODS, iter_attribution, plan_attribution


def attribution_explainer(method: str, *, chunk_size: int | None = None, seed: int | None = None,
                          forward_args: Any = None, **params: Any) -> Callable[[Callable, torch.Tensor, Any], torch.Tensor]:
    """``explain_func`` running ``method`` of :mod:`..attribution` with ``params`` on the given rows and target.

    A stochastic method (SmoothGrad, sampled Shapley) is re-seeded with ``seed`` at every call, so re-explaining a
    perturbed input uses the same noise as the original map (common random numbers): its sensitivity then
    measures the method, not the noise. Parameters are checked now, on the method's list."""
    if not isinstance(method, str):
        raise ValueError(f"method must be a string, got {method!r}")
    name = ALIASES.get(method.lower(), method.lower())
    if name not in METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, METHODS))}; got {method!r}")
    unknown = sorted(set(params) - set(METHODS[name][1]))
    if unknown:
        raise TypeError(f"method {name!r} takes no parameter {', '.join(map(repr, unknown))}; "
                        f"its parameters: {', '.join(METHODS[name][1]) or '(none)'}")

    def explain(model: Callable, inputs: torch.Tensor, target: Any) -> torch.Tensor:
        plan = plan_attribution(model, inputs, target=target, method=name, chunk_size=chunk_size, seed=seed,
                                forward_args=forward_args, **params)
        last = None
        for step in iter_attribution(plan):
            last = step
        return last.values

    explain.__qualname__ = f"attribution_explainer({name!r})"
    return explain
