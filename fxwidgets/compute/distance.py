"""Squared Euclidean distances that stay exact in float32, at matrix-product speed.

``|x - y|^2 = |x|^2 + |y|^2 - 2 x.y`` turns a distance into one matrix product, but in float32 the three terms
cancel when x and y are close compared with their norms: x = 1, y = 1 + 1e-4 gives 0 instead of 1e-8, a point
is at a distance of 0.005 from its own copy, and neighbour ranks swap. scikit-learn's ``euclidean_distances``
upcasts float32 to float64 chunk by chunk for this reason (at the price of a float64 product everywhere). We
keep the float32 product and repair only the entries it cannot get right:

1. **Centre and scale once** (:func:`prepare_points`): subtract the float64 mean of all rows and divide by the
   power of two at or above the largest absolute value. Distances do not change under a translation, the scale
   is undone exactly (a power of two), and no square can overflow or underflow: data at 1e20 or 1e-25 works.
2. **Product**: ``d = |a|^2 + |b|^2 - 2 a.b`` in the input dtype. Its rounding error is at most about
   ``kappa * eps * (|a|^2 + |b|^2)`` with kappa a small constant of the matrix product (we measured 1.5-7 for
   float32 on CPU, across dimensions 1-2048 and clustered data), so an entry with
   ``d >= NEAR * (|a|^2 + |b|^2)`` is correct to ``kappa * eps / NEAR`` relative.
3. **Repair the near pairs**: a pair with ``d < NEAR * (|a|^2 + |b|^2)`` (its own copy, a near-duplicate, a
   negative rounding result) is recomputed from the raw rows as a sum of squared differences (each difference
   rounded once, so correct to an ulp of itself; the squares summed in float64); when near pairs are too many
   to gather one by one (tightly clustered data), the rows holding them are recomputed by a float64 product
   instead, and only its own near pairs (a far smaller set) are gathered.

A cheap screen avoids testing every entry: a block of columns can hold a near pair of row a only if the row's
smallest distance in it is below ``NEAR * (|a|^2 + the block's largest |b|^2)``; the per-entry test runs only
on blocks that fail it. Data where near pairs are common (tight clusters) is recognised on a sample at plan time
and goes straight to the float64 product. With at most
``DIRECT_MAX_FEATURES`` features there is no product at all: ``torch.cdist`` takes differences directly, which is
as fast there (the cost is writing the matrix) and exact without repairs.
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

#: Up to this many features, distances are differences (``torch.cdist`` without the product): as fast as the
#: product there (the work is writing the matrix, not multiplying), and each entry is correct to about
#: (DIRECT_MAX_FEATURES / 2 + 2) ulps, with no near pairs to repair.
DIRECT_MAX_FEATURES = 8

#: Columns per block of the screen for near pairs: a block's largest |b|^2 is close to its typical one, so the
#: screen rarely sends a block with no near pair to the entry test.
SCREEN_BLOCK = 128

#: The float64 product stands in for a float32 result: entries with ``d >= 1e-6 (|a|^2 + |b|^2)`` are then
#: correct to ~8 * 2.2e-16 / 1e-6 < 2e-9 relative, far below float32's rounding; only closer pairs are gathered.
NEAR_FLOAT64_PRODUCT = 1e-6

#: A float64 copy of the rows (for the float64 product) is kept if it takes at most this much; larger inputs
#: convert a block of rows at a time instead.
Z64_CACHE_BYTES = 4 * TILE_BYTES

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
    #: Set at plan time when a sample shows many near pairs (clustered data): a float32 product would be
    #: repaired on most rows anyway, so tiles against these points go straight to the float64 product.
    near_heavy: bool = False
    _z64: torch.Tensor | None = None
    _sq64: torch.Tensor | None = None

    def __getitem__(self, rows) -> Points:
        return Points(self.z[rows], self.sq[rows], self.raw[rows], self.centre, self.scale, self.near_heavy)

    @property
    def n(self) -> int:
        return self.z.shape[0]

    @property
    def direct(self) -> bool:
        """Few features: distances are taken as differences (``z`` is then ``raw / scale``, not centred)."""
        return self.z.shape[1] <= DIRECT_MAX_FEATURES

    def z64(self, rows: slice = slice(None)) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows ``rows`` centred and scaled in float64, with their squared norms. Kept after the first call when
        the whole float64 copy is small (``Z64_CACHE_BYTES``), else recomputed: a float64 copy of a large input
        would double its memory for the plan's lifetime."""
        if self._z64 is not None:
            return self._z64[rows], self._sq64[rows]
        whole = rows == slice(None)
        if whole and self.raw.numel() * 8 <= Z64_CACHE_BYTES:
            self._z64 = (self.raw.to(torch.float64) - self.centre) / self.scale
            self._sq64 = (self._z64 * self._z64).sum(1)
            return self._z64, self._sq64
        z = (self.raw[rows].to(torch.float64) - self.centre) / self.scale
        return z, (z * z).sum(1)


