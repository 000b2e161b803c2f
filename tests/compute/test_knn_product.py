"""The float32 CPU product tile of the exact k-NN (oneDNN where usable) against torch.matmul, the dense affinity
and faiss's flat inner-product search."""

import numpy as np
import pytest
import torch

import fxwidgets as fx
from fxwidgets.compute import knn as knn_mod
from fxwidgets.compute.product import onednn_usable
from fxwidgets.compute.affinity import prepare_operands


def _unit(n, d, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    return x / x.norm(dim=1, keepdim=True)


@pytest.mark.parametrize("metric", ["dot", "cosine", "pearson"])
@pytest.mark.parametrize("d", [2, 3, 37, 128, 300])
def test_product_tile_agrees_with_matmul_within_float32_rounding(metric, d):
    g = torch.Generator().manual_seed(d)
    x, y = torch.randn(203, d, generator=g) * 3, torch.randn(151, d, generator=g)
    plan = prepare_operands(x, y, metric, bandwidth=None, chunk_size=None)
    tile = knn_mod.product_tile(plan, 17, 120)
    ref = plan.left[17:120].double() @ plan.right.double().T
    if metric != "dot":
        ref = ref.clamp(-1, 1)
    assert tile.dtype == torch.float32 and tile.shape == (103, 151)
    # float32 summation of d products: error at most d eps |a| |b| (Higham's bound), per entry
    bound = d * torch.finfo(torch.float32).eps * (plan.left[17:120].norm(dim=1)[:, None] * plan.right.norm(dim=1)[None, :])
    assert bool(((tile.double() - ref).abs() <= bound.double() + 1e-30).all())


def test_onednn_only_for_float32_on_the_cpu():
    x = torch.randn(5, 4, dtype=torch.float64)
    # where torch has oneDNN, float32 takes it (so the agreement tests above test it, not matmul twice)
    assert onednn_usable(x.float(), x.float()) == torch.backends.mkldnn.is_available()
    assert not onednn_usable(x, x)
    assert not onednn_usable(x.float(), x)  # mixed dtypes never reach it, but the guard says no


@pytest.mark.parametrize("metric", ["dot", "cosine"])
def test_float32_knn_equals_topk_of_the_dense_affinity(metric):
    X = _unit(700, 24, 0) * torch.linspace(0.5, 2, 700)[:, None]
    r = fx.knn(X, 6, metric=metric, chunk_size=64)
    A = fx.affinity(X, metric=metric).values.clone()
    A.fill_diagonal_(-torch.inf)
    vals, idx = torch.topk(A, 6, dim=1)
    same = np.mean([set(a) == set(b) for a, b in zip(r.indices.tolist(), idx.tolist())])
    assert same == 1.0
    torch.testing.assert_close(r.values, vals, rtol=0, atol=4 * 24 * torch.finfo(torch.float32).eps * 4)


def test_float32_knn_same_sets_as_faiss_flat_ip():
    faiss = pytest.importorskip("faiss")
    X = _unit(3000, 64, 1)
    r = fx.knn(X, 10, metric="dot", Y=X)
    index = faiss.IndexFlatIP(64)
    index.add(X.numpy())
    dist, idx = index.search(X.numpy(), 10)
    same = np.mean([set(a) == set(b) for a, b in zip(r.indices.tolist(), idx.tolist())])
    assert same == 1.0
    np.testing.assert_allclose(r.values.numpy(), dist, atol=64 * np.finfo(np.float32).eps)


@pytest.mark.parametrize("metric", ["dot", "cosine"])
def test_dense_affinity_tile_written_into_out_within_float32_rounding(metric):
    """The dense affinity's tiles take the same product (copied into the result), within Higham's bound."""
    from fxwidgets.compute.affinity import affinity_tile

    g = torch.Generator().manual_seed(5)
    x = torch.randn(300, 96, generator=g) * 2
    plan = prepare_operands(x, x, metric, bandwidth=None, chunk_size=None)
    out = torch.full((100, 300), float("nan"))
    tile = affinity_tile(plan, 100, 200, out=out)
    assert tile.data_ptr() == out.data_ptr() and not torch.isnan(out).any()
    ref = plan.left[100:200].double() @ plan.right.double().T
    bound = 96 * torch.finfo(torch.float32).eps * (plan.left[100:200].norm(dim=1)[:, None] * plan.right.norm(dim=1)[None, :])
    assert bool(((out.double() - ref.clamp(-1, 1) if metric == "cosine" else out.double() - ref).abs()
                 <= bound.double() + 1e-30).all())
