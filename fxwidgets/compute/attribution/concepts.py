"""Deep Feature Factorization (Collins et al. 2018): non-negative factorisation of a layer's activations.

The activations A (B, C, H, W) of every spatial position of every image form the rows of a non-negative
matrix V (B*H*W, C). NMF V ~= W H with k components gives k concepts: H[j] (C,) is concept j's direction in
channel space and W[:, j] reshaped to (B, H, W) is where it appears in each image. Multiplicative updates
(Lee & Seung 2001) never increase the Frobenius error; it streams with the heat maps.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from .core import AttributionPlan, AttributionStep, chunks
from .forward import layer_hook
from .gradients import upsample_cam


def layer_activations(plan: AttributionPlan) -> torch.Tensor:
    layer = plan.extra["layer"]
    x = plan.attributed
    idx = torch.arange(plan.batch, device=x.device)
    acts = []
    for a, b in chunks(plan.batch, plan.chunk_size):
        store: dict = {}
        with layer_hook(layer, "output", lambda out, store=store: store.__setitem__("act", out)), torch.no_grad():
            plan.call.run(x[a:b], idx[a:b])
        act = store.get("act")
        if not isinstance(act, torch.Tensor) or act.ndim < 3:
            raise ValueError("layer must output a (batch, channels, ...) tensor for concepts")
        acts.append(act.detach())
    return torch.cat(acts)


def nmf(V: torch.Tensor, k: int, n_iter: int, seed: int, eps: float = 1e-10) -> Iterator[tuple[int, torch.Tensor, torch.Tensor, float]]:
    """Multiplicative-update NMF of V (m, c) >= 0; yields (iteration, W, H, relative Frobenius error) every 10."""
    gen = torch.Generator().manual_seed(seed)
    m, c = V.shape
    scale = (V.mean() / k).sqrt().item() if V.numel() else 1.0
    W = (torch.rand((m, k), generator=gen, dtype=torch.float64) * scale).to(V.device, V.dtype) + eps
    H = (torch.rand((k, c), generator=gen, dtype=torch.float64) * scale).to(V.device, V.dtype) + eps
    norm = torch.linalg.vector_norm(V).clamp_min(eps)
    # Entries that decay towards 0 would become subnormal numbers, which the CPU handles ~100x slower.
    floor = torch.finfo(V.dtype).tiny ** 0.5
    for it in range(1, n_iter + 1):
        H = (H * (W.T @ V) / (W.T @ W @ H + eps)).clamp_min_(floor)
        W = (W * (V @ H.T) / (W @ (H @ H.T) + eps)).clamp_min_(floor)
        if it % 10 == 0 or it == n_iter:
            err = float(torch.linalg.vector_norm(V - W @ H) / norm)
            yield it, W, H, err


def concepts(plan: AttributionPlan) -> Iterator[AttributionStep]:
    x = plan.attributed
    A = layer_activations(plan)
    if bool((A < 0).any()):
        A = A.clamp_min(0)  # NMF needs non-negative data: DFF is meant for post-ReLU layers
    B, C = A.shape[:2]
    spatial = tuple(A.shape[2:])
    V = A.movedim(1, -1).reshape(-1, C)
    k, n_iter = plan.params["n_concepts"], plan.params["n_iter"]
    errors = []
    for it, W, H, err in nmf(V, k, n_iter, int(plan.seed)):
        errors.append(err)
        maps = W.T.reshape(k, B, *spatial).movedim(0, 1).contiguous()  # (B, k, *spatial)
        shown = maps
        if plan.params["upsample"] and x.ndim == maps.ndim:
            shown = upsample_cam(maps, tuple(x.shape[2:]))
        yield AttributionStep(shown, it / n_iter, extras={"concepts": H.clone(), "layer_maps": maps},
                              diagnostics={"iteration": it, "relative_error": err, "error_history": list(errors)})