def power_of_two_at_least(v: float) -> float:
    """The smallest power of two >= v (1 for v == 0): dividing by it is exact."""
    if not v > 0 or not math.isfinite(v):
        return 1.0
    mantissa, exponent = math.frexp(v)
    return math.ldexp(1.0, exponent - 1 if mantissa == 0.5 else exponent)


def prepare_points(x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[Points, Points | None]:
    """Centre both sets on the float64 mean of all their rows and scale by one power of two (see the module).

    The scale is the power of two at or above the largest absolute raw value: raw rows divided by it lie in
    [-1, 1], so neither the centred rows' squares nor raw differences' squares can overflow or underflow."""
    n = x.shape[0] + (0 if y is None else y.shape[0])
    centre = x.sum(0, dtype=torch.float64)
    if y is not None:
        centre = centre + y.sum(0, dtype=torch.float64)
    centre /= n
    top = float(x.abs().max())
    if y is not None:
        top = max(top, float(y.abs().max()))
    scale = power_of_two_at_least(top)
    inv = 1.0 / scale  # exact
    direct = x.shape[1] <= DIRECT_MAX_FEATURES
    # In the input dtype: rounding the centre is one translation of every row (distances do not move), and
    # ``raw - centre`` is then rounded once, to an ulp of the centred value, as a float64 detour would be.
    shift = torch.zeros_like(centre, dtype=x.dtype) if direct else centre.to(x.dtype)

    def side(raw: torch.Tensor) -> Points:
        # direct: differences of raw rows, where centring would cost the near pairs their exactness
        z = (raw - shift).mul_(inv) if not direct or inv != 1.0 else raw
        return Points(z=z, sq=(z * z).sum(1), raw=raw, centre=centre, scale=scale)

    px, py = side(x), (None if y is None else side(y))
    if not direct and x.dtype != torch.float64 and near_share(px, py) * GATHER_SHARE > 1:
        px.near_heavy = True
        if py is not None:
            py.near_heavy = True
    return px, py


def near_share(a: Points, b: Points | None, *, rows: int = 256, cols: int = 2048, seed: int = 0) -> float:
    """Share of pairs the float32 product cannot be trusted with (``d < NEAR (|a|^2 + |b|^2)``), estimated on a
    seeded sample of at most ``rows`` x ``cols`` pairs (a row against itself not counted)."""
    gen = torch.Generator().manual_seed(seed)
    other = a if b is None else b
    ia = torch.randperm(a.n, generator=gen)[:rows].to(a.z.device)
    ib = torch.randperm(other.n, generator=gen)[:cols].to(a.z.device)
    sa, sb = a[ia], other[ib]
    d = torch.addmm(sb.sq[None, :], sa.z, sb.z.T, alpha=-2.0).add_(sa.sq[:, None])
    near = d < NEAR.get(d.dtype, NEAR[torch.float32]) * (sa.sq[:, None] + sb.sq[None, :])
    if b is None:
        near &= ia[:, None] != ib[None, :]
    return float(near.float().mean())


def pair_sq_distances(a: Points, b: Points, ia: torch.Tensor, ib: torch.Tensor) -> torch.Tensor:
    """Squared distances of the pairs ``(a[ia[p]], b[ib[p]])`` in scaled units, exact: ``sum(((a.raw[ia] -
    b.raw[ib]) / scale)^2)`` accumulated in float64 (the result is float64), in chunks of pairs that fit a tile.

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


def _near_pairs(d: torch.Tensor, a_sq: torch.Tensor, b_sq: torch.Tensor, near_share: float):
    """``(i, j)`` of every entry with ``d < near_share * (a_sq[i] + b_sq[j])``, found without a full pass of the
    test: per block of SCREEN_BLOCK columns, a row's smallest entry against ``near_share * (a_sq[i] + the block's
    largest b_sq)`` rules out whole blocks (one read of ``d``); the entry test runs on the blocks left."""
    r, m = d.shape
    full = m // SCREEN_BLOCK
    segments = [(0, full, SCREEN_BLOCK)] if full else []  # (first column, blocks, block width)
    if m % SCREEN_BLOCK:
        segments.append((full * SCREEN_BLOCK, 1, m % SCREEN_BLOCK))  # the last, narrower block
    found_i, found_j = [], []
    for lo, nb, w in segments:
        hi = lo + nb * w
        blocks = d[:, lo:hi].as_strided((r, nb, w), (d.stride(0), w, d.stride(1)))
        block_sq = b_sq[lo:hi].reshape(nb, w)
        bound_max = near_share * (a_sq[:, None] + block_sq.amax(1)[None, :])
        fi, fb = (blocks.amin(2) < bound_max).nonzero(as_tuple=True)
        if fi.numel() == 0:
            continue
        cells = blocks[fi, fb]  # (P, w): the blocks that may hold a near pair
        p, c = (cells < near_share * (a_sq[fi, None] + block_sq[fb])).nonzero(as_tuple=True)
        found_i.append(fi[p])
        found_j.append(lo + fb[p] * w + c)
    if not found_i:
        empty = torch.empty(0, dtype=torch.long, device=d.device)
        return empty, empty
    return torch.cat(found_i), torch.cat(found_j)


def _float64_product(a: Points, b: Points) -> torch.Tensor:
    """Exact squared distances by a float64 product of the centred rows, with the pairs even float64 cannot
    separate (``d < NEAR_FLOAT64_PRODUCT (|a|^2 + |b|^2)``: near-duplicates) gathered as differences."""
    za, sqa = a.z64()
    d64 = torch.empty((a.n, b.n), dtype=torch.float64, device=za.device)
    step = b.n if b.raw.numel() * 8 <= Z64_CACHE_BYTES else max(1, TILE_BYTES // (8 * b.raw.shape[1]))
    for lo in range(0, b.n, step):  # b's float64 rows a block at a time when they are many
        zb, sqb = b.z64(slice(lo, lo + step))
        part = torch.addmm(sqb[None, :], za, zb.T, alpha=-2.0).add_(sqa[:, None])
        i, j = (part < NEAR_FLOAT64_PRODUCT * (sqa[:, None] + sqb[None, :])).nonzero(as_tuple=True)
        if i.numel():
            part[i, j] = pair_sq_distances(a, b, i, j + lo)
        d64[:, lo:lo + step] = part
    return d64


def sq_distances(a: Points, b: Points, *, diagonal_offset: int | None = None,
                 out: torch.Tensor | None = None) -> torch.Tensor:
    """Squared distances between the rows of ``a`` and ``b`` in scaled units (multiply by ``a.scale**2``), exact
    to about 1e-6 relative in float32 and 1e-12 in float64; a pair of equal raw rows gives exactly 0.

    ``diagonal_offset``: when ``a`` is rows ``o, o+1, ...`` of the same set as ``b``, entry ``(i, o + i)`` is a
    row against itself; it is set to 0 without a test (and kept out of the screen, which it would always fail).
    """
    if a.direct:
        # Few features: the product saves nothing, and differences are exact (each rounded difference is within
        # half an ulp of itself); torch.cdist takes them without the matrix-product shortcut.
        d = torch.cdist(a.z, b.z, compute_mode="donot_use_mm_for_euclid_dist").square_()
        return d if out is None else out.copy_(d)
    if b.near_heavy and a.z.dtype != torch.float64:
        d64 = _float64_product(a, b)
        return d64.to(a.z.dtype) if out is None else out.copy_(d64)
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
        d[diag_rows, diag_rows + diagonal_offset] = torch.inf  # kept out of the screen, which it would always fail
    i, j = _near_pairs(d, a.sq, b.sq, near_share)
    if diag_rows is not None:
        d[diag_rows, diag_rows + diagonal_offset] = 0.0
    if i.numel() == 0:
        return d
    rows = torch.unique(i)
    if d.dtype != torch.float64 and i.numel() * GATHER_SHARE > rows.numel() * d.shape[1]:
        # Many near pairs on these rows: a float64 product of the rows is cheaper than gathering each pair.
        d[rows] = _float64_product(a[rows], b).to(d.dtype)
    else:
        d[i, j] = pair_sq_distances(a, b, i, j).to(d.dtype)
    return d
