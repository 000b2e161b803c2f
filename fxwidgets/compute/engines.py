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

A ``ray.data.Dataset`` given as a verb's data (:func:`read_dataset`) is read in its own row order, its columns
checked as its blocks arrive, and its rows then planned and run as the same rows given as a tensor would be on
the engine (Ray by default, :func:`dataset_engine`): the verbs plan the whole call here (every argument checked,
one model pass) before the blocks go to the workers, so the rows pass through the caller once, and the answer is
the tensor's answer on the Dataset's rows.

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
    """A ``ray.data.Dataset`` or one of its subclasses (``MaterializedDataset``), recognised without importing ray."""
    return any(c.__name__ == "Dataset" and c.__module__.startswith("ray.data") for c in type(value).__mro__)


def dataset_engine(engine: Any, data: Any) -> RayEngine | None:
    """:func:`as_engine`, except that a ``ray.data.Dataset`` as the data makes Ray the default engine."""
    if engine is None and is_ray_dataset(data):
        return RayEngine()
    return as_engine(engine)


# -- a ray.data.Dataset as the rows -------------------------------------------------------------------------
#: What a column may hold: a fixed-shape numeric value per row (finite where floating), one integer label per
#: row, or one text per row.
COLUMN_KINDS = ("numbers", "labels", "texts")


def read_dataset(data: Any, name: str, column: str | None = None, *, kind: str = "numbers",
                 named: dict[str, tuple[str, str]] | None = None) -> dict[str, Any] | None:
    """The columns of a ``ray.data.Dataset`` that a call reads, collected here in the Dataset's row order and
    checked; None when ``data`` is not a Dataset (``column`` must then be None).

    ``name`` is the argument ``data`` was given as, ``column`` the column holding it (default: the Dataset's one
    column that no other argument names), ``kind`` what it holds (one of :data:`COLUMN_KINDS`). ``named``: other
    arguments given as column names, ``{argument: (column, kind)}`` (a ``target="y"``). Returns ``{argument:
    values}`` with ``name`` among them: an array whose first dimension is the rows (``numbers``: the rows stacked;
    ``labels``: int64), or a list of str (``texts``).

    The Dataset's own pipeline (reads, maps) runs on the cluster as Ray Data schedules it; its blocks come here in
    order (``preserve_order``) and are checked as they arrive, so a missing column, a ragged tensor column, a NaN
    or a non-text is reported naming the argument, the column and the row before the computation starts. The
    rows are then planned here as a tensor would be (every argument checked, one model pass) and sent to the
    workers in blocks by the engine.
    """
    if not is_ray_dataset(data):
        if column is not None:
            raise ValueError(f"column={column!r} names a column of a ray.data.Dataset, but {name} is a "
                             f"{type(data).__name__}; drop column=")
        return None
    for module in ("pyarrow", "ray.data"):  # Ray Data holds its blocks as Arrow tables
        require(module, f"{name} given as a ray.data.Dataset", INSTALL_HINT)
    named = dict(named or {})
    for arg, (col, k) in named.items():
        check_kind(k)
        if not isinstance(col, str):
            raise TypeError(f"{arg} must name a column of {name} (a str), got {type(col).__name__}")
    check_kind(kind)
    if column is not None and not isinstance(column, str):
        raise TypeError(f"column must name a column of {name} (a str), got {type(column).__name__}")
    columns = list(data.columns())
    listing = ", ".join(map(repr, columns)) or "none"
    for arg, (col, _k) in named.items():
        if col not in columns:
            raise ValueError(f"{arg}={col!r} names no column of {name} (a ray.data.Dataset with columns {listing})")
    if column is None:
        free = [c for c in columns if c not in {col for col, _k in named.values()}]
        if len(free) != 1:
            raise ValueError(f"{name} is a ray.data.Dataset with columns {listing}: pass column= naming the one that "
                             f"holds {name}")
        column = free[0]
    elif column not in columns:
        raise ValueError(f"column={column!r} is not a column of {name} (a ray.data.Dataset with columns {listing})")
    wanted = {name: (column, kind), **named}
    parts: dict[str, list] = {arg: [] for arg in wanted}
    shapes: dict[str, tuple[int, tuple]] = {}
    selected = data.select_columns(list(dict.fromkeys(col for col, _k in wanted.values())))
    options = selected.context.execution_options
    keep_order = options.preserve_order
    options.preserve_order = True  # rows in the Dataset's order, as take_all() lists them
    start = 0
    try:
        for batch in selected.iter_batches(batch_format="numpy", batch_size=None):
            if not batch or len(next(iter(batch.values()))) == 0:
                continue  # an empty block (after a filter) has no rows to check, and no shape to set
            rows = 0
            for arg, (col, k) in wanted.items():
                values = _check_column(batch[col], arg, col, k, start, shapes)
                parts[arg].append(values)
                rows = len(values)
            start += rows
    finally:
        options.preserve_order = keep_order
    if start == 0:
        raise ValueError(f"{name} is an empty ray.data.Dataset")
    out: dict[str, Any] = {}
    for arg, (_col, k) in wanted.items():
        out[arg] = [t for p in parts[arg] for t in p] if k == "texts" else np.concatenate(parts[arg])
    return out


