"""Scatter (fxwidgets/widgets/scatter.py): input checks that name the argument, the selection trait, the wire
format of the columns, hover answers with thumbnails, in-place updates and points streaming from an embedding job."""

import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import traitlets

import fxwidgets as fx
from fxwidgets.compute.embedding import EmbeddingAccumulator, embed, iter_embedding, plan_embedding
from fxwidgets.runtime import Job
from fxwidgets.runtime.codec import unpack
from fxwidgets.widgets.scatter import TAB10, class_palette, thumbnail


class Capture:
    """Stands in for the comm: records every message the widget sends."""

    def __init__(self, widget):
        self.messages, self.cond = [], threading.Condition()
        widget.send = self

    def __call__(self, content, buffers=None):
        with self.cond:
            self.messages.append((content, list(buffers or []), sum(memoryview(b).nbytes for b in buffers or [])))
            self.cond.notify_all()

    def of(self, kind):
        return [unpack(c, b) for c, b, _ in self.messages if c.get("type") == kind]

    def responses(self):
        return [c for c, _, _ in self.messages if c["type"] == "response"]

    def assemble(self, n):
        """Apply every points message in order onto a NaN array, as the browser does."""
        xy = np.full((n, 2), np.nan, dtype=np.float32)
        for m in self.of("points"):
            xy[m["start"]:m["start"] + m["xy"].shape[0]] = m["xy"]
        return xy


def request(widget, method, args=None, id="1", channel=None):
    future = widget.rpc.handle({"type": "request", "id": id, "method": method, "args": args or {}, "channel": channel})
    if future is not None:
        future.result(10)


@pytest.fixture
def blobs():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 50)
    xy = np.array([[-4.0, 0.0], [3.0, 2.0], [1.0, -3.0]])[y] + 0.5 * rng.standard_normal((150, 2))
    return xy, y


# ---- bad input names the argument --------------------------------------------------------------------------------


@pytest.mark.parametrize("coords, match", [
    (np.zeros((10, 3)), r"coordinates must have shape \(N, 2\).*got shape \(10, 3\).*coordinates\[:, :2\]"),
    (np.zeros(10), r"coordinates must have shape \(N, 2\)"),
    (np.zeros((0, 2)), r"coordinates has no rows"),
    (np.array([[0, 1], [2, np.nan], [3, 4], [np.inf, 0]]), r"coordinates has 2 row\(s\) with NaN or infinite values \(first: row 1\)"),
    (np.full((3, 2), 1e38), r"coordinates has values beyond 1e30"),
])
def test_bad_coordinates_are_named(coords, match):
    with pytest.raises(ValueError, match=match):
        fx.Scatter(coords)


def test_bad_input_is_named_before_anything_is_drawn(blobs):
    xy, y = blobs
    with pytest.raises(TypeError, match="coordinates must be real numbers"):
        fx.Scatter(np.zeros((3, 2), dtype=complex))
    with pytest.raises(ValueError, match=r"labels has 149 entries, but there are 150 rows"):
        fx.Scatter(xy, labels=y[:-1])
    with pytest.raises(ValueError, match=r"scores must hold one value per row \(150\), got shape \(3,\)"):
        fx.Scatter(xy, scores=[1, 2, 3])
    with pytest.raises(ValueError, match=r"sizes must hold one value per row"):
        fx.Scatter(xy, sizes=np.ones((150, 2)))
    with pytest.raises(ValueError, match=r"values\['loss'\] must hold one value per row \(150\)"):
        fx.Scatter(xy, values={"loss": np.zeros(4)})
    with pytest.raises(ValueError, match=r"images must be \(N, C, H, W\).*N = 150 rows"):
        fx.Scatter(xy, images=np.zeros((149, 8, 8)))
    with pytest.raises(ValueError, match=r"an image must be"):
        fx.Scatter(xy, images=np.zeros((150, 5, 8, 8, 2)).reshape(150, 5, 8, 16))
    with pytest.raises(ValueError, match="color_by must be one of"):
        fx.Scatter(xy, color_by="size")
    with pytest.raises(ValueError, match="aspect must be one of"):
        fx.Scatter(xy, aspect="square")
    with pytest.raises(ValueError, match=r"opacity must be in \(0, 1\], got 2"):
        fx.Scatter(xy, opacity=2)
    with pytest.raises(ValueError, match=r"point_size must be in \(0, 100\], got 0"):
        fx.Scatter(xy, point_size=0)
    with pytest.raises(TypeError, match="either coordinates or a job"):
        fx.Scatter()
    w = fx.Scatter(xy, labels=y)
    with pytest.raises(traitlets.TraitError, match="opacity must be in"):
        w.opacity = 0
    with pytest.raises(traitlets.TraitError, match=r"hidden_classes must be class codes in 0..2"):
        w.hidden_classes = [3]
    with pytest.raises(ValueError, match=r"unknown class 'dog'"):
        w.hide("dog")


