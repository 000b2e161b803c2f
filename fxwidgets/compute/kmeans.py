"""Lloyd's k-means in row chunks, for data too large for an N x k distance matrix.

Used by the data-selection methods (sensitivity sampling, hierarchical curation, AnchorAL anchors, per-class
representatives). Memory is O(N + k d + chunk_size k): each assignment step walks the rows in chunks.
Initialisation is k-means++ (Arthur & Vassilvitskii 2007) on a seeded subsample, so that a large N does not
make the k sequential D²-sampling passes expensive; the Lloyd iterations then run on all rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from .memory import TILE_BYTES

#: k-means++ runs on at most this many rows per cluster (and at least INIT_MIN_ROWS): D² sampling on a
#: uniform subsample of 50 k rows seeds as well as on all rows for the cluster sizes this package uses, at a
#: fraction of the k sequential passes over N.
INIT_ROWS_PER_CLUSTER = 50
INIT_MIN_ROWS = 10_000


@dataclass
class KMeansResult:
    """``centres`` (k, d); ``labels`` (N,) int64; ``sq_distances`` (N,) squared distance of each row to its
    own centre; ``inertia`` their sum."""

    centres: torch.Tensor
    labels: torch.Tensor
    sq_distances: torch.Tensor
    inertia: float
    iterations: int
    converged: bool
    params: dict = field(default_factory=dict)

    @property
    def sizes(self) -> torch.Tensor:
        return torch.bincount(self.labels, minlength=self.centres.shape[0])


def rows_per_chunk(n_cols: int, itemsize: int, chunk_size: int | None = None) -> int:
    """Rows of a (rows x n_cols) scratch tile that fit in TILE_BYTES (or ``chunk_size`` when given)."""
    if chunk_size is not None:
        return int(chunk_size)
    return max(1, TILE_BYTES // max(1, n_cols * itemsize))


def sq_distances_to(X: torch.Tensor, C: torch.Tensor, chunk_size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Index of the nearest row of ``C`` for every row of ``X``, and the exact squared distance to it.

    The nearest centre comes from the expansion ‖x‖² − 2x·c + ‖c‖² (one GEMM per chunk); the returned distance
    is then recomputed as ‖x − c‖² directly, which has no cancellation error.
    """
    n = X.shape[0]
    step = rows_per_chunk(max(C.shape[0], X.shape[1]), X.element_size(), chunk_size)
    labels = torch.empty(n, dtype=torch.int64, device=X.device)
    d2 = torch.empty(n, dtype=X.dtype, device=X.device)
    c_sq = (C * C).sum(1)
    for s in range(0, n, step):
        x = X[s:s + step]
        scores = c_sq[None, :] - 2.0 * (x @ C.T)  # ‖x‖² is the same for every centre
        lab = scores.argmin(1)
        labels[s:s + step] = lab
        d2[s:s + step] = ((x - C[lab]) ** 2).sum(1)
    return labels, d2


def sample_categorical(p: torch.Tensor, m: int, gen: torch.Generator) -> torch.Tensor:
    """``m`` i.i.d. draws (CPU int64) from the categorical distribution ∝ ``p`` (non-negative, any length), by
    inverse-CDF sampling in float64 — unlike ``torch.multinomial`` it has no 2^24-category limit."""
    cdf = torch.cumsum(p.detach().double().cpu(), 0)
    u = torch.rand(m, generator=gen, dtype=torch.float64) * cdf[-1]
    return torch.searchsorted(cdf, u, right=True).clamp_(max=p.numel() - 1)


def kmeans_plus_plus(X: torch.Tensor, k: int, gen: torch.Generator) -> torch.Tensor:
    """k-means++ seeding: the first centre uniform, each next one drawn with probability ∝ D(x)²."""
    n = X.shape[0]
    first = int(torch.randint(n, (1,), generator=gen))
    idx = [first]
    d2 = ((X - X[first]) ** 2).sum(1)
    for _ in range(1, k):
        if float(d2.sum()) > 0:
            j = int(sample_categorical(d2, 1, gen))
        else:  # every row coincides with a centre already: any row will do
            j = int(torch.randint(n, (1,), generator=gen))
        idx.append(j)
        d2 = torch.minimum(d2, ((X - X[j]) ** 2).sum(1))
    return X[torch.as_tensor(idx, device=X.device)].clone()


