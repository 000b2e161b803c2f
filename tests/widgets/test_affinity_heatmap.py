import threading
import time

import numpy as np
import pytest
import torch
import traitlets

import fxwidgets as fx
from fxwidgets.runtime.codec import unpack
from fxwidgets.testing import slow_affinity_job


class Capture:
    """Stands in for the comm: records every message the widget sends, with its time."""

    def __init__(self, widget):
        self.messages, self.cond = [], threading.Condition()
        widget.send = self

    def __call__(self, content, buffers=None):
        with self.cond:
            self.messages.append((time.monotonic(), content, list(buffers or []), sum(memoryview(b).nbytes for b in buffers or [])))
            self.cond.notify_all()

    def responses(self):
        return [c for _, c, _, _ in self.messages if c["type"] == "response"]

    def wait_for(self, predicate, timeout=10.0):
        with self.cond:
            assert self.cond.wait_for(lambda: predicate(self), timeout)

    def assemble(self, shape):
        """Draw every tile, in the order received, onto a NaN canvas, as the browser does."""
        canvas = np.full(shape, np.nan, dtype=np.float32)
        for _, content, buffers, _ in self.messages:
            if content["type"] == "tile":
                tile = unpack(content, buffers)
                data = tile["data"]
                canvas[tile["r0"]:tile["r0"] + data.shape[0], tile["c0"]:tile["c0"] + data.shape[1]] = data
        return canvas


def request(widget, method, args=None, id="1", channel=None):
    future = widget.rpc.handle({"type": "request", "id": id, "method": method, "args": args or {}, "channel": channel})
    if future is not None:
        future.result(10)


