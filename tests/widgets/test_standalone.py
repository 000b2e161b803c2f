"""save_html: one self-contained file (no network), the views' bundles and data inlined, requests answered from
tables computed when it was saved, and what did not fit said in the page."""

from __future__ import annotations

import base64
import json
import re

import numpy as np
import pytest
import torch

import fxwidgets as fx
from fxwidgets.runtime.codec import unpack
from fxwidgets.widgets._standalone import STATIC, canonical, payload


def read_payload(path):
    text = path.read_text(encoding="utf-8")
    m = re.search(r'<script type="application/json" id="fx-standalone-data">(.*?)</script>', text, re.S)
    return text, json.loads(m.group(1))


def blob(data, i):
    return base64.b64decode(data["blobs"][i])


def message(data, packed):
    return unpack(packed["content"], [blob(data, i) for i in packed["buffers"]])


def assert_self_contained(text):
    assert "<script src" not in text.lower() and "<link" not in text.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", text, re.I), "a URL to load something"
    assert re.search(r"""import\s*\(\s*["']https?:""", text) is None
    assert "connect-src 'none'" in text and "default-src 'none'" in text  # the page may fetch nothing


def test_one_file_holds_the_bundles_the_data_and_no_url(tmp_path):
    heat = fx.AffinityHeatmap(np.add.outer(np.arange(5.0), np.arange(5.0)), row_labels=list("abcde"), title="</script>")
    ranks = fx.FeatureRanking(np.random.default_rng(0).normal(size=(60, 4)), np.arange(60) % 2, methods=["fisher"],
                              k=2, probe=False)
    path = fx.save_html([heat, ranks], tmp_path / "views.html", title="two views")
    text, data = read_payload(path)
    assert_self_contained(text)
    assert text.count("</script>") == 2  # the data's "</script>" did not end its script early
    assert [v["name"] for v in data["views"]] == ["AffinityHeatmap", "FeatureRanking"]
    for name in ("affinity_heatmap", "feature_ranking"):
        code = base64.b64decode(data["bundles"][name]).decode("utf-8")
        assert code.endswith((STATIC / f"{name}.js").read_text(encoding="utf-8"))
    host = (STATIC / "standalone_host.js").read_text(encoding="utf-8")
    assert host.replace("</script", "<\\/script") in text
    state = data["views"][0]["state"]
    assert state["row_labels"] == list("abcde") and state["title"] == "</script>"
    assert "_esm" not in state and "picture" not in state
    # the heatmap's startup request (snapshot) is answered with its tiles
    answer = data["views"][0]["answers"]["snapshot"][canonical({})]
    (tile,) = [message(data, m) for m in answer["messages"]]
    assert tile["type"] == "tile"
    np.testing.assert_array_equal(tile["data"], heat.display_values)
    assert message(data, answer["result"]) == {"tiles": 1, "rows": 5}
    assert data["views"][1]["answers"]["state"] and set(data["views"][1]["reactions"]["method"]) == {'"fisher"'}
    assert heat.save_html(tmp_path / "one.html").stat().st_size < path.stat().st_size


def test_a_downsampled_heatmap_ships_the_exact_values_for_hover():
    m = np.random.default_rng(1).normal(size=(30, 30)).astype(np.float32)
    m[3, 4] = np.nan
    heat = fx.AffinityHeatmap(m, max_display=10)
    data = payload([heat])
    cells = data["views"][0]["cells"]
    assert cells["shape"] == [30, 30]
    np.testing.assert_array_equal(np.frombuffer(blob(data, cells["matrix"]), "<f4").reshape(30, 30), m)


def test_zoom_ships_its_coarse_levels_within_the_budget_and_says_what_is_left_out():
    z = fx.ZoomHeatmap(torch.randn(600, 5), tile_size=64)
    data = payload([z], budget=2 * 600 * 300)  # half of it for tiles: levels 2 and coarser (150^2 cells)
    view = data["views"][0]
    levels = sorted({json.loads(k)["level"] for k in view["answers"]["tile"]})
    assert levels == list(range(2, z.levels)), levels
    key = canonical({"level": 2, "ti": 1, "tj": 2})
    tile = message(data, view["answers"]["tile"][key]["result"])
    np.testing.assert_allclose(tile["values"], z.tile(2, 1, 2))
    assert any("zooming in past blocks of 4 rows" in o for o in view["omitted"])
    assert any("exact value" in o for o in view["omitted"]) and view["cells"] is None
    full = payload([fx.ZoomHeatmap(torch.randn(100, 5), labels=np.arange(100) % 3, tile_size=64)])["views"][0]
    assert full["cells"]["labels"][:3] == ["0", "1", "2"] and full["omitted"] == []


def test_layer_comparison_ships_the_gram_matrices_of_every_cell_once_each():
    mlp = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.ReLU(), torch.nn.Linear(6, 3))
    X = torch.randn(80, 4)
    view = fx.compare(mlp, data=X, labels=(X[:, 0] > 0).long(), batch_size=20, gram_samples=30).show()
    data = payload([view])
    grams = data["views"][0]["answers"]["grams"]
    assert len(grams) == 3 * 3 * 2  # every cell, in both orders
    reply = message(data, grams[canonical({"row": 2, "col": 0, "sort_by": "label"})]["result"])
    want = view.grams(2, 0, "label")
    np.testing.assert_allclose(reply["a"], want["a"])
    np.testing.assert_allclose(reply["b"], want["b"])
    assert reply["labels"] == want["labels"]
    # 3 layers x 2 orders, each Gram stored once however many cells use it (plus index arrays and state)
    assert len(data["blobs"]) <= 3 * 2 + 2 * 2 + 4


def test_rows_of_a_batch_are_saved_as_reactions_to_the_row_trait():
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3))
    x = torch.randn(3, 1, 4, 4)
    view = fx.attribute(net, x, target=1, method="input_x_gradient").show(x)
    data = payload([view])
    rows = data["views"][0]["reactions"]["row"]
    assert set(rows) == {"0", "1", "2"}
    msgs = [message(data, m) for m in rows["2"]["messages"]]
    panel = [m for m in msgs if m["type"] == "panel"][0]
    np.testing.assert_allclose(panel["values"], (x[2] * net[1].weight[1].reshape(1, 4, 4)).sum(0).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    assert [m["type"] for m in msgs][0] == "background"


def test_a_page_over_budget_says_what_it_left_out():
    mlp = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.ReLU(), torch.nn.Linear(6, 3))
    view = fx.compare(mlp, data=torch.randn(200, 4), batch_size=50, gram_samples=100).show()
    data = payload([view], budget=100 * 100 * 4 * 3)
    assert "the Gram matrices of some cells" in data["views"][0]["omitted"]


def test_only_views_can_be_saved(tmp_path):
    with pytest.raises(TypeError, match="save_html takes fxwidgets views"):
        fx.save_html([object()], tmp_path / "x.html")
    with pytest.raises(ValueError, match="at least one"):
        fx.save_html([], tmp_path / "x.html")


def test_canonical_keys_sort_and_write_integral_floats_as_integers():
    assert canonical({"row": 1, "col": 2.0, "sort_by": "label"}) == '{"col":2,"row":1,"sort_by":"label"}'
    assert canonical("fisher") == '"fisher"' and canonical(3) == "3" and canonical(0.5) == "0.5"
