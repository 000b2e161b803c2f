"""Pictures that stay: the ``snapshot`` message (malformed ones dropped, never raised), ``picture``, the picture
output next to each view and its updates, and ``to_png()`` before any browser picture."""

from __future__ import annotations

import io
import logging
import struct
import zlib

import numpy as np
import pytest
import torch

import fxwidgets as fx
from fxwidgets.runtime.limits import MAX_PICTURE_BYTES
from fxwidgets.widgets.base import check_picture, png_size


def png_bytes(width: int, height: int, colour=(200, 30, 30)) -> bytes:
    """A real PNG of one colour, written by hand (zlib + the chunk layout)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" + bytes(colour) * width
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(row * height)) + chunk(b"IEND", b""))


def decode(png: bytes) -> np.ndarray:
    import matplotlib.image

    return matplotlib.image.imread(io.BytesIO(png), format="png")


def colours(png: bytes) -> int:
    a = decode(png)
    return len(np.unique((a[..., :3] * 255).round().reshape(-1, 3), axis=0))


def heatmap():
    return fx.AffinityHeatmap(np.add.outer(np.arange(8.0), np.arange(8.0)), title="t")


def test_a_snapshot_message_becomes_the_picture_and_never_reaches_the_rpc_server():
    view = heatmap()
    sent = []
    view.send = lambda content, buffers=None: sent.append(content)
    png = png_bytes(30, 20)
    view._on_custom_msg(view, {"type": "snapshot", "width": 15, "height": 10, "scale": 2.0}, [memoryview(png)])
    assert view.picture == {"png": png, "width": 15, "height": 10}
    assert view.pictures_received == 1 and view.to_png() == png
    assert sent == [] and view.rpc.rejected == 0  # no "unknown message type" answer


@pytest.mark.parametrize("content, buffers, why", [
    ({"type": "snapshot", "width": 30, "height": 20}, [], "no PNG buffer"),
    ({"type": "snapshot", "width": 30, "height": 20}, None, "no PNG buffer"),
    ({"type": "snapshot", "width": 30, "height": 20}, [b"GIF89a" + bytes(40)], "not a PNG"),
    ({"type": "snapshot", "width": 30, "height": 20}, [b"\x89PNG\r\n\x1a\n"], "not a PNG"),
    ({"type": "snapshot", "width": 30, "height": 20}, [png_bytes(30, 20), png_bytes(30, 20)], "one PNG buffer"),
    ({"type": "snapshot", "width": 0, "height": 20}, [png_bytes(30, 20)], "width must be an integer"),
    ({"type": "snapshot", "width": -3, "height": 20}, [png_bytes(30, 20)], "width must be an integer"),
    ({"type": "snapshot", "width": "30", "height": 20}, [png_bytes(30, 20)], "width must be an integer"),
    ({"type": "snapshot", "width": 30.0, "height": 20}, [png_bytes(30, 20)], "width must be an integer"),
    ({"type": "snapshot", "width": True, "height": 20}, [png_bytes(30, 20)], "width must be an integer"),
    ({"type": "snapshot", "width": 10**6, "height": 20}, [png_bytes(30, 20)], "width must be an integer"),
    ({"type": "snapshot", "height": 20}, [png_bytes(30, 20)], "width must be an integer"),
    ({"type": "snapshot", "width": 30, "height": None}, [png_bytes(30, 20)], "height must be an integer"),
    ({"type": "snapshot", "width": 30, "height": 20, "scale": float("nan")}, [png_bytes(30, 20)], "scale must be"),
    ({"type": "snapshot", "width": 30, "height": 20, "scale": 2.0}, [png_bytes(30, 20)], "not width x scale"),
])
def test_malformed_pictures_are_dropped_with_a_reason(content, buffers, why, caplog):
    view = heatmap()
    good = png_bytes(4, 4)
    view.picture = {"png": good, "width": 4, "height": 4}
    with pytest.raises(ValueError, match=why):
        check_picture(content, buffers)
    with caplog.at_level(logging.WARNING, logger="fxwidgets.widgets"):
        view._on_custom_msg(view, content, buffers)  # never raises
    assert view.picture["png"] == good and view.pictures_dropped == 1
    assert why.split()[0] in caplog.text


def test_an_oversized_picture_is_dropped():
    big = png_bytes(8, 8) + bytes(MAX_PICTURE_BYTES)  # a valid header, too many bytes
    with pytest.raises(ValueError, match="more than MAX_PICTURE_BYTES"):
        check_picture({"width": 8, "height": 8}, [big])
    assert png_size(png_bytes(31, 7)) == (31, 7)


class FakeHandle:
    def __init__(self):
        self.updates = []

    def update(self, data, **kwargs):
        self.updates.append((data, kwargs))


def test_the_picture_output_is_updated_when_the_picture_changes_and_only_then():
    view = heatmap()
    data, md = view._picture_bundle()
    assert data == {"text/html": '<div class="fx-picture"></div>', "text/plain": ""} and md == {}
    handle = FakeHandle()
    view._displays = [handle]
    png = png_bytes(12, 6)
    view._take_picture({"width": 12, "height": 6}, [png])
    view._take_picture({"width": 12, "height": 6}, [png])  # the same picture again: nothing to publish
    assert len(handle.updates) == 1
    data, kwargs = handle.updates[0]
    assert kwargs["raw"] is True and kwargs["metadata"] == {"image/png": {"width": 12, "height": 6}}
    import base64

    assert base64.b64decode(data["image/png"]) == png
    assert data["text/html"].startswith('<img class="fx-picture" src="data:image/png;base64,')
    assert 'width="12"' in data["text/html"] and 'alt="fxwidgets AffinityHeatmap: t"' in data["text/html"]
    view._take_picture({"width": 12, "height": 6}, [png_bytes(12, 6, (0, 0, 255))])
    assert len(handle.updates) == 2


def test_data_in_the_alt_text_is_escaped():
    view = fx.AffinityHeatmap(np.eye(3), title='<script>"x"</script>')
    view.picture = {"png": png_bytes(2, 2), "width": 2, "height": 2}
    html = view._picture_bundle()[0]["text/html"]
    assert "<script>" not in html and "&lt;script&gt;&quot;x&quot;" in html


def test_display_writes_the_picture_output_then_the_widget(monkeypatch):
    import IPython.display

    shown = []

    class Handle:
        display_id = "d1"

        def update(self, *a, **k):
            shown.append(("update", a, k))

    def display(obj, raw=False, metadata=None, display_id=None, **_):
        shown.append(("display", obj, metadata, display_id))
        return Handle() if display_id else None

    monkeypatch.setattr(IPython.display, "display", display)
    view = heatmap()
    view._ipython_display_()
    assert [s[0] for s in shown] == ["display", "display"]
    assert "fx-picture" in shown[0][1]["text/html"] and shown[0][3] is True
    assert shown[1][1]["application/vnd.jupyter.widget-view+json"]["model_id"] == view.model_id
    view._take_picture({"width": 3, "height": 3}, [png_bytes(3, 3)])
    assert shown[-1][0] == "update"


def _views():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(200, 6, generator=g)
    y = (X[:, 0] > 0).long()
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.Flatten(), torch.nn.Linear(2 * 36, 3))
    mlp = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    return {
        "heatmap": fx.affinity(X[:40]).show(),
        "zoom": fx.ZoomHeatmap(X, labels=y.numpy(), tile_size=64),
        "pixaff": fx.PixelAffinity(torch.randn(2, 8, 6, 6, generator=g), images=torch.rand(2, 3, 24, 24, generator=g)),
        "attribution": fx.attribute(net, torch.randn(2, 1, 6, 6, generator=g), target=0, method="saliency").show(),
        "ranking": fx.FeatureRanking(X.numpy(), y.numpy(), methods=["fisher", "variance"], k=2, probe=False),
        "layers": fx.compare(mlp, data=X, labels=y, batch_size=50, gram_samples=20).show(),
    }


def test_to_png_before_any_browser_picture_is_a_kernel_render_of_the_data():
    for name, view in _views().items():
        png = view.to_png()
        assert png.startswith(b"\x89PNG\r\n\x1a\n"), name
        w, h = png_size(png)
        assert w > 100 and h > 100, (name, w, h)
        assert colours(png) > 20, name  # not one colour: axes, text and data are there
