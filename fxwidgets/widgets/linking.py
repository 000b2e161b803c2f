"""Linked views: a selection of rows in one view selects the same rows in the others (``fx.link``).

Rows are matched by INDEX, never by value: every link has its own row numbering (usually the rows of the dataset)
and each member says which link row each of its rows shows with an *index map* — view row ``i`` shows link row
``index[i]`` (the identity when omitted). A heatmap of a sorted affinity matrix, for example, shows data row
``order[i]`` in its row ``i``: link it with ``(heatmap, order)``.

The kernel is the source of truth. A person's selection in a *source* view (a scatter's lasso, a heatmap's
drag) is translated to link rows and from there into every other member's rows, which each member then shows
in its own way (:meth:`Linkable.show_link_rows`): another scatter selects them, a heatmap outlines those rows,
an attribution view shows the first of them, a feature ranking is recomputed on them. In the page, members
that share a ``link_id`` also pass the selection to each other directly (js/lib/link.ts), so a linked view
follows at once — and still does in a saved page without a kernel — before Python's update confirms it.

Contract (docs/protocol.md, "Linked views"): every member has the synced traits ``link_id`` (str, "" = not
linked) and ``link_map`` (int32 little-endian bytes of the index map; empty = identity).
"""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any, Iterable, Sequence

import numpy as np
import torch
import traitlets

log = logging.getLogger("fxwidgets.link")

EMPTY_ROWS = np.zeros(0, dtype=np.int64)
EMPTY_ROWS.flags.writeable = False


# ---- rows and index maps ---------------------------------------------------------------------------------------


