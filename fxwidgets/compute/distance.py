"""Squared Euclidean distances that stay exact in float32, at matrix-product speed.

``|x - y|^2 = |x|^2 + |y|^2 - 2 x.y`` turns a distance into one matrix product, but in float32 the three terms
cancel when x and y are close compared with their norms: x = 1, y = 1 + 1e-4 gives 0 instead of 1e-8, a point
is at a distance of 0.005 from its own copy, and neighbour ranks swap. scikit-learn's ``euclidean_distances``
upcasts float32 to float64 chunk by chunk for this reason (at the price of a float64 product everywhere). We
keep the float32 product and repair only the entries it cannot get right:

1. **Centre and scale once** (:func:`prepare_points`): subtract the float64 mean of all rows and divide by a
   power of two near the largest centred value. Distances do not change under a translation, the scale is
   undone exactly (a power of two), and no square can overflow or underflow: data at 1e20 or 1e-25 works.
2. **Product**: ``d = |a|^2 + |b|^2 - 2 a.b`` in the input dtype. Its rounding error is at most about
   ``kappa * eps * (|a|^2 + |b|^2)`` with kappa a small constant of the matrix product (we measured 1.5-7 for
   float32 on CPU, across dimensions 1-2048 and clustered data), so an entry with
   ``d >= NEAR * (|a|^2 + |b|^2)`` is correct to ``kappa * eps / NEAR`` relative.
3. **Repair the near pairs**: a pair with ``d < NEAR * (|a|^2 + |b|^2)`` (its own copy, a near-duplicate, a
   negative rounding result) is recomputed exactly as ``sum((a_raw - b_raw)^2)`` in float64 from the raw rows;
   when near pairs are too many to gather one by one (low-dimensional or tightly clustered data), the rows
   holding them are recomputed by a float64 product instead, and only its own near pairs (a far smaller set)
   are gathered.

A cheap screen avoids testing every entry: a row can hold a near pair only if its smallest distance is below
``NEAR * (|a|^2 + max |b|^2)``; the per-entry test runs only on rows that fail it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .memory import TILE_BYTES

#: Entries with ``d < NEAR * (|a|^2 + |b|^2)`` are recomputed. float32: the product is then correct to about
#: kappa * 1.2e-7 / 0.5 <= 1e-6 relative (kappa <= ~4 for unclustered data). float64: 2e-3 keeps the error of
#: the product below ~1e-12 relative.
NEAR = {torch.float32: 0.5, torch.float64: 2e-3}

#: The float64 product stands in for a float32 result: entries with ``d >= 1e-6 (|a|^2 + |b|^2)`` are then
#: correct to ~8 * 2.2e-16 / 1e-6 < 2e-9 relative, far below float32's rounding; only closer pairs are gathered.
NEAR_FLOAT64_PRODUCT = 1e-6

#: More near pairs than 1/GATHER_SHARE of a tile's entries: recompute their rows by a float64 product rather than
#: gathering pairs one by one (a gathered pair costs some 30 times a product's multiply-add per feature).
GATHER_SHARE = 32


@dataclass
class Points:
    """Rows ready for exact squared distances: ``z = (raw - centre) / scale`` in the compute dtype, ``sq = |z|^2``
    (summed in float64), and the raw rows, from which near pairs are recomputed exactly."""

    z: torch.Tensor
    sq: torch.Tensor
    raw: torch.Tensor
    centre: torch.Tensor  # float64 (d,)
    scale: float  # a power of two
    _z64: torch.Tensor | None = None
    _sq64: torch.Tensor | None = None

    def __getitem__(self, rows) -> Points:
        return Points(self.z[rows], self.sq[rows], self.raw[rows], self.centre, self.scale)

    @property
    def n(self) -> int:
        return self.z.shape[0]

    def z64(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The centred, scaled rows and their squared norms in float64 (computed once, on first use)."""
        if self._z64 is None:
            z = (self.raw.to(torch.float64) - self.centre) / self.scale
            self._sq64 = (z * z).sum(1)
            self._z64 = z
        return self._z64, self._sq64


def power_of_two_at_least(v: float) -> float:
    """The smallest power of two >= v (1 for v == 0): dividing by it is exact."""
    if not v > 0 or not math.isfinite(v):
        return 1.0
    mantissa, exponent = math.frexp(v)
    return math.ldexp(1.0, exponent - 1 if mantissa == 0.5 else exponent)


