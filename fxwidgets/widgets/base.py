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
from concurrent.futures import Future
from pathlib import Path
from typing import Any, ClassVar, Sequence

import anywidget
import numpy as np
import traitlets

from ..results import colors
from ..runtime import Job, RpcServer, when_finished
from ..runtime.limits import CANCEL_WAIT_S, MAX_PICTURE_BYTES, MAX_PICTURE_SIDE
from ..runtime.rpc import short_repr
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


# -- one vocabulary for arguments and for traits the page writes ----------------------------------------------------
#
# A constructor argument and the trait it becomes are checked by the same function: ``check_number`` /
# ``check_int`` / ``check_index_list`` / ``check_location`` / ``check_choice_of`` raise ValueError or TypeError
# naming the argument (what a constructor raises), and the trait types below wrap the same checks into
# TraitError (what traitlets expects), so a value the page writes is held to exactly the rules a Python caller is.

def _interval(low: float | None, high: float | None, open_low: bool, open_high: bool) -> str:
    if low is None and high is None:
        return "any finite number"
    if high is None:
        return f"{'>' if open_low else '>='} {low:g}"
    if low is None:
        return f"{'<' if open_high else '<='} {high:g}"
    return f"in {'(' if open_low else '['}{low:g}, {high:g}{')' if open_high else ']'}"


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_number(value: Any, name: str, *, low: float | None = None, high: float | None = None,
                 open_low: bool = False, open_high: bool = False, allow_none: bool = False) -> float | None:
    """``value`` as a finite float within the bounds; TypeError for a non-number (bools too), ValueError for NaN,
    ±inf or a value out of range. The message names ``name``."""
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number{' or None' if allow_none else ''}, got {short_repr(value)}")
    try:
        v = float(value)
    except OverflowError:
        raise ValueError(f"{name} must be a finite number, got an integer of {int(value).bit_length()} bits") from None
    if not math.isfinite(v):
        raise ValueError(f"{name} must be a finite number, got {v}")
    if (low is not None and (v < low or (open_low and v == low))) or (
            high is not None and (v > high or (open_high and v == high))):
        raise ValueError(f"{name} must be {_interval(low, high, open_low, open_high)}, got {v:g}")
    return v


def check_int(value: Any, name: str, *, low: int | None = None, high: int | None = None,
              allow_none: bool = False) -> int | None:
    """``value`` as an int in ``low..high`` (inclusive); TypeError for a non-integer (bools and floats too)."""
    if value is None and allow_none:
        return None
    if not _is_int(value):
        raise TypeError(f"{name} must be an integer{' or None' if allow_none else ''}, got {short_repr(value)}")
    v = int(value)
    if (low is not None and v < low) or (high is not None and v > high):
        where = f"in {low}..{high}" if low is not None and high is not None else (
            f">= {low}" if low is not None else f"<= {high}")
        raise ValueError(f"{name} must be an integer {where}, got {short_repr(v)}")
    return v


def check_index_list(value: Any, name: str, size: int, *, max_len: int | None = None) -> list[int]:
    """A list of integer indices in ``0..size-1`` (the selections the page writes)."""
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"{name} must be a list of integers, got {type(value).__name__}")
    if max_len is not None and len(value) > max_len:
        raise ValueError(f"{name} has {len(value)} entries, more than the {max_len} there are")
    out = []
    for v in value:
        if not _is_int(v):
            raise TypeError(f"{name} must be a list of integers, got an entry {short_repr(v)}")
        if not 0 <= v < size:
            raise ValueError(f"{name} has index {short_repr(v)} outside 0..{size - 1}")
        out.append(int(v))
    return out


def check_location(value: Any, name: str, limits: Sequence[int], parts: Sequence[str]) -> list[int]:
    """``[]`` or one integer per axis, each in ``0..limits[k]-1`` (e.g. PixelAffinity's ``[b, i, j]``)."""
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"{name} must be [] or [{', '.join(parts)}], got {type(value).__name__}")
    if len(value) == 0:
        return []
    if len(value) != len(limits):
        raise ValueError(f"{name} must be [] or [{', '.join(parts)}] ({len(limits)} integers), got "
                         f"{len(value)} entries")
    return [check_int(v, f"{name}[{k}] ({part})", low=0, high=lim - 1)
            for k, (v, lim, part) in enumerate(zip(value, limits, parts))]


def check_choice_of(value: Any, name: str, choices: Sequence[Any]) -> Any:
    """``value`` if it is one of ``choices`` (compared by equality, so unhashable page values are refused too)."""
    if not any(type(value) is type(c) and value == c for c in choices):
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {short_repr(value)}")
    return value


