"""Dense affinity between locations of feature maps (B, C, H, W) or tokens (B, T, D): one location against all,
label/mask propagation from one frame to the next, and the temporal noisy-label indicator (TFAL).

Propagation (joint-task correspondence, STCN): for every location p of the target frame, the affinities
a(p, q) to the source locations q, cut to the top k, become weights ``softmax(a / temperature)``; the target's
label distribution is the weighted mean of the source's. The noisy-label indicator of temporal feature affinity
learning scores a pixel by how little of that weight lands on source pixels carrying its own label.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .affinity import METRICS, affinity_tile
from .knn import mutual_nn, prepare
from .memory import TILE_BYTES
from .validate import (as_tensor, check_choice, check_index, check_int, check_positive_float, check_positive_int,
                       check_probability)


def as_locations(F, name: str) -> tuple[torch.Tensor, tuple[int, int]]:
    """(B, C, H, W) feature maps or (B, T, D) token features -> (B, L, D) location features and the grid (H, W)
    (``(1, T)`` for tokens). Checks dtype (numbers, real: complex features are refused rather than silently
    losing their imaginary part) and finiteness."""
    t = as_tensor(F, name)
    if t.dtype not in (torch.float32, torch.float64):
        t = t.float()
    if t.ndim == 4:
        b, c, h, w = t.shape
        locs = t.permute(0, 2, 3, 1).reshape(b, h * w, c)
        grid = (h, w)
    elif t.ndim == 3:
        n_tok = t.shape[1]
        locs, grid = t, (1, n_tok)
    else:
        raise ValueError(f"{name} must be (B, C, H, W) feature maps or (B, T, D) token features, got shape {tuple(t.shape)}")
    if 0 in t.shape:
        raise ValueError(f"{name} is empty: shape {tuple(t.shape)}")
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} has non-finite values (NaN or Inf)")
    return locs.contiguous(), grid


def _frame(F, name: str) -> tuple[torch.Tensor, tuple[int, int]]:
    """One frame's (L, D) locations from (C, H, W), (1, C, H, W), (T, D) or (1, T, D)."""
    F = as_tensor(F, name)
    # (C, H, W) is one feature map and (T, D) one sentence's tokens: add the batch axis. A 3-D input is read as
    # (C, H, W); pass a single token sequence as (T, D).
    if F.ndim in (2, 3):
        F = F[None]
    locs, grid = as_locations(F, name)
    if locs.shape[0] != 1:
        raise ValueError(f"{name} must be one frame ((C, H, W) or (1, C, H, W)), got a batch of {locs.shape[0]}")
    return locs[0], grid


def location_affinity(F, b: int, i: int, j: int = 0, metric: str = "cosine") -> torch.Tensor:
    """Affinity of location (row i, column j) of item b with every location of every item: (B, H, W).

    For token features pass the token index as ``j`` (with ``i = 0``)."""
    metric = check_choice(metric, "metric", METRICS)
    locs, (h, w) = as_locations(F, "F")
    B = locs.shape[0]
    b, i, j = check_index(b, "b", B), check_index(i, "i", h), check_index(j, "j", w)
    flat = locs.reshape(B * h * w, -1)
    plan = prepare(flat, None, metric, bandwidth=None, chunk_size=1)
    r = int(b) * h * w + int(i) * w + int(j)
    return affinity_tile(plan, r, r + 1)[0].reshape(B, h, w)


def unit_locations(locs: torch.Tensor) -> torch.Tensor:
    """(B, L, D) location features scaled to unit norm (a zero vector stays zero): dot products are cosines."""
    norms = torch.linalg.vector_norm(locs, dim=2, keepdim=True)
    return locs / torch.where(norms > 0, norms, torch.ones_like(norms))


def normalized_locations(F) -> tuple[torch.Tensor, tuple[int, int]]:
    """Unit-norm location features (B, L, D): their dot products are the cosine affinities."""
    locs, grid = as_locations(F, "F")
    return unit_locations(locs), grid


