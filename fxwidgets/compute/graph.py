"""Affinity graphs: eigenvector centrality, spectral embedding, spectral clustering and spectral ordering.

Every function takes a symmetric non-negative affinity matrix, dense (``torch.Tensor``/array) or sparse
(``torch.sparse_coo_tensor``/``csr``, e.g. from :func:`fxwidgets.knn_graph`), and never densifies a sparse one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from .validate import as_tensor, check_bool, check_positive_float, check_positive_int, check_seed


@dataclass
class GraphRecord:
    """Values computed on a graph plus how they were obtained (method, parameters, convergence)."""

    values: torch.Tensor
    method: str
    params: dict = field(default_factory=dict)


def as_graph(A, name: str = "A") -> torch.Tensor:
    """A square, finite, non-negative affinity matrix (dense float tensor or coalesced sparse COO)."""
    if isinstance(A, torch.Tensor) and A.is_sparse_csr:
        A = A.to_sparse_coo()
    if isinstance(A, torch.Tensor) and A.is_sparse:
        t = A.coalesce()
        if t.is_complex():
            raise TypeError(f"{name} must be real, got dtype {t.dtype}")
        if t.dtype not in (torch.float32, torch.float64):
            t = t.float()
        vals = t.values()
    else:
        if not isinstance(A, torch.Tensor):
            try:
                from scipy import sparse as _sp  # optional: accept scipy sparse matrices too
                if _sp.issparse(A):
                    coo = A.tocoo()
                    idx = torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))
                    return as_graph(torch.sparse_coo_tensor(idx, torch.from_numpy(coo.data.astype(np.float64)), coo.shape,
                                                            check_invariants=True), name)
            except ImportError:
                pass
        t = as_tensor(A, name)  # numbers only, real (a complex graph would lose its imaginary part)
        if t.dtype not in (torch.float32, torch.float64):
            t = t.float()
        vals = t
    if t.ndim != 2 or t.shape[0] != t.shape[1]:
        raise ValueError(f"{name} must be a square (n, n) affinity matrix, got shape {tuple(t.shape)}")
    if t.shape[0] < 2:
        raise ValueError(f"{name} must have at least 2 nodes, got {t.shape[0]}")
    if not bool(torch.isfinite(vals).all()):
        raise ValueError(f"{name} has non-finite values (NaN or Inf)")
    if bool((vals < 0).any()):
        raise ValueError(f"{name} has negative entries (min {float(vals.min()):.3g}); graph methods need a "
                         "non-negative affinity: use metric='rbf', clamp cosine at 0, or weights='binary'")
    return t


def _matvec(A: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return torch.sparse.mm(A, v) if A.is_sparse else A @ v


def _degrees(A: torch.Tensor) -> torch.Tensor:
    if A.is_sparse:
        return torch.sparse.sum(A, dim=1).to_dense()
    return A.sum(1)


def _check_symmetric(A: torch.Tensor, name: str) -> None:
    if A.is_sparse:
        diff = (A - A.t().coalesce()).coalesce().values()
        scale = A.values().abs().max() if A._nnz() else torch.tensor(1.0)
    else:
        diff = A - A.T
        scale = A.abs().max()
    tol = 1e-5 * max(1.0, float(scale))
    if diff.numel() and float(diff.abs().max()) > tol:
        raise ValueError(f"{name} must be symmetric (|A - A.T| max {float(diff.abs().max()):.3g}); "
                         "symmetrize it first, e.g. knn_graph(..., symmetrize='max')")


def eigenvector_centrality(A, *, max_iter: int = 1000, tol: float = 1e-8, seed: int = 0) -> GraphRecord:
    """Leading eigenvector of a symmetric non-negative ``A`` by power iteration, entry-wise ≥ 0, unit L2 norm.

    Iterates on ``A + I`` (same eigenvectors, spectrum shifted by 1), which also converges when ``A`` is
    bipartite (there -λ and λ are both eigenvalues of ``A`` and plain iteration oscillates). The start vector
    is all ones (the seed only matters if a user passes a graph whose ones-vector is orthogonal to the
    leading eigenvector, which a non-negative graph never has); ``params`` holds the iterations, the final
    change and the Rayleigh quotient (the eigenvalue of ``A``).
    """
    max_iter = check_positive_int(max_iter, "max_iter", allow_none=False)
    tol = check_positive_float(tol, "tol", allow_none=False)
    seed = check_seed(seed)
    A = as_graph(A)
    _check_symmetric(A, "A")
    n = A.shape[0]
    v = torch.ones(n, 1, dtype=A.dtype, device=A.device) / math.sqrt(n)
    delta = float("inf")
    it = 0
    for it in range(1, max_iter + 1):
        w = _matvec(A, v) + v
        w = w / torch.linalg.vector_norm(w)
        delta = float(torch.linalg.vector_norm(w - v))
        v = w
        if delta < tol:
            break
    eig = float((v.T @ _matvec(A, v)).squeeze())
    return GraphRecord(values=v.squeeze(1).clamp_min(0), method="eigenvector_centrality",
                       params={"iterations": it, "converged": delta < tol, "last_change": delta, "tol": tol,
                               "eigenvalue": eig, "algorithm": "power iteration on A + I", "seed": seed,
                               "device": str(A.device)})


def _normalized_adjacency(A: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    d = _degrees(A)
    if bool((d <= 0).any()):
        i = int((d <= 0).nonzero()[0])
        raise ValueError(f"node {i} has no edges (degree 0); a spectral method needs every node connected "
                         "to something (raise k, or drop isolated rows)")
    dinv = d.rsqrt()
    if A.is_sparse:
        idx = A.indices()
        vals = A.values() * dinv[idx[0]] * dinv[idx[1]]
        S = torch.sparse_coo_tensor(idx, vals, A.shape, check_invariants=False).coalesce()
    else:
        S = A * dinv[:, None] * dinv[None, :]
    return S, dinv


def _sign_flip(U: torch.Tensor) -> torch.Tensor:
    # Deterministic signs (as scikit-learn's _deterministic_vector_sign_flip): largest |entry| positive.
    i = U.abs().argmax(dim=0)
    s = torch.sign(U[i, torch.arange(U.shape[1])])
    s[s == 0] = 1
    return U * s


def _top_eigvecs(S: torch.Tensor, k: int, seed: int, tol: float, max_iter: int) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """The k largest eigenpairs of the symmetric normalised adjacency ``S`` (eigenvalues in [-1, 1])."""
    n = S.shape[0]
    if not S.is_sparse or n <= 2000 or n < 5 * k:
        dense = S.to_dense() if S.is_sparse else S
        evals, evecs = torch.linalg.eigh(dense)
        return evals[-k:].flip(0), evecs[:, -k:].flip(1), {"solver": "eigh (dense)"}
    # Sparse: LOBPCG on S + I, which is positive semi-definite, largest eigenpairs.
    gen = torch.Generator(device="cpu").manual_seed(seed)
    X0 = torch.randn(n, k, generator=gen, dtype=S.dtype).to(S.device)
    eye = torch.sparse_coo_tensor(torch.arange(n, device=S.device).repeat(2, 1),
                                  torch.ones(n, dtype=S.dtype, device=S.device), (n, n), check_invariants=False)
    M = (S + eye).coalesce()
    evals, evecs = torch.lobpcg(M, k=k, X=X0, largest=True, tol=tol, niter=max_iter)
    order = torch.argsort(evals, descending=True)
    return evals[order] - 1.0, evecs[:, order], {"solver": "lobpcg (sparse) on S + I", "seed": seed}


def spectral_embedding(A, n_components: int = 2, *, drop_first: bool = True, seed: int = 0, tol: float = 1e-6,
                       max_iter: int = 500) -> GraphRecord:
    """Laplacian eigenmap of the graph: the eigenvectors of the normalised Laplacian ``I - D^-1/2 A D^-1/2``
    with the smallest eigenvalues, rescaled by ``D^-1/2`` (so that the first is constant on a connected graph).

    ``values`` is (n, n_components). ``drop_first`` drops the constant first vector (as scikit-learn does).
    """
    n_components = check_positive_int(n_components, "n_components", allow_none=False)
    drop_first = check_bool(drop_first, "drop_first")
    seed = check_seed(seed)
    tol = check_positive_float(tol, "tol", allow_none=False)
    max_iter = check_positive_int(max_iter, "max_iter", allow_none=False)
    A = as_graph(A)
    _check_symmetric(A, "A")
    n = A.shape[0]
    need = n_components + (1 if drop_first else 0)
    if need > n:
        raise ValueError(f"n_components={n_components} needs {need} eigenvectors but the graph has {n} nodes")
    S, dinv = _normalized_adjacency(A)
    evals, U, info = _top_eigvecs(S, need, seed, tol, max_iter)
    emb = U * dinv[:, None]
    emb = emb / torch.linalg.vector_norm(emb, dim=0, keepdim=True)
    emb = _sign_flip(emb)
    if drop_first:
        emb, evals = emb[:, 1:], evals[1:]
    return GraphRecord(values=emb, method="spectral_embedding",
                       params={"n_components": n_components, "drop_first": drop_first,
                               "laplacian_eigenvalues": (1.0 - evals).tolist(), **info})


def kmeans(X: torch.Tensor, n_clusters: int, *, seed: int = 0, n_init: int = 4, max_iter: int = 100) -> tuple[torch.Tensor, float]:
    """Lloyd's k-means with k-means++ starts; returns (labels, inertia) of the best of ``n_init`` runs."""
    gen = torch.Generator(device="cpu").manual_seed(seed)
    n = X.shape[0]
    best_labels, best_inertia = None, float("inf")
    for _ in range(n_init):
        first = int(torch.randint(n, (1,), generator=gen))
        centres = [X[first]]
        d2 = ((X - centres[0]) ** 2).sum(1)
        for _c in range(1, n_clusters):
            p = (d2 / d2.sum()).cpu() if float(d2.sum()) > 0 else torch.full((n,), 1.0 / n)
            j = int(torch.multinomial(p.double(), 1, generator=gen))
            centres.append(X[j])
            d2 = torch.minimum(d2, ((X - X[j]) ** 2).sum(1))
        C = torch.stack(centres)
        labels = torch.zeros(n, dtype=torch.int64, device=X.device)
        x_sq = (X * X).sum(1, keepdim=True)
        for _it in range(max_iter):
            new = (x_sq - 2.0 * X @ C.T + (C * C).sum(1)[None]).argmin(1)
            if _it > 0 and bool((new == labels).all()):
                break
            labels = new
            sums = torch.zeros_like(C).index_add_(0, labels, X)
            counts = torch.bincount(labels, minlength=n_clusters).to(X.dtype)
            filled = counts > 0  # an empty cluster keeps its centre
            C[filled] = sums[filled] / counts[filled, None]
        inertia = float(((X - C[labels]) ** 2).sum())
        if inertia < best_inertia:
            best_labels, best_inertia = labels.clone(), inertia
    return best_labels, best_inertia


