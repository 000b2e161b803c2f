"""Randomisation sanity checks: an explanation that does not change when the model or the explained class is
randomised cannot be explaining the model.

- **model_randomisation**: cascading model-parameter randomisation (Adebayo et al., NeurIPS 2018 "Sanity checks
  for saliency maps"; Quantus ``MPRT``). On a deep copy of the model, layers are re-initialised one at a time
  from the top (the output side) down, each by its own ``reset_parameters()``, and after each the inputs are
  re-explained with ``explain_func``; the curve is the similarity of each re-explained map to the original map
  (Spearman rank correlation by default, or Pearson / SSIM), one point per randomised layer. The layers are the
  modules that have ``reset_parameters`` (Quantus' choice), in reverse registration order for ``"top_down"``;
  ``"independent"`` randomises one layer at a time on the original weights; ``layers=`` picks and orders them
  by name. Each layer is re-initialised with torch's generator seeded by ``seed`` inside a fork (Quantus seeds
  ``seed + 1`` the same way), so the randomised weights do not depend on the chunking. The value is the
  similarity after the last layer (``summary="last"``, the fully randomised model in the cascade) or its mean
  over layers (``"mean"``). Lower is better: the map should decay as the model is destroyed.
- **random_target** (Sixt, Granz & Landgraf, ICML 2020; Quantus ``RandomLogit``): the similarity of the map with
  the explanation of a class drawn uniformly among the *other* classes (SSIM of the flattened maps by default, as
  Quantus). Lower is better. ``other_target=`` fixes the classes instead of drawing them.

Both keep, for the first few samples (``MAP_ROWS`` at most, fewer when their maps would pass ``MAP_BYTES``), the
maps themselves, as the raw explanations (float32) in the record's ``extras``: ``maps`` (K, steps + 1, *map shape),
the original map first, then the map after each randomised layer (model_randomisation) or of the other class
(random_target, whose class is ``extras["other_target"]``); the layers are the record's ``curve_labels``. They do not
enter the values.

Maps are compared after taking |a| when ``abs`` and after dividing each by its largest |value| (Quantus
normalises by the maximum too); correlations ignore the scaling, SSIM does not.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

import torch

from ..attribution.core import as_output_indices
from .core import (
    EvaluationPlan,
    Metric,
    MetricChunk,
    MetricSpec,
    bool_param,
    choice_param,
    forked_rng,
    int_param,
    row_seed,
    run_rows,
    stream_id,
)
from .stats import SIMILARITIES, similarity


#: Samples whose maps (original and each randomised one) the record keeps for the views.
MAP_ROWS = 4
#: Bound on those kept maps (float32) per method and metric.
MAP_BYTES = 8 * 2**20


def kept_map_rows(plan: EvaluationPlan, spec: MetricSpec, steps: int) -> int:
    """How many of the first samples keep their ``steps + 1`` maps (0 when one sample's would pass MAP_BYTES);
    records it in ``spec.extra["head_rows"]`` so the accumulator keeps a (K, ...) extra rather than (B, ...)."""
    per_row = (steps + 1) * plan.n_features * 4
    k = min(MAP_ROWS, plan.batch + plan.sample_offset, MAP_BYTES // max(per_row, 1))
    if k > 0:
        spec.extra["head_rows"] = {"maps": k}
    return k


def _head(plan: EvaluationPlan, a: int, b: int, k: int) -> int:
    """How many of this plan's samples a:b are among the first k of the dataset (their maps are kept)."""
    return max(0, min(b, k - plan.sample_offset) - a)


def prepare_maps(a: torch.Tensor, absolute: bool) -> torch.Tensor:
    """|a| (when ``absolute``) divided by each map's largest |value| (all-zero maps stay zero)."""
    m = a.abs() if absolute else a
    top = m.reshape(m.shape[0], -1).abs().amax(1).view(-1, *[1] * (m.ndim - 1))
    return m / torch.where(top > 0, top, torch.ones_like(top))


def _check_similarity(plan: EvaluationPlan, spec: MetricSpec) -> None:
    kind = choice_param(spec, "similarity", SIMILARITIES)
    win = int_param(spec, "win_size", 3)
    if win % 2 == 0:
        raise ValueError(f"win_size (metric {spec.name!r}) must be odd, got {win}")
    shape = plan.attribution_shape
    if kind == "ssim" and plan.n_features < win:
        raise ValueError(f"similarity='ssim' (metric {spec.name!r}) needs at least win_size={win} features per map; "
                         f"the maps have {plan.n_features}")
    if kind == "ssim2d" and (len(shape) < 2 or min(shape[-2:]) < win):
        raise ValueError(f"similarity='ssim2d' (metric {spec.name!r}) needs maps of at least {win} x {win} in their last "
                         f"two dimensions; the maps have shape {shape}")


def randomisable_layers(model: torch.nn.Module) -> list[str]:
    """Names of the modules with ``reset_parameters``, in registration order (Quantus' layer list)."""
    return [n for n, m in model.named_modules() if callable(getattr(m, "reset_parameters", None))]


def reset_layer(module: torch.nn.Module, seed: int, device: torch.device) -> None:
    with forked_rng(device), torch.no_grad():
        torch.manual_seed(seed)
        module.reset_parameters()


class ModelRandomisation(Metric):
    name = "model_randomisation"
    higher_is_better = False
    needs = ("explain_func", "module")
    defaults = {"order": "top_down", "layers": None, "similarity": "spearman", "abs": True, "summary": "last",
                "win_size": 7}
    description = "similarity of the map to the map of a model whose layers are re-initialised from the top (Adebayo et al. 2018)"

    def prepare(self, plan: EvaluationPlan, spec: MetricSpec) -> None:
        order = choice_param(spec, "order", ("top_down", "bottom_up", "independent"))
        _check_similarity(plan, spec)
        bool_param(spec, "abs")
        choice_param(spec, "summary", ("last", "mean"))
        model = plan.model
        if not isinstance(model, torch.nn.Module):
            raise ValueError(f"metric {spec.name!r} re-initialises the model's layers: model must be a torch.nn.Module, "
                             f"got {type(model).__name__}")
        available = randomisable_layers(model)
        layers = spec.params["layers"]
        if layers is None:
            names = available[::-1] if order == "top_down" else list(available)
        else:
            if isinstance(layers, str) or not all(isinstance(n, str) for n in layers):
                raise ValueError(f"layers (metric {spec.name!r}) must be a list of module names, got {layers!r}")
            names = list(layers)
            unknown = [n for n in names if n not in available]
            if unknown:
                raise ValueError(f"layers (metric {spec.name!r}): {', '.join(map(repr, unknown))} are not modules with "
                                 f"reset_parameters; the model's are: {', '.join(available[:20])}")
        if not names:
            raise ValueError(f"metric {spec.name!r}: the model has no module with reset_parameters to randomise")
        spec.params["layers"] = list(names)
        spec.extra["curve_x"] = torch.arange(len(names), dtype=plan.dtype, device=plan.device)
        spec.extra["curve_labels"] = tuple(names)
        spec.extra["curve_axis"] = {"top_down": "layers randomised, from the top", "bottom_up": "layers randomised, from the bottom",
                                    "independent": "layer randomised alone"}[order]
        spec.units = plan.batch * len(names)
        kept_map_rows(plan, spec, len(names))

    def nbytes(self, plan: EvaluationPlan, spec: MetricSpec) -> int:
        model_bytes = sum(t.numel() * t.element_size() for t in plan.model.state_dict().values())
        rows = min(plan.chunk_size, plan.batch)
        return model_bytes + rows * plan.n_features * plan.attributions.element_size() * 4

    def run(self, plan: EvaluationPlan, spec: MetricSpec) -> Iterator[MetricChunk]:
        p = spec.params
        names = p["layers"]
        L = len(names)
        original = plan.model
        work = copy.deepcopy(original)
        B = plan.batch
        k = spec.extra.get("head_rows", {}).get("maps", 0)
        for a in range(0, B, plan.chunk_size):
            b = min(B, a + plan.chunk_size)
            samples = torch.arange(a, b, device=plan.device)
            x = plan.inputs[a:b]
            ref = prepare_maps(plan.attributions[a:b], p["abs"])
            sims = torch.full((b - a, L), float("nan"), dtype=plan.dtype, device=plan.device)
            h = _head(plan, a, b, k)
            maps = [plan.attributions[a:a + h].float()] if h else []
            work.load_state_dict(original.state_dict())
            for j, name in enumerate(names):
                if p["order"] == "independent":
                    work.load_state_dict(original.state_dict())
                reset_layer(work.get_submodule(name), plan.seed, plan.device)
                raw = plan.explain(x, samples, model=work)
                if h:
                    maps.append(raw[:h].float())
                e = prepare_maps(raw, p["abs"])
                sims[:, j] = similarity(p["similarity"], ref, e, win_size=p["win_size"])
                if j < L - 1:
                    yield MetricChunk(a, a, b - a)
            values = sims[:, -1] if p["summary"] == "last" else sims.nanmean(1)
            extras = {"maps": torch.stack(maps, 1)} if h else {}
            yield MetricChunk(a, b, b - a, values=values, curves=sims, extras=extras)


class RandomTarget(Metric):
    name = "random_target"
    higher_is_better = False
    needs = ("explain_func", "classes")
    defaults = {"similarity": "ssim", "abs": False, "other_target": None, "win_size": 7}
    description = "similarity of the map to the map of a random other class (Sixt et al. 2020)"

    def prepare(self, plan: EvaluationPlan, spec: MetricSpec) -> None:
        _check_similarity(plan, spec)
        bool_param(spec, "abs")
        spec.units = plan.batch
        kept_map_rows(plan, spec, 1)

    def check(self, plan: EvaluationPlan, spec: MetricSpec) -> None:
        """After the model pass: draw (or check) one other class per sample."""
        n, B, t = plan.n_outputs, plan.batch, plan.target
        given = spec.params["other_target"]
        if given is None:
            stream = stream_id(spec.name)
            other = torch.empty(B, dtype=torch.long)
            tc = t.cpu()
            for i in range(B):
                g = torch.Generator().manual_seed(row_seed(plan.seed, stream, i + plan.sample_offset, 0))
                r = int(torch.randint(0, n - 1, (1,), generator=g))
                other[i] = r + int(r >= int(tc[i]))  # uniform over the n - 1 classes that are not the target
            other = other.to(plan.device)
        else:
            other = as_output_indices(given, B, n, f"other_target (metric {spec.name!r})").to(plan.device)
            same = other == t
            if bool(same.any()):
                i = int(same.nonzero()[0])
                raise ValueError(f"other_target (metric {spec.name!r}) equals the target for sample {i} "
                                 f"(class {int(t[i])}); it must be a different class")
            spec.params["other_target"] = "given"
        spec.extra["other_target"] = other

    def run(self, plan: EvaluationPlan, spec: MetricSpec) -> Iterator[MetricChunk]:
        p = spec.params
        other = spec.extra["other_target"]
        k = spec.extra.get("head_rows", {}).get("maps", 0)
        kept: list[torch.Tensor] = []  # the other class's maps of the first samples, in order (per_sample is 1)

        def row_fn(samples: torch.Tensor, draws: torch.Tensor, first_row: int) -> dict[str, torch.Tensor]:
            e = plan.explain(plan.inputs[samples], samples, target=other[samples])
            h = _head(plan, int(samples[0]), int(samples[-1]) + 1, k)
            if h:
                kept.append(e[:h].float())
            ref = prepare_maps(plan.attributions[samples], p["abs"])
            return {"s": similarity(p["similarity"], ref, prepare_maps(e, p["abs"]), win_size=p["win_size"])}

        def finish(bufs, start, stop):
            extras = {"other_target": other[start:stop]}
            h = _head(plan, start, stop, k)
            if h:
                others = torch.cat(kept)[:h]
                del kept[:]
                extras["maps"] = torch.stack([plan.attributions[start:start + h].float(), others], 1)
            return {"values": bufs["s"][:, 0], "extras": extras}
        yield from run_rows(plan, 1, row_fn, finish)