def prepare_points(x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[Points, Points | None]:
    """Centre both sets on the float64 mean of all their rows and scale by one power of two (see the module)."""
    dtype = x.dtype
    n = x.shape[0] + (0 if y is None else y.shape[0])
    centre = x.to(torch.float64).sum(0)
    if y is not None:
        centre = centre + y.to(torch.float64).sum(0)
    centre /= n
    zx = x.to(torch.float64) - centre
    zy = None if y is None else y.to(torch.float64) - centre
    top = float(zx.abs().max()) if zx.numel() else 0.0
    if zy is not None and zy.numel():
        top = max(top, float(zy.abs().max()))
    scale = power_of_two_at_least(top)

    def side(raw: torch.Tensor, z: torch.Tensor) -> Points:
        z = z / scale
        return Points(z=z.to(dtype), sq=(z * z).sum(1).to(dtype), raw=raw, centre=centre, scale=scale)

    px = side(x, zx)
    return px, (None if y is None else side(y, zy))


def _gather_exact(a: Points, b: Points, ia: torch.Tensor, ib: torch.Tensor) -> torch.Tensor:
    """``sum(((a.raw[ia] - b.raw[ib]) / scale)^2)`` accumulated in float64, in chunks of pairs that fit a tile.

    The difference is taken in the raw dtype: rounding a difference costs half an ulp *of the difference*, so
    each square is correct to one ulp however close the two rows are (this is what the product cannot do)."""
    d = a.raw.shape[1]
    out = torch.empty(ia.numel(), dtype=torch.float64, device=a.raw.device)
    step = max(1, TILE_BYTES // (8 * max(1, d) * a.raw.element_size()))
    inv = 1.0 / a.scale  # a power of two: exact, and it keeps squares of 1e20 or 1e-25 in range
    for s in range(0, ia.numel(), step):
        diff = torch.index_select(a.raw, 0, ia[s:s + step]).sub_(torch.index_select(b.raw, 0, ib[s:s + step]))
        if inv != 1.0:
            diff.mul_(inv)
        out[s:s + step] = diff.mul_(diff).sum(1, dtype=torch.float64)
    return out


def _repair(d: torch.Tensor, a: Points, b: Points, rows: torch.Tensor, near_share: float) -> None:
    """Recompute, in place, the entries of ``d[rows]`` that the product may have got wrong."""
    thr = d.new_tensor(near_share)
    sub = d[rows]
    near = sub < thr * (a.sq[rows, None] + b.sq[None, :])
    count = int(near.sum())
    if count == 0:
        return
    if d.dtype != torch.float64 and count * GATHER_SHARE > sub.numel():
        # Many near pairs: a float64 product on these rows is cheaper than gathering each pair.
        za, sqa = a[rows].z64()
        zb, sqb = b.z64()
        d64 = torch.addmm(sqb[None, :], za, zb.T, alpha=-2.0).add_(sqa[:, None])
        near64 = d64 < NEAR_FLOAT64_PRODUCT * (sqa[:, None] + sqb[None, :])
        i, j = near64.nonzero(as_tuple=True)
        if i.numel():
            d64[i, j] = _gather_exact(a, b, rows[i], j)
        d[rows] = d64.to(d.dtype)
        return
    i, j = near.nonzero(as_tuple=True)
    d[rows[i], j] = _gather_exact(a, b, rows[i], j).to(d.dtype)


def sq_distances(a: Points, b: Points, *, diagonal_offset: int | None = None,
                 out: torch.Tensor | None = None) -> torch.Tensor:
    """Squared distances between the rows of ``a`` and ``b`` in scaled units (multiply by ``a.scale**2``), exact
    to about 1e-6 relative in float32 and 1e-12 in float64; a pair of equal raw rows gives exactly 0.

    ``diagonal_offset``: when ``a`` is rows ``o, o+1, ...`` of the same set as ``b``, entry ``(i, o + i)`` is a
    row against itself; it is set to 0 without a test (and kept out of the screen, which it would always fail).
    """
    d = torch.addmm(b.sq[None, :], a.z, b.z.T, alpha=-2.0, out=out)
    d.add_(a.sq[:, None])
    if d.numel() == 0:
        return d
    near_share = NEAR.get(d.dtype, NEAR[torch.float32])
    diag_rows = None
    if diagonal_offset is not None:
        r = torch.arange(a.n, device=d.device)
        inside = (r + diagonal_offset >= 0) & (r + diagonal_offset < b.n)
        diag_rows = r[inside]
        d[diag_rows, diag_rows + diagonal_offset] = torch.inf
    # Screen: a row holds a near pair only if its smallest entry is below NEAR * (|a|^2 + max |b|^2).
    smallest = d.amin(1)
    suspect = (smallest < near_share * (a.sq + b.sq.max())).nonzero().flatten()
    if diag_rows is not None:
        d[diag_rows, diag_rows + diagonal_offset] = 0.0
    if suspect.numel():
        _repair(d, a, b, suspect, near_share)
    return d
