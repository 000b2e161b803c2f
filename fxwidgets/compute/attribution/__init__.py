"""Attributions: which inputs made the output.

``plan_attribution`` validates everything (and runs the model once on the inputs, to check the target and
record f(x)) before any long work; ``iter_attribution`` is the generator of partial results, each in the
caller's layout (a tuple for several inputs, one value per token for token ids) with the per-row base value,
output and feature values; :class:`AttributionAccumulator` folds them. Pure torch.
"""

from __future__ import annotations

from collections.abc import Iterator

from .core import AttributionAccumulator, AttributionPlan, AttributionRecord, AttributionStep, as_inputs, present
from .gradients import IG_RULES, quadrature
from .planning import ALIASES, GRADIENT_METHODS, METHODS, plan_attribution


def iter_attribution(plan: AttributionPlan) -> Iterator[AttributionStep]:
    """The partial results of the plan's method, in order; the last one has progress 1."""
    fn = METHODS[plan.method][0]
    for step in fn(plan):
        yield present(plan, step)


__all__ = ["ALIASES", "GRADIENT_METHODS", "IG_RULES", "METHODS", "AttributionAccumulator", "AttributionPlan",
           "AttributionRecord", "AttributionStep", "as_inputs", "iter_attribution", "plan_attribution", "quadrature"]
