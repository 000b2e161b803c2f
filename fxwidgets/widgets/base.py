"""What every fxwidgets view shares: its bundle, job status traits, RPC and Cancel, colour maps, and the picture
that stays (``picture``, ``to_png()``, the picture output next to the view, ``save_html``).

Pictures (docs/protocol.md, "Pictures"): after each settled redraw the browser sends ``{"type": "snapshot",
"width", "height", "scale"}`` with one PNG buffer. It is checked here (before the RPC server, which would answer
"unknown message type") and kept in the ``picture`` trait, so saved widget state carries it. Every display of a
view is two outputs: first a *picture output* (``text/html`` ``<img class="fx-picture">`` + ``image/png``), then
the widget itself. The picture output is updated (``update_display``) whenever the picture changes; the widget's
own output never is, because JupyterLab's widget renderer rebuilds the live view on every update of its output.
While a live view sits right after it, the picture output is hidden by the kit's CSS (js/lib/view.ts); where the
widget cannot render (a reopened notebook without widget state, nbconvert HTML, code hosts) the picture shows.
"""

from __future__ import annotations

import base64
import html
import io
import logging
import math
import threading
import warnings
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import traitlets

from ..results import colors
from ..runtime import Job, RpcServer
from ..runtime.limits import CANCEL_WAIT_S, MAX_PICTURE_BYTES, MAX_PICTURE_SIDE
from ._standalone import STATIC, save_html

log = logging.getLogger("fxwidgets.widgets")

_MISSING_BUNDLE = """
export default { render({ el }) {
  const p = document.createElement("pre");
  p.textContent = %r;
  el.appendChild(p);
} };
"""

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

#: Display handles kept per view (each display of a view is one picture output to update).
MAX_DISPLAYS = 16


def bundle(name: str) -> str:
    """The built front end of view ``name`` as text; a readable placeholder view when it was never built.

    Text, not a path: anywidget connects every instance to a class-level file watcher when ``_esm`` is a file,
    and that connection keeps each view alive for the kernel's lifetime even after ``close()``. The leading
    comment line makes the text multi-line, which anywidget never mistakes for a file name.
    """
    path = STATIC / f"{name}.js"
    if path.is_file():
        return f"// fxwidgets view: {name}\n" + path.read_text(encoding="utf-8")
    message = (f"fxwidgets: the front-end bundle {path.name} is missing from {STATIC}. "
               "Install the package with pip (it runs the npm build) or run `npm run build` in the repository.")
    warnings.warn(message, RuntimeWarning, stacklevel=2)
    return _MISSING_BUNDLE % message


# -- pictures ---------------------------------------------------------------------------------------------------

def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) in pixels from a PNG's IHDR chunk; ValueError when ``png`` is not a PNG."""
    if len(png) < 24 or not png.startswith(PNG_SIGNATURE) or png[12:16] != b"IHDR":
        raise ValueError("not a PNG (no PNG signature and IHDR header)")
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def check_picture(content: dict, buffers: list | None) -> dict:
    """The picture a ``snapshot`` message carries, as ``{"png", "width", "height"}``; ValueError saying what is
    wrong with a malformed one (no buffer, not a PNG, over ``MAX_PICTURE_BYTES``, a size that is not a positive
    integer up to ``MAX_PICTURE_SIDE``, or pixels that disagree with width x scale)."""
    if not buffers:
        raise ValueError("no PNG buffer")
    if len(buffers) != 1:
        raise ValueError(f"expected one PNG buffer, got {len(buffers)}")
    png = bytes(buffers[0])
    if len(png) > MAX_PICTURE_BYTES:
        raise ValueError(f"the PNG has {len(png)} bytes, more than MAX_PICTURE_BYTES = {MAX_PICTURE_BYTES}")
    px_w, px_h = png_size(png)
    size = {}
    for key in ("width", "height"):
        v = content.get(key)
        if isinstance(v, bool) or not isinstance(v, int) or not 0 < v <= MAX_PICTURE_SIDE:
            raise ValueError(f"{key} must be an integer in 1..{MAX_PICTURE_SIDE} (CSS px), got {v!r}")
        size[key] = v
    scale = content.get("scale", None)
    if scale is not None:
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not (math.isfinite(scale) and 0 < scale <= 8):
            raise ValueError(f"scale must be a number in (0, 8], got {scale!r}")
        for key, px in (("width", px_w), ("height", px_h)):
            if abs(px - round(size[key] * scale)) > 2:
                raise ValueError(f"the PNG is {px_w}x{px_h} px, not {key} x scale = {size[key]} x {scale}")
    return {"png": png, "width": size["width"], "height": size["height"]}