def kmeans(X: torch.Tensor, k: int, *, seed: int = 0, max_iter: int = 100, tol: float = 1e-4,
           chunk_size: int | None = None) -> KMeansResult:
    """Lloyd's algorithm from a k-means++ start. ``X`` must already be a validated 2-D float tensor.

    Stops when the total squared centre shift falls below ``tol`` times the mean per-feature variance of X
    (scikit-learn's criterion). An empty cluster is moved to the row farthest from its centre, so every one
    of the k clusters ends non-empty whenever X has at least k distinct rows.
    """
    n = X.shape[0]
    k = min(int(k), n)
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    n_init = min(n, max(INIT_MIN_ROWS, INIT_ROWS_PER_CLUSTER * k))
    sub = X if n_init == n else X[torch.randperm(n, generator=gen)[:n_init].to(X.device)]
    C = kmeans_plus_plus(sub, k, gen)
    threshold = tol * float(X.var(0).mean()) if n > 1 else 0.0
    converged = False
    it = 0
    labels, d2 = sq_distances_to(X, C, chunk_size)
    for it in range(1, max_iter + 1):
        sums = torch.zeros_like(C).index_add_(0, labels, X)
        counts = torch.bincount(labels, minlength=k)
        new = C.clone()
        filled = counts > 0
        new[filled] = sums[filled] / counts[filled, None].to(X.dtype)
        empty = (~filled).nonzero().flatten()
        if empty.numel():
            far = torch.topk(d2, min(int(empty.numel()), n)).indices
            new[empty[:far.numel()]] = X[far]
        shift = float(((new - C) ** 2).sum())
        C = new
        labels, d2 = sq_distances_to(X, C, chunk_size)
        if shift <= threshold:
            converged = True
            break
    return KMeansResult(centres=C, labels=labels, sq_distances=d2, inertia=float(d2.double().sum()),
                        iterations=it, converged=converged,
                        params={"n_clusters": k, "seed": seed, "max_iter": max_iter, "tol": tol,
                                "init": f"k-means++ on {n_init} of {n} rows"})


def balanced_allocation(budget: int, capacity: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Split ``budget`` picks among groups as evenly as their ``capacity`` allows (water filling).

    Every group gets the same share; a group with fewer items than its share gives all it has and the rest is
    shared among the others. A remainder smaller than the number of open groups goes one each to groups drawn
    at random (seeded), so no group is favoured by its position.
    """
    cap = capacity.to(torch.int64).cpu().clone()
    out = torch.zeros_like(cap)
    budget = min(int(budget), int(cap.sum()))
    while budget > 0:
        open_ = (cap > 0).nonzero().flatten()
        share = budget // open_.numel()
        if share == 0:
            chosen = open_[torch.randperm(open_.numel(), generator=gen)[:budget]]
            out[chosen] += 1
            cap[chosen] -= 1
            break
        take = torch.minimum(cap[open_], torch.tensor(share))
        out[open_] += take
        cap[open_] -= take
        budget -= int(take.sum())
    return out


def log2_entropy(counts: torch.Tensor) -> float:
    """Shannon entropy (bits) of a histogram of counts."""
    p = counts.double() / max(1.0, float(counts.sum()))
    p = p[p > 0]
    return float(-(p * torch.log2(p)).sum()) if p.numel() else 0.0


def normalized_entropy(counts: torch.Tensor) -> float:
    """Entropy over log2(number of groups): 1 for a perfectly even split, 0 when one group holds everything."""
    g = int(counts.numel())
    return log2_entropy(counts) / math.log2(g) if g > 1 else 1.0
