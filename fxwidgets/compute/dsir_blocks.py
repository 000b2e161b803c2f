"""DSIR's per-text work (hashing n-grams into buckets) in blocks of texts on an engine's workers (Ray).

Hashing is the expensive, embarrassingly parallel part of DSIR (a SHA-256 per n-gram, in Python); the
importance weights, the Gumbel top-k draw and the KL diagnostics are cheap and stay on the caller, in
:func:`~fxwidgets.compute.sample_selection.iter_dsir`, which puts the blocks back in row order. So the
counts, the weights, the seeded selection and every diagnostic are those of the local run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch

from .engines import RayEngine, map_blocks
from .sample_selection import hash_texts


def _hash_block(shared: dict, texts: Sequence[str], device: torch.device) -> tuple[list, list, list]:
    """On a worker: hashed n-gram triplets of a block of texts, rows counted from the block's start."""
    return hash_texts(texts, shared["n_buckets"], shared["ngrams"])


def engine_hasher(engine: RayEngine) -> Callable[[Sequence[str], int, int], Iterator[tuple[int, int, Any]]]:
    """A ``hasher`` for :func:`~fxwidgets.compute.sample_selection.iter_dsir` running blocks of texts on
    ``engine``; it yields ``(start, stop, (rows, buckets, counts))`` as blocks finish."""

    def hasher(texts: Sequence[str], n_buckets: int, ngrams: int) -> Iterator[tuple[int, int, Any]]:
        texts = list(texts)
        blocks = engine.blocks(len(texts))
        shared = {"n_buckets": n_buckets, "ngrams": ngrams}
        for i, triplets in map_blocks(engine, _hash_block, shared, blocks, lambda a, b: texts[a:b]):
            a, b = blocks[i]
            yield a, b, triplets

    return hasher