def consecutive_matches(locs: torch.Tensor, grid: tuple[int, int], max_matches: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mutual nearest neighbours (cosine) between each item and the next, at most ``max_matches`` per pair of
    items, best first: rows ``(b, i, j, b + 1, i', j')`` (int32) and their cosines."""
    b, L, _ = locs.shape
    unit = unit_locations(locs)
    w = grid[1]
    matches, scores = [], []
    for a in range(b - 1 if max_matches > 0 else 0):
        pairs = mutual_nn(locs[a], locs[a + 1], k=1)
        if not pairs.numel():
            continue
        s = (unit[a, pairs[:, 0]] * unit[a + 1, pairs[:, 1]]).sum(1)
        keep = torch.argsort(s, descending=True)[:max_matches]
        p = pairs[keep]
        matches.append(torch.stack([torch.full_like(p[:, 0], a), p[:, 0] // w, p[:, 0] % w,
                                    torch.full_like(p[:, 0], a + 1), p[:, 1] // w, p[:, 1] % w], 1))
        scores.append(s[keep])
    if not matches:
        return torch.zeros(0, 6, dtype=torch.int32), torch.zeros(0)
    return torch.cat(matches).cpu().to(torch.int32), torch.cat(scores).cpu().float()


def principal_colours(locs: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """False colours for features with no images: the first three principal components of all locations,
    each scaled to [0, 1], as (B, 3, H, W)."""
    b, _, d = locs.shape
    flat = locs.reshape(-1, d).float().cpu()
    flat = flat - flat.mean(0)
    q = min(3, d, flat.shape[0])  # pca_lowrank needs q <= min(locations, channels): 1 or 2 locations give 1 or 2
    _, _, v = torch.pca_lowrank(flat, q=q, center=False)
    p = flat @ v[:, :q]
    if q < 3:
        p = torch.cat([p, p[:, :1].expand(-1, 3 - q)], 1)
    p = (p - p.min(0).values) / (p.max(0).values - p.min(0).values).clamp_min(1e-12)
    return p.reshape(b, grid[0], grid[1], 3).permute(0, 3, 1, 2)


@dataclass
class PropagationRecord:
    """Label distribution propagated to the target frame: ``probs`` (K, H, W), ``labels`` (H, W) = argmax."""

    probs: torch.Tensor
    params: dict = field(default_factory=dict)

    @property
    def labels(self) -> torch.Tensor:
        return self.probs.argmax(0)


@dataclass
class LabelNoiseRecord:
    """Per-pixel noisy-label score in [0, 1] of the target frame (1 = none of its high-affinity neighbours in the
    source frame share its label) and the flags ``score > threshold``."""

    score: torch.Tensor
    threshold: float
    params: dict = field(default_factory=dict)

    @property
    def flags(self) -> torch.Tensor:
        return self.score > self.threshold


def class_map(labels, name: str) -> torch.Tensor:
    """An (H, W) map of integer class ids >= 0 as int64 (floats must hold whole numbers), or a clear error."""
    t = as_tensor(labels, name)
    if t.ndim != 2:
        raise ValueError(f"{name} must be an (H, W) class map, got shape {tuple(t.shape)}")
    if t.numel() == 0:
        raise ValueError(f"{name} is empty")
    if t.is_floating_point() and not (bool(torch.isfinite(t).all()) and bool((t == t.round()).all())):
        raise ValueError(f"{name} must hold integer class ids, got non-integer or non-finite values")
    if bool((t < 0).any()):
        raise ValueError(f"{name} has negative class ids (min {int(t.min())})")
    return t.long()


def _label_probs(labels, grid: tuple[int, int], name: str, n_classes: int | None, device) -> tuple[torch.Tensor, int]:
    """(L, K) label distributions from an (H, W) integer map or a (K, H, W) soft mask."""
    t = as_tensor(labels, name).to(device)
    h, w = grid
    if t.ndim == 2 or (t.ndim == 1 and h == 1):
        t2 = t.reshape(1, -1) if t.ndim == 1 else t
        if tuple(t2.shape) != (h, w):
            raise ValueError(f"{name} has shape {tuple(t2.shape)} but the feature grid is {(h, w)}; "
                             "resize the labels to the feature map (nearest neighbour)")
        if t2.is_floating_point() and not bool((t2 == t2.round()).all()):
            raise ValueError(f"{name} as an (H, W) map must hold integer class ids; pass soft masks as (K, H, W)")
        t2 = t2.long()
        if bool((t2 < 0).any()):
            raise ValueError(f"{name} has negative class ids")
        k = int(t2.max()) + 1 if n_classes is None else n_classes
        if int(t2.max()) >= k:
            raise ValueError(f"{name} has class id {int(t2.max())} but n_classes={k}")
        return torch.nn.functional.one_hot(t2.reshape(-1), k).to(torch.float32), k
    if t.ndim == 3:
        if tuple(t.shape[1:]) != (h, w):
            raise ValueError(f"{name} has shape {tuple(t.shape)} but the feature grid is {(h, w)}")
        t = t.to(torch.float32)
        if not bool(torch.isfinite(t).all()):
            raise ValueError(f"{name} has non-finite values")
        return t.reshape(t.shape[0], -1).T.contiguous(), t.shape[0]
    raise ValueError(f"{name} must be an (H, W) label map or a (K, H, W) soft mask, got shape {tuple(t.shape)}")


def propagate(source_features, target_features, labels, *, k: int = 10, temperature: float = 0.07,
              metric: str = "cosine", radius: float | None = None, n_classes: int | None = None,
              chunk_size: int | None = None) -> PropagationRecord:
    """Propagate ``labels`` (an (H, W) class map or a (K, H, W) soft mask of the source frame, at the feature
    grid's resolution) to the target frame through the top-``k`` affinities, softmax at ``temperature``.

    ``radius`` (in feature-grid cells) restricts each target location to source locations within that distance
    (the local window video methods use); ``None`` searches the whole frame. Memory: one chunk_size x L tile.
    """
    metric = check_choice(metric, "metric", METRICS)
    k = check_positive_int(k, "k", allow_none=False)
    temperature = check_positive_float(temperature, "temperature", allow_none=False)
    radius = check_positive_float(radius, "radius")
    chunk_size = check_positive_int(chunk_size, "chunk_size")
    n_classes = check_int(n_classes, "n_classes", minimum=1, allow_none=True)
    src, grid = _frame(source_features, "source_features")
    dst, grid_t = _frame(target_features, "target_features")
    if src.shape[1] != dst.shape[1]:
        raise ValueError(f"source_features have {src.shape[1]} channels but target_features {dst.shape[1]}")
    if dst.device != src.device:
        raise ValueError("source_features and target_features must be on one device")
    probs_src, n_k = _label_probs(labels, grid, "labels", n_classes, src.device)
    n_src = src.shape[0]
    if k > n_src:
        raise ValueError(f"k={k} is more than the {n_src} source locations")
    plan = prepare(dst, src, metric, bandwidth=None, chunk_size=chunk_size)
    if chunk_size is None:
        plan.chunk_size = max(1, min(dst.shape[0], TILE_BYTES // max(1, 4 * n_src * dst.element_size())))
    probs_src = probs_src.to(plan.dtype)
    h, w = grid_t
    if radius is not None:
        hs, ws = grid
        yy, xx = torch.meshgrid(torch.arange(hs, device=src.device), torch.arange(ws, device=src.device), indexing="ij")
        src_pos = torch.stack([yy.reshape(-1), xx.reshape(-1)], 1).to(plan.dtype)
        yt, xt = torch.meshgrid(torch.arange(h, device=src.device), torch.arange(w, device=src.device), indexing="ij")
        dst_pos = torch.stack([yt.reshape(-1), xt.reshape(-1)], 1).to(plan.dtype)
    out = torch.empty(dst.shape[0], n_k, dtype=plan.dtype, device=src.device)
    for start in range(0, dst.shape[0], plan.chunk_size):
        stop = min(dst.shape[0], start + plan.chunk_size)
        a = affinity_tile(plan, start, stop)
        if radius is not None:
            far = torch.cdist(dst_pos[start:stop], src_pos) > radius
            a = a.masked_fill(far, -torch.inf)
        vals, idx = torch.topk(a, k, dim=1)
        wts = torch.softmax(vals / temperature, dim=1)
        wts = torch.nan_to_num(wts, nan=0.0)  # rows with no source in radius: all -inf
        out[start:stop] = (wts[:, :, None] * probs_src[idx]).sum(1)
    probs = out.T.reshape(n_k, h, w)
    return PropagationRecord(probs=probs, params={"method": "top-k softmax propagation", "k": k,
                                                 "temperature": temperature, "metric": metric, "radius": radius,
                                                 "n_classes": n_k, "device": str(src.device),
                                                 "chunk_size": plan.chunk_size})


def label_noise(source_features, target_features, source_labels, target_labels, *, k: int = 10,
                temperature: float = 0.07, metric: str = "cosine", radius: float | None = None,
                threshold: float = 0.5, chunk_size: int | None = None) -> LabelNoiseRecord:
    """Temporal noisy-label indicator (TFAL): for each target pixel, the share of its top-k affinity weight in
    the source frame that lands on a different label, ``score(p) = 1 - sum_q w(p, q) [y_src(q) = y_tgt(p)]``.
    A pixel whose label disagrees with its high-affinity neighbours in the adjacent frame scores near 1."""
    threshold = check_probability(threshold, "threshold")
    tgt = class_map(target_labels, "target_labels")
    src_t = class_map(source_labels, "source_labels")
    n_classes = int(max(int(src_t.max()), int(tgt.max()))) + 1
    prop = propagate(source_features, target_features, src_t, k=k, temperature=temperature, metric=metric,
                     radius=radius, n_classes=n_classes, chunk_size=chunk_size)
    if tuple(tgt.shape) != tuple(prop.probs.shape[1:]):
        raise ValueError(f"target_labels has shape {tuple(tgt.shape)} but the target feature grid is "
                         f"{tuple(prop.probs.shape[1:])}")
    tgt = tgt.to(prop.probs.device).long()
    agree = prop.probs.gather(0, tgt[None]).squeeze(0)
    score = (1.0 - agree).clamp(0.0, 1.0)
    return LabelNoiseRecord(score=score, threshold=threshold,
                            params={**prop.params, "method": "temporal feature affinity label agreement (TFAL)",
                                    "threshold": threshold})
