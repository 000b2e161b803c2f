"""2-D (or n-D) embeddings of a dataset for a scatter view: PCA and spectral embedding in torch, UMAP and t-SNE
through their reference libraries when installed.

Every method is a generator of :class:`EmbeddingUpdate` records — "rows ``row_start:row_stop`` now sit at these
coordinates", with a progress in [0, 1] — so a scatter can fill in (PCA projects chunk by chunk) or move in
place (t-SNE yields the whole layout every few iterations). :class:`EmbeddingAccumulator` drains them into an
:class:`EmbeddingRecord`; :func:`embed` is the blocking call. Validation happens in :func:`plan_embedding`,
before anything runs.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np
import torch

from .affinity import METRICS
from .graph import connected_components, spectral_embedding
from .knn import knn_graph, knn_search
from .memory import check_fits
from .validate import as_matrix, check_choice, check_positive_float, check_positive_int
from .drain import drain

METHODS = ("pca", "spectral", "tsne", "umap")
PCA_SOLVERS = ("auto", "full", "covariance_eigh", "randomized")

#: Rows per chunk of the covariance PCA solver: an 8192-row GEMM runs at full BLAS speed, and summing
#: float32 chunk Grams of this size in float64 keeps the explained variances within ~1e-6 of float64 PCA.
COVARIANCE_CHUNK_ROWS = 8192

#: The covariance solver shifts the rows by an estimate of the mean when some feature's |mean| exceeds this
#: many standard deviations: XᵀX − n μμᵀ then loses about log10(ratio²) digits, which float32 cannot spare.
COVARIANCE_SHIFT_RATIO = 4.0

#: Rows per projection chunk: the (rows x d) centred tile stays in cache (~4 MiB) rather than making a
#: memory round trip, which makes the projection ~5x faster than 32 MiB tiles.
PROJECTION_TILE_BYTES = 4 * 2**20

#: Extra that installs each optional backend (named in the ImportError).
EXTRAS = {"umap": ("umap", "umap-learn", "umap"), "tsne": ("openTSNE", "openTSNE", "tsne")}


# ------------------------------------------------------------------------------------------------
# Records
# ------------------------------------------------------------------------------------------------


@dataclass
class EmbeddingUpdate:
    """Rows ``row_start:row_stop`` of the embedding are now ``coordinates`` (possibly no rows: a progress-only
    update). ``diagnostics`` holds what is known so far (explained variance, KL divergence, ...)."""

    row_start: int
    row_stop: int
    coordinates: torch.Tensor
    progress: float
    stage: str
    diagnostics: dict = field(default_factory=dict)


@dataclass
class EmbeddingRecord:
    """``coordinates`` (N, n_components) in the input's dtype and on its device, plus how they were made."""

    coordinates: torch.Tensor
    method: str
    params: dict
    seed: int | None
    diagnostics: dict = field(default_factory=dict)

    @property
    def n_components(self) -> int:
        return self.coordinates.shape[1]

    def numpy(self) -> np.ndarray:
        return self.coordinates.detach().cpu().numpy()

    def to_dict(self) -> dict:
        diag = {k: (v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else v) for k, v in self.diagnostics.items()}
        return {"method": self.method, "params": dict(self.params), "seed": self.seed, "coordinates": self.numpy(),
                "diagnostics": diag}

    def __repr__(self) -> str:
        return (f"EmbeddingRecord(method={self.method!r}, shape={tuple(self.coordinates.shape)}, seed={self.seed}, "
                f"params={self.params})")


@dataclass
class EmbeddingPlan:
    x: torch.Tensor
    method: str
    n_components: int
    seed: int
    options: dict

    @property
    def n(self) -> int:
        return self.x.shape[0]

    @property
    def params(self) -> dict:
        return {"method": self.method, "n_components": self.n_components, **self.options}