def check_kind(kind: str) -> None:
    if kind not in COLUMN_KINDS:
        raise ValueError(f"kind must be one of {', '.join(map(repr, COLUMN_KINDS))}, got {kind!r}")


def _check_column(values: np.ndarray, arg: str, col: str, kind: str, start: int,
                  shapes: dict[str, tuple[int, tuple]]) -> Any:
    """One block of a column checked and converted (see :func:`read_dataset`); ``shapes`` holds the first row's
    shape per argument, so a column ragged across blocks is caught too."""
    where = f"{arg}: column {col!r}"
    if kind == "texts":
        texts = values.tolist()
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                missing = t is None or (isinstance(t, float) and math.isnan(t))  # Arrow's null comes as None or NaN
                what = "a missing value (null)" if missing else type(t).__name__
                raise TypeError(f"{where} holds {what} at row {start + i}, not a text (str)")
        return texts
    if values.dtype == object:  # a variable-shape tensor or list column: one array per row
        rows = [np.asarray(v) for v in values]
        values = _stack(rows, where, start, shapes.setdefault(arg, (start, rows[0].shape if rows else ())))
    if values.dtype.kind not in "biuf":
        raise TypeError(f"{where} holds {values.dtype} values; it must hold numbers")
    first = shapes.setdefault(arg, (start, values.shape[1:]))
    if values.shape[1:] != first[1]:
        raise ValueError(f"{where} is ragged: row {first[0]} has shape {first[1]}, row {start} has shape "
                         f"{values.shape[1:]}; every row must have one shape")
    if values.dtype.kind == "f":
        bad = ~np.isfinite(values.reshape(len(values), -1)).all(1)
        if bad.any():
            raise ValueError(f"{where} holds NaN or inf (first at row {start + int(np.argmax(bad))}); drop or fill "
                             "those rows (ds.filter / ds.map_batches) first")
    if kind == "labels":
        if values.ndim != 1:
            raise ValueError(f"{where} must hold one label per row, got rows of shape {values.shape[1:]}")
        if values.dtype.kind == "f":
            frac = values != np.round(values)
            if frac.any():
                raise ValueError(f"{where} holds {values[np.argmax(frac)]} at row {start + int(np.argmax(frac))}, "
                                 "not an integer label")
        values = values.astype(np.int64)
    return values


def _stack(rows: list[np.ndarray], where: str, start: int, first: tuple[int, tuple]) -> np.ndarray:
    for i, r in enumerate(rows):
        if r.shape != first[1]:
            raise ValueError(f"{where} is ragged: row {first[0]} has shape {first[1]}, row {start + i} has shape "
                             f"{r.shape}; every row must have one shape")
    return np.stack(rows) if rows else np.empty((0, *first[1]))


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
