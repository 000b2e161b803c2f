"""ZoomHeatmap: every zoom level equals the block means of the dense matrix; RPC, ordering, selection."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
import traitlets

import fxwidgets as fx
from fxwidgets.runtime.codec import unpack
from fxwidgets.compute.reduce import block_means


def _data(n, d=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64)


def _assemble(view, level):
    """All tiles of a level stitched together."""
    p = view.pyramid
    cells = p.cells(level)
    nt = -(-cells // p.tile)
    return np.block([[view.tile(level, ti, tj) for tj in range(nt)] for ti in range(nt)])


@pytest.mark.parametrize("metric", ["cosine", "dot", "pearson", "neg_sq_euclidean"])
def test_every_level_is_exactly_the_block_means_of_the_dense_matrix(metric):
    n = 301  # not a power of two: the last block of each level is partial
    X = _data(n)
    view = fx.ZoomHeatmap(X, metric=metric, tile_size=32)
    dense = fx.affinity(X, metric=metric).values.numpy()
    assert view.levels == 5  # 301 -> 151 -> 76 -> 38 -> 19 cells
    for level in range(view.levels):
        want = block_means(dense, 2**level, 2**level)
        got = _assemble(view, level)
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * max(1.0, np.abs(dense).max()))


def test_rbf_level_zero_is_exact_and_coarse_cells_are_estimates_within_their_error():
    n = 200
    X = _data(n, d=3, seed=1)
    view = fx.ZoomHeatmap(X, metric="rbf", tile_size=64, samples=6)
    dense = fx.affinity(X, metric="rbf", bandwidth=view.params["bandwidth"]).values.numpy()
    np.testing.assert_allclose(_assemble(view, 0), dense, rtol=1e-5, atol=1e-6)
    out = view.pyramid.compute(2, 0, 0)
    assert out["exact"] is False and out["se"] > 0
    want = block_means(dense, 4, 4)
    err = np.abs(out["values"].numpy() - want)
    assert err.mean() < 3 * out["se"]  # the estimate is unbiased; its error is of the size reported
    assert "estimated" in view.estimate
    again = view.pyramid.compute(2, 0, 0)  # seeded: the same tile twice is the same picture
    assert torch.equal(again["values"], out["values"])


def test_order_by_labels_groups_rows_and_selection_maps_back_to_rows_of_x():
    labels = np.array(["b", "a", "c", "a", "b", "c", "a"])
    X = _data(7)
    view = fx.ZoomHeatmap(X, labels=labels, tile_size=4)
    assert view.order == "labels"
    np.testing.assert_array_equal(labels[view.order_indices], sorted(labels))
    assert view.boundaries == [3, 5]
    dense = fx.affinity(X).values.numpy()
    perm = view.order_indices
    np.testing.assert_allclose(_assemble(view, 0), dense[perm][:, perm], atol=1e-6)
    view.selection = {"r0": 0, "r1": 3, "c0": 5, "c1": 7}
    assert sorted(view.selected_rows.tolist()) == [1, 3, 6]  # the three "a" rows
    assert sorted(view.selected_cols.tolist()) == [2, 5]
    with pytest.raises(traitlets.TraitError):
        view.selection = {"r0": 3, "r1": 2, "c0": 0, "c1": 1}
    with pytest.raises(traitlets.TraitError):
        view.selection = {"r0": 0, "r1": 99, "c0": 0, "c1": 1}


def test_cluster_and_spectral_orders_put_similar_rows_together():
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(4, 8, generator=g) * 5
    truth = torch.arange(400) % 4
    X = centres[truth] + 0.3 * torch.randn(400, 8, generator=g)
    for order in ("cluster", "spectral"):
        view = fx.ZoomHeatmap(X, order=order, n_clusters=4, tile_size=64)
        t = truth[view.order_indices].numpy()
        assert int((t[1:] != t[:-1]).sum()) == 3, order  # four contiguous groups
    view = fx.ZoomHeatmap(X, order=np.arange(400)[::-1].copy())
    assert view.order == "permutation" and view.order_indices[0] == 399


class Capture:
    def __init__(self, widget):
        self.messages, self.cond = [], threading.Condition()
        widget.send = self

    def __call__(self, content, buffers=None):
        with self.cond:
            self.messages.append(unpack(content, list(buffers or [])))
            self.cond.notify_all()

    def wait(self, n, timeout=10.0):
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.messages) >= n, timeout)


def test_tile_and_cell_requests_are_answered_by_rpc():
    X = _data(1000)
    view = fx.ZoomHeatmap(X, tile_size=128)
    cap = Capture(view)
    view.rpc.handle({"type": "request", "id": "a", "method": "tile", "args": {"level": 2, "ti": 1, "tj": 0}})
    view.rpc.handle({"type": "request", "id": "b", "method": "cell", "args": {"row": 5, "col": 9}})
    view.rpc.handle({"type": "request", "id": "c", "method": "tile", "args": {"level": 99, "ti": 0, "tj": 0}})
    cap.wait(3)
    by_id = {m["id"]: m for m in cap.messages}
    tile = by_id["a"]["result"]
    assert tile["values"].shape == (122, 128) and tile["block"] == 4  # 250 cells: the second tile row is partial
    np.testing.assert_allclose(tile["values"], view.tile(2, 1, 0))
    dense = fx.affinity(X).values
    assert by_id["b"]["result"]["value"] == pytest.approx(float(dense[5, 9]), abs=1e-6)
    assert by_id["c"]["ok"] is False and "level must be an integer in 0..3" in by_id["c"]["error"]
    assert view.tiles_served == 1


def test_a_hundred_thousand_rows_never_form_the_matrix():
    X = torch.randn(100_000, 16, generator=torch.Generator().manual_seed(0))
    old = fx.options.memory_budget
    fx.options.memory_budget = 512 * 2**20  # the dense matrix would be 37 GiB
    try:
        view = fx.ZoomHeatmap(X)
        top = view.tile(view.levels - 1, 0, 0)
        assert top.shape == (196, 196)
        # the top level's mean is the mean of the whole matrix: |mean x|^2 of the unit rows
        u = X / X.norm(dim=1, keepdim=True)
        whole = float((u.mean(0) ** 2).sum())
        counts = np.minimum(512, 100_000 - 512 * np.arange(196))
        assert float((counts[:, None] * counts[None, :] * top).sum() / 1e10) == pytest.approx(whole, rel=1e-3, abs=1e-6)
        assert view.tile(0, 390, 390).shape == (160, 160)
    finally:
        fx.options.memory_budget = old


def test_zoom_heatmap_bad_inputs():
    with pytest.raises(ValueError, match="labels has 3 entries"):
        fx.ZoomHeatmap(_data(5), labels=[1, 2, 3])
    with pytest.raises(ValueError, match="order must be one of"):
        fx.ZoomHeatmap(_data(5), order="random")
    with pytest.raises(ValueError, match="order='labels' needs labels"):
        fx.ZoomHeatmap(_data(5), order="labels")
    with pytest.raises(ValueError, match="permutation of 0..4"):
        fx.ZoomHeatmap(_data(5), order=[0, 0, 1, 2, 3])
    with pytest.raises(ValueError, match="metric must be one of"):
        fx.ZoomHeatmap(_data(5), metric="l2")
    with pytest.raises(ValueError, match="tile_size must be a positive integer"):
        fx.ZoomHeatmap(_data(5), tile_size=0)


# ---------------------------------------------------------------------------------------------------- PixelAffinity
def _frames():
    g = torch.Generator().manual_seed(0)
    f = torch.nn.functional.avg_pool2d(torch.randn(1, 16, 64, 80, generator=g), 4)
    feats = torch.cat([f, torch.roll(f, shifts=(2, 3), dims=(2, 3))])
    return feats


def test_pixel_affinity_rows_matches_and_paths():
    feats = _frames()
    pa = fx.PixelAffinity(feats, images=torch.rand(2, 3, 64, 80))
    assert pa.path == "browser" and "fit the 8 MiB budget" in pa.path_reason
    assert pa.grid == [16, 20] and pa.image_shape == [64, 80]
    row = pa.affinity_map(0, 5, 7)
    flat = feats.permute(0, 2, 3, 1).reshape(-1, 16)
    np.testing.assert_allclose(row.reshape(-1), fx.affinity(flat).values[5 * 20 + 7].numpy(), atol=1e-5)
    assert pa.peak_of(0, 5, 7) == [[0, 5, 7], [1, 7, 10]]
    # mutual NN lines: every location matches its shifted self (away from the wrapped border, all of them)
    m = pa.matches
    assert len(m) == 64
    assert all((i2 - i1) % 16 == 2 and (j2 - j1) % 20 == 3 for _, i1, j1, _, i2, j2 in m.tolist())
    small = fx.PixelAffinity(feats, browser_max_bytes=1000)
    assert small.path == "kernel" and "exceed" in small.path_reason
    cap = Capture(small)
    small.rpc.handle({"type": "request", "id": "r", "method": "row", "args": {"b": 1, "i": 7, "j": 10}})
    small.rpc.handle({"type": "request", "id": "bad", "method": "row", "args": {"b": 2, "i": 0, "j": 0}})
    small.rpc.handle({"type": "request", "id": "init", "method": "init", "args": {}})
    cap.wait(3)
    by_id = {m["id"]: m for m in cap.messages}
    np.testing.assert_allclose(by_id["r"]["result"]["values"], small.affinity_map(1, 7, 10))
    assert "b must be an integer in 0..1" in by_id["bad"]["error"]
    assert "features" not in by_id["init"]["result"]  # the kernel path never ships the features
    assert by_id["init"]["result"]["images"].shape == (2, 16, 20, 4)  # no images: PCA false colour of the grid


def test_pixel_affinity_with_labels_shows_propagation_and_noise():
    feats = _frames()
    lab = torch.zeros(16, 20, dtype=torch.long)
    lab[4:9, 5:12] = 1
    truth = torch.roll(lab, shifts=(2, 3), dims=(0, 1))
    noisy = truth.clone()
    noisy[0, 0:4] = 1
    pa = fx.PixelAffinity(feats, labels=torch.stack([lab, noisy]), temperature=0.05)
    assert pa.modes == ["affinity", "labels", "propagated", "noisy"]
    assert np.array_equal(pa._maps["propagated"][1], truth.numpy())
    flagged = pa.noise_scores[1] > 0.5
    assert flagged[0, 0:4].all() and int(flagged.sum()) == 4
    pa.mode = "noisy"
    with pytest.raises(traitlets.TraitError):
        pa.mode = "sparkles"


def test_pixel_affinity_bad_inputs():
    feats = _frames()
    with pytest.raises(ValueError, match="images has 3 images"):
        fx.PixelAffinity(feats, images=torch.rand(3, 3, 8, 8))
    with pytest.raises(ValueError, match=r"float images must be in \[0, 1\]"):
        fx.PixelAffinity(feats, images=torch.rand(2, 3, 8, 8) * 255)
    with pytest.raises(ValueError, match="path must be"):
        fx.PixelAffinity(feats, path="gpu")
    with pytest.raises(ValueError, match="token features"):
        fx.PixelAffinity(torch.randn(2, 7, 4))
    with pytest.raises(ValueError, match="labels must be"):
        fx.PixelAffinity(feats, labels=torch.zeros(16, 20))


def test_pixel_affinity_shows_sentences_for_token_features():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(5, 8, generator=g)
    feats = torch.stack([a, a[[2, 0, 1, 4, 3]]])          # sentence 1 is sentence 0 reordered
    tokens = [["the", "cat", "<b>sat</b>", "on", "mats"], ["<b>sat</b>", "the", "cat", "mats", "on"]]
    pa = fx.PixelAffinity(feats, tokens=tokens)
    assert pa.grid == [1, 5] and pa.tokens == tokens       # markup-looking tokens stay strings (shown as text)
    assert pa.peak_of(0, 0, 2) == [[0, 0, 2], [1, 0, 0]]
    pairs = {(j1, j2) for _, _, j1, _, _, j2 in pa.matches.tolist()}
    assert pairs == {(2, 0), (0, 1), (1, 2), (4, 3), (3, 4)}
    with pytest.raises(ValueError, match="tokens must be 2 lists of 5"):
        fx.PixelAffinity(feats, tokens=[["a"] * 5])
    with pytest.raises(ValueError, match="tokens= applies to"):
        fx.PixelAffinity(_frames(), tokens=[["a"]])