class EmbeddingAccumulator:
    def __init__(self, plan: EmbeddingPlan) -> None:
        self.plan = plan
        self.coordinates = torch.full((plan.n, plan.n_components), float("nan"), dtype=plan.x.dtype,
                                      device=plan.x.device)
        self.written = torch.zeros(plan.n, dtype=torch.bool, device=plan.x.device)
        self.diagnostics: dict = {}
        self.progress = 0.0

    def add(self, update: EmbeddingUpdate) -> None:
        if update.row_stop > update.row_start:
            self.coordinates[update.row_start:update.row_stop] = update.coordinates.to(self.coordinates.dtype)
            self.written[update.row_start:update.row_stop] = True
        self.diagnostics.update(update.diagnostics)
        self.progress = update.progress

    def result(self) -> EmbeddingRecord:
        if self.progress < 1.0 or not bool(self.written.all()):
            raise RuntimeError(f"the embedding is incomplete ({self.progress:.0%} done, "
                               f"{int(self.written.sum())} of {self.plan.n} rows placed)")
        return EmbeddingRecord(coordinates=self.coordinates, method=self.plan.method, params=self.plan.params,
                               seed=self.plan.seed if self.plan.method != "pca" or
                               self.diagnostics.get("solver") == "randomized" else None,
                               diagnostics=dict(self.diagnostics))


# ------------------------------------------------------------------------------------------------
# Planning (all validation)
# ------------------------------------------------------------------------------------------------


def _require(method: str):
    module, package, extra = EXTRAS[method]
    try:
        return __import__(module)
    except ImportError:
        raise ImportError(f"method={method!r} needs the {package!r} package: pip install fxwidgets[{extra}] "
                          f"(or pip install {package})") from None


def _seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def _take(options: dict, allowed: dict, method: str) -> dict:
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise TypeError(f"method={method!r} has no option(s) {', '.join(map(repr, unknown))}; "
                        f"its options are {', '.join(map(repr, allowed))}")
    return {**allowed, **options}


