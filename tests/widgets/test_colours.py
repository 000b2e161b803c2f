"""Any matplotlib colour map, by name or object, in every view and every ``.plot()``; vmin/vmax and ``center``."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch
import traitlets
from matplotlib.colors import LinearSegmentedColormap, ListedColormap

import fxwidgets as fx
from fxwidgets.results import colors


def matplotlib_table(cmap, channels=3):
    """The reference: matplotlib's own colours at 256 evenly spaced points, as uint8."""
    rgba = np.asarray(cmap(np.linspace(0, 1, 256)), dtype=np.float64)
    return np.rint(rgba[:, :channels] * 255).astype(np.uint8)


def test_lut_of_plasma_is_matplotlibs_table():
    lut = np.frombuffer(colors.lut_bytes("plasma"), dtype=np.uint8).reshape(256, 3)
    np.testing.assert_array_equal(lut, matplotlib_table(matplotlib.colormaps["plasma"]))
    # for a 256-entry map that is exactly its entries, the rule of the built-in tables (scripts/gen_colormaps.py)
    np.testing.assert_array_equal(lut, np.rint(matplotlib.colormaps["plasma"](np.arange(256))[:, :3] * 255))
    assert lut[0].tolist() == [13, 8, 135] and lut[255].tolist() == [240, 249, 33]


def test_lut_of_a_colormap_object_with_few_colours_and_with_alpha():
    two = ListedColormap(["#ff0000", "#0000ff"], name="red-blue")
    lut = colors.lut_array(two)
    assert lut.shape == (256, 3)
    np.testing.assert_array_equal(lut, matplotlib_table(two))
    # the browser's rule entry = floor(t * 256) gives matplotlib's colour for t on either side of 0.5
    for t in (0.0, 0.49, 0.5, 0.51, 1.0):
        assert tuple(lut[min(255, int(t * 256))]) == tuple(np.rint(np.asarray(two(t))[:3] * 255)), t
    fade = LinearSegmentedColormap.from_list("fade", [(0, 0, 0, 0), (0, 0.5, 1, 1)])
    lut4 = colors.lut_array(fade)
    assert lut4.shape == (256, 4) and lut4[0, 3] == 0 and lut4[255, 3] == 255
    np.testing.assert_array_equal(lut4, matplotlib_table(fade, 4))


def test_unknown_colour_maps_are_refused_by_name_with_suggestions():
    with pytest.raises(ValueError, match="cmap: unknown colour map 'plasm'; did you mean 'plasma'"):
        colors.colormap("plasm")
    with pytest.raises(ValueError, match="gram_cmap must be a matplotlib colour map name or a Colormap"):
        colors.colormap(3, "gram_cmap")


def test_color_limits_follow_matplotlib_and_seaborns_center():
    v = np.array([0.2, 0.5, np.nan, 0.9])
    assert colors.color_limits(v) == (0.2, 0.9)
    assert colors.color_limits(v, vmin=0.0) == (0.0, 0.9)
    assert colors.color_limits(v, center=0.5) == pytest.approx((0.1, 0.9))  # r = max(0.4, 0.3)
    assert colors.color_limits(v, vmin=-1, vmax=0.5, center=0.0) == (-1.0, 1.0)
    assert colors.color_limits([np.nan]) == (0.0, 1.0)
    assert colors.color_limits([3.0, 3.0], center=3.0) == (2.0, 4.0)  # zero range: one either side
    with pytest.raises(ValueError, match="center must be finite"):
        colors.color_limits(v, center=float("inf"))
    n = colors.norm(v, center=0.5)
    assert (n.vmin, n.vmax) == pytest.approx((0.1, 0.9))


VIEWS = {
    "AffinityHeatmap": lambda **kw: fx.AffinityHeatmap(np.eye(4), **kw),
    "ZoomHeatmap": lambda **kw: fx.ZoomHeatmap(torch.randn(50, 3), tile_size=16, **kw),
    "PixelAffinity": lambda **kw: fx.PixelAffinity(torch.randn(2, 4, 3, 3), **kw),
    "AttributionView": lambda **kw: fx.attribute(torch.nn.Linear(4, 2), torch.randn(1, 4), target=0,
                                                 method="saliency").show(**kw),
    "LayerComparison": lambda **kw: fx.compare(torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU()),
                                               data=torch.randn(40, 3), batch_size=20, gram_samples=8).show(**kw),
    "Scatter": lambda **kw: fx.Scatter(np.random.default_rng(0).normal(size=(30, 2)), scores=np.arange(30.0), **kw),
}


@pytest.mark.parametrize("name", sorted(VIEWS))
def test_every_colour_mapped_view_takes_any_matplotlib_map_by_name_or_object(name):
    view = VIEWS[name](cmap="plasma")
    assert view.cmap == "plasma" and view.cmap_lut["name"] == "plasma"
    assert bytes(view.cmap_lut["lut"]) == colors.lut_bytes("plasma")
    mine = ListedColormap(["#102030", "#f0e0d0", "#00ff00"], name="mine")
    view = VIEWS[name](cmap=mine)
    assert view.cmap == "mine" and bytes(view.cmap_lut["lut"]) == colors.lut_bytes(mine)
    # the browser may send back the map it has the table of, or a built-in one; nothing else
    view.set_state({"cmap": "mine"})
    view.set_state({"cmap": "viridis"})
    assert view.cmap == "viridis" and view.cmap_lut["name"] == "mine"  # the table stays for switching back
    with pytest.raises(traitlets.TraitError, match="unknown colour map"):
        view.cmap = "not-a-map"
    with pytest.raises(ValueError, match="cmap: unknown colour map"):
        VIEWS[name](cmap="viridiss")


