"""fx.link (fxwidgets/widgets/linking.py): rows matched by index through index maps, selections passed between
a scatter, a heatmap, an attribution view and a feature ranking, without feedback loops."""

import numpy as np
import pytest
import torch
import traitlets

import fxwidgets as fx
from fxwidgets.widgets.linking import as_rows, check_index_map, from_link_rows, map_bytes, to_link_rows


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 5)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    return X, y


def count_changes(widget, name):
    seen = []
    widget.observe(lambda c: seen.append(c["new"]), names=name)
    return seen


# ---- index maps ------------------------------------------------------------------------------------------------


def test_index_maps_against_their_definition():
    """to_link_rows(S, m) = {m[i] : i in S}; from_link_rows(L, m, n) = {j < n : m[j] in L} (brute force)."""
    rng = np.random.default_rng(3)
    for _ in range(200):
        n = int(rng.integers(1, 30))
        m = rng.integers(0, 20, size=n)  # any map: repeats allowed (several view rows show one link row)
        S = rng.integers(0, n, size=int(rng.integers(0, n + 1)))
        L = rng.integers(0, 25, size=int(rng.integers(0, 10)))
        assert to_link_rows(S, m).tolist() == sorted({int(m[i]) for i in S})
        assert from_link_rows(L, m, n).tolist() == sorted(j for j in range(n) if m[j] in set(L.tolist()))
        # a selection comes back from its link rows (exactly when the map is one-to-one)
        back = set(from_link_rows(to_link_rows(S, m), m, n).tolist())
        assert set(S.tolist()) <= back
        perm = rng.permutation(n) + 5
        assert from_link_rows(to_link_rows(S, perm), perm, n).tolist() == sorted(set(S.tolist()))
    # the identity
    assert to_link_rows([4, 1, 1], None).tolist() == [1, 4]
    assert from_link_rows([9, 1, 4], None, 5).tolist() == [1, 4]
    # the same examples as js/tests/link.test.ts (both sides implement one rule)
    order = np.array([3, 0, 4, 1, 2])
    assert to_link_rows([0, 1], order).tolist() == [0, 3]
    assert from_link_rows([0, 3], order, 5).tolist() == [0, 1]
    assert from_link_rows([0, 2], np.array([0, 0, 0, 1, 1, 2]), 6).tolist() == [0, 1, 2, 5]
    assert map_bytes(order) == np.array([3, 0, 4, 1, 2], dtype="<i4").tobytes() and map_bytes(None) == b""


def test_bad_rows_and_maps_are_named():
    assert as_rows([3, 1, 3], 5).tolist() == [1, 3]
    with pytest.raises(ValueError, match="rows has row index 5, but there are only 5 rows"):
        as_rows([5], 5, "rows")
    with pytest.raises(ValueError, match="index must be 1-D"):
        check_index_map(np.zeros((2, 2), dtype=int))
    with pytest.raises(TypeError, match="index must hold integer link rows"):
        check_index_map([0.5, 1.0])
    with pytest.raises(ValueError, match="index has a negative link row"):
        check_index_map([0, -2])


# ---- propagation ------------------------------------------------------------------------------------------------


def test_scatter_and_heatmap_follow_each_other_once(data):
    X, _ = data
    s = fx.Scatter(X[:, :2])
    h = fx.AffinityHeatmap(X @ X.T)
    link = fx.link(s, h)
    assert s.link_id == h.link_id == link.id and s.link is link and h.link is link
    hs, ss = count_changes(h, "selection"), count_changes(s, "selection")
    s.selection = [7, 3, 5]
    assert h.selection == {"rows": [3, 5, 7], "cols": []}
    assert link.rows.tolist() == [3, 5, 7]
    assert len(hs) == 1 and len(ss) == 1  # no echo back into the scatter
    h.selection = {"rows": [10, 11, 12], "cols": [0, 1]}  # a drag in the heatmap: its rows go on
    assert s.selection.tolist() == [10, 11, 12]
    assert len(hs) == 2 and len(ss) == 2
    link.select([1, 2])  # from Python
    assert s.selection.tolist() == [1, 2] and h.selection["rows"] == [1, 2]