def figure_png(fig: Any, dpi: int = 100) -> bytes:
    """A matplotlib figure (pyplot not involved) as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def new_figure(width: float, height: float) -> tuple[Any, Any]:
    """A matplotlib Figure and one Axes, outside pyplot (so nothing is shown in a notebook by accident)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


# -- colour maps ----------------------------------------------------------------------------------------------------

class ColormapName(traitlets.Unicode):
    """A colour map trait: any matplotlib colour map name or a ``Colormap`` object, kept (and synced) as its name.

    A map the browser has no built-in table for is sampled here and set on the trait named ``lut`` (a
    ``{"name": str, "lut": bytes}`` dict) before this trait changes, so the browser never draws it without its
    table. A name the browser sends back is accepted when it is built in or is the table's own name.
    """

    def __init__(self, default_value: str = "viridis", *, lut: str = "cmap_lut", **kwargs: Any) -> None:
        super().__init__(default_value, **kwargs)
        self.lut_trait = lut

    def validate(self, obj: Any, value: Any) -> str:
        from matplotlib.colors import Colormap

        sent = getattr(obj, self.lut_trait, None) if obj is not None else None
        if isinstance(value, str) and (value in colors.BUILTIN_COLORMAPS or (sent and sent.get("name") == value)):
            return value
        if not isinstance(value, (str, Colormap)):
            raise traitlets.TraitError(
                f"{self.name} must be a matplotlib colour map name or a Colormap object, got {value!r}")
        try:
            name = colors.colormap_name(value, self.name)
            lut = colors.lut_bytes(value, self.name)
        except ValueError as exc:
            raise traitlets.TraitError(str(exc)) from None
        if obj is not None and self.lut_trait in obj.traits():
            setattr(obj, self.lut_trait, {"name": name, "lut": lut})
        return name


def check_cmap(value: Any, argument: str) -> None:
    """Refuse an unknown colour map by name before any work (the trait would refuse it later, less clearly)."""
    from matplotlib.colors import Colormap

    if value is None or isinstance(value, Colormap) or value in colors.BUILTIN_COLORMAPS:
        return
    try:
        colors.colormap(value, argument)
    except ValueError as exc:
        raise ValueError(str(exc)) from None


# -- the base view ----------------------------------------------------------------------------------------------------