def _as_trait_error(check: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return check(*args, **kwargs)
    except (TypeError, ValueError) as exc:
        raise traitlets.TraitError(str(exc)) from None


class FiniteFloat(traitlets.Float):
    """A float trait that refuses NaN, ±inf, bools and values outside its bounds (``check_number``)."""

    def __init__(self, default_value: Any = 0.0, *, low: float | None = None, high: float | None = None,
                 open_low: bool = False, open_high: bool = False, **kwargs: Any) -> None:
        self.bounds = {"low": low, "high": high, "open_low": open_low, "open_high": open_high}
        super().__init__(default_value, **kwargs)

    def validate(self, obj: Any, value: Any) -> float | None:
        return _as_trait_error(check_number, value, self.name, allow_none=self.allow_none, **self.bounds)


class BoundedInt(traitlets.Int):
    """An int trait that refuses bools, floats and values outside ``low..high`` (``check_int``)."""

    def __init__(self, default_value: Any = 0, *, low: int | None = None, high: int | None = None,
                 **kwargs: Any) -> None:
        self.low, self.high = low, high
        super().__init__(default_value, **kwargs)

    def validate(self, obj: Any, value: Any) -> int | None:
        return _as_trait_error(check_int, value, self.name, low=self.low, high=self.high, allow_none=self.allow_none)


class Choice(traitlets.Unicode):
    """A string trait holding one of ``choices``."""

    def __init__(self, choices: Sequence[str], default_value: str | None = None, **kwargs: Any) -> None:
        self.choices = tuple(choices)
        super().__init__(self.choices[0] if default_value is None else default_value, **kwargs)

    def validate(self, obj: Any, value: Any) -> str:
        return _as_trait_error(check_choice_of, value, self.name, self.choices)


def _with_buffers(state: dict, paths: Any, buffers: list) -> dict:
    """ipywidgets' ``_put_buffers`` with its input checked: one path (a non-empty list of keys/indices into
    ``state``) per buffer."""
    if not isinstance(paths, list) or len(paths) != len(buffers):
        raise ValueError(f"expected one buffer path per buffer ({len(buffers)}), got {short_repr(paths)}")
    for path, buffer in zip(paths, buffers):
        if not isinstance(path, list) or not path or not all(isinstance(k, (str, int)) and not isinstance(k, bool)
                                                              for k in path):
            raise ValueError(f"a buffer path must be a non-empty list of keys, got {short_repr(path)}")
        obj: Any = state
        for key in path[:-1]:
            obj = obj[key]
        if not isinstance(obj, (dict, list)):
            raise ValueError(f"buffer path {short_repr(path)} does not lead into the state")
        obj[path[-1]] = buffer
    return state


# -- the base view ----------------------------------------------------------------------------------------------------

class StreamingWidget(anywidget.AnyWidget):
    """A view that may be fed by a :class:`~fxwidgets.runtime.Job`, answers requests by id, and keeps a picture of
    itself (:attr:`picture`, :meth:`to_png`, :meth:`save_html`)."""

    progress = traitlets.Float(1.0).tag(sync=True)
    status = traitlets.Unicode("idle").tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    #: ``{"png": bytes, "width": int, "height": int}`` (CSS px): the view as the browser last drew it, or None
    picture = traitlets.Dict(allow_none=True, default_value=None).tag(sync=True)

    #: The traits the page may write (the view's own controls). A page write to any other trait (``shape``,
    #: ``n_rows``, ``titles``, ... : what the kernel owns) is refused: logged, shown in ``error`` and undone in the
    #: page by sending the kernel's value back. A write to a listed trait is validated as a Python caller's is.
    page_writable: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, **kwargs: Any) -> None:
        #: messages from the page that were refused (malformed envelopes, kernel-owned or invalid trait writes)
        self.page_refusals = 0
        #: unexpected exceptions caught at the boundary (each logged with its traceback): a bug when not 0
        self.boundary_faults = 0
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
        try:
            if isinstance(content, dict) and content.get("type") == "snapshot":
                self._take_picture(content, buffers)
                return
            self.rpc.handle(content, buffers)
        except Exception:  # noqa: BLE001 - the boundary never raises
            self._fault("a custom message")

    # -- the boundary: every message the page sends arrives here ----------------------------------------
    def _handle_msg(self, msg: Any) -> None:
        """A comm message from the page (ipywidgets' entry point): ``update`` (trait writes), ``request_state``
        or ``custom``. Never raises: a malformed message is refused and logged."""
        try:
            content = msg.get("content") if isinstance(msg, dict) else None
            data = content.get("data") if isinstance(content, dict) else None
            method = data.get("method") if isinstance(data, dict) else None
            if not isinstance(method, str):
                self._refuse_message(f"a widget message needs content.data.method (a string), got "
                                     f"{short_repr(method if isinstance(data, dict) else data)}")
                return
            buffers = msg.get("buffers") or []
            if not isinstance(buffers, (list, tuple)):
                self._refuse_message(f"buffers must be a list, got {type(buffers).__name__}")
                return
            if method == "update":
                state = data.get("state", {})
                if not isinstance(state, dict):
                    self._refuse_message(f"an update's state must be an object, got {type(state).__name__}")
                    return
                if "buffer_paths" in data:
                    try:
                        state = _with_buffers(state, data["buffer_paths"], list(buffers))
                    except (TypeError, ValueError, KeyError, IndexError) as exc:
                        self._refuse_message(f"an update's buffer_paths do not fit its state: {exc}")
                        return
                self.set_state(state)
            elif method == "request_state":
                self.send_state()
            elif method == "custom":
                self._handle_custom_msg(data.get("content"), list(buffers))
            else:
                self._refuse_message(f"unknown widget message method {short_repr(method)}")
        except Exception:  # noqa: BLE001 - the boundary never raises
            self._fault("a widget message")

    def set_state(self, sync_data: Any) -> None:
        """Trait writes from the page. Only :attr:`page_writable` traits are written, each validated on its own
        (a bad one does not undo a good one); every refused write is logged, shown in ``error`` and undone in
        the page (the kernel's value is sent back)."""
        try:
            if not isinstance(sync_data, dict):
                self._refuse_message(f"a state update must be an object, got {type(sync_data).__name__}")
                return
            refused: dict[str, str] = {}
            for name, value in list(sync_data.items()):
                if not isinstance(name, str) or name not in self.page_writable or not self.has_trait(name):
                    refused[short_repr(name) if not isinstance(name, str) else name] = (
                        "set by the kernel, not by the page")
                    continue
                try:
                    super().set_state({name: value})
                except Exception as exc:  # noqa: BLE001 - traitlets and validators raise TraitError, TypeError, ...
                    refused[name] = str(exc) or type(exc).__name__
            if refused:
                self._refuse_writes(refused)
        except Exception:  # noqa: BLE001 - the boundary never raises
            self._fault("a state update")

    def _refuse_writes(self, refused: dict[str, str]) -> None:
        self.page_refusals += len(refused)
        text = "; ".join(f"{name}: {why}" for name, why in refused.items())
        text = short_repr(text, 600)[1:-1] if len(text) > 600 else text
        log.warning("fxwidgets: the %s view refused a change from the page: %s", type(self).__name__, text)
        self.error = f"refused a change from the page: {text}"
        back = [name for name in refused if name in self.keys]
        if back:
            try:
                self.send_state(back)  # the page shows the kernel's value again
            except Exception:  # noqa: BLE001 - a closed comm
                log.debug("could not send the kernel's values back", exc_info=True)

    def _refuse_message(self, why: str) -> None:
        self.page_refusals += 1
        log.warning("fxwidgets: the %s view refused a message from the page: %s", type(self).__name__, why)

    def _fault(self, what: str) -> None:
        self.boundary_faults += 1
        log.exception("fxwidgets: the %s view failed on %s from the page", type(self).__name__, what)

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
    def _jobs_to_cancel(self) -> list[Job]:
        """The jobs the Cancel button stops."""
        return [] if self.job is None else [self.job]

    def _show_job_end(self, job: Job) -> None:
        """Put an ended job's progress, error text and final status on the view's status traits."""
        self.progress = job.progress
        self.error = job.error_text
        self.status = job.status

    def _cancel_status(self) -> dict:
        return {"status": self.status if self.job is None else self.job.status}

    def _rpc_cancel(self, _args: dict) -> Future:
        """Cancel every job of the view; answered once they have stopped at their next chunk (at most
        ``CANCEL_WAIT_S``) with the state they reached. No RPC thread waits meanwhile (``when_finished``)."""
        jobs = self._jobs_to_cancel()
        for job in jobs:
            job.cancel()
        answer: Future = Future()

        def reply(_ended: Future) -> None:
            try:
                answer.set_result(self._cancel_status())
            except Exception as exc:  # noqa: BLE001 - answered as a failed request
                answer.set_exception(exc)

        when_finished(jobs, CANCEL_WAIT_S).add_done_callback(reply)
        return answer

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