def test_an_index_map_translates_rows_between_views(data):
    X, _ = data
    order = np.argsort(X[:, 0])  # the heatmap shows the rows sorted: its row i is data row order[i]
    s = fx.Scatter(X[:, :2])
    h = fx.AffinityHeatmap((X @ X.T)[np.ix_(order, order)])
    link = fx.link(s, (h, order))
    assert h.link_map == order.astype("<i4").tobytes() and s.link_map == b""
    s.selection = [int(order[0]), int(order[5])]
    assert h.selection["rows"] == [0, 5]
    h.selection = {"rows": [58, 59], "cols": []}
    assert s.selection.tolist() == sorted(order[[58, 59]].tolist())
    # rows only one view has: a heatmap of the first 10 data rows shows what falls in them
    small = fx.AffinityHeatmap((X @ X.T)[:10, :10])
    link.add(small)
    s.selection = [2, 40]
    assert small.selection["rows"] == [2]
    with pytest.raises(ValueError, match=r"index has 3 entries, but the AffinityHeatmap has 10 rows"):
        link.add(small, [0, 1, 2])


def test_attribution_view_shows_the_first_selected_row_and_recomputes_for_it(data):
    X, _ = data
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 3))
    x = torch.tensor(X)
    s = fx.Scatter(X[:, :2])
    a = fx.AttributionView(model, x, methods=["saliency"])
    assert a.wait(10)
    assert (a.n_rows, a.row) == (60, 0)
    fx.link(s, a)
    s.selection = [17, 30]
    assert a.row == 17
    assert a.wait(10)
    ref = fx.attribute(model, x[17:18], target=int(model(x[17:18]).argmax()), method="saliency")
    np.testing.assert_allclose(a.display_values(0), ref.values[0].detach().numpy(), rtol=1e-5, atol=1e-7)
    assert a.target == int(model(x[17:18]).argmax())
    with pytest.raises(traitlets.TraitError, match=r"row must be an integer in 0..59"):
        a.row = 60


def test_attribution_results_switch_rows_without_recomputing(data):
    X, _ = data
    model = torch.nn.Sequential(torch.nn.Linear(5, 2))
    x = torch.tensor(X[:8])
    res = fx.attribute(model, x, target=1, method="saliency")
    a = res.show(x, index=0)  # one-row view (many tabular rows alone open the summary)
    assert a.n_rows == 8
    a.row = 5
    np.testing.assert_allclose(a.display_values(0), res.values[5].detach().numpy(), rtol=1e-6)


def test_feature_ranking_ranks_again_on_the_selected_rows(data):
    X, y = data
    s = fx.Scatter(X[:, :2])
    r = fx.FeatureRanking(X, y, methods=["fisher", "mi"], k=2, probe=False)
    fx.link(s, r)
    rows = np.flatnonzero(X[:, 1] > 0)
    s.selection = rows
    assert r.wait_ranking(30)
    assert r.rows_ranked == len(rows) and r.n_rows == 60 and r.error == ""
    ref = fx.select(X[rows], y[rows], method="fisher", k=2)
    assert r.selected == ref.ranking[:2].tolist()
    r.method = "mi"
    assert r.selected == fx.select(X[rows], y[rows], method="mi", k=2).ranking[:2].tolist()
    s.selection = []  # nothing selected: back to every row, no computation
    assert r.rows_ranked == 60 and r._rank_job is None
    assert r.selected == fx.select(X, y, method="mi", k=2).ranking[:2].tolist()


def test_one_failing_member_never_stops_the_others(data):
    X, y = data
    s = fx.Scatter(X[:, :2])
    h = fx.AffinityHeatmap(X @ X.T)
    no_x = fx.FeatureRanking(results={"fisher": fx.select(X, y, method="fisher", k=2)})
    link = fx.link(s, no_x, h)
    s.selection = [1, 2]
    assert h.selection["rows"] == [1, 2]
    assert len(link.errors) == 1 and "cannot rank other rows" in link.errors[0]