def plan_embedding(X, method: str = "pca", n_components: int = 2, *, seed: int = 0, **options) -> EmbeddingPlan:
    """Validate ``X``, the method and its options, and the memory they need; raises before any work.

    Options per method (defaults):

    - ``pca``: ``solver='auto'`` (``'full'``: SVD of the centred data; ``'covariance_eigh'``: eigh of the
      float64 covariance accumulated over row chunks; ``'randomized'``: Halko et al. randomized SVD with a seeded
      Gaussian sketch; ``'auto'`` picks as scikit-learn does), ``chunk_size=None``, ``n_oversamples=10``,
      ``n_iter='auto'`` (power iterations of the randomized solver).
    - ``spectral``: ``n_neighbors=15``, ``metric='neg_sq_euclidean'`` (any :func:`fxwidgets.knn` metric).
    - ``tsne`` (openTSNE): ``perplexity=30``, ``n_iter=500``, ``early_exaggeration_iter=250``,
      ``early_exaggeration=12``, ``learning_rate='auto'``, ``initialization='pca'``, ``metric='euclidean'``,
      ``n_jobs=1``, ``report_every=50`` (iterations between streamed layouts).
    - ``umap`` (umap-learn): ``n_neighbors=15``, ``min_dist=0.1``, ``metric='euclidean'``, ``n_epochs=None``.
    """
    method = check_choice(method, "method", METHODS)
    x = as_matrix(X, "X")
    n, d = x.shape
    n_components = check_positive_int(n_components, "n_components", allow_none=False)
    seed = _seed(seed)
    item = x.element_size()
    if method == "pca":
        o = _take(options, {"solver": "auto", "chunk_size": None, "n_oversamples": 10, "n_iter": "auto"}, method)
        o["solver"] = check_choice(o["solver"], "solver", PCA_SOLVERS)
        o["chunk_size"] = check_positive_int(o["chunk_size"], "chunk_size")
        o["n_oversamples"] = check_positive_int(o["n_oversamples"], "n_oversamples", allow_none=False)
        if o["n_iter"] != "auto":
            o["n_iter"] = check_positive_int(o["n_iter"], "n_iter", allow_none=False)
        if n < 2:
            raise ValueError(f"X has {n} row; PCA needs at least 2")
        if n_components > min(n, d):
            raise ValueError(f"n_components={n_components} is more than min(rows, features) = {min(n, d)} of X")
        o["solver"] = _pca_solver(o["solver"], n, d, n_components)
        if o["n_iter"] == "auto":
            o["n_iter"] = 7 if n_components < 0.1 * min(n, d) else 4
        q = min(n_components + o["n_oversamples"], min(n, d))
        need = {"full": 3 * n * d * item + 3 * d * d * item,
                "covariance_eigh": 4 * d * d * 8 + (o["chunk_size"] or COVARIANCE_CHUNK_ROWS) * d * item * 2,
                "randomized": 4 * n * q * item + 3 * q * d * item}[o["solver"]]
        check_fits(need + n * n_components * item, f"PCA ({o['solver']})", x.device)
    elif method == "spectral":
        o = _take(options, {"n_neighbors": 15, "metric": "neg_sq_euclidean"}, method)
        o["metric"] = check_choice(o["metric"], "metric", METRICS)
        o["n_neighbors"] = check_positive_int(o["n_neighbors"], "n_neighbors", allow_none=False)
        if o["n_neighbors"] >= n:
            raise ValueError(f"n_neighbors={o['n_neighbors']} must be less than the {n} rows of X")
        if n_components + 1 > n:
            raise ValueError(f"n_components={n_components} needs at least {n_components + 2} rows, X has {n}")
        dense = n <= 2000
        check_fits(12 * n * o["n_neighbors"] * 8 + (3 * n * n * 8 if dense else 0) + n * (n_components + 1) * 8 * 4,
                   "spectral embedding", x.device)
    elif method == "tsne":
        o = _take(options, {"perplexity": 30.0, "n_iter": 500, "early_exaggeration_iter": 250,
                            "early_exaggeration": 12.0, "learning_rate": "auto", "initialization": "pca",
                            "metric": "euclidean", "n_jobs": 1, "report_every": 50}, method)
        o["perplexity"] = check_positive_float(o["perplexity"], "perplexity", allow_none=False)
        o["n_iter"] = check_positive_int(o["n_iter"], "n_iter", allow_none=False)
        ee = o["early_exaggeration_iter"]
        if isinstance(ee, bool) or not isinstance(ee, (int, np.integer)) or ee < 0:
            raise ValueError(f"early_exaggeration_iter must be an integer >= 0, got {ee!r}")
        o["early_exaggeration_iter"] = int(ee)
        o["early_exaggeration"] = check_positive_float(o["early_exaggeration"], "early_exaggeration", allow_none=False)
        if o["learning_rate"] != "auto":
            o["learning_rate"] = check_positive_float(o["learning_rate"], "learning_rate", allow_none=False)
        o["initialization"] = check_choice(o["initialization"], "initialization", ("pca", "random", "spectral"))
        o["report_every"] = check_positive_int(o["report_every"], "report_every", allow_none=False)
        if 3 * o["perplexity"] >= n - 1:
            raise ValueError(f"perplexity={o['perplexity']} is too large for {n} rows: t-SNE needs "
                             f"3 * perplexity < n - 1, i.e. perplexity < {(n - 1) / 3:.1f}")
        _require("tsne")
        check_fits(n * d * 8 * 2 + n * int(3 * o["perplexity"] + 1) * 16 * 3, "t-SNE", torch.device("cpu"))
    else:
        o = _take(options, {"n_neighbors": 15, "min_dist": 0.1, "metric": "euclidean", "n_epochs": None}, method)
        o["n_neighbors"] = check_positive_int(o["n_neighbors"], "n_neighbors", allow_none=False)
        if o["n_neighbors"] < 2 or o["n_neighbors"] >= n:
            raise ValueError(f"n_neighbors={o['n_neighbors']} must be in [2, {n - 1}] for {n} rows")
        if not isinstance(o["min_dist"], (int, float)) or isinstance(o["min_dist"], bool) or o["min_dist"] < 0:
            raise ValueError(f"min_dist must be a number >= 0, got {o['min_dist']!r}")
        o["n_epochs"] = check_positive_int(o["n_epochs"], "n_epochs")
        if n_components + 1 >= n:
            raise ValueError(f"n_components={n_components} needs more than {n_components + 1} rows, X has {n}")
        _require("umap")
        check_fits(n * d * 8 * 2 + n * o["n_neighbors"] * 16 * 4, "UMAP", torch.device("cpu"))
    return EmbeddingPlan(x=x, method=method, n_components=n_components, seed=seed, options=o)


