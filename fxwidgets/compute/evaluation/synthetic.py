"""Benchmarks with known relevant features: generators of models whose output depends only on known features,
and scores of attributions against that ground truth.

Tasks (ChaosMining, Shi et al. 2024: relevant features among many irrelevant ones, at low signal-to-noise):

- :func:`tabular_task`: x ~ N(0, I_d) and a fixed model that reads only ``n_relevant`` of the d columns:
  ``"linear"`` f = sum_i w_i x_i, ``"interaction"`` f = sum_k w_k x_{2k} x_{2k+1} (pairs of relevant features),
  ``"sine"`` f = sum_i w_i sin(x_i); |w_i| in [1, 2] with random signs. Output (B,).
- :func:`planted_image_task`: noise images with a small fixed pattern added at a random (or fixed) place (the
  "random background, random position" setting); the model is a matched filter (a convolution whose kernel is
  the unit-norm pattern, no padding) followed by a global max over positions, so its output depends only on the
  pixels of the best-matching window, which is the planted patch when the pattern's amplitude stands out of the
  noise. Output (B, 2): logits (-s, s) with s the centred max response; the target class is 1.

Scores (higher is better), as metrics of :func:`evaluate` with ``mask=`` the ground truth:

- **top_k_precision** (ChaosMining's top-feature precision; Quantus ``TopKIntersection``): the fraction of the k
  highest-attributed features that are relevant, k = the number of relevant features of the sample unless
  given.
- **mass_in_mask** (relevance mass accuracy, Arras, Osman & Samek 2022; Quantus ``RelevanceMassAccuracy``): the
  share of the total attribution that falls inside the mask.

Both rank |a| by default (``abs=True``): a feature that pushes the output down is still relevant.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import torch

from .core import (
    EvaluationPlan,
    Metric,
    MetricChunk,
    MetricSpec,
    bool_param,
    int_param,
    run_maps,
)


@dataclass
class SyntheticTask:
    """Inputs, a model whose output depends only on the features under ``mask``, and the target to explain."""

    name: str
    inputs: torch.Tensor
    mask: torch.Tensor  # bool, the inputs' shape: True where a feature is relevant
    model: torch.nn.Module
    target: int | None
    params: dict = field(default_factory=dict)


class PlantedTabular(torch.nn.Module):
    """f(x) from the relevant columns only: linear, pairwise interactions or sines, with fixed weights."""

    def __init__(self, relevant: torch.Tensor, weights: torch.Tensor, function: str) -> None:
        super().__init__()
        self.register_buffer("relevant", relevant)
        self.register_buffer("weights", weights)
        self.function = function

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xs = x[:, self.relevant]
        w = self.weights.to(x.dtype)
        if self.function == "linear":
            return xs @ w
        if self.function == "sine":
            return torch.sin(xs) @ w
        return (xs[:, 0::2] * xs[:, 1::2]) @ w


class PlantedPatternNet(torch.nn.Module):
    """A matched filter for ``pattern`` and a global max: logits (-s, s), s = max response - ``offset``."""

    def __init__(self, pattern: torch.Tensor, offset: float) -> None:
        super().__init__()
        k = pattern / torch.linalg.vector_norm(pattern)
        self.conv = torch.nn.Conv2d(k.shape[0], 1, tuple(k.shape[1:]), bias=False, dtype=k.dtype)
        with torch.no_grad():
            self.conv.weight.copy_(k[None])
        self.offset = float(offset)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.conv(x).flatten(1).amax(1) - self.offset
        return torch.stack([-s, s], 1)


def _check(value, name: str, lo: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise ValueError(f"{name} must be an integer >= {lo}, got {value!r}")
    return value


def tabular_task(n_samples: int = 256, n_features: int = 20, n_relevant: int = 4, *, function: str = "linear",
                 seed: int = 0, dtype: torch.dtype = torch.float32) -> SyntheticTask:
    _check(n_samples, "n_samples")
    _check(n_features, "n_features")
    _check(n_relevant, "n_relevant")
    if n_relevant > n_features:
        raise ValueError(f"n_relevant must be at most n_features = {n_features}, got {n_relevant}")
    if function not in ("linear", "interaction", "sine"):
        raise ValueError(f"function must be 'linear', 'interaction' or 'sine'; got {function!r}")
    if function == "interaction" and n_relevant % 2:
        raise ValueError(f"function='interaction' pairs the relevant features: n_relevant must be even, got {n_relevant}")
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n_samples, n_features, generator=g, dtype=torch.float64)
    relevant = torch.randperm(n_features, generator=g)[:n_relevant].sort().values
    n_w = n_relevant // 2 if function == "interaction" else n_relevant
    sign = torch.where(torch.rand(n_w, generator=g) < 0.5, -1.0, 1.0).double()
    w = sign * (1 + torch.rand(n_w, generator=g, dtype=torch.float64))
    mask = torch.zeros(n_samples, n_features, dtype=torch.bool)
    mask[:, relevant] = True
    model = PlantedTabular(relevant, w.to(dtype), function).eval()
    return SyntheticTask("tabular/" + function, x.to(dtype), mask, model, None,
                         {"n_features": n_features, "n_relevant": n_relevant, "relevant": relevant.tolist(),
                          "weights": w.tolist(), "function": function, "seed": seed})


def planted_image_task(n_samples: int = 64, size: int = 32, patch_size: int = 5, *, channels: int = 1,
                       amplitude: float = 1.5, noise_std: float = 1.0, position: str = "random", seed: int = 0,
                       dtype: torch.dtype = torch.float32) -> SyntheticTask:
    _check(n_samples, "n_samples")
    _check(size, "size", 2)
    _check(patch_size, "patch_size")
    _check(channels, "channels")
    if patch_size > size:
        raise ValueError(f"patch_size must be at most size = {size}, got {patch_size}")
    if position not in ("random", "fixed"):
        raise ValueError(f"position must be 'random' or 'fixed'; got {position!r}")
    if not amplitude > 0 or not noise_std >= 0:
        raise ValueError(f"amplitude must be > 0 and noise_std >= 0; got {amplitude!r}, {noise_std!r}")
    g = torch.Generator().manual_seed(seed)
    pattern = torch.where(torch.rand(channels, patch_size, patch_size, generator=g) < 0.5, -1.0, 1.0).double()
    x = torch.randn(n_samples, channels, size, size, generator=g, dtype=torch.float64) * noise_std
    span = size - patch_size + 1
    if position == "random":
        rows = torch.randint(0, span, (n_samples,), generator=g)
        cols = torch.randint(0, span, (n_samples,), generator=g)
    else:
        rows = torch.full((n_samples,), (size - patch_size) // 2)
        cols = rows.clone()
    mask = torch.zeros(n_samples, channels, size, size, dtype=torch.bool)
    for i, (r, c) in enumerate(zip(rows.tolist(), cols.tolist())):
        x[i, :, r:r + patch_size, c:c + patch_size] += amplitude * pattern
        mask[i, :, r:r + patch_size, c:c + patch_size] = True
    # centre the logit between a noise-only response (~0) and the planted one (amplitude * ||pattern||)
    offset = 0.5 * amplitude * float(torch.linalg.vector_norm(pattern))
    model = PlantedPatternNet(pattern.to(dtype), offset).eval()
    return SyntheticTask("image/planted-pattern", x.to(dtype), mask, model, 1,
                         {"size": size, "patch_size": patch_size, "channels": channels, "amplitude": amplitude,
                          "noise_std": noise_std, "position": position, "seed": seed,
                          "rows": rows.tolist(), "cols": cols.tolist()})


def top_k_precision(attributions: torch.Tensor, mask: torch.Tensor, k: int | None = None, *,
                    absolute: bool = True) -> torch.Tensor:
    """Fraction of the k top-attributed features (ties: the earlier feature first) that lie in ``mask``, per row;
    k = each row's number of relevant features when None. NaN for a row with an empty mask."""
    n = attributions.shape[0]
    s = attributions.reshape(n, -1)
    s = s.abs() if absolute else s
    m = torch.broadcast_to(mask, attributions.shape).reshape(n, -1)
    order = torch.sort(s, dim=1, descending=True, stable=True).indices
    hits = m.gather(1, order).to(s.dtype).cumsum(1)
    kk = m.sum(1) if k is None else torch.full((n,), int(k), device=s.device)
    kk_safe = kk.clamp(1, s.shape[1])
    prec = hits.gather(1, (kk_safe - 1)[:, None])[:, 0] / kk_safe.to(s.dtype)
    return torch.where(m.any(1), prec, torch.full_like(prec, float("nan")))


