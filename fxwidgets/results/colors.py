"""Colour maps and colour limits, shared by every ``.plot()`` and every view.

One rule everywhere (matplotlib's, with seaborn's ``center=``):

- ``cmap`` is any matplotlib colour map, by name (``"plasma"``, ``"RdBu_r"``) or as a
  :class:`matplotlib.colors.Colormap` object;
- ``vmin`` / ``vmax`` default to the finite data's minimum / maximum;
- with ``center=c`` the colours span ``[c - r, c + r]``, ``r = max(|vmax - c|, |c - vmin|)``, so ``c`` gets the
  middle colour of a diverging map (matplotlib's ``CenteredNorm(vcenter=c, halfrange=r)``).

A view draws in the browser with a 256-entry lookup table sampled here (:func:`lut_bytes`) and sent once; the
browser maps a value to entry ``min(255, floor(t * 256))``, ``t = (v - lo) / (hi - lo)`` clipped to [0, 1],
which is what matplotlib does with a 256-entry map.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

#: Colour maps the browser has built-in tables for (js/lib/colormap_data.ts); any other map is sent as a table.
BUILTIN_COLORMAPS = ("viridis", "magma", "gray", "RdBu_r", "coolwarm")

#: Entries of a sampled table (the browser's tables have as many).
LUT_SIZE = 256

# Names of matplotlib's (and seaborn's) diverging maps, with or without ``_r``; js/lib/colormaps.ts has the twin.
_DIVERGING = re.compile(r"^(RdBu|RdGy|PuOr|PRGn|PiYG|BrBG|RdYlBu|RdYlGn|Spectral|coolwarm|bwr|seismic|berlin|managua"
                        r"|vanimo|icefire|vlag)(_r)?$")


def colormap(cmap: Any, argument: str = "cmap") -> Any:
    """The :class:`matplotlib.colors.Colormap` named (or given) by ``cmap``.

    Raises ``ValueError`` naming ``argument`` for an unknown name, with the closest names matplotlib knows.
    """
    from matplotlib import colormaps
    from matplotlib.colors import Colormap

    if isinstance(cmap, Colormap):
        return cmap
    if not isinstance(cmap, str) or not cmap:
        raise ValueError(f"{argument} must be a matplotlib colour map name or a Colormap object, got {cmap!r}")
    try:
        return colormaps[cmap]
    except KeyError:
        import difflib

        close = difflib.get_close_matches(cmap, list(colormaps), n=4, cutoff=0.6)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else " (see matplotlib.colormaps)"
        raise ValueError(f"{argument}: unknown colour map {cmap!r}{hint}") from None


def colormap_name(cmap: Any, argument: str = "cmap") -> str:
    """The name a colour map is known by (a Colormap object's ``.name``), after checking it exists."""
    cm = colormap(cmap, argument)
    return cmap if isinstance(cmap, str) else cm.name


def lut_array(cmap: Any, argument: str = "cmap") -> np.ndarray:
    """The colour map as a (256, 3) uint8 RGB table, or (256, 4) RGBA when it has transparency.

    Sampled at 256 evenly spaced points of [0, 1] (for a 256-entry map: exactly its entries), times 255,
    rounded — the rule ``scripts/gen_colormaps.py`` uses for the built-in tables.
    """
    rgba = np.asarray(colormap(cmap, argument)(np.linspace(0.0, 1.0, LUT_SIZE)), dtype=np.float64)
    channels = 4 if bool((rgba[:, 3] < 1.0).any()) else 3
    return np.rint(rgba[:, :channels] * 255.0).astype(np.uint8)


def lut_bytes(cmap: Any, argument: str = "cmap") -> bytes:
    """:func:`lut_array` as bytes, C order: what a view's ``cmap_lut`` trait carries."""
    return lut_array(cmap, argument).tobytes()


def is_diverging(cmap: Any) -> bool:
    """Whether a map is one of the diverging family (by name), i.e. meant for data centred on a value."""
    name = cmap if isinstance(cmap, str) else getattr(cmap, "name", "")
    return bool(_DIVERGING.match(name or ""))


def _finite(value: Any, argument: str) -> float | None:
    if value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{argument} must be a number or None, got {value!r}") from None
    if not np.isfinite(v):
        raise ValueError(f"{argument} must be finite, got {value!r}")
    return v


def color_limits(values: Any, vmin: Any = None, vmax: Any = None, center: Any = None) -> tuple[float, float]:
    """The range the colours span for ``values`` (the rule in the module docstring).

    A missing vmin/vmax is the finite data's min/max; with neither data nor limits the range is (0, 1).
    """
    lo, hi, c = _finite(vmin, "vmin"), _finite(vmax, "vmax"), _finite(center, "center")
    if lo is None or hi is None:
        a = np.asarray(values, dtype=np.float64) if values is not None else np.zeros(0)
        a = a[np.isfinite(a)]
        if a.size:
            lo = float(a.min()) if lo is None else lo
            hi = float(a.max()) if hi is None else hi
    if lo is None and hi is None:
        lo, hi = 0.0, 1.0
    lo = hi if lo is None else lo
    hi = lo if hi is None else hi
    if c is not None:
        r = max(abs(hi - c), abs(c - lo))
        return (c - r, c + r) if r > 0 else (c - 1.0, c + 1.0)
    return lo, hi


def norm(values: Any, vmin: Any = None, vmax: Any = None, center: Any = None) -> Any:
    """A matplotlib norm for ``imshow``/``colorbar`` that follows :func:`color_limits`.

    With ``center`` it is ``CenteredNorm(vcenter=center, halfrange=r)``; else ``Normalize(lo, hi)``.
    """
    from matplotlib.colors import CenteredNorm, Normalize

    lo, hi = color_limits(values, vmin, vmax, center)
    if center is not None:
        return CenteredNorm(vcenter=float(center), halfrange=(hi - lo) / 2)
    return Normalize(vmin=lo, vmax=hi)


def check_center(center: Any, argument: str = "center") -> float | None:
    """``center`` as a float (or None), refusing NaN/Inf and non-numbers by name."""
    return _finite(center, argument)