def _pca_solver(solver: str, n: int, d: int, c: int) -> str:
    """scikit-learn's choice: tall and skinny -> covariance; small -> full; few components -> randomized."""
    if solver != "auto":
        return solver
    if d <= 1000 and n >= 10 * d:
        return "covariance_eigh"
    if max(n, d) <= 500:
        return "full"
    if c < 0.8 * min(n, d):
        return "randomized"
    return "full"


def iter_embedding(plan: EmbeddingPlan) -> Iterator[EmbeddingUpdate]:
    return {"pca": _pca_steps, "spectral": _spectral_steps, "tsne": _tsne_steps, "umap": _umap_steps}[plan.method](plan)


def embed(X, method: str = "pca", n_components: int = 2, *, seed: int = 0, **options) -> EmbeddingRecord:
    """Blocking: plan, run every step, return the :class:`EmbeddingRecord` (see :func:`plan_embedding`)."""
    plan = plan_embedding(X, method, n_components, seed=seed, **options)
    return drain(iter_embedding(plan), EmbeddingAccumulator(plan))


# ------------------------------------------------------------------------------------------------
# PCA
# ------------------------------------------------------------------------------------------------


def svd_flip_rows(V: torch.Tensor) -> torch.Tensor:
    """Signs as scikit-learn's ``svd_flip(u_based_decision=False)`` (PCA since 1.5): in every row of V (a
    component) the entry of largest absolute value is made positive."""
    i = V.abs().argmax(dim=1)
    s = torch.sign(V[torch.arange(V.shape[0], device=V.device), i])
    s[s == 0] = 1
    return V * s[:, None]


