"""What every fxwidgets view shares: its bundle, job status traits, RPC and Cancel."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from ..runtime import Job, RpcServer
from ..runtime.limits import CANCEL_WAIT_S

log = logging.getLogger("fxwidgets.widgets")

STATIC = Path(__file__).resolve().parent.parent / "static"

_MISSING_BUNDLE = """
export default { render({ el }) {
  const p = document.createElement("pre");
  p.textContent = %r;
  el.appendChild(p);
} };
"""


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


class StreamingWidget(anywidget.AnyWidget):
    """A view that may be fed by a :class:`~fxwidgets.runtime.Job` and answers requests by id."""

    progress = traitlets.Float(1.0).tag(sync=True)
    status = traitlets.Unicode("idle").tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job: Job | None = None
        self.rpc = RpcServer(self._send_message)
        self.rpc.register("cancel", self._rpc_cancel)
        self.on_msg(self._on_custom_msg)

    # -- transport ---------------------------------------------------------------------------------
    def _send_message(self, content: dict, buffers: list) -> None:
        self.send(content, buffers=buffers or None)

    def _on_custom_msg(self, _widget: Any, content: Any, buffers: list) -> None:
        self.rpc.handle(content, buffers)

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


#: Colour maps every view can draw: the LUTs in js/lib/colormap_data.ts (generated from matplotlib).
COLORMAPS = ("viridis", "magma", "gray", "RdBu_r", "coolwarm")


class ColormapWidget(StreamingWidget):
    """A view with a ``cmap`` trait; a name the browser has no table for is refused here."""

    @traitlets.validate("cmap")
    def _valid_cmap(self, proposal: Any) -> str:
        if proposal["value"] not in COLORMAPS:
            raise traitlets.TraitError(f"cmap must be one of {', '.join(COLORMAPS)}; got {proposal['value']!r}")
        return proposal["value"]