def test_membership_moves_unlinks_and_validates(data):
    X, _ = data
    a, b, c = fx.Scatter(X[:, :2]), fx.Scatter(X[:, 2:4]), fx.Scatter(X[:, 3:5])
    first = fx.link(a, b)
    second = fx.link(b, c)  # b moves to the new link
    assert a.link is first and b.link is second and first.views == [a]
    a.selection = [1]
    assert b.selection.tolist() == []
    b.selection = [4]
    assert c.selection.tolist() == [4]
    second.unlink()
    assert (b.link_id, c.link_id, b.link_map) == ("", "", b"") and b.link is None
    b.selection = [9]
    assert c.selection.tolist() == [4]
    with pytest.raises(TypeError, match="link needs at least two views"):
        fx.link(a)
    with pytest.raises(ValueError, match="the same Scatter was given twice"):
        fx.link(a, a)
    with pytest.raises(TypeError, match="LayerComparison cannot be linked|int cannot be linked"):
        fx.link(a, 3)


def test_a_selection_made_before_linking_is_passed_on(data):
    X, _ = data
    s = fx.Scatter(X[:, :2], selection=[5, 6])
    h = fx.AffinityHeatmap(X @ X.T)
    fx.link(h, s)
    assert h.selection == {"rows": [5, 6], "cols": []}


def test_show_joins_a_link(data):
    X, _ = data
    s = fx.Scatter(X[:, :2])
    order = np.arange(60)[::-1].copy()
    h = fx.affinity(X[order], metric="cosine").show(link=s, link_index=order)
    assert h.link is s.link is not None
    s.selection = [0]
    assert h.selection["rows"] == [59]
    s2 = fx.Scatter(X[:, :2])
    h2 = fx.Scatter.from_embedding(X, dims=(1, 2), link=s2)
    assert h2.link is s2.link


def test_a_streamed_job_shows_into_a_link(data):
    X, _ = data
    s = fx.Scatter(X[:, :2])
    job = fx.affinity(X, metric="cosine", stream=True)
    h = job.show(link=s)
    assert h.link is s.link
    job.wait(10)
    s.selection = [3]
    assert h.selection["rows"] == [3]


def test_a_view_joining_passes_on_its_selection_or_shows_the_links(data):
    X, _ = data
    s = fx.Scatter(X[:, :2], selection=[4, 2])
    h = fx.affinity(X, metric="cosine").show(link=s)  # the heatmap joins and shows what the scatter selected
    assert h.selection["rows"] == [2, 4]
    chosen = fx.Scatter(X[:, 1:3], selection=[9])
    from fxwidgets.widgets.linking import join

    join(chosen, s)  # a view with its own selection passes it on
    assert s.selection.tolist() == [9] and h.selection["rows"] == [9]


def test_a_lassoed_selection_reranks_tensor_data_without_warnings(data):
    """The scatter's selection is a read-only array; ranking a tensor X on it must neither warn nor fail."""
    import warnings

    X, y = data
    s = fx.Scatter(X[:, :2])
    r = fx.FeatureRanking(torch.tensor(X), y, methods=["fisher"], k=2, probe=False)
    link = fx.link(s, r)
    rows = np.flatnonzero(X[:, 1] > 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s.selection = rows
        assert r.wait_ranking(30)
    assert link.errors == [] and r.rows_ranked == len(rows)
    assert r.selected == fx.select(X[rows], y[rows], method="fisher", k=2).ranking[:2].tolist()


def test_reranking_rows_keeps_a_method_option_that_names_constant(data):
    X, y = data
    X = np.column_stack([X, np.ones(len(X), dtype=X.dtype)])  # a constant column
    r = fx.FeatureRanking(X, y, methods=["fisher"], k=2, probe=False, fisher={"constant": "last"})
    rows = np.arange(30)
    r.rank_rows(rows)
    assert r.wait_ranking(30)
    assert r.error == "" and r.rows_ranked == 30
    assert r.selected == fx.select(X[rows], y[rows], method="fisher", k=2, constant="last").ranking[:2].tolist()