def _project_steps(x: torch.Tensor, mean: torch.Tensor, V: torch.Tensor, chunk_size: int | None, p0: float,
                   diag: dict) -> Iterator[EmbeddingUpdate]:
    n = x.shape[0]
    step = chunk_size or max(1, PROJECTION_TILE_BYTES // (x.shape[1] * x.element_size()))
    Vt = V.T.to(x.dtype)
    mu = mean.to(x.dtype)
    for s in range(0, n, step):
        e = min(n, s + step)
        coords = (x[s:e] - mu) @ Vt
        yield EmbeddingUpdate(s, e, coords, p0 + (1 - p0) * e / n, "projecting", diag if e == n else {})


def _pca_steps(plan: EmbeddingPlan) -> Iterator[EmbeddingUpdate]:
    x, c, o = plan.x, plan.n_components, plan.options
    n, d = x.shape
    solver = o["solver"]
    if solver == "full":
        mean = x.mean(0)
        _, S, Vh = torch.linalg.svd(x - mean, full_matrices=False)
        ev_all = S.double() ** 2 / (n - 1)
        V = svd_flip_rows(Vh[:c])
        ev, total = ev_all[:c], float(ev_all.sum())
        singular = S[:c].double()
        yield EmbeddingUpdate(0, 0, x.new_empty(0, c), 0.5, "svd")
    elif solver == "covariance_eigh":
        step = o["chunk_size"] or COVARIANCE_CHUNK_ROWS
        # Each chunk's Gram is a GEMM in the input's dtype (float32 is 4x faster than casting to float64); the
        # chunks are summed in float64, so rounding grows with the chunk, not with N. When a feature's mean is
        # large against its spread, XᵀX − n μμᵀ would cancel away the covariance's digits: the rows are then
        # shifted by the first chunk's mean first (a copy per chunk, so only when it is needed).
        head = x[:min(n, step)]
        sd0, mu0 = torch.std_mean(head, dim=0) if head.shape[0] > 1 else (head.abs().max(0).values, head[0])
        needs_shift = bool((mu0.abs() > COVARIANCE_SHIFT_RATIO * sd0).any())
        shift_x = mu0 if needs_shift else None
        sums = torch.zeros(d, dtype=torch.float64, device=x.device)
        gram = torch.zeros(d, d, dtype=torch.float64, device=x.device)
        ones = torch.ones(min(n, step), dtype=x.dtype, device=x.device)
        for s in range(0, n, step):
            xs = x[s:s + step] - shift_x if needs_shift else x[s:s + step]
            sums += (ones[:xs.shape[0]] @ xs).double()  # a GEMV: much faster than a column sum
            gram += (xs.T @ xs).double()
            stop = min(n, s + step)
            if stop < n:
                yield EmbeddingUpdate(0, 0, x.new_empty(0, c), 0.5 * stop / n, "covariance")
        mean_shifted = sums / n
        shift = shift_x.double() if needs_shift else torch.zeros_like(mean_shifted)
        cov = (gram - n * torch.outer(mean_shifted, mean_shifted)) / (n - 1)
        cov = (cov + cov.T) / 2
        evals, evecs = torch.linalg.eigh(cov)
        evals = evals.flip(0).clamp_min(0)
        V = svd_flip_rows(evecs.flip(1)[:, :c].T)
        mean = mean_shifted + shift
        ev, total = evals[:c], float(torch.trace(cov))
        singular = (ev * (n - 1)).sqrt()
        yield EmbeddingUpdate(0, 0, x.new_empty(0, c), 0.5, "eigh")
    else:
        V, S, mean, total = _randomized_pca(x, c, o["n_oversamples"], o["n_iter"], plan.seed)
        ev = S.double() ** 2 / (n - 1)
        singular = S.double()
        yield EmbeddingUpdate(0, 0, x.new_empty(0, c), 0.5, "randomized svd")
    diag = {"solver": solver, "explained_variance": ev.cpu().tolist(),
            "explained_variance_ratio": (ev / total).cpu().tolist() if total > 0 else [0.0] * c,
            "singular_values": singular.cpu().tolist(), "total_variance": total,
            "components": V.to(x.dtype), "mean": mean.to(x.dtype)}
    yield from _project_steps(x, mean, V, o["chunk_size"], 0.5, diag)


def _randomized_pca(x: torch.Tensor, c: int, oversamples: int, n_iter: int, seed: int):
    """Randomized SVD of the centred data without forming it (Halko, Martinsson & Tropp 2011, Alg. 4.4):
    ``A v = X v − 1 (μᵀ v)`` and ``Aᵀ u = Xᵀ u − μ (1ᵀ u)``; QR re-orthonormalisation after every product."""
    n, d = x.shape
    mean = x.mean(0)
    q = min(c + oversamples, min(n, d))
    gen = torch.Generator(device="cpu").manual_seed(seed)
    omega = torch.randn(d, q, generator=gen, dtype=x.dtype).to(x.device)

    def a_mul(v):
        return x @ v - (mean @ v)[None, :]

    def at_mul(u):
        return x.T @ u - mean[:, None] * u.sum(0)[None, :]

    Q, _ = torch.linalg.qr(a_mul(omega))
    for _ in range(n_iter):
        Q, _ = torch.linalg.qr(at_mul(Q))
        Q, _ = torch.linalg.qr(a_mul(Q))
    B = at_mul(Q).T  # (q, d) = Qᵀ A
    _, S, Vh = torch.linalg.svd(B, full_matrices=False)
    V = svd_flip_rows(Vh[:c])
    total = float(((x - mean).double() ** 2).sum() / (n - 1))
    return V, S[:c], mean, total


# ------------------------------------------------------------------------------------------------
# Spectral embedding
# ------------------------------------------------------------------------------------------------


def _spectral_steps(plan: EmbeddingPlan) -> Iterator[EmbeddingUpdate]:
    x, c, o = plan.x, plan.n_components, plan.options
    n = x.shape[0]
    nn = knn_search(x, o["n_neighbors"], o["metric"])
    yield EmbeddingUpdate(0, 0, x.new_empty(0, c), 0.4, "k-NN graph")
    # Connectivity weights, symmetrised as (A + Aᵀ)/2: scikit-learn's SpectralEmbedding(affinity=
    # "nearest_neighbors") graph (its self-loops aside, which the normalised Laplacian ignores).
    A = knn_graph(nn, symmetrize="mean", weights="binary")
    n_comp = int(connected_components(A).unique().numel())
    emb = spectral_embedding(A, c, drop_first=True, seed=plan.seed)
    coords = emb.values.to(x.dtype)
    diag = {"laplacian_eigenvalues": emb.params["laplacian_eigenvalues"], "solver": emb.params.get("solver"),
            "graph_components": n_comp, "graph_edges": int(A._nnz())}
    if n_comp > 1:
        diag["warning"] = (f"the k-NN graph has {n_comp} connected components; the first coordinates then only say "
                           "which component a row is in (raise n_neighbors)")
    yield EmbeddingUpdate(0, n, coords, 1.0, "eigenvectors", diag)


# ------------------------------------------------------------------------------------------------
# t-SNE (openTSNE) and UMAP (umap-learn)
# ------------------------------------------------------------------------------------------------


def _tsne_steps(plan: EmbeddingPlan) -> Iterator[EmbeddingUpdate]:
    """openTSNE's own schedule (early exaggeration, then the normal phase) cut into ``report_every``-iteration
    pieces. The optimizer keeps its gains and momentum between pieces, so the final layout equals
    ``openTSNE.TSNE(...).fit(X)`` with the same parameters."""
    openTSNE = _require("tsne")
    x, c, o = plan.x, plan.n_components, plan.options
    n = x.shape[0]
    data = x.detach().cpu().double().numpy()
    tsne = openTSNE.TSNE(n_components=c, perplexity=o["perplexity"], learning_rate=o["learning_rate"],
                         early_exaggeration_iter=o["early_exaggeration_iter"],
                         early_exaggeration=o["early_exaggeration"], n_iter=o["n_iter"],
                         initialization=o["initialization"], metric=o["metric"], n_jobs=o["n_jobs"],
                         random_state=plan.seed, verbose=False)
    emb = tsne.prepare_initial(data)
    total = o["early_exaggeration_iter"] + o["n_iter"]
    start = 0.1
    yield EmbeddingUpdate(0, n, torch.as_tensor(np.asarray(emb)).to(x), start, "affinities + initialisation")
    done = 0
    phases = [("early exaggeration", o["early_exaggeration_iter"],
               {"exaggeration": o["early_exaggeration"], "momentum": tsne.initial_momentum}),
              ("optimisation", o["n_iter"], {"exaggeration": tsne.exaggeration, "momentum": tsne.final_momentum})]
    for stage, iters, kw in phases:
        left = iters
        while left > 0:
            step = min(o["report_every"], left)
            emb.optimize(n_iter=step, inplace=True, propagate_exception=True, **kw)
            left -= step
            done += step
            kl = float(emb.kl_divergence)
            diag = {"kl_divergence": kl, "iterations": done}
            yield EmbeddingUpdate(0, n, torch.as_tensor(np.asarray(emb)).to(x), start + (1 - start) * done / total,
                                  stage, diag)


def _umap_steps(plan: EmbeddingPlan) -> Iterator[EmbeddingUpdate]:
    """One update at the end: umap-learn's epoch loop has no hook to yield from (its learning-rate schedule
    depends on the absolute epoch, so running it in pieces would not be the same optimisation)."""
    umap = _require("umap")
    x, c, o = plan.x, plan.n_components, plan.options
    n = x.shape[0]
    yield EmbeddingUpdate(0, 0, x.new_empty(0, c), 0.0, "umap")
    reducer = umap.UMAP(n_components=c, n_neighbors=o["n_neighbors"], min_dist=float(o["min_dist"]),
                        metric=o["metric"], n_epochs=o["n_epochs"], random_state=plan.seed)
    with warnings.catch_warnings():
        # umap-learn warns that a fixed random_state runs single-threaded: that is what a seed asks for
        warnings.filterwarnings("ignore", message=".*overridden to 1 by setting random_state.*")
        coords = reducer.fit_transform(x.detach().cpu().numpy())
    yield EmbeddingUpdate(0, n, torch.as_tensor(np.asarray(coords)).to(x), 1.0, "umap",
                          {"n_epochs": reducer.n_epochs if reducer.n_epochs is not None else "umap default"})


def pca(X, n_components: int = 2, **options) -> EmbeddingRecord:
    """Blocking PCA (see :func:`plan_embedding` for the options)."""
    return embed(X, "pca", n_components, **options)


def explained_variance_ratio(record: EmbeddingRecord) -> list[float]:
    if record.method != "pca":
        raise ValueError(f"explained variance is a PCA diagnostic; this record is {record.method!r}")
    return list(record.diagnostics["explained_variance_ratio"])

