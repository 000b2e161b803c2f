"""Engines that run a computation's row blocks somewhere else: Ray workers, for dataset-scale work.

A computation whose rows are independent (an attribution per input row, an evaluation score per sample, a
DSIR importance weight per text) is split into blocks of consecutive rows; each block is planned and run on a
worker by the family's own compute code, exactly as the whole would be run locally, and its rows come back
as the block finishes. The families' block modules (``attribution/blocks.py``, ``evaluation/blocks.py``,
``dsir_blocks.py``) turn the finished blocks back into the partial results their local generators yield, so
the same accumulators fold them and a streamed job and its view work unchanged.

Why this is in compute (and not in the runtime or the api): it needs the families' plans and generators and
nothing above them (no Job, no view); the runtime only ever sees the generator it yields. Ray is imported
only when an engine is used, so compute stays importable without it.

Exactness: a block runs the same plan on its rows as the local run does on all of them, with the same
``chunk_size`` and seed. Where draws are keyed by the global row index (evaluation), a block passes its first
row's index; where draws are shared by every row (permutation Shapley, KernelSHAP), every block draws the
same ones. Methods whose draws are made for the whole batch at once (SmoothGrad, expected gradients) or that
couple the rows (concept factorisation, the aggregate of several methods) are refused.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .optional import require

ENGINES = ("local", "ray")

INSTALL_HINT = "pip install fxwidgets[ray]"


def require_ray() -> Any:
    """The ray module, or an ImportError saying how to install it."""
    return require("ray", "engine='ray'", INSTALL_HINT)


@dataclass
class RayEngine:
    """Run row blocks as Ray tasks on the cluster ``ray.init`` connected to (a local one is started if none is).

    Parameters
    ----------
    block_rows:
        Rows per task. Default: the rows split into about four blocks per worker slot (so a slow worker does
        not hold up the end), rounded up to a multiple of the computation's ``chunk_size`` where draws are
        keyed per chunk.
    num_cpus:
        CPUs per task (Ray's own option; torch in a task uses that many threads).
    num_gpus:
        GPUs per task. Default: 1 when the cluster has GPUs, else 0; on a GPU the model and its rows are moved
        to the task's GPU (the answer is then the local answer on a GPU, equal to the CPU's within float
        rounding).
    max_in_flight:
        Tasks submitted ahead of those finished (bounds the rows in the object store). Default: two per slot.
    """

    block_rows: int | None = None
    num_cpus: float = 1.0
    num_gpus: float | None = None
    max_in_flight: int | None = None

    name = "ray"

    def __post_init__(self) -> None:
        if self.block_rows is not None and (isinstance(self.block_rows, bool) or not isinstance(self.block_rows, (int, np.integer))
                                            or self.block_rows < 1):
            raise ValueError(f"block_rows must be a positive integer, got {self.block_rows!r}")
        for name in ("num_cpus", "num_gpus"):
            v = getattr(self, name)
            if v is None and name == "num_gpus":
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not v >= 0 \
                    or not math.isfinite(v):
                raise ValueError(f"{name} must be a non-negative number, got {v!r}")
        if self.max_in_flight is not None and (isinstance(self.max_in_flight, bool)
                                               or not isinstance(self.max_in_flight, (int, np.integer))
                                               or self.max_in_flight < 1):
            raise ValueError(f"max_in_flight must be a positive integer, got {self.max_in_flight!r}")

    # -- the cluster ---------------------------------------------------------------------------------------
    def ray(self) -> Any:
        ray = require_ray()
        if not ray.is_initialized():
            ray.init()
        return ray

    def gpus_per_task(self) -> float:
        if self.num_gpus is not None:
            return float(self.num_gpus)
        return 1.0 if self.ray().cluster_resources().get("GPU", 0) > 0 else 0.0

    def slots(self) -> int:
        """Tasks the cluster runs at once."""
        res = self.ray().cluster_resources()
        gpus = self.gpus_per_task()
        by_cpu = res.get("CPU", 1) / self.num_cpus if self.num_cpus > 0 else math.inf
        by_gpu = res.get("GPU", 0) / gpus if gpus > 0 else math.inf
        n = min(by_cpu, by_gpu)
        return max(1, int(n)) if math.isfinite(n) else 1

    def blocks(self, n: int, *, align: int = 1) -> list[tuple[int, int]]:
        """Consecutive row ranges covering 0..n, each (but the last) a multiple of ``align`` rows."""
        size = self.block_rows or max(1, math.ceil(n / (4 * self.slots())))
        size = max(align, math.ceil(size / align) * align)
        return [(a, min(n, a + size)) for a in range(0, n, size)]

    def describe(self) -> dict:
        return {"engine": "ray", "num_cpus": self.num_cpus, "num_gpus": self.gpus_per_task()}


def as_engine(engine: Any) -> RayEngine | None:
    """None for the local engine, else the :class:`RayEngine` to run on; refuses anything else naming ``engine``."""
    if engine is None or (isinstance(engine, str) and engine == "local"):
        return None
    if isinstance(engine, RayEngine):
        return engine
    if isinstance(engine, str) and engine == "ray":
        return RayEngine()
    raise ValueError(f"engine must be one of {', '.join(map(repr, ENGINES))} or a fxwidgets.RayEngine(...); "
                     f"got {engine!r}")


def is_ray_dataset(value: Any) -> bool:
    """A ``ray.data.Dataset`` (recognised without importing ray)."""
    cls = type(value)
    return cls.__name__ == "Dataset" and cls.__module__.startswith("ray.data")


def refuse_dataset(value: Any, name: str) -> None:
    """A ``ray.data.Dataset`` given as data is refused, naming the argument and what to do instead: the verbs plan
    the whole call (every argument checked, one model pass) before the blocks go to the workers, which needs the
    rows here."""
    if is_ray_dataset(value):
        raise TypeError(f"{name} is a ray.data.Dataset, which is not accepted: give the rows as a tensor or an array "
                        f"(for example from ds.take_batch(n) or ds.to_torch()) with engine='ray', which sends them to "
                        "the workers in blocks")


# -- moving results home ------------------------------------------------------------------------------------
def to_device(obj: Any, device: torch.device | str) -> Any:
    """Every tensor in ``obj`` (nested tuples, lists, dicts, dataclass records) moved to ``device``."""
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.replace(obj, **{f.name: to_device(getattr(obj, f.name), device)
                                           for f in dataclasses.fields(obj) if f.init})
    if isinstance(obj, tuple):
        return tuple(to_device(v, device) for v in obj)
    if isinstance(obj, list):
        return [to_device(v, device) for v in obj]
    if isinstance(obj, dict):
        return {k: to_device(v, device) for k, v in obj.items()}
    return obj


def task_device(num_gpus: float) -> torch.device:
    """Where a task computes: its GPU when it was given one and torch sees it, else the CPU."""
    if num_gpus > 0 and torch.cuda.is_available():
        return torch.device("cuda", 0)  # Ray sets CUDA_VISIBLE_DEVICES to the task's own GPU(s)
    return torch.device("cpu")


def run_block(fn: Callable[..., Any], shared: Any, args: Any, num_gpus: float) -> Any:
    """What a Ray task runs: ``fn(shared, args, device)`` with its results moved to the CPU for the trip back."""
    return to_device(fn(shared, args, task_device(num_gpus)), "cpu")


def unwrap(exc: BaseException) -> BaseException:
    """A worker's own exception (with its message naming the argument) out of Ray's wrapper, where it has one."""
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, BaseException) else exc


def map_blocks(engine: RayEngine, fn: Callable[..., Any], shared: Any, blocks: Sequence[tuple[int, int]],
               block_args: Callable[[int, int], Any]) -> Iterator[tuple[int, Any]]:
    """Run ``fn(shared, block_args(a, b), device)`` for every block as a Ray task and yield ``(block number,
    result)`` in the order the tasks finish.

    ``shared`` (the model, the row-independent parameters) is put in the object store once and read by every
    task; each block's rows are put when its task is submitted, at most ``max_in_flight`` ahead. Closing the
    generator (a cancelled job) cancels the tasks still pending."""
    ray = engine.ray()
    gpus = engine.gpus_per_task()
    task = ray.remote(num_cpus=engine.num_cpus, num_gpus=gpus, max_retries=0)(run_block)
    shared_ref = ray.put(shared)
    limit = engine.max_in_flight or 2 * engine.slots()
    pending: dict[Any, int] = {}
    nxt = 0
    try:
        while nxt < len(blocks) or pending:
            while nxt < len(blocks) and len(pending) < limit:
                a, b = blocks[nxt]
                pending[task.remote(fn, shared_ref, block_args(a, b), gpus)] = nxt
                nxt += 1
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                i = pending.pop(ref)
                try:
                    result = ray.get(ref)
                except Exception as exc:  # noqa: BLE001 - re-raised as the worker's own error where possible
                    raise unwrap(exc) from None
                yield i, result
    finally:
        for ref in pending:
            try:
                ray.cancel(ref, force=False)
            except Exception:  # noqa: BLE001 - a task that already ended cannot be cancelled
                pass


# -- slicing arguments by rows ------------------------------------------------------------------------------
def take_rows(value: Any, a: int, b: int, n: int) -> Any:
    """Rows a:b of a per-row value (a tensor or array whose first dimension is n); anything else unchanged."""
    if isinstance(value, (torch.Tensor, np.ndarray)) and value.ndim >= 1 and value.shape[0] == n:
        return value[a:b]
    return value