# ---- the selection trait -------------------------------------------------------------------------------------


def test_selection_accepts_indices_masks_and_tensors_and_names_bad_ones(blobs):
    xy, _ = blobs
    w = fx.Scatter(xy)
    w.selection = [5, 1, 5, 3]
    assert w.selection.dtype == np.int64 and w.selection.tolist() == [1, 3, 5]
    assert not w.selection.flags.writeable
    mask = np.zeros(150, dtype=bool)
    mask[[7, 8]] = True
    w.selection = mask
    assert w.selection.tolist() == [7, 8]
    w.selection = torch.tensor([9, 2])
    assert w.selection.tolist() == [2, 9]
    w.selection = None
    assert w.selection.tolist() == []
    for bad, match in [([150], r"selection has row index 150, but there are only 150 rows"),
                       ([-1], r"selection has a negative row index"),
                       ([0.5], r"selection must hold integer row indices"),
                       (np.zeros(10, dtype=bool), r"selection is a boolean mask of 10 entries, but there are 150"),
                       (np.zeros((2, 2), dtype=int), r"selection must be 1-D"),
                       (["a"], r"selection must hold integer row indices")]:
        with pytest.raises(traitlets.TraitError, match=match):
            w.selection = bad
    assert w.selection.tolist() == []  # a refused value changes nothing


def test_selection_travels_as_int32_bytes_and_notifies_only_on_change(blobs):
    xy, _ = blobs
    w = fx.Scatter(xy)
    seen = []
    w.observe(lambda c: seen.append(c["new"].tolist()), names="selection")
    # what the browser sends: int32 little-endian bytes
    w.set_state({"selection": memoryview(np.array([40, 3], dtype="<i4")).cast("B")})
    assert w.selection.tolist() == [3, 40]
    state = w.get_state("selection")["selection"]
    assert bytes(state) == np.array([3, 40], dtype="<i4").tobytes()
    w.selection = [40, 3, 3]  # the same rows: no notification
    w.selection = [3, 40, 41]
    assert seen == [[3, 40], [3, 40, 41]]
    assert w.selected_mask.sum() == 3 and w.selected_mask[41]


# ---- what the browser receives -------------------------------------------------------------------------------


