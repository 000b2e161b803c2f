"""Views as one self-contained, offline HTML file: ``fx.save_html([views...], path)`` / ``view.save_html(path)``.

The file holds, inlined: each view's built bundle (``fxwidgets/static/<view>.js``), its current trait values
(binary ones base64-encoded), the answers to the requests the view makes, computed now from data the kernel has
(a heatmap's tiles, a zoom view's coarse levels, the Gram matrices of every cell of a layer comparison...), and
the host (``fxwidgets/static/standalone_host.js``, built from ``js/lib/standalone_host.ts``): a small stand-in for
the widget model (get/set/on/off/save_changes/send/widget_manager) that renders each view and answers its
requests from those tables. Nothing is fetched: the page carries a Content-Security-Policy that forbids any
network request. A request the tables cannot answer gets an error saying it needs the kernel, and the page says
under the view what was left out (docs/protocol.md, "Standalone pages").

Payload (JSON in ``<script type="application/json" id="fx-standalone-data">``)::

    {"version": 1, "title": str, "blobs": [base64, ...], "bundles": {name: base64 of the ES module},
     "views": [{"bundle": name, "name": class name, "state": {trait: value | {"$blob": i}},
                "answers": {method: {key: {"result": P, "messages": [P, ...]}}},
                "cells": {"matrix": i, "shape": [n, m], "order": i?, "labels": [str]?} | null,
                "reactions": {trait: {key: {"traits": {...}, "messages": [P, ...]}}},
                "omitted": [str, ...]}]}

``P`` is a packed message ``{"content": ..., "buffers": [blob index, ...]}`` (arrays as ``$array``
placeholders, docs/protocol.md); ``key`` is the canonical JSON of a request's args or of a trait's value (keys
sorted, no spaces, integral floats written as integers) — js/lib/standalone_host.ts computes the same.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from ..runtime.codec import pack
from ..runtime.limits import STANDALONE_MAX_BYTES

STATIC = Path(__file__).resolve().parent.parent / "static"

#: Traits of every ipywidget/anywidget that mean nothing to a standalone page (or are shipped another way).
_SKIP_TRAITS = {"_esm", "_css", "_anywidget_id", "_model_module", "_model_module_version", "_model_name",
                "_view_count", "_view_module", "_view_module_version", "_view_name", "layout", "_dom_classes",
                "tabbable", "tooltip", "picture", "comm", "keys", "log"}

#: The page may only run its own inline code and the view modules it builds from inlined text.
CSP = ("default-src 'none'; script-src 'unsafe-inline' blob:; style-src 'unsafe-inline'; img-src data: blob:; "
       "font-src data:; connect-src 'none'; worker-src blob:")

PAGE_CSS = """
body { margin: 0; font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  font-size: 13px; color: rgba(0, 0, 0, 0.87); background: #fff; }
main.fx-page { max-width: 1000px; margin: 0 auto; padding: 16px; }
main.fx-page > h1 { font-size: 18px; font-weight: 600; margin: 0 0 12px; }
section.fx-standalone-view { margin: 0 0 28px; }
.fx-offline-note { color: rgba(0, 0, 0, 0.6); font-size: 12px; margin: 6px 0 0; }
.fx-offline-note:empty { display: none; }
"""


def canonical(value: Any) -> str:
    """The canonical JSON of request args or a trait value (the host's ``canonical`` writes the same)."""
    def norm(v: Any) -> Any:
        if isinstance(v, bool) or v is None or isinstance(v, str):
            return v
        if isinstance(v, (int, np.integer)):
            return int(v)
        if isinstance(v, (float, np.floating)):
            f = float(v)
            return int(f) if f.is_integer() else f
        if isinstance(v, dict):
            return {str(k): norm(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [norm(x) for x in v]
        raise TypeError(f"cannot use {type(v).__name__} in a request key")
    return json.dumps(norm(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _json_safe(x: Any) -> Any:
    """Non-finite floats as null (JSON has no NaN), numpy scalars as Python ones."""
    if isinstance(x, dict):
        return {k: _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    if isinstance(x, (np.floating, float)):
        f = float(x)
        return f if math.isfinite(f) else None
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


class Page:
    """The data of one view in a standalone page; views fill it in their ``_standalone(page)``."""

    def __init__(self, blobs: "_Blobs", budget: int = STANDALONE_MAX_BYTES) -> None:
        self.budget = int(budget)
        self.used = 0
        self._blobs = blobs
        self.answers: dict[str, dict[str, dict]] = {}
        self.cell_answers: dict | None = None
        self.reactions: dict[str, dict[str, dict]] = {}
        self.omitted: list[str] = []

    # -- packing ------------------------------------------------------------------------------------
    def _fits(self, buffers: Iterable[Any]) -> bool:
        new = sum(memoryview(b).nbytes for b in buffers if not self._blobs.has(b))
        return self.used + new <= self.budget

    def _store(self, content: Any, buffers: list) -> dict:
        ids = []
        for b in buffers:
            i, added = self._blobs.add(b)
            self.used += added
            ids.append(i)
        return {"content": _json_safe(content), "buffers": ids}

    def _messages(self, messages: Iterable[tuple[Any, list]]) -> list[tuple[Any, list]]:
        return [(c, list(b or [])) for c, b in messages]

    # -- what views call ----------------------------------------------------------------------------
    def answer(self, method: str, args: dict, result: Any, messages: Iterable[tuple[Any, list]] = ()) -> bool:
        """Answer request ``method(args)`` with ``result`` (arrays allowed), after sending ``messages`` (each a
        packed ``(content, buffers)``). False (and nothing stored) when it does not fit the page's budget."""
        content, buffers = pack(result)
        msgs = self._messages(messages)
        if not self._fits(list(buffers) + [b for _, bs in msgs for b in bs]):
            return False
        self.answers.setdefault(method, {})[canonical(args)] = {
            "result": self._store(content, buffers), "messages": [self._store(c, b) for c, b in msgs]}
        return True

    def cells(self, matrix: np.ndarray, *, order: np.ndarray | None = None, labels: list[str] | None = None,
              what: str = "exact cell values") -> bool:
        """Answer ``cell {row, col}`` requests from ``matrix`` (float32, in the view's coordinates); with
        ``order``, the answer also names the original indices ``i = order[row]``, ``j = order[col]`` (and their
        ``labels``). False, and ``what`` listed as left out, when it does not fit."""
        m = np.ascontiguousarray(matrix, dtype="<f4")
        extra = [] if order is None else [np.ascontiguousarray(order, dtype="<i4")]
        if not self._fits([memoryview(m).cast("B")] + [memoryview(e).cast("B") for e in extra]):
            self.omit(what)
            return False
        spec: dict = {"shape": list(m.shape), "matrix": self._store(None, [memoryview(m).cast("B")])["buffers"][0]}
        if order is not None:
            spec["order"] = self._store(None, [memoryview(extra[0]).cast("B")])["buffers"][0]
        if labels is not None:
            spec["labels"] = [str(v) for v in labels]
        self.cell_answers = spec
        return True

    def react(self, trait: str, value: Any, *, traits: dict | None = None,
              messages: Iterable[tuple[Any, list]] = (), packed_messages: Iterable[tuple[Any, list]] = ()) -> bool:
        """When the view sets ``trait`` to ``value``: set ``traits`` and send ``messages``, as the kernel would."""
        msgs = self._messages(messages) + self._messages(packed_messages)
        t_content, t_buffers = pack(traits or {})
        if not self._fits(list(t_buffers) + [b for _, bs in msgs for b in bs]):
            return False
        self.reactions.setdefault(trait, {})[canonical(value)] = {
            "traits": self._store(t_content, t_buffers), "messages": [self._store(c, b) for c, b in msgs]}
        return True

    def omit(self, what: str) -> None:
        """Say under the view that ``what`` needs the kernel."""
        if what not in self.omitted:
            self.omitted.append(what)


class _Blobs:
    """Binary data of the whole page, each distinct buffer stored once (base64)."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self._index: dict[bytes, int] = {}

    @staticmethod
    def _key(b: Any) -> bytes:
        mv = memoryview(b).cast("B")
        return hashlib.sha1(mv).digest() + mv.nbytes.to_bytes(8, "little")

    def has(self, b: Any) -> bool:
        return self._key(b) in self._index

    def add(self, b: Any) -> tuple[int, int]:
        """(index, bytes added: 0 when it was already there)."""
        key = self._key(b)
        if key in self._index:
            return self._index[key], 0
        mv = memoryview(b).cast("B")
        self.items.append(base64.b64encode(mv).decode("ascii"))
        self._index[key] = len(self.items) - 1
        return self._index[key], mv.nbytes


def _state(widget: Any, blobs: _Blobs) -> dict:
    def walk(x: Any) -> Any:
        if isinstance(x, (bytes, bytearray, memoryview)):
            return {"$blob": blobs.add(x)[0]}
        if isinstance(x, dict):
            return {k: walk(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [walk(v) for v in x]
        return x

    state = widget.get_state()
    return _json_safe(walk({k: v for k, v in state.items() if k not in _SKIP_TRAITS}))


def _is_view(v: Any) -> bool:
    """An fxwidgets view (widgets/base.py's StreamingWidget, which imports this module, so no isinstance)."""
    return callable(getattr(v, "_standalone", None)) and callable(getattr(v, "get_state", None))


def _bundle_name(widget: Any) -> str:
    esm = widget._esm if isinstance(widget._esm, str) else str(widget._esm)
    first = esm.split("\n", 1)[0]
    prefix = "// fxwidgets view: "
    if not first.startswith(prefix):
        raise ValueError(f"{type(widget).__name__} has no built fxwidgets bundle to save")
    return first[len(prefix):].strip()


def host_script() -> str:
    """The standalone host (js/lib/standalone_host.ts, built)."""
    path = STATIC / "standalone_host.js"
    if not path.is_file():
        raise FileNotFoundError(f"the standalone host {path.name} is missing from {STATIC}: install the package with "
                                "pip (it runs the npm build) or run `npm run build` in the repository")
    return path.read_text(encoding="utf-8")


def payload(views: Iterable[Any], title: str = "", budget: int = STANDALONE_MAX_BYTES) -> dict:
    """The JSON payload of a standalone page showing ``views`` (see the module docstring)."""
    views = list(views)
    if not views:
        raise ValueError("views must hold at least one fxwidgets view")
    for v in views:
        if not _is_view(v):
            raise TypeError(f"save_html takes fxwidgets views, got {type(v).__name__}")
    blobs = _Blobs()
    bundles: dict[str, str] = {}
    out = []
    for v in views:
        name = _bundle_name(v)
        bundles.setdefault(name, base64.b64encode(v._esm.encode("utf-8")).decode("ascii"))
        page = Page(blobs, budget)
        v._standalone(page)
        out.append({"bundle": name, "name": type(v).__name__, "state": _state(v, blobs), "answers": page.answers,
                    "cells": page.cell_answers, "reactions": page.reactions, "omitted": page.omitted})
    return {"version": 1, "title": title, "blobs": blobs.items, "bundles": bundles, "views": out}


def render_html(data: dict, host: str) -> str:
    """The page: the payload as JSON (``</`` escaped, so no ``</script>`` can end it early) and the host."""
    text = json.dumps(data, allow_nan=False, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    title = html.escape(data.get("title") or "fxwidgets views")
    heading = f"<h1>{html.escape(data['title'])}</h1>" if data.get("title") else ""
    host = host.replace("</script", "<\\/script")
    return (f'<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<meta name="generator" content="fxwidgets">\n<title>{title}</title>\n<style>{PAGE_CSS}</style>\n'
            f'</head>\n<body>\n<main class="fx-page">{heading}<div id="fx-standalone-views"></div></main>\n'
            f'<script type="application/json" id="fx-standalone-data">{text}</script>\n'
            f'<script>{host}</script>\n</body>\n</html>\n')


def save_html(views: Any, path: str | Path, *, title: str | None = None, budget: int = STANDALONE_MAX_BYTES) -> Path:
    """Write ``views`` (one view or a list) as ONE self-contained HTML file that works offline.

    Everything the page needs is inside it: the views' front-end code, their data, and the answers to the
    requests they make, computed now. Hover, colour maps, sign modes, zoom within the saved levels, clicking a
    layer pair, browsing the rows of a batch all work without a kernel; anything that needs the kernel (a
    recomputation, finer zoom than was saved) says so in the page. ``budget`` bounds the data saved per view
    (``fxwidgets.runtime.limits.STANDALONE_MAX_BYTES``). Returns the path written.
    """
    if _is_view(views):
        views = [views]
    path = Path(path)
    text = render_html(payload(views, title or "", budget), host_script())
    path.write_text(text, encoding="utf-8")
    return path