def test_static_matrix_traits_and_snapshot_in_bounded_messages():
    m = np.random.default_rng(0).standard_normal((300, 200)).astype(np.float32)
    w = fx.AffinityHeatmap(m, row_labels=[f"r{i}" for i in range(300)], max_message_bytes=16 * 1024)
    cap = Capture(w)
    assert (w.shape, w.display_shape, w.block, w.status, w.progress) == ([300, 200], [300, 200], [1, 1], "done", 1.0)
    request(w, "snapshot")
    tiles = [s for _, c, _, s in cap.messages if c["type"] == "tile"]
    assert max(tiles) <= 16 * 1024 and len(tiles) == int(np.ceil(300 / (16 * 1024 // (200 * 4))))
    np.testing.assert_array_equal(cap.assemble((300, 200)), m)
    assert cap.responses()[-1]["result"] == {"tiles": len(tiles), "rows": 300}


def test_large_matrix_is_drawn_as_exact_block_means_and_cells_are_exact():
    m = np.random.default_rng(1).standard_normal((1003, 250))
    w = fx.AffinityHeatmap(m, max_display=100)
    assert w.block == [11, 3] and w.display_shape == [92, 84]
    expected = m[:11, :3].mean()
    assert w.display_values[0, 0] == pytest.approx(expected, rel=1e-6)
    assert w.display_values[-1, -1] == pytest.approx(m[1001:, 249:].mean(), rel=1e-6)  # short last blocks
    cap = Capture(w)
    request(w, "cell", {"row": 1002, "col": 7})
    assert cap.responses()[0]["result"] == {"row": 1002, "col": 7, "value": pytest.approx(m[1002, 7], rel=1e-6)}


def test_streaming_fills_the_view_within_rate_and_size_bounds():
    job = slow_affinity_job(n=300, delay=0.002, chunk_size=3, start=False)
    w = fx.AffinityHeatmap(job=job, max_rate_hz=20, max_message_bytes=32 * 1024)
    cap = Capture(w)
    assert w.status == "running"
    t0 = time.monotonic()
    job.start()
    final = job.result(timeout=30)
    cap.wait_for(lambda c: w.status == "done")
    elapsed = time.monotonic() - t0
    tiles = [(t, s) for t, c, _, s in cap.messages if c["type"] == "tile"]
    assert max(s for _, s in tiles) <= 32 * 1024
    # Flushes (bursts of tile messages sent together) are bounded by the rate.
    flush_times = [t for i, (t, _) in enumerate(tiles) if i == 0 or t - tiles[i - 1][0] > 0.01]
    assert len(flush_times) <= elapsed * 20 + 2
    np.testing.assert_array_equal(cap.assemble((300, 300)), final.numpy())
    assert w.progress == 1.0 and w.error == ""


def test_a_view_opened_late_catches_up_with_a_snapshot():
    job = slow_affinity_job(n=120, delay=0.0, chunk_size=10)
    job.wait(10)
    w = job.show()
    cap = Capture(w)
    request(w, "snapshot")
    np.testing.assert_array_equal(cap.assemble((120, 120)), job.result().numpy())
    assert w.status == "done"


def test_the_kernel_answers_the_view_while_a_job_runs_and_cancel_stops_it():
    job = slow_affinity_job(n=512, delay=0.05, chunk_size=16)
    w = job.show()
    cap = Capture(w)
    request(w, "cell", {"row": 0, "col": 1}, id="hover")
    reply = cap.responses()[-1]
    assert reply["id"] == "hover" and reply["ok"] and job.status == "running"
    request(w, "cell", {"row": 511, "col": 1}, id="not-yet")
    assert cap.responses()[-1]["result"]["value"] is None  # not computed yet: no made-up value
    request(w, "cancel", id="c")
    assert cap.responses()[-1]["result"] == {"status": "cancelled"}
    cap.wait_for(lambda c: w.status == "cancelled")
    assert job.progress < 1.0
    with pytest.raises(fx.JobCancelled):
        job.result()


def test_an_error_in_the_job_reaches_the_view():
    job = slow_affinity_job(n=64, delay=0.0, chunk_size=8, fail_at=2, start=False)
    w = fx.AffinityHeatmap(job=job)
    job.start()
    job.wait(10)
    assert w.status == "error" and w.error == "RuntimeError: deliberate failure at tile 2"


def test_bad_requests_from_the_view_are_answered_and_the_widget_keeps_working():
    w = fx.AffinityHeatmap(np.eye(4))
    cap = Capture(w)
    request(w, "cell", {"row": 9, "col": 0}, id="a")
    request(w, "cell", {"row": "1", "col": 0}, id="b")
    w.rpc.handle(b"\x00garbage", [])
    w._on_custom_msg(w, {"type": "request"}, [])  # through the comm entry point: no id, no crash
    request(w, "cell", {"row": 1, "col": 1}, id="c")
    replies = {r["id"]: r for r in cap.responses()}
    assert "row must be an integer in 0..3, got 9" in replies["a"]["error"]
    assert "got '1'" in replies["b"]["error"]
    assert replies["c"]["result"]["value"] == 1.0
    assert sum(1 for _, c, _, _ in cap.messages if c["type"] == "error") == 2


def test_selection_from_the_front_end_is_validated():
    w = fx.AffinityHeatmap(np.zeros((5, 3)))
    w.set_state({"selection": {"rows": [1, 2], "cols": [0]}})  # what a drag in the browser sends
    np.testing.assert_array_equal(w.selected_rows, [1, 2])
    np.testing.assert_array_equal(w.selected_cols, [0])
    sent = []
    w.send_state = lambda key=None: sent.append(key)  # the kernel's value goes back to the page
    for i, bad in enumerate(({"rows": [7], "cols": []}, {"rows": "1"}, {"cells": []}, [1, 2])):
        w.set_state({"selection": bad})  # refused, never raised into the comm
        assert w.page_refusals == i + 1 and "selection" in w.error and sent[-1] == ["selection"]
    assert w.selection == {"rows": [1, 2], "cols": [0]}  # unchanged
    assert w.boundary_faults == 0


def test_labels_cmap_and_inputs_are_checked():
    with pytest.raises(ValueError, match="row_labels has 2 entries but the matrix has 3"):
        fx.AffinityHeatmap(np.zeros((3, 3)), row_labels=["a", "b"])
    with pytest.raises(ValueError, match="cmap: unknown colour map 'jett'; did you mean 'jet'"):
        fx.AffinityHeatmap(np.zeros((3, 3)), cmap="jett")  # any matplotlib map is fine, a misspelt one is not
    with pytest.raises(traitlets.TraitError, match="cmap: unknown colour map"):
        fx.AffinityHeatmap(np.zeros((3, 3))).cmap = "nope"
    with pytest.raises(ValueError, match="matrix must be 2-D"):
        fx.AffinityHeatmap(np.zeros(3))
    with pytest.raises(TypeError, match="either a matrix or a job"):
        fx.AffinityHeatmap()
    w = fx.AffinityHeatmap(np.zeros((2, 2)), row_labels=["<b>x</b>", 3])
    assert w.row_labels == ["<b>x</b>", "3"]  # kept as text; the view inserts it as text


def test_show_picks_colours_a_reader_expects():
    X = torch.randn(30, 5)
    cos = fx.affinity(X).show()
    assert (cos.cmap, cos.vmin, cos.vmax, cos.value_label) == ("RdBu_r", -1.0, 1.0, "cosine")
    pixels = fx.affinity(X.abs()).show()  # cosine of non-negative vectors lies in [0, 1]
    assert (pixels.cmap, pixels.vmin, pixels.vmax) == ("viridis", 0.0, 1.0)
    streamed = fx.affinity(X.abs(), stream=True).show()
    assert (streamed.cmap, streamed.vmin) == ("viridis", 0.0)
    dot = fx.affinity(X, metric="dot").show(cmap="magma", title="dots")
    assert (dot.cmap, dot.vmin, dot.vmax, dot.title) == ("magma", None, None, "dots")


def test_a_non_finite_cell_is_answered_in_valid_json():
    w = fx.AffinityHeatmap(np.array([[np.nan, np.inf], [0.0, 1.0]]))
    cap = Capture(w)
    request(w, "cell", {"row": 0, "col": 0}, id="a")
    request(w, "cell", {"row": 0, "col": 1}, id="b")
    replies = {r["id"]: r["result"] for r in cap.responses()}
    assert replies["a"] == {"row": 0, "col": 0, "value": None, "nonfinite": "nan"}
    assert replies["b"]["nonfinite"] == "inf"