def _array(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return np.frombuffer(bytes(value), dtype="<i4")
    return np.asarray(value)


def as_rows(value: Any, n: int | None, name: str = "selection") -> np.ndarray:
    """Row indices as a sorted int64 array without repeats.

    Accepts integer indices (a list, array or tensor, in any order, with repeats), a boolean mask of ``n``
    entries, ``None`` (no rows), or int32 little-endian bytes (what a browser sends). Negative indices are refused
    rather than wrapped around; so are indices >= ``n`` when ``n`` is given.
    """
    if value is None:
        return EMPTY_ROWS
    a = _array(value)
    if a.dtype == object:
        try:
            a = a.astype(np.int64)
        except (TypeError, ValueError):
            raise TypeError(f"{name} must hold integer row indices or a boolean mask, got {value!r:.80}") from None
    if a.ndim == 0:
        a = a.reshape(1)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D row indices or a boolean mask, got shape {a.shape}")
    if a.dtype == bool:
        if n is not None and a.shape[0] != n:
            raise ValueError(f"{name} is a boolean mask of {a.shape[0]} entries, but there are {n} rows")
        return np.flatnonzero(a).astype(np.int64)
    if a.size == 0:
        return EMPTY_ROWS
    if a.dtype.kind == "f":
        if not np.all(np.isfinite(a)) or not np.all(a == np.round(a)):
            raise TypeError(f"{name} must hold integer row indices, got non-integer numbers")
        a = a.astype(np.int64)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer row indices or a boolean mask, got dtype {a.dtype}")
    a = a.astype(np.int64)
    lo, hi = int(a.min()), int(a.max())
    if lo < 0:
        raise ValueError(f"{name} has a negative row index ({lo}); row indices start at 0")
    if n is not None and hi >= n:
        raise ValueError(f"{name} has row index {hi}, but there are only {n} rows (0..{n - 1})")
    out = np.unique(a)
    out.flags.writeable = False
    return out


def check_index_map(index: Any, name: str = "index") -> np.ndarray | None:
    """An index map (view row i shows link row ``index[i]``) as int64, or None for the identity."""
    if index is None:
        return None
    a = _array(index)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D (link row of each view row), got shape {a.shape}")
    if a.size and a.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer link rows, got dtype {a.dtype}")
    a = a.astype(np.int64)
    if a.size and int(a.min()) < 0:
        raise ValueError(f"{name} has a negative link row ({int(a.min())})")
    if a.size and int(a.max()) > np.iinfo(np.int32).max:
        raise ValueError(f"{name} has a link row above 2^31 - 1, which the browser cannot hold")
    return a


def to_link_rows(view_rows: Any, index: np.ndarray | None) -> np.ndarray:
    """The link rows that ``view_rows`` show (sorted, unique); rows outside the map are dropped."""
    rows = np.asarray(view_rows, dtype=np.int64)
    if index is None:
        return np.unique(rows[rows >= 0])
    rows = rows[(rows >= 0) & (rows < index.shape[0])]
    return np.unique(index[rows])


def from_link_rows(link_rows: Any, index: np.ndarray | None, n_rows: int) -> np.ndarray:
    """The view rows (of ``n_rows``) that show any of ``link_rows``: every ``j`` with ``index[j]`` in them."""
    rows = np.asarray(link_rows, dtype=np.int64)
    if index is None:
        return np.unique(rows[(rows >= 0) & (rows < n_rows)])
    m = index[:n_rows]
    return np.flatnonzero(np.isin(m, rows)).astype(np.int64)


def map_bytes(index: np.ndarray | None) -> bytes:
    """The ``link_map`` trait's value: int32 little-endian bytes, empty for the identity."""
    return b"" if index is None else index.astype("<i4").tobytes()


# ---- what a linked view does -----------------------------------------------------------------------------------


class Linkable(traitlets.HasTraits):
    """Mixin of the views that take part in links. Subclasses say how they select rows and how they show them."""

    link_id = traitlets.Unicode("").tag(sync=True)
    link_map = traitlets.Bytes(b"").tag(sync=True)

    #: Traits whose change means the person selected rows in this view (empty: the view only follows).
    link_source_traits: tuple[str, ...] = ()

    def link_rows(self) -> np.ndarray | None:
        """The rows selected in this view (its own numbering), or None when it selects no rows."""
        return None

    def show_link_rows(self, rows: np.ndarray) -> None:
        """Show ``rows`` (this view's numbering, sorted) that another member selected."""

    def link_n_rows(self) -> int:
        """How many rows this view has (link rows beyond its map are not shown)."""
        return 0

    @property
    def link(self) -> "Link | None":
        """The link this view belongs to, if any."""
        return self.__dict__.get("_fx_link")


class _Member:
    def __init__(self, view: Linkable, index: np.ndarray | None, handler: Any) -> None:
        self.view, self.index, self.handler = view, index, handler


class Link:
    """Views whose row selections follow each other (see the module docstring). Build it with :func:`link`."""

    def __init__(self) -> None:
        self.id = f"fxlink-{uuid.uuid4().hex[:12]}"
        self._members: list[_Member] = []
        self._lock = threading.RLock()
        self._propagating = False
        #: The link rows selected last (sorted).
        self.rows = EMPTY_ROWS
        #: Failures of members to show a selection (text), newest last; a failing member never stops the others.
        self.errors: list[str] = []

    # -- membership --------------------------------------------------------------------------------------------
    @property
    def views(self) -> list[Linkable]:
        return [m.view for m in self._members]

    def add(self, view: Linkable, index: Any = None) -> "Link":
        """Add ``view`` (leaving any link it was in); ``index[i]`` is the link row its row i shows."""
        if not isinstance(view, Linkable):
            raise TypeError(f"{type(view).__name__} cannot be linked: it has no rows to select "
                            "(linkable views: Scatter, AffinityHeatmap, AttributionView, FeatureRanking)")
        idx = check_index_map(index, "index")
        if idx is not None and idx.shape[0] != view.link_n_rows():
            raise ValueError(f"index has {idx.shape[0]} entries, but the {type(view).__name__} has "
                             f"{view.link_n_rows()} rows (one link row per view row)")
        old = view.link
        if old is self:
            self.remove(view)
        elif old is not None:
            old.remove(view)
        member = _Member(view, idx, None)

        def handler(_change: Any, member: _Member = member) -> None:
            self._changed(member)

        member.handler = handler
        with self._lock:
            self._members.append(member)
        if view.link_source_traits:
            view.observe(handler, names=list(view.link_source_traits))
        view.__dict__["_fx_link"] = self
        view.link_map = map_bytes(idx)
        view.link_id = self.id
        return self

    def remove(self, view: Linkable) -> None:
        with self._lock:
            keep = [m for m in self._members if m.view is not view]
            gone = [m for m in self._members if m.view is view]
            self._members = keep
        for m in gone:
            if m.view.link_source_traits:
                m.view.unobserve(m.handler, names=list(m.view.link_source_traits))
            m.view.__dict__.pop("_fx_link", None)
            m.view.link_id = ""
            m.view.link_map = b""

    def unlink(self) -> None:
        """Take every view out of this link."""
        for v in self.views:
            self.remove(v)

    # -- selections --------------------------------------------------------------------------------------------
    def select(self, rows: Any) -> None:
        """Select link rows ``rows`` in every member (from Python)."""
        self._propagate(as_rows(rows, None, "rows"), source=None)

    def _changed(self, member: _Member) -> None:
        with self._lock:
            if self._propagating:
                return  # a member following this link's own update
        rows = member.view.link_rows()
        if rows is None:
            return
        self._propagate(to_link_rows(rows, member.index), source=member)

    def _propagate(self, link_rows: np.ndarray, source: _Member | None) -> None:
        with self._lock:
            if self._propagating:
                return
            self._propagating = True
            self.rows = link_rows
            members = list(self._members)
        try:
            for m in members:
                if m is source:
                    continue
                try:
                    m.view.show_link_rows(from_link_rows(link_rows, m.index, m.view.link_n_rows()))
                except Exception as exc:  # noqa: BLE001 - one view failing must not stop the others
                    text = f"{type(m.view).__name__}: {type(exc).__name__}: {exc}"
                    self.errors.append(text)
                    del self.errors[:-20]
                    log.warning("a linked view could not show the selection: %s", text)
        finally:
            with self._lock:
                self._propagating = False

    def __repr__(self) -> str:
        names = ", ".join(type(v).__name__ for v in self.views)
        return f"<Link {self.id}: {names}; {len(self.rows)} rows selected>"


def _members(views: Iterable[Any]) -> list[tuple[Linkable, Any]]:
    out = []
    for v in views:
        if isinstance(v, tuple):
            if len(v) != 2:
                raise TypeError("give a view, or a (view, index) pair where index[i] is the link row of view row i")
            out.append((v[0], v[1]))
        else:
            out.append((v, None))
    return out


def link(*views: Any) -> Link:
    """Link views so that a selection of rows in any of them selects the same rows in the others.

    ``fx.link(scatter, heatmap, attributions, ranking)``. Rows are matched by index; give a ``(view, index)``
    pair for a view whose row ``i`` shows data row ``index[i]`` (e.g. a heatmap sorted by class). A view is in one
    link at a time: linking it again moves it. The first view that already has a selection passes it to the
    others. Returns the :class:`Link` (``.unlink()``, ``.select(rows)``, ``.rows``).
    """
    pairs = _members(views)
    if len(pairs) < 2:
        raise TypeError(f"link needs at least two views, got {len(pairs)}")
    seen: set[int] = set()
    for v, _ in pairs:
        if id(v) in seen:
            raise ValueError(f"the same {type(v).__name__} was given twice")
        seen.add(id(v))
    out = Link()
    for v, index in pairs:
        out.add(v, index)
    for m in list(out._members):
        rows = m.view.link_rows()
        if rows is not None and len(rows) > 0:
            out._propagate(to_link_rows(rows, m.index), source=m)
            break
    return out


def join(view: Linkable, other: Any, index: Any = None) -> Link:
    """Add ``view`` to ``other``'s link (``other``: a :class:`Link` or a linked/unlinked view).

    A view that joins with rows selected (a sample selection shown with ``link=``) passes them on; one without
    shows the link's current selection."""
    if isinstance(other, Link):
        target = other
    elif isinstance(other, Linkable):
        target = other.link
        if target is None:
            target = Link().add(other)
            first = other.link_rows()
            if first is not None and len(first) > 0:
                target.rows = to_link_rows(first, None)
    else:
        raise TypeError(f"link must be a view or an fx.link(...) result, got {type(other).__name__}")
    target.add(view, index)
    member = next(m for m in target._members if m.view is view)
    rows = view.link_rows()
    if rows is not None and len(rows) > 0:
        target._propagate(to_link_rows(rows, member.index), source=member)
    elif len(target.rows) > 0:
        view.show_link_rows(from_link_rows(target.rows, member.index, view.link_n_rows()))
    return target


def linked_factory(factory: Any) -> Any:
    """``factory`` (a result's view) taking ``link=`` (a view or Link to join) and ``link_index=`` as well."""

    def make(result: Any, *args: Any, link: Any = None, link_index: Sequence[int] | None = None, **kwargs: Any):
        view = factory(result, *args, **kwargs)
        if link is not None:
            join(view, link, link_index)
        return view

    make.__doc__ = factory.__doc__
    make.__name__ = getattr(factory, "__name__", "make")
    return make