def test_snapshot_sends_columns_as_binary_in_bounded_messages(blobs):
    xy, y = blobs
    sizes = np.linspace(0, 1, 150)
    w = fx.Scatter(xy, labels=np.array(["cat", "ant", "bee"])[y], scores=xy[:, 0], sizes=sizes,
                   max_message_bytes=256)
    cap = Capture(w)
    request(w, "snapshot")
    points = [(c, s) for c, _, s in cap.messages if c["type"] == "points"]
    assert len(points) == int(np.ceil(150 / (256 // 8))) and max(s for _, s in points) <= 256
    np.testing.assert_array_equal(cap.assemble(150), xy.astype(np.float32))
    cols = {}
    for kind in ("codes", "scores", "sizes"):
        parts = cap.of(kind)
        assert max(s for c, _, s in cap.messages if c["type"] == kind) <= 256
        assert [p["start"] for p in parts] == list(range(0, 150, 64))  # 256 bytes = 64 values of 4 bytes
        cols[kind] = np.concatenate([p["values"] for p in parts])
    assert w.classes == ["ant", "bee", "cat"] and w.palette == list(TAB10[:3])
    np.testing.assert_array_equal(np.array(w.classes)[cols["codes"]], np.array(["cat", "ant", "bee"])[y])
    assert cols["codes"].dtype == np.int32
    np.testing.assert_array_equal(cols["scores"], xy[:, 0].astype(np.float32))
    np.testing.assert_allclose(cols["sizes"], sizes, rtol=1e-6)
    assert cap.responses()[-1]["result"] == {"rows": 150, "messages": len(points) + 3 * 3}
    assert w.bounds == pytest.approx([xy[:, 0].min(), xy[:, 0].max(), xy[:, 1].min(), xy[:, 1].max()], rel=1e-6)
    assert w.color_by == "label" and w.has_scores


def test_labels_sort_like_numpy_and_missing_labels_have_no_class():
    xy = np.zeros((5, 2))
    w = fx.Scatter(xy, labels=[10, 2, None, 2, float("nan")])
    assert w.classes == ["2", "10"]
    assert w.labels == ["10", "2", None, "2", None]
    assert w.color_by == "label"
    many = class_palette(40)
    assert len(set(many)) == 40 and class_palette(20)[:2] == ["#1f77b4", "#aec7e8"]


def test_default_style_and_colour_choice():
    small = fx.Scatter(np.zeros((100, 2)))
    big = fx.Scatter(np.random.default_rng(1).standard_normal((200_000, 2)))
    assert small.point_size > big.point_size and small.opacity > big.opacity
    assert small.color_by == "none"
    assert fx.Scatter(np.zeros((3, 2)), scores=[1, 2, np.nan]).color_by == "score"


def test_hover_answer_has_values_and_a_thumbnail_made_when_asked(blobs):
    xy, y = blobs
    imgs = np.zeros((150, 3, 128, 96), dtype=np.float32)
    imgs[:, 0, :64] = 1.0  # red top half
    calls = []
    w = fx.Scatter(xy, labels=y, scores=np.where(np.arange(150) == 4, np.nan, 1.0),
                   images=lambda i: calls.append(i) or imgs[i], values={"loss": np.arange(150) / 10, "name": [f"r{i}" for i in range(150)]})
    assert calls == [] and w.has_images and w.value_names == ["loss", "name"]
    cap = Capture(w)
    request(w, "row", {"index": 4}, channel="hover")
    r = cap.responses()[-1]
    assert r["ok"], r
    res = unpack(r["result"], cap.messages[-1][1])
    assert calls == [4]
    assert res["label"] == "0" and res["score"] is None and res["values"] == {"loss": 0.4, "name": "r4"}
    assert res["x"] == pytest.approx(xy[4, 0], rel=1e-6)
    img = res["image"]
    assert img.dtype == np.uint8 and img.shape == (64, 48, 3)
    assert (img[:32, :, 0] == 255).all() and (img[32:, :, 0] == 0).all() and (img[..., 1:] == 0).all()
    request(w, "row", {"index": 150})
    assert "index must be an integer in 0..149" in cap.responses()[-1]["error"]


def test_thumbnail_is_the_block_mean():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, size=(130, 200, 3)).astype(np.uint8)
    t = thumbnail(a, max_px=64)
    f = 4  # ceil(200 / 64)
    expect = a[:128, :200].astype(np.float32).reshape(32, f, 50, f, 3).mean(axis=(1, 3)).round()
    assert t.shape == (32, 50, 3)
    np.testing.assert_array_equal(t, expect.astype(np.uint8))
    gray = thumbnail(torch.linspace(-1, 1, 16).reshape(4, 4))  # floats: min-max scaled
    assert gray.shape == (4, 4, 3) and gray.min() == 0 and gray.max() == 255


# ---- updates in place ----------------------------------------------------------------------------------------


def test_update_moves_rows_in_place_and_names_bad_input(blobs):
    xy, y = blobs
    w = fx.Scatter(xy, labels=y)
    w.hidden_classes = [1]
    cap = Capture(w)
    new = np.full((10, 2), 50.0)
    w.update(new, start=20)
    (msg,) = cap.of("points")
    assert msg["start"] == 20 and msg["xy"].shape == (10, 2)
    np.testing.assert_array_equal(w.coordinates[20:30], new)
    np.testing.assert_array_equal(w.coordinates[:20], xy[:20].astype(np.float32))
    assert w.bounds[1] == 50.0 and w.bounds[3] == 50.0
    with pytest.raises(ValueError, match=r"coordinates has 10 rows from start=145, past the 150 rows"):
        w.update(new, start=145)
    with pytest.raises(ValueError, match=r"start must be a row in 0..149"):
        w.update(new, start=-1)
    with pytest.raises(ValueError, match=r"coordinates has 1 row\(s\) with NaN"):
        w.update(np.array([[0.0, np.nan]]))
    with pytest.raises(ValueError, match=r"labels has 3 entries"):
        w.update(labels=[1, 2, 3])
    w.update(labels=y)  # same classes: what is hidden stays hidden
    assert w.hidden_classes == [1]
    w.update(labels=np.where(y == 2, 7, y))  # other classes: nothing hidden any more
    assert w.classes == ["0", "1", "7"] and w.hidden_classes == []
    w.update(scores=np.arange(150))
    assert w.has_scores and len(cap.of("scores")) == 1 and len(cap.of("codes")) == 2
    assert cap.of("scores")[0]["start"] == 0


# ---- streaming from an embedding job ---------------------------------------------------------------------------


def _paced(gen, delay=0.002):
    for item in gen:
        time.sleep(delay)
        yield item


def test_points_stream_in_from_an_embedding_job_and_equal_the_blocking_embedding():
    X = torch.randn(3000, 8, generator=torch.Generator().manual_seed(0))
    plan = plan_embedding(X, "pca", 3, chunk_size=256)
    job = Job(_paced(iter_embedding(plan)), EmbeddingAccumulator(plan), name="embed", start=False)
    w = fx.Scatter.from_job(job, dims=(0, 2), title="PCA")
    cap = Capture(w)
    assert w.status == "running" and w.n_points == 3000 and np.isnan(w.coordinates).all()
    job.start()
    assert job.wait(30)  # returns once every listener's on_end ran: the view has flushed its last rows
    assert w.status == "done" and w.progress == 1.0
    final = embed(X, "pca", 3, chunk_size=256).coordinates[:, [0, 2]].numpy()
    np.testing.assert_allclose(w.coordinates, final, rtol=0, atol=1e-6)
    # what the browser drew: every points message applied in order gives the same picture
    np.testing.assert_allclose(cap.assemble(3000), final, rtol=0, atol=1e-6)
    assert len(cap.of("points")) >= 2  # it arrived in parts, not in one message at the end
    b = w.bounds
    assert b == pytest.approx([final[:, 0].min(), final[:, 0].max(), final[:, 1].min(), final[:, 1].max()], rel=1e-5)


def test_a_view_opened_late_catches_up_and_in_place_moves_replace_earlier_rows():
    n = 400

    class Acc:
        def __init__(self):
            self.coordinates = torch.full((n, 2), float("nan"))

        def add(self, item):
            self.coordinates[item.row_start:item.row_stop] = item.coordinates

        def result(self):
            return self.coordinates

    gate = threading.Event()

    def layouts():  # t-SNE-like: the whole layout every step, each step moving every point
        for step in range(5):
            xy = torch.arange(2 * n, dtype=torch.float32).reshape(n, 2) * (step + 1)
            yield SimpleNamespace(row_start=0, row_stop=n, coordinates=xy, progress=(step + 1) / 5)
            if step == 1:
                gate.wait(10)

    acc = Acc()
    job = Job(layouts(), acc, name="layout")
    deadline = time.monotonic() + 5
    while job.items < 2 and time.monotonic() < deadline:
        time.sleep(0.005)
    w = fx.Scatter.from_job(job)  # opened after two steps: starts from the second layout
    np.testing.assert_array_equal(w.coordinates, acc.coordinates.numpy())
    cap = Capture(w)
    gate.set()
    assert job.wait(10) and w.status == "done"
    last = (torch.arange(2 * n, dtype=torch.float32).reshape(n, 2) * 5).numpy()
    np.testing.assert_array_equal(w.coordinates, last)
    np.testing.assert_array_equal(cap.assemble(n), last)
    with pytest.raises(ValueError, match=r"the job must build \(N, k\) coordinates with k > 1"):
        fx.Scatter.from_job(SimpleNamespace(state=SimpleNamespace(coordinates=torch.zeros(5, 1))))


# ---- what results open -----------------------------------------------------------------------------------------


def test_from_embedding_takes_a_record_a_selection_and_its_weights(blobs):
    xy, y = blobs
    emb = SimpleNamespace(coordinates=torch.tensor(np.hstack([xy, xy[:, :1] * 2])), method="pca",
                          axis_labels=lambda: ["PC1 (60.0% of variance)", "PC2 (30.0% of variance)", "PC3"])
    chosen = SimpleNamespace(indices=torch.tensor([30, 4, 99]), weights=torch.tensor([1.0, 4.0, 9.0]),
                             scores=torch.arange(150, dtype=torch.float32), method="sensitivity")
    w = fx.Scatter.from_embedding(emb, selection=chosen, dims=(0, 2))
    assert w.selection.tolist() == [4, 30, 99]
    assert (w.x_label, w.y_label) == ("PC1 (60.0% of variance)", "PC3")
    np.testing.assert_allclose(w.coordinates[:, 1], 2 * xy[:, 0], rtol=1e-6)
    assert w.color_by == "score" and w.score_name == "sensitivity score"
    assert w._sizes[[30, 4, 99]].tolist() == [1.0, 4.0, 9.0] and np.isnan(w._sizes[0])
    assert w.title == "pca of 150 rows"
    with pytest.raises(ValueError, match=r"weights must hold one value per selected row \(3\), got 2"):
        fx.Scatter.from_embedding(xy, selection=[1, 2, 3], weights=[1, 2])
    with pytest.raises(ValueError, match=r"dims must be two different columns in 0..1"):
        fx.Scatter.from_embedding(xy, dims=(0, 0))
    # with labels, the labels colour it
    assert fx.Scatter.from_embedding(xy, labels=y, selection=chosen).color_by == "label"


def test_from_sample_selection_draws_it_on_a_pca_of_x():
    X = torch.randn(200, 6, generator=torch.Generator().manual_seed(1))
    result = SimpleNamespace(indices=torch.tensor([3, 1, 2]), weights=None, scores=None, method="k_center",
                             summary=lambda: "covering radius 1.2")
    w = fx.Scatter.from_sample_selection(result, X)
    np.testing.assert_allclose(w.coordinates, embed(X, "pca", 2).coordinates.numpy(), rtol=0, atol=1e-5)
    assert w.selection.tolist() == [1, 2, 3]
    assert w.title == "k_center: 3 rows — covering radius 1.2"
    with pytest.raises(TypeError, match="give coordinates="):
        fx.Scatter.from_sample_selection(result)


def test_from_embedding_reads_like_embedding_result_plot(blobs):
    xy, y = blobs
    w = fx.Scatter.from_embedding(xy, y, label_name="class")  # labels positional, as plot(labels)
    assert w.classes == ["0", "1", "2"] and w.label_name == "class"
    v = fx.Scatter.from_embedding(xy, values=xy[:, 1], values_name="height")  # plot(values=..., values_name=...)
    assert v.color_by == "score" and v.score_name == "height"
    np.testing.assert_array_equal(v._scores, xy[:, 1].astype(np.float32))
    with pytest.raises(ValueError, match="give scores or values"):
        fx.Scatter.from_embedding(xy, scores=xy[:, 0], values=xy[:, 1])


def test_dataset_results_open_the_scatter():
    """EmbeddingResult.show() and SampleSelectionResult.show(X) are Scatters; a streamed embedding's job too."""
    X = torch.randn(300, 5, generator=torch.Generator().manual_seed(2))
    y = (X[:, 0] > 0).long()
    e = fx.embed(X, "pca")
    w = e.show(y, label_name="class")
    assert isinstance(w, fx.Scatter) and w.classes == ["0", "1"] and w.x_label.startswith("PC1 (")
    np.testing.assert_allclose(w.coordinates, e.coordinates.numpy(), rtol=0, atol=1e-6)
    r = fx.select_samples(X, 10, method="k_center")
    s = r.show(X, link=w)
    assert isinstance(s, fx.Scatter) and s.selection.tolist() == sorted(r.indices.tolist())
    assert s.link is w.link is not None and w.selection.tolist() == sorted(r.indices.tolist())  # passed on
    on_e = r.show(coordinates=e, labels=y)
    np.testing.assert_allclose(on_e.coordinates, e.coordinates.numpy(), rtol=0, atol=1e-6)
    from matplotlib.figure import Figure

    assert isinstance(r.show(), Figure)  # no rows to draw on: the method's own chart
    job = fx.embed(X, "pca", stream=True)
    live = job.show()
    assert job.wait(30) and isinstance(live, fx.Scatter) and live.status == "done"
    np.testing.assert_allclose(live.coordinates, e.coordinates.numpy(), rtol=0, atol=1e-5)