class StreamingWidget(anywidget.AnyWidget):
    """A view that may be fed by a :class:`~fxwidgets.runtime.Job`, answers requests by id, and keeps a picture of
    itself (:attr:`picture`, :meth:`to_png`, :meth:`save_html`)."""

    progress = traitlets.Float(1.0).tag(sync=True)
    status = traitlets.Unicode("idle").tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    #: ``{"png": bytes, "width": int, "height": int}`` (CSS px): the view as the browser last drew it, or None
    picture = traitlets.Dict(allow_none=True, default_value=None).tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job: Job | None = None
        self.rpc = RpcServer(self._send_message)
        self.rpc.register("cancel", self._rpc_cancel)
        self.on_msg(self._on_custom_msg)
        self.pictures_received = 0
        self.pictures_dropped = 0
        self._displays: list[Any] = []
        self._published_png: bytes | None = None
        self._capture = threading.local()
        self.observe(self._on_picture, names="picture")

    # -- transport ---------------------------------------------------------------------------------
    def _send_message(self, content: dict, buffers: list) -> None:
        sink = getattr(self._capture, "sink", None)
        if sink is not None:  # building a standalone page: keep what the view would have been sent
            sink.append((content, list(buffers or [])))
            return
        self.send(content, buffers=buffers or None)

    def _on_custom_msg(self, _widget: Any, content: Any, buffers: list) -> None:
        if isinstance(content, dict) and content.get("type") == "snapshot":
            self._take_picture(content, buffers)
            return
        self.rpc.handle(content, buffers)

    def _take_picture(self, content: dict, buffers: list | None) -> bool:
        """Keep the picture a snapshot message carries; a malformed one is logged and dropped, never raised."""
        try:
            picture = check_picture(content, buffers)
        except Exception as exc:  # noqa: BLE001 - a bad picture must never reach the kernel's main loop
            self.pictures_dropped += 1
            log.warning("fxwidgets: dropped a picture from the %s view: %s", type(self).__name__, exc)
            return False
        self.pictures_received += 1
        self.picture = picture
        return True

    # -- jobs --------------------------------------------------------------------------------------
    def _rpc_cancel(self, _args: dict) -> dict:
        if self.job is not None:
            self.job.cancel()
            self.job.wait(timeout=CANCEL_WAIT_S)  # the job stops at its next chunk; report the state it reached
        return {"status": self.status if self.job is None else self.job.status}

    def cancel(self) -> None:
        """Cancel the job feeding this view (same as its Cancel button)."""
        if self.job is not None:
            self.job.cancel()

    # -- the picture that stays ----------------------------------------------------------------------
    def to_png(self) -> bytes:
        """The view as PNG bytes: the picture the browser drew last (:attr:`picture`); before the first one (the
        view was never displayed in a browser), a kernel-side matplotlib rendering of the same data."""
        pic = self.picture
        if pic and pic.get("png"):
            return bytes(pic["png"])
        fig = self._kernel_figure()
        return figure_png(fig)

    def _kernel_figure(self) -> Any:
        """A matplotlib Figure of what the view shows (used by :meth:`to_png` before a browser picture)."""
        raise RuntimeError(f"{type(self).__name__} has no picture yet: display it in a notebook first")

    def _picture_bundle(self) -> tuple[dict, dict]:
        """The picture output's data and metadata: the last picture, or an empty placeholder before it."""
        pic = self.picture
        name = type(self).__name__
        if not pic or not pic.get("png"):
            return {"text/html": '<div class="fx-picture"></div>', "text/plain": ""}, {}
        png = bytes(pic["png"])
        b64 = base64.b64encode(png).decode("ascii")
        w, h = int(pic["width"]), int(pic["height"])
        title = getattr(self, "title", "") or ""
        alt = html.escape(f"fxwidgets {name}" + (f": {title}" if isinstance(title, str) and title else ""), quote=True)
        img = (f'<img class="fx-picture" src="data:image/png;base64,{b64}" width="{w}" alt="{alt}" '
               f'style="max-width: 100%; height: auto;">')
        data = {"text/html": img, "image/png": b64,
                "text/plain": f"<fxwidgets {name}: a picture of the view as last drawn, {w} x {h}>"}
        return data, {"image/png": {"width": w, "height": h}}

    def _ipython_display_(self, **kwargs: Any) -> None:
        """Two outputs: the picture output (updated whenever the picture changes), then the widget."""
        from IPython.display import display

        bundle_ = self._repr_mimebundle_(**kwargs)
        if bundle_ is None:  # a closed widget displays nothing, as ipywidgets does
            return
        data, metadata = bundle_ if isinstance(bundle_, tuple) else (bundle_, {})
        pic_data, pic_md = self._picture_bundle()
        handle = display(pic_data, raw=True, metadata=pic_md, display_id=True)
        if handle is not None:
            self._displays = (self._displays + [handle])[-MAX_DISPLAYS:]
        self._published_png = bytes(self.picture["png"]) if self.picture else None
        display(data, raw=True, metadata=metadata)

    def _on_picture(self, change: dict) -> None:
        new = change["new"]
        png = bytes(new["png"]) if new and new.get("png") else None
        if png == self._published_png or not self._displays:
            return
        self._published_png = png
        data, md = self._picture_bundle()
        for handle in list(self._displays):
            try:
                handle.update(data, raw=True, metadata=md)
            except Exception:  # noqa: BLE001 - a picture that cannot be published must not break the view
                log.debug("could not update a picture output", exc_info=True)

    # -- offline HTML --------------------------------------------------------------------------------------
    def save_html(self, path: str | Path, *, title: str | None = None) -> Path:
        """Write this view as one self-contained HTML file (no network needed); see :func:`fxwidgets.save_html`."""
        return save_html([self], path, title=title)

    def _standalone(self, page: Any) -> None:
        """Fill a standalone page's answers for this view (the RPCs the view makes, answered from data shipped
        now). The default answers nothing: every request then says it needs the kernel."""

    def _captured(self, call: Any, *args: Any) -> tuple[Any, list]:
        """Run ``call(*args)`` (an RPC handler) and return its result with the messages it would have sent."""
        self._capture.sink = sink = []
        try:
            result = call(*args)
        finally:
            self._capture.sink = None
        return result, sink


class ColormapWidget(StreamingWidget):
    """A view with a ``cmap`` trait: any matplotlib colour map by name or ``Colormap`` object; a map the browser
    has no table for travels in ``cmap_lut`` (256 x 3 or 256 x 4 uint8)."""

    cmap_lut = traitlets.Dict(allow_none=True, default_value=None).tag(sync=True)

    def colormap(self, name_trait: str = "cmap", lut_trait: str = "cmap_lut") -> Any:
        """The current colour map as a matplotlib Colormap (built from the sent table when there is one)."""
        from matplotlib.colors import ListedColormap

        name = getattr(self, name_trait)
        sent = getattr(self, lut_trait, None)
        if sent and sent.get("name") == name:
            lut = np.frombuffer(bytes(sent["lut"]), dtype=np.uint8)
            return ListedColormap(lut.reshape(256, -1) / 255.0, name=name)
        return colors.colormap(name, name_trait)