def test_heatmaps_take_center_and_axis_titles():
    h = fx.AffinityHeatmap(np.eye(3) - 0.2, cmap="RdBu_r", center=0.0, row_title="sample", col_title="feature")
    assert (h.center, h.row_title, h.col_title) == (0.0, "sample", "feature")
    with pytest.raises(ValueError, match="center must be finite"):
        fx.AffinityHeatmap(np.eye(3), center=float("nan"))
    z = fx.ZoomHeatmap(torch.randn(60, 3), metric="dot", center=0.0, cmap="coolwarm", tile_size=16)
    assert z.center == 0.0 and z.vmin is None and z.vmax is None


def test_zoom_heatmap_names_its_groups():
    X = torch.randn(90, 4)
    labels = np.array(["b", "a", "c"] * 30)
    z = fx.ZoomHeatmap(X, labels=labels, tile_size=32)
    assert z.group_labels == ["a", "b", "c"] and len(z.boundaries) == 2
    c = fx.ZoomHeatmap(X, order="cluster", n_clusters=3, tile_size=32)
    assert len(c.group_labels) == len(c.boundaries) + 1 and all(g.startswith("cluster ") for g in c.group_labels)
    assert fx.ZoomHeatmap(X, tile_size=32).group_labels == []


def _image(fig):
    (img,) = fig.axes[0].images
    return img


def test_plot_takes_any_map_and_center_everywhere():
    mine = ListedColormap(["#000000", "#ffffff"], name="bw")
    X = torch.randn(20, 4)
    aff = fx.affinity(X, metric="dot")
    im = _image(aff.plot(cmap="plasma", center=0.0))
    v = aff.numpy()
    r = max(abs(v.max()), abs(v.min()))
    assert im.get_cmap().name == "plasma"
    assert (im.norm.vmin, im.norm.vmax) == pytest.approx((-r, r))
    im = _image(aff.plot(cmap=mine, vmin=-1, vmax=2))
    assert im.get_cmap().name == "bw" and (im.norm.vmin, im.norm.vmax) == (-1, 2)
    im = _image(aff.plot(center=1.0, vmin=0.0, vmax=1.5))
    assert (im.norm.vmin, im.norm.vmax) == pytest.approx((0.0, 2.0))

    conv = torch.nn.Sequential(torch.nn.Conv2d(1, 1, 3), torch.nn.Flatten(), torch.nn.Linear(16, 2))
    attr = fx.attribute(conv, torch.randn(2, 1, 6, 6), target=0, method="input_x_gradient")
    im = _image(attr.plot(1, cmap=mine))
    lim = float(np.abs(attr.numpy()[1].sum(0)).max())
    assert (im.norm.vmin, im.norm.vmax) == pytest.approx((-lim, lim))  # centred on 0 by default
    im = _image(attr.plot(1, center=None))
    img = attr.numpy()[1].sum(0)
    assert (im.norm.vmin, im.norm.vmax) == pytest.approx((img.min(), img.max()))
    with pytest.raises(ValueError, match="index must be an integer in 0..1"):
        attr.plot(2)

    mlp = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.ReLU(), torch.nn.Linear(6, 2))
    cmp = fx.compare(mlp, data=X, batch_size=10)
    im = _image(cmp.plot(cmap=mine))
    finite = cmp.numpy()[np.isfinite(cmp.numpy())]
    assert (im.norm.vmin, im.norm.vmax) == pytest.approx((finite.min(), finite.max()))  # the data's range
    with pytest.raises(ValueError, match="unknown colour map"):
        cmp.plot(cmap="nope")

    noise = fx.label_noise(torch.randn(4, 5, 5), torch.randn(4, 5, 5), torch.randint(0, 2, (5, 5)),
                           torch.randint(0, 2, (5, 5)))
    assert _image(noise.plot(cmap="plasma")).get_cmap().name == "plasma"


def test_dataset_and_evaluation_plots_take_any_map_too():
    X = torch.randn(60, 5)
    e = fx.embed(X, method="pca")
    fig = e.plot(values=X[:, 0].numpy(), cmap=ListedColormap(["#000000", "#ffffff"], name="bw"), center=0.0)
    (sc,) = fig.axes[0].collections
    r = float(np.abs(X[:, 0].numpy()).max())
    assert sc.get_cmap().name == "bw" and (sc.norm.vmin, sc.norm.vmax) == pytest.approx((-r, r))
    with pytest.raises(ValueError, match="cmap: unknown colour map"):
        e.plot(values=X[:, 0].numpy(), cmap="virdis")
    from fxwidgets.results.evaluation import plt_colormap

    assert plt_colormap("plasma").name == "plasma"
    with pytest.raises(ValueError, match="cmap: unknown colour map 'RdYlGm'"):
        plt_colormap("RdYlGm")
