"""One vocabulary for the scalar parameters of attribution methods.

Every scalar parameter is one of a few kinds — a count, a non-negative number, a flag, a choice — and is
checked by the same rule wherever it appears, so a bad value raises ``ValueError`` naming the argument and
what was expected before any model pass. Counts accept integral floats (``n_samples=1e5``) because people
write them; ``True``/``False`` are not counts. Tensor-valued parameters (baselines, backgrounds, masks, noise,
layers) are prepared by the plan, which names them the same way.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..validate import check_bool, check_choice


def count(value: Any, name: str, *, maximum: int | None = None, minimum: int = 1) -> int:
    """An integer >= ``minimum`` (an integral float such as 1e5 is accepted), at most ``maximum``."""
    kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
    numeric = isinstance(value, (int, np.integer, float, np.floating)) and not isinstance(value, (bool, np.bool_))
    integral = numeric and (not isinstance(value, (float, np.floating))
                            or (math.isfinite(value) and float(value).is_integer()))
    if not integral or int(value) < minimum:
        raise ValueError(f"{name} must be {kind}, got {value!r}")
    v = int(value)
    if maximum is not None and v > maximum:
        raise ValueError(f"{name} must be at most {maximum}, got {value!r}")
    return v


def nonnegative(value: Any, name: str) -> float:
    """A finite number >= 0."""
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be a number >= 0, got {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number >= 0, got {value!r}") from None
    if not math.isfinite(v) or v < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return v


#: ``True`` or ``False`` (NumPy booleans too); anything else (a string, a number) is refused.
flag = check_bool


def choice(*choices: str) -> Callable[[Any, str], str]:
    def check(value: Any, name: str) -> str:
        return check_choice(value, name, choices)

    return check


def optional(check: Callable[[Any, str], Any]) -> Callable[[Any, str], Any]:
    def maybe(value: Any, name: str) -> Any:
        return None if value is None else check(value, name)

    return maybe


#: The scalar parameters every method shares the meaning of; a method lists which ones it takes.
SCALARS: dict[str, Callable[[Any, str], Any]] = {
    "abs": flag,
    "n_steps": count,
    "n_samples": count,
    "n_permutations": count,
    "n_concepts": count,
    "n_iter": count,
    "stdev": optional(nonnegative),
    "antithetic": flag,
    "interactions": flag,
    "relu": flag,
    "upsample": flag,
    "layer_side": choice("output", "input"),
    "base": choice("saliency", "gradient", "input_x_gradient"),
    "baseline_token": optional(lambda v, name: count(v, name, minimum=0)),
}


def check_scalars(params: dict) -> dict:
    """Each known scalar parameter checked by its rule (the rule's error names the parameter)."""
    out = dict(params)
    for key, check in SCALARS.items():
        if key in out:
            out[key] = check(out[key], key)
    return out