def spectral_clustering(A, n_clusters: int, *, seed: int = 0, n_init: int = 4) -> GraphRecord:
    """Normalised spectral clustering (Ng-Jordan-Weiss style): k-means on the first ``n_clusters``
    eigenvectors of the normalised Laplacian, rows scaled to unit length. ``values`` are int64 labels
    numbered by first appearance."""
    n_clusters = check_positive_int(n_clusters, "n_clusters", allow_none=False)
    seed = check_seed(seed)
    n_init = check_positive_int(n_init, "n_init", allow_none=False)
    A = as_graph(A)
    if n_clusters > A.shape[0]:
        raise ValueError(f"n_clusters={n_clusters} is more than the {A.shape[0]} nodes")
    emb = spectral_embedding(A, n_clusters, drop_first=False, seed=seed)
    U = emb.values
    U = U / torch.linalg.vector_norm(U, dim=1, keepdim=True).clamp_min(1e-12)
    labels, inertia = kmeans(U, n_clusters, seed=seed, n_init=n_init)
    # renumber by first appearance so the labels are deterministic
    _, first = np.unique(labels.cpu().numpy(), return_index=True)
    order = np.argsort(first)
    remap = torch.empty(n_clusters, dtype=torch.int64)
    present = np.unique(labels.cpu().numpy())[order]
    remap[torch.as_tensor(present)] = torch.arange(len(present))
    labels = remap.to(labels.device)[labels]
    return GraphRecord(values=labels, method="spectral_clustering",
                       params={"n_clusters": n_clusters, "seed": seed, "n_init": n_init, "kmeans_inertia": inertia,
                               **{k: v for k, v in emb.params.items() if k != "n_components"}})


