"""Feature selection in torch: filters, graph rankings, learned gates, stability.

``plan_selection`` validates everything and raises before work starts; ``compute_scores`` runs one
method on a plan; ``iter_bootstrap`` is the generator behind the stability estimate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch

from ..graph import as_graph
from ..memory import check_fits
from ..validate import (
    check_bool,
    check_choice,
    check_float,
    check_int,
    check_positive_int,
    check_probability,
    check_seed,
)
from . import filters, graph, learned
from ._common import Labels, constant_columns, features, is_continuous, labels, target

#: method -> (needs y: "class" | "any" | "none" | "optional", larger_is_better)
METHODS: dict[str, tuple[str, bool]] = {
    "variance": ("none", True),
    "f_classif": ("class", True),
    "chi2": ("class", True),
    "pearson": ("any", True),
    "fisher": ("class", True),
    "laplacian": ("none", False),
    "mi": ("any", True),
    "dcor": ("any", True),
    "mrmr": ("any", True),
    "relieff": ("class", True),
    "inf_fs": ("optional", True),
    "ilfs": ("class", True),
    "ecfs": ("class", True),
    "sequential_attention": ("any", True),
    "stg": ("any", True),
    "gumbel_gates": ("any", True),
}

GREEDY = ("mrmr", "sequential_attention")
CONSTANT_OK = ("variance", "chi2")

DEFAULTS: dict[str, dict] = {
    "laplacian": {"n_neighbors": 5, "bandwidth": None, "graph": None},
    "mi": {"n_neighbors": 3, "discrete_features": False},
    "mrmr": {"scheme": "mid", "n_bins": filters.MRMR_BINS},
    "relieff": {"n_neighbors": 10, "n_instances": None},
    "inf_fs": {"alpha": 0.5, "supervised": None},
    "ilfs": {"n_tokens": 6, "quantile": 0.95, "n_iter": 100, "tol": 1e-9},
    "ecfs": {"alpha": 0.5},
    "stg": {"penalty": 1.0, "n_steps": 300, "lr": 0.05, "batch_size": 256},
    "gumbel_gates": {"penalty": 1.0, "n_steps": 300, "lr": 0.05, "batch_size": 256, "tau_start": 1.0, "tau_end": 0.1},
}


@dataclass
class SelectionPlan:
    x: torch.Tensor
    method: str
    k: int | None
    task: str  # "classification" | "regression" | "unsupervised"
    labels: Labels | None
    t: torch.Tensor | None  # class codes (classification) or float target (regression)
    keep: torch.Tensor  # columns that are scored (non-constant, unless the method allows them)
    params: dict = field(default_factory=dict)
    seed: int = 0

    @property
    def n_features(self) -> int:
        return self.x.shape[1]

    @property
    def larger_is_better(self) -> bool:
        return METHODS[self.method][1]


def check_params(method: str, p: dict) -> dict:
    """Every parameter of ``method`` in its range (the shared vocabulary of ``compute.validate``), before work.

    Out-of-range values used to give silent garbage: ``n_neighbors=0`` all-NaN MI or an all-inf Laplacian score,
    ``tau_end=0`` NaN gates, ``discrete_features="x"`` ln 2 everywhere, ``alpha=2`` a reordered Inf-FS, an
    unknown ``scheme`` the difference form, ``relieff(n_neighbors=-1)`` one neighbour, ``n_steps=0`` a crash."""
    p = dict(p)
    if "n_neighbors" in p:
        p["n_neighbors"] = check_int(p["n_neighbors"], "n_neighbors", minimum=1)
    if method == "laplacian":
        p["bandwidth"] = check_float(p["bandwidth"], "bandwidth", low=0.0, low_open=True, allow_none=True)
    if method == "mi":
        p["discrete_features"] = check_bool(p["discrete_features"], "discrete_features")
    if method == "mrmr":
        p["scheme"] = check_choice(p["scheme"], "scheme", tuple(filters.MRMR_SCHEMES))
        p["n_bins"] = check_int(p["n_bins"], "n_bins", minimum=2)
    if method == "relieff":
        p["n_instances"] = check_int(p["n_instances"], "n_instances", minimum=1, allow_none=True)
    if method in ("inf_fs", "ecfs"):
        p["alpha"] = check_probability(p["alpha"], "alpha")
    if method == "inf_fs" and p.get("supervised") is not None:
        p["supervised"] = check_bool(p["supervised"], "supervised")
    if method == "ilfs":
        p["n_tokens"] = check_int(p["n_tokens"], "n_tokens", minimum=1)
        if p["n_tokens"] < 2:
            raise ValueError(f"n_tokens must be at least 2 (a one-bin histogram says nothing), got {p['n_tokens']}")
        p["n_iter"] = check_int(p["n_iter"], "n_iter", minimum=1)
        p["quantile"] = check_probability(p["quantile"], "quantile", low_open=True)
        p["tol"] = check_float(p["tol"], "tol", low=0.0)
    if method in ("stg", "gumbel_gates"):
        p["penalty"] = check_float(p["penalty"], "penalty", low=0.0)
        p["n_steps"] = check_int(p["n_steps"], "n_steps", minimum=1)
        p["lr"] = check_float(p["lr"], "lr", low=0.0, low_open=True)
        p["batch_size"] = check_int(p["batch_size"], "batch_size", minimum=1)
    if method == "gumbel_gates":
        p["tau_start"] = check_float(p["tau_start"], "tau_start", low=0.0, low_open=True)
        p["tau_end"] = check_float(p["tau_end"], "tau_end", low=0.0, low_open=True)
    return p


#: Square d x d matrices each method holds at its peak (the graph, its pieces, the solve's copy and factors).
SQUARE_MATRICES = {"inf_fs": 6, "ecfs": 5, "ilfs": 4}


def plan_selection(X: Any, y: Any = None, method: str = "fisher", *, k: int | None = None, task: str = "auto",
                   constant: str = "raise", seed: int = 0, **params: Any) -> SelectionPlan:
    method = check_choice(method, "method", tuple(METHODS))
    task = check_choice(task, "task", ("auto", "classification", "regression"))
    constant = check_choice(constant, "constant", ("raise", "last"))
    seed = check_seed(seed)
    allowed = DEFAULTS.get(method, {})
    unknown = set(params) - set(allowed)
    if unknown:
        names = ", ".join(sorted(allowed)) or "none"
        raise TypeError(f"unknown parameter(s) {sorted(unknown)} for method {method!r}; it takes: {names}")
    p = check_params(method, {**allowed, **params})
    x = features(X)
    n, d = x.shape
    if k is not None:
        k = check_positive_int(k, "k")
        if k > d:
            raise ValueError(f"k={k} is larger than the number of features ({d})")
    if method in SQUARE_MATRICES:
        check_fits(SQUARE_MATRICES[method] * d * d * x.element_size(),
                   f"the {d} x {d} feature graph of {method}", x.device,
                   hint="select from fewer features (a variance or f_classif pre-filter to a few thousand columns), "
                        "or use an O(n d) method such as fisher, mi or mrmr")

    need = METHODS[method][0]
    if method == "inf_fs":
        sup = p.get("supervised")
        need = "class" if (y is not None if sup is None else bool(sup)) else "none"
        p["supervised"] = need == "class"
    lab = None
    t = None
    if need == "none":
        if y is not None and method != "inf_fs":
            pass  # unsupervised: y is ignored (accepted so pipelines can pass it)
        task_ = "unsupervised"
    else:
        if y is None:
            raise ValueError(f"method {method!r} needs a target y")
        if need == "class" or (need == "any" and task == "classification"):
            if task == "regression":
                raise ValueError(f"method {method!r} scores against class labels; task='regression' is not possible")
            lab = labels(y, n, x.device, method)
            task_ = "classification"
        elif task == "regression" or is_continuous(y):
            t = target(y, n, x.device, x.dtype)
            task_ = "regression"
        else:
            lab = labels(y, n, x.device, method)
            task_ = "classification"
        if lab is not None:
            t = lab.codes
    if n < 2:
        raise ValueError("X has a single row; feature selection needs at least 2 samples")

    const = constant_columns(x)
    keep = torch.ones(d, dtype=torch.bool, device=x.device)
    if method not in CONSTANT_OK and bool(const.any()):
        cols = const.nonzero().flatten().tolist()
        if constant == "raise":
            raise ValueError(
                f"X column(s) {cols[:10]}{'...' if len(cols) > 10 else ''} ({len(cols)} in all) are constant; "
                f"method {method!r} is undefined for them. Drop them (fx.select(X, method='variance') finds them), "
                "or pass constant='last' to rank them last with a NaN score")
        keep = ~const
        if int(keep.sum()) == 0:
            raise ValueError("every column of X is constant; there is nothing to rank")
    if method == "laplacian" and p.get("graph") is not None:
        g = as_graph(p["graph"], "graph")
        if tuple(g.shape) != (n, n):
            raise ValueError(f"graph must be an n x n affinity ({n} x {n}), got shape {tuple(g.shape)}")
        deg = torch.sparse.sum(g, 1).to_dense() if g.is_sparse else g.sum(1)
        if not bool((deg > 0).any()):
            raise ValueError("graph has no edges (every degree is 0): the Laplacian score is 0/0 for every feature")
        p["graph"] = g.to(x.device, x.dtype)
    if method == "laplacian" and p.get("graph") is None and n < 2:
        raise ValueError("the Laplacian score's k-NN graph needs at least 2 rows")
    if method == "dcor" or (method == "mi" and task_ == "regression"):
        check_fits(2 * n * n * x.element_size(), f"the {n} x {n} distance matrix of the target", x.device,
                   hint="use fewer rows (a random subset of the samples)")
    return SelectionPlan(x=x, method=method, k=k, task=task_, labels=lab, t=t, keep=keep, params=p, seed=int(seed))


def _relevance_f(x: torch.Tensor, plan: SelectionPlan, lab: Labels | None, t: torch.Tensor | None) -> torch.Tensor:
    if lab is not None:
        return filters.f_classif(x, lab)[0]
    r = filters.pearson(x, t)
    n = x.shape[0]
    return r * r / (1 - r * r).clamp_min(1e-12) * (n - 2)


def _score_core(x: torch.Tensor, plan: SelectionPlan, lab: Labels | None, t: torch.Tensor | None,
                seed: int) -> tuple[torch.Tensor, torch.Tensor | None, dict]:
    """(scores, greedy order or None, extra) on the kept columns of x."""
    m, p = plan.method, plan.params
    extra: dict = {}
    depth = min(x.shape[1], max(plan.k or 0, 50))
    if m == "variance":
        return filters.variance(x), None, extra
    if m == "f_classif":
        f, pv = filters.f_classif(x, lab)
        extra["pvalues"] = pv
        return f, None, extra
    if m == "chi2":
        s, pv = filters.chi2(x, lab)
        extra["pvalues"] = pv
        return s, None, extra
    if m == "fisher":
        return filters.fisher_score(x, lab), None, extra
    if m == "pearson":
        r = filters.pearson(x, t.to(x.dtype))
        extra["r"] = r
        return r.abs(), None, extra
    if m == "laplacian":
        if p["graph"] is not None:
            W = p["graph"]
            extra["graph"] = "given"
        else:
            W, bw = filters.knn_heat_graph(x, p["n_neighbors"], p["bandwidth"])
            extra["bandwidth"] = bw
        return filters.laplacian_score(x, W), None, extra
    if m == "mi":
        if lab is not None:
            if p["discrete_features"]:
                return filters.mi_discrete(x, lab), None, extra
            return filters.mi_classif_knn(x, lab, p["n_neighbors"], seed), None, extra
        return filters.mi_regression_knn(x, t, p["n_neighbors"], seed), None, extra
    if m == "dcor":
        tt = lab.onehot(x.dtype) if lab is not None else t[:, None]
        return filters.dcor(x, tt), None, extra
    if m == "mrmr":
        if filters.MRMR_SCHEMES[p["scheme"]][0] == "mi":  # Peng's MID / MIQ: plug-in MI on equal-frequency states
            rel = filters.mrmr_mi_relevance(x, lab, t, p["n_bins"])
        else:
            rel = _relevance_f(x, plan, lab, t)
        order, obj = filters.mrmr(x, rel, depth, p["scheme"], p["n_bins"])
        extra["relevance"] = rel
        return _greedy_scores(order, obj, x.shape[1], x), order, extra
    if m == "relieff":
        inst = None
        if p["n_instances"] is not None and p["n_instances"] < x.shape[0]:
            gen = torch.Generator().manual_seed(seed)
            inst = torch.randperm(x.shape[0], generator=gen)[: p["n_instances"]]
        return filters.relieff(x, lab, p["n_neighbors"], inst), None, extra
    if m == "inf_fs":
        A = graph.inf_fs_graph(x, lab if p["supervised"] else None, p["alpha"])
        s, r = graph.inf_fs_scores(A)
        extra["r"] = r
        return s, None, extra
    if m == "ilfs":
        s, info = graph.ilfs(x, lab, p["n_tokens"], p["quantile"], p["n_iter"], p["tol"], seed)
        extra.update(info)
        return s, None, extra
    if m == "ecfs":
        mi = filters.mi_classif_knn(x, lab, 3, seed)
        A = graph.ecfs_graph(x, lab, p["alpha"], mi)
        return graph.eigenvector_centrality(A), None, extra
    classification = lab is not None
    n_out = lab.n_classes if classification else 1
    if m == "sequential_attention":
        order, gains, last = learned.sequential_attention(x, t, n_out, classification, min(depth, max(plan.k or 0, 20)))
        extra["relevance"] = last
        return _greedy_scores(order, gains, x.shape[1], x), order, extra
    if m in ("stg", "gumbel_gates"):
        kind = "hard_concrete" if m == "stg" else "gumbel_sigmoid"
        tau = (p.get("tau_start", 1.0), p.get("tau_end", 0.1))
        prob, info = learned.train_gates(x, t, n_out, classification, kind=kind, penalty=p["penalty"],
                                         n_steps=p["n_steps"], lr=p["lr"], seed=seed, batch_size=p["batch_size"], tau=tau)
        extra.update(info)
        return prob, None, extra
    raise AssertionError(m)


def _greedy_scores(order: torch.Tensor, values: torch.Tensor, d: int, x: torch.Tensor) -> torch.Tensor:
    s = torch.full((d,), math.nan, dtype=x.dtype, device=x.device)
    s[order.to(x.device)] = values.to(x.device, x.dtype)
    return s


def rank(scores: torch.Tensor, larger_is_better: bool, greedy_order: torch.Tensor | None = None,
         fallback: torch.Tensor | None = None) -> torch.Tensor:
    """Feature indices, best first. Ties keep the column order (stable sort).

    A NaN score means "undefined" (a constant column with ``constant="last"``, chi2 of an all-zero column, a
    column a bootstrap resample made constant) and goes last, after every number, whichever way the scores
    sort; ``+inf`` goes last too when smaller is better (a Laplacian score of 0/0)."""
    key = scores if larger_is_better else -scores
    if greedy_order is not None:
        d = scores.shape[0]
        rest_key = fallback if fallback is not None else torch.zeros(d, dtype=scores.dtype, device=scores.device)
        used = torch.zeros(d, dtype=torch.bool, device=scores.device)
        used[greedy_order.to(scores.device)] = True
        rest = torch.where(used, torch.full_like(rest_key, -math.inf), torch.nan_to_num(rest_key, nan=-math.inf))
        rest_order = torch.sort(rest, descending=True, stable=True).indices
        rest_order = rest_order[~used[rest_order]]
        return torch.cat([greedy_order.to(scores.device), rest_order])
    key = torch.nan_to_num(key, nan=-math.inf, posinf=math.inf, neginf=-math.inf)
    if not larger_is_better:
        key = torch.where(torch.isnan(scores) | torch.isposinf(scores), torch.full_like(key, -math.inf), key)
    return torch.sort(key, descending=True, stable=True).indices


def compute_scores(plan: SelectionPlan, rows: torch.Tensor | None = None, seed: int | None = None):
    """(scores over all d features, ranking, extra) for ``plan``, optionally on a subset of rows."""
    x, lab, t = plan.x, plan.labels, plan.t
    if rows is not None:
        x = x[rows]
        t = None if t is None else t[rows]
        if lab is not None:
            codes = lab.codes[rows]
            lab = Labels(codes, lab.classes, torch.bincount(codes, minlength=lab.n_classes))
            t = codes
    seed = plan.seed if seed is None else seed
    xs = x if bool(plan.keep.all()) else x[:, plan.keep]
    if rows is not None:  # a resample can make a column constant
        bad = constant_columns(xs) & torch.tensor(plan.method not in CONSTANT_OK, device=xs.device)
        if bool(bad.any()):
            xs = xs + 0.0  # keep going: those columns score as constant (NaN) below
    core, order, extra = _score_core(xs, plan, lab, t, seed)
    d = plan.n_features
    scores = torch.full((d,), math.nan, dtype=plan.x.dtype, device=plan.x.device)
    kept = plan.keep.nonzero().flatten()
    scores[kept] = core.to(plan.x.dtype)
    for key in ("pvalues", "r", "relevance", "p_relevant"):
        if isinstance(extra.get(key), torch.Tensor):
            full = torch.full((d,), math.nan, dtype=plan.x.dtype, device=plan.x.device)
            full[kept] = extra[key].to(plan.x.dtype)
            extra[key] = full
    if order is not None:
        order = kept[order.to(kept.device)]
        fallback = extra.get("relevance")
        if fallback is None:
            fallback = torch.zeros(d, dtype=plan.x.dtype, device=plan.x.device)
            fallback[kept] = 0.0
            fallback[~plan.keep] = -math.inf
        ranking = rank(scores, True, order, fallback)
    else:
        ranking = rank(scores, plan.larger_is_better)
    return scores, ranking, extra


@dataclass
class BootstrapItem:
    index: int
    scores: torch.Tensor
    ranking: torch.Tensor
    progress: float


def iter_bootstrap(plan: SelectionPlan, n_resamples: int, seed: int):
    """Rankings on ``n_resamples`` bootstrap resamples of the rows (seeded), one at a time."""
    gen = torch.Generator().manual_seed(seed)
    n = plan.x.shape[0]
    for b in range(n_resamples):
        rows = torch.randint(0, n, (n,), generator=gen).to(plan.x.device)
        if plan.labels is not None:  # every class must stay present
            for _ in range(20):
                if int(torch.unique(plan.labels.codes[rows]).numel()) == plan.labels.n_classes:
                    break
                rows = torch.randint(0, n, (n,), generator=gen).to(plan.x.device)
        scores, ranking, _ = compute_scores(plan, rows=rows, seed=seed + b + 1)
        yield BootstrapItem(b, scores, ranking, (b + 1) / n_resamples)
