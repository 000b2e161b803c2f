"""Orders of the rows of an affinity matrix that make its structure visible: by label, by cluster, by spectrum."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .affinity import AffinityPlan
from .ann import ann_search
from .graph import kmeans, spectral_order
from .knn import knn_graph, knn_search

ORDERS = ("given", "labels", "cluster", "spectral")

#: Most group boundaries returned (lines a view draws between label/cluster groups).
MAX_BOUNDARIES = 512


def order_rows(kind: str, x: torch.Tensor, plan: AffinityPlan, labels: Any, n_clusters: int,
               seed: int, index: Any = None) -> tuple[torch.Tensor, list[int], dict]:
    """(permutation of the rows, positions where a new label/cluster group starts, how the order was made).

    ``kind``: ``"given"`` (identity), ``"labels"`` (stable sort by label), ``"cluster"`` (k-means on the
    prepared rows of ``plan``, seeded k-means++), ``"spectral"`` (Fiedler vector of the symmetric 10-NN RBF
    graph of ``x``; no group boundaries). ``index``: search that k-NN graph with faiss (see
    :func:`~fxwidgets.compute.ann.plan_ann`; an index given as an object must rank by L2 distance), for rows
    too many for the exact O(n^2 d) search; its recall@k is in the returned information.
    """
    n = x.shape[0]
    info: dict = {"order": kind}
    if kind == "given":
        return torch.arange(n), [], info
    if kind == "labels":
        codes = np.unique(np.asarray(labels), return_inverse=True)[1].reshape(-1)
        order = np.argsort(codes, kind="stable")
        groups = codes[order]
    elif kind == "cluster":
        lab, inertia = kmeans(plan.left, n_clusters, seed=seed, n_init=1, max_iter=25)
        lab = lab.cpu().numpy()
        order = np.argsort(lab, kind="stable")
        groups = lab[order]
        info.update({"n_clusters": n_clusters, "clusters": "k-means on the prepared rows (k-means++, seeded)",
                     "seed": seed, "inertia": inertia})
        info["cluster_labels"] = lab
    else:  # spectral
        k = min(10, n - 1)
        if index is None:
            nn = knn_search(x, k=k, metric="rbf")
        else:
            nn = ann_search(x, k, "rbf", index=index, seed=seed)
            info.update({"knn_index": nn.params["index"], "knn_recall": nn.params["recall"],
                         "knn_recall_stderr": nn.params["recall_stderr"]})
        g = knn_graph(nn, symmetrize="max")
        res = spectral_order(g, seed=seed)
        order = res.values.cpu().numpy()
        info.update({"spectral": f"Fiedler vector of the symmetric {k}-NN RBF graph", "seed": seed})
        return torch.as_tensor(order), [], info
    change = np.flatnonzero(groups[1:] != groups[:-1]) + 1
    return torch.as_tensor(order), change[:MAX_BOUNDARIES].tolist(), info