def connected_components(A) -> torch.Tensor:
    """Component id of every node (numbered by each component's smallest node), by min-label propagation."""
    A = as_graph(A)
    n = A.shape[0]
    if A.is_sparse:
        idx = A.indices()
        src, dst = idx[0][A.values() > 0], idx[1][A.values() > 0]
    else:
        src, dst = (A > 0).nonzero(as_tuple=True)
    labels = torch.arange(n, device=A.device)
    while True:
        new = labels.scatter_reduce(0, src, labels[dst], reduce="amin", include_self=True)
        new = new[new]  # pointer jumping: follow labels to their own labels, so long chains converge fast
        if torch.equal(new, labels):
            return labels
        labels = new


def _subgraph(A: torch.Tensor, nodes: torch.Tensor) -> torch.Tensor:
    if not A.is_sparse:
        return A[nodes][:, nodes]
    n = A.shape[0]
    where = torch.full((n,), -1, dtype=torch.int64, device=A.device)
    where[nodes] = torch.arange(nodes.numel(), device=A.device)
    idx, vals = A.indices(), A.values()
    keep = (where[idx[0]] >= 0) & (where[idx[1]] >= 0)
    sub = torch.stack([where[idx[0][keep]], where[idx[1][keep]]])
    return torch.sparse_coo_tensor(sub, vals[keep], (nodes.numel(), nodes.numel()), check_invariants=False).coalesce()


def spectral_order(A, *, seed: int = 0) -> GraphRecord:
    """A 1-D ordering of the nodes by the Fiedler vector (the first non-constant eigenvector of the normalised
    Laplacian): strongly connected nodes land next to each other; a permuted band matrix gets its band back (up
    to reversal). A disconnected graph is ordered component by component (largest first), each by its own
    Fiedler vector. ``values`` is the permutation."""
    seed = check_seed(seed)
    A = as_graph(A)
    _check_symmetric(A, "A")
    comp = connected_components(A)
    ids, sizes = torch.unique(comp, return_counts=True)
    by_size = ids[torch.argsort(sizes, descending=True, stable=True)]
    parts = []
    info: dict = {"components": int(ids.numel())}
    for c in by_size.tolist():
        nodes = (comp == c).nonzero().squeeze(1)
        if nodes.numel() < 3:
            parts.append(nodes)
            continue
        emb = spectral_embedding(_subgraph(A, nodes), 1, drop_first=True, seed=seed)
        parts.append(nodes[torch.argsort(emb.values[:, 0], stable=True)])
        if nodes.numel() == A.shape[0]:
            info.update(emb.params)
    order = torch.cat(parts)
    return GraphRecord(values=order, method="spectral_order", params={**info, "seed": seed})