def mass_in_mask(attributions: torch.Tensor, mask: torch.Tensor, *, absolute: bool = True) -> torch.Tensor:
    """Share of the attribution inside ``mask``: sum_{mask} a / sum a (of |a| when ``absolute``), per row."""
    n = attributions.shape[0]
    s = attributions.reshape(n, -1)
    s = s.abs() if absolute else s
    m = torch.broadcast_to(mask, attributions.shape).reshape(n, -1)
    r = (s * m).sum(1) / s.sum(1)
    return torch.where(m.any(1), r, torch.full_like(r, float("nan")))


class TopKPrecision(Metric):
    name = "top_k_precision"
    higher_is_better = True
    needs = ("mask",)
    defaults = {"k": None, "abs": True}
    description = "fraction of the k top-attributed features that are truly relevant (k = number of relevant ones)"

    def prepare(self, plan: EvaluationPlan, spec: MetricSpec) -> None:
        if spec.params["k"] is not None:
            int_param(spec, "k", 1, plan.n_features)
        bool_param(spec, "abs")
        spec.units = plan.batch

    def run(self, plan: EvaluationPlan, spec: MetricSpec) -> Iterator[MetricChunk]:
        p = spec.params
        yield from run_maps(plan, lambda a, b: {"values": top_k_precision(plan.attributions[a:b], plan.mask[a:b], p["k"],
                                                                          absolute=p["abs"])})


class MassInMask(Metric):
    name = "mass_in_mask"
    higher_is_better = True
    needs = ("mask",)
    defaults = {"abs": True}
    description = "share of the attribution that falls on the truly relevant features"

    def prepare(self, plan: EvaluationPlan, spec: MetricSpec) -> None:
        bool_param(spec, "abs")
        spec.units = plan.batch

    def run(self, plan: EvaluationPlan, spec: MetricSpec) -> Iterator[MetricChunk]:
        p = spec.params
        yield from run_maps(plan, lambda a, b: {"values": mass_in_mask(plan.attributions[a:b], plan.mask[a:b],
                                                                       absolute=p["abs"])})
