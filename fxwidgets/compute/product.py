"""One float32 product ``a @ b.T`` for the product metrics (cosine, dot, pearson): the dense affinity's tiles and
the exact k-NN's.

Profiled (``benchmarks/bench_knn.py``, N = 20 000, D = 128, one thread, AMD EPYC with AVX-512): ``torch.matmul``'s
float32 GEMM (MKL) took 82 % of the k-NN search, 1.17 s of CPU for the 20 000 x 20 000 x 128 product, and
MKL_VERBOSE shows it dispatching its AVX2 kernel on this non-Intel CPU; oneDNN (torch's ``mkldnn`` backend, the
kernels under ``torch.compile``'s CPU linear layers) picks its kernel from the CPU's instruction-set flags (AVX-512
here) and did the same product in 0.50 s (a 4096 x 512 dense affinity: 68 ms in 1024-row tiles plus the copy into
the result, against 130-143 ms for ``matmul`` into it). Its ``_linear_pointwise`` op computes ``a @ b.T`` from plain
strided float32 tensors into a new tile (it has no ``out=``); it is a private op, so :func:`onednn_usable` falls
back to ``torch.matmul`` wherever it is missing or refuses the inputs. The sum runs in another order than MKL's: the
two agree within float32 rounding (tested against float64 products with Higham's bound).
"""

from __future__ import annotations

import torch

_ONEDNN_STATE: dict = {}


def onednn_usable(a: torch.Tensor, b: torch.Tensor) -> bool:
    """The product of ``a`` and ``b`` can go through oneDNN: float32 on the CPU, with a working op."""
    if a.device.type != "cpu" or a.dtype != torch.float32 or b.dtype != torch.float32:
        return False
    if not (torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled):
        return False
    if "ok" not in _ONEDNN_STATE:  # probe once per process: the op exists and agrees with matmul on a tiny case
        try:
            x = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
            got = torch.ops.mkldnn._linear_pointwise(x, x[:1], None, "none", [], "")
            _ONEDNN_STATE["ok"] = bool(torch.equal(got, x @ x[:1].T))
        except (AttributeError, RuntimeError, NotImplementedError):
            _ONEDNN_STATE["ok"] = False
    return _ONEDNN_STATE["ok"]


def product_nt(a: torch.Tensor, b: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """``a @ b.T`` (written into ``out`` if given): through oneDNN where :func:`onednn_usable`, else ``matmul``."""
    if not onednn_usable(a, b):
        return torch.matmul(a, b.T, out=out)
    tile = torch.ops.mkldnn._linear_pointwise(a, b, None, "none", [], "")
    if out is None:
        return tile
    return out.copy_(tile)
