"""Layer x layer minibatch CKA between the layers of one or two networks, as a generator of partial results.

Forward hooks capture each chosen layer's output for a batch; every layer's Gram matrix on that batch is
U-centred once, and all layer pairs' unbiased HSIC values come out of one matrix product of the flattened
centred Grams. Summing them over batches gives minibatch CKA (Nguyen et al. 2021) for every pair at once; each
batch yields the running matrix, so a view fills in while the data streams through.
"""

from __future__ import annotations

import itertools
import numbers
import threading
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np
import torch

from .memory import check_fits
from .similarity import KERNELS, batch_bounds, gram_rbf, u_centered_batch
from .validate import (
    as_tensor,
    cast_like,
    check_bool,
    check_choice,
    check_length,
    check_positive_float,
    check_positive_int,
    check_seed,
)

#: Names listed in an unknown-layer error before "... and N more".
MAX_NAMES_IN_ERROR = 60


# ------------------------------------------------------------------------------------------------
# Models and layers
# ------------------------------------------------------------------------------------------------


def model_device(model: torch.nn.Module) -> torch.device:
    for t in itertools.chain(model.parameters(), model.buffers()):
        return t.device
    return torch.device("cpu")


def model_float_dtype(model: torch.nn.Module) -> torch.dtype | None:
    for t in itertools.chain(model.parameters(), model.buffers()):
        if t.is_floating_point():
            return t.dtype
    return None


def default_layers(model: torch.nn.Module) -> list[str]:
    """Every leaf module (one without children), in registration order; the model itself if it has none."""
    leaves = [name for name, mod in model.named_modules() if name and not any(True for _ in mod.children())]
    return leaves or [""]


def resolve_layers(model: torch.nn.Module, layers: Any, arg: str, model_arg: str) -> list[str]:
    modules = dict(model.named_modules())
    if layers is None:
        return default_layers(model)
    if isinstance(layers, str):
        layers = [layers]
    try:
        layers = list(layers)
    except TypeError:
        raise TypeError(f"{arg} must be a list of module names (see {model_arg}.named_modules()), "
                        f"got {type(layers).__name__}") from None
    if not layers:
        raise ValueError(f"{arg} is empty; give at least one module name")
    valid = [n for n in modules if n]
    for name in layers:
        if not isinstance(name, str):
            raise TypeError(f"{arg} must hold module names (str), got {name!r}")
        if name not in modules:
            shown = valid[:MAX_NAMES_IN_ERROR]
            more = f" ... and {len(valid) - len(shown)} more" if len(valid) > len(shown) else ""
            raise ValueError(f"{arg}: {model_arg} has no layer named {name!r}; valid names are: "
                             f"{', '.join(map(repr, shown))}{more}")
    if len(set(layers)) != len(layers):
        dup = sorted({n for n in layers if layers.count(n) > 1})
        raise ValueError(f"{arg} names {', '.join(map(repr, dup))} more than once")
    return layers


class Capture:
    """Forward hooks that keep the latest output of each named module, flattened to (batch, features).

    The hooks belong to the run that installed them: they record only forward passes made by the thread that
    created the capture. Two compares on one model (two Jobs, or a compare while another thread runs the model)
    each install their own hooks on the shared modules, and each hook ignores the other run's passes, so both
    get exactly the answer they would get alone. (A model that runs its own layers in other threads, such as
    ``nn.DataParallel``, is therefore not captured: compare its ``.module`` instead.)"""

    def __init__(self, model: torch.nn.Module, layers: list[str], model_arg: str) -> None:
        self.layers = layers
        self.model_arg = model_arg
        self.outputs: dict[str, torch.Tensor] = {}
        self.thread = threading.get_ident()
        modules = dict(model.named_modules())
        self.handles = [modules[name].register_forward_hook(self._hook(name)) for name in layers]

    def _hook(self, name: str):
        def hook(_module, _inputs, output):
            if threading.get_ident() != self.thread:  # another run's forward pass through the shared module
                return
            out = output
            if isinstance(out, (tuple, list)) and out and isinstance(out[0], torch.Tensor):
                out = out[0]
            if not isinstance(out, torch.Tensor):
                raise TypeError(f"layer {name!r} of {self.model_arg} returns {type(output).__name__}, not a tensor; "
                                "choose layers whose output is a tensor")
            self.outputs[name] = out.detach()
        return hook

    def take(self, batch: int) -> list[torch.Tensor]:
        missing = [n for n in self.layers if n not in self.outputs]
        if missing:
            raise RuntimeError(f"layer(s) {', '.join(map(repr, missing))} of {self.model_arg} did not run in the "
                               "forward pass; choose layers the model actually calls")
        feats = []
        for name in self.layers:
            out = self.outputs[name]
            if out.ndim == 0 or out.shape[0] != batch:
                raise ValueError(f"layer {name!r} of {self.model_arg} returned shape {tuple(out.shape)}, which does not "
                                 f"start with the batch size {batch}")
            feats.append(out.reshape(batch, -1))
        self.outputs.clear()
        return feats

    def remove(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles = []


class EvalMode:
    """Run a model in eval mode (no dropout, frozen batch-norm statistics) and restore every module's flag.

    Shared between concurrent runs: the first run to enter a model saves its flags and switches it to eval, the
    last to leave restores them. (Each run saving and restoring on its own would switch dropout back on under a
    run still in progress, and the later exit would leave the model in eval mode for good.)"""

    _lock = threading.Lock()
    #: id(model) -> [number of runs inside, the flags saved by the first]
    _active: dict[int, list] = {}

    def __init__(self, *models: torch.nn.Module | None) -> None:
        unique = {id(m): m for m in models if m is not None}
        self.models = list(unique.values())

    def __enter__(self) -> EvalMode:
        with EvalMode._lock:
            for model in self.models:
                entry = EvalMode._active.get(id(model))
                if entry is None:
                    EvalMode._active[id(model)] = [1, [(m, m.training) for m in model.modules()]]
                    model.eval()
                else:
                    entry[0] += 1
        return self

    def __exit__(self, *exc) -> None:
        with EvalMode._lock:
            for model in self.models:
                entry = EvalMode._active[id(model)]
                entry[0] -= 1
                if entry[0] == 0:
                    del EvalMode._active[id(model)]
                    for m, flag in entry[1]:
                        m.training = flag


# ------------------------------------------------------------------------------------------------
# Data
# ------------------------------------------------------------------------------------------------


def _as_input(x: Any, what: str) -> torch.Tensor:
    try:
        t = as_tensor(x, what)  # a DataFrame gives its values; complex or text is refused
    except TypeError as exc:
        raise TypeError(f"{what} must be a tensor or an array of numbers, got {type(x).__name__}: {exc}") from None
    if t.ndim == 0:
        raise ValueError(f"{what} must have a batch dimension, got a scalar")
    if t.is_floating_point():
        finite = torch.isfinite(t)
        if not bool(finite.all()):
            bad = tuple((~finite).nonzero()[0].tolist())
            raise ValueError(f"{what} has {int((~finite).sum())} non-finite value(s) (NaN or Inf), the first at index {bad}")
    return t


def _split_batch(batch: Any, i: int) -> tuple[Any, Any]:
    if isinstance(batch, (tuple, list)):
        if not batch:
            raise ValueError(f"data batch {i} is empty")
        return batch[0], (batch[1] if len(batch) > 1 else None)
    return batch, None


@dataclass
class ComparePlan:
    model_a: torch.nn.Module
    model_b: torch.nn.Module | None
    layers_a: list[str]
    layers_b: list[str]
    same: bool  # one model against itself, same layers: one forward pass per batch
    kernel: str
    threshold: float
    batch_size: int
    gram_samples: int
    device: torch.device
    source: Any  # a tensor (batched here) or an iterator of batches
    labels: np.ndarray | None
    n_examples: int | None
    n_batches: int | None
    order: torch.Tensor | None
    params: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.layers_a), len(self.layers_b)


def plan_compare(model_a, model_b=None, data=None, *, layers=None, layers_b=None, labels=None, batch_size: int = 64,
                 kernel: str = "linear", threshold: float = 1.0, shuffle: bool = True, seed: int = 0,
                 gram_samples: int = 256) -> ComparePlan:
    """Validate the models, layers, data and parameters, and run a 4-example probe through the hooks."""
    if not isinstance(model_a, torch.nn.Module):
        raise TypeError(f"model_a must be a torch.nn.Module, got {type(model_a).__name__}")
    if model_b is not None and not isinstance(model_b, torch.nn.Module):
        raise TypeError(f"model_b must be a torch.nn.Module or None, got {type(model_b).__name__}")
    if data is None:
        raise TypeError("data is required: a tensor/array of inputs (first dimension = examples) or an iterable of "
                        "batches such as a DataLoader")
    check_choice(kernel, "kernel", KERNELS)
    threshold = check_positive_float(threshold, "threshold", allow_none=False)
    batch_size = check_positive_int(batch_size, "batch_size", allow_none=False)
    if batch_size < 4:
        raise ValueError(f"batch_size must be at least 4 (the unbiased HSIC needs 4 examples), got {batch_size}")
    gram_samples = check_positive_int(gram_samples, "gram_samples", allow_none=False) if gram_samples else 0
    seed = check_seed(seed)
    shuffle = check_bool(shuffle, "shuffle")

    layers_a = resolve_layers(model_a, layers, "layers", "model_a")
    other = model_a if model_b is None else model_b
    if layers_b is None and model_b is None:
        layers_b = list(layers_a)
    elif layers_b is None:
        mods_b = dict(other.named_modules())
        layers_b = list(layers_a) if layers is not None and all(n in mods_b for n in layers_a) else default_layers(other)
    else:
        layers_b = resolve_layers(other, layers_b, "layers_b", "model_b" if model_b is not None else "model_a")
    same = model_b is None and layers_b == layers_a
    device = model_device(model_a)

    order = None
    if hasattr(data, "to_numpy") and callable(data.to_numpy) and not hasattr(data, "__next__"):
        # A pandas DataFrame is iterable, but over its column names: take its values (rows are examples).
        data = _as_input(data, "data")
    elif isinstance(data, (list, tuple)) and data and all(isinstance(e, (numbers.Number, list)) for e in data):
        # Nested lists of numbers are one array of examples, not a list of one-example batches.
        data = _as_input(data, "data")
    if isinstance(data, (torch.Tensor, np.ndarray)):
        x = _as_input(data, "data")
        n = x.shape[0]
        if n < 4:
            raise ValueError(f"data has {n} examples; CKA with the unbiased HSIC needs at least 4")
        if shuffle:
            order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
        source, n_examples = x, n
        n_batches = len(batch_bounds(n, batch_size))
        first = x[:4]
    else:
        try:
            it = iter(data)
        except TypeError:
            raise TypeError(f"data must be a tensor, an array or an iterable of batches, got {type(data).__name__}") from None
        n_batches = len(data) if hasattr(data, "__len__") else None
        dataset = getattr(data, "dataset", None)
        n_examples = len(dataset) if dataset is not None and hasattr(dataset, "__len__") else None
        try:
            head = next(it)
        except StopIteration:
            raise ValueError("data has no batches") from None
        hx, _ = _split_batch(head, 0)
        first = _as_input(hx, "data batch 0")[:4]
        source = itertools.chain([head], it)
        batch_size = int(first.shape[0]) if n_batches is None else batch_size
    if labels is not None:
        labels = np.asarray(labels)
        if labels.ndim != 1:
            raise ValueError(f"labels must be 1-D (one per example), got shape {labels.shape}")
        if n_examples is not None:
            check_length(labels, "labels", n_examples, "data", unit="examples")

    # A probe of a few examples: every hook fires, every output is a tensor with the batch first.
    feats_a, feats_b = _forward(model_a, model_b, layers_a, layers_b, same, first, probe=True)
    if gram_samples:
        per_example = sum(f.shape[1] for f in feats_a) + (0 if same else sum(f.shape[1] for f in feats_b))
        keep = gram_samples if n_examples is None else min(gram_samples, n_examples)
        check_fits(4 * keep * per_example, f"the features of {keep} examples kept for the Gram matrices "
                   "(lower gram_samples)", device)
    check_fits(8 * batch_size * batch_size * (len(layers_a) + (0 if same else len(layers_b))),
               f"the {batch_size} x {batch_size} Gram matrices of every layer (lower batch_size)", device)

    params = {"measure": "minibatch CKA (unbiased HSIC)", "kernel": kernel, "batch_size": batch_size,
              "shuffle": bool(order is not None), "seed": seed if order is not None else None,
              "gram_samples": gram_samples, "device": str(device), "n_examples": n_examples,
              "layers_a": list(layers_a), "layers_b": list(layers_b), "same_model": model_b is None}
    if kernel == "rbf":
        params["threshold"] = threshold
    return ComparePlan(model_a=model_a, model_b=model_b, layers_a=layers_a, layers_b=layers_b, same=same, kernel=kernel,
                       threshold=threshold, batch_size=batch_size, gram_samples=gram_samples, device=device,
                       source=source, labels=labels, n_examples=n_examples, n_batches=n_batches, order=order,
                       params=params)


def _forward(model_a, model_b, layers_a, layers_b, same, x, probe=False):
    models = [(model_a, layers_a, "model_a")]
    if not same:
        models.append((model_b if model_b is not None else model_a, layers_b, "model_b" if model_b is not None else "model_a"))
    out = []
    with EvalMode(model_a, model_b), torch.no_grad():
        for model, layers, arg in models:
            cap = Capture(model, layers, arg)
            try:
                xb = x.to(model_device(model))
                # float64 or float16 data into a float32 model, and the other way round; integer ids stay
                xb = cast_like(xb, model_float_dtype(model), "data")
                try:
                    model(xb)
                except Exception as exc:  # noqa: BLE001
                    if probe:
                        raise ValueError(f"{arg} failed on the first examples of data: {type(exc).__name__}: {exc}") from exc
                    raise
                out.append(cap.take(x.shape[0]))
            finally:
                cap.remove()
    return out[0], (out[0] if same else out[1])


# ------------------------------------------------------------------------------------------------
# The generator and its accumulator
# ------------------------------------------------------------------------------------------------


@dataclass
class CompareUpdate:
    """One batch's contribution: per-pair and per-layer unbiased HSIC values, and how far along it is."""

    batch: int
    examples: int  # examples in this batch
    examples_seen: int
    hsic_xy: np.ndarray  # (L_a, L_b)
    hsic_xx: np.ndarray  # (L_a,)
    hsic_yy: np.ndarray  # (L_b,)
    progress: float | None
    #: (centred Grams of model_a's layers, of model_b's, example indices, labels or None); set once
    grams: tuple | None = None
    skipped: int = 0


def _centred_grams(feats: list[torch.Tensor], kernel: str, threshold: float) -> torch.Tensor:
    b = feats[0].shape[0]
    out = torch.empty((len(feats), b, b), dtype=torch.float32, device=feats[0].device)
    for i, f in enumerate(feats):
        f = f.float()
        if kernel == "linear":
            f = f - f.mean(0, keepdim=True)
            out[i] = f @ f.T
        else:
            try:
                out[i] = gram_rbf(f, threshold)
            except ValueError:  # median distance 0 (mostly identical examples): no usable bandwidth
                out[i] = 0.0
    return u_centered_batch(out)


def _check_finite(feats: list[torch.Tensor], layers: list[str], arg: str, batch: int) -> None:
    for name, f in zip(layers, feats):
        if f.is_floating_point() and not bool(torch.isfinite(f).all()):
            raise ValueError(f"layer {name!r} of {arg} produced NaN or Inf on data batch {batch}")


def _batches(plan: ComparePlan) -> Iterator[tuple[torch.Tensor, np.ndarray, np.ndarray | None]]:
    """``(inputs, example indices, labels or None)`` per batch."""
    if isinstance(plan.source, torch.Tensor):
        x = plan.source
        n = x.shape[0]
        for a, b in batch_bounds(n, plan.batch_size):
            idx = plan.order[a:b] if plan.order is not None else torch.arange(a, b)
            lab = plan.labels[idx.numpy()] if plan.labels is not None else None
            yield x[idx], idx.numpy(), lab
    else:
        seen = 0
        for i, batch in enumerate(plan.source):
            bx, by = _split_batch(batch, i)
            t = _as_input(bx, f"data batch {i}")
            if plan.labels is not None:
                lab = plan.labels[seen : seen + t.shape[0]]
            elif by is not None:
                lab = np.asarray(by.detach().cpu() if isinstance(by, torch.Tensor) else by).reshape(-1)
                lab = lab if lab.shape[0] == t.shape[0] else None
            else:
                lab = None
            idx = np.arange(seen, seen + t.shape[0])
            seen += t.shape[0]
            yield t, idx, lab


def iter_compare(plan: ComparePlan) -> Iterator[CompareUpdate]:
    """One :class:`CompareUpdate` per batch of data."""
    seen = 0
    keep_a: list[list[torch.Tensor]] = []
    keep_b: list[list[torch.Tensor]] = []
    keep_labels: list[np.ndarray | None] = []
    keep_index: list[np.ndarray] = []
    kept = 0
    grams_done = plan.gram_samples == 0
    arg_b = "model_b" if plan.model_b is not None else "model_a"
    for i, (x, idx, lab) in enumerate(_batches(plan)):
        b = x.shape[0]
        if b < 4:  # the unbiased HSIC is undefined on fewer than 4 examples
            seen += b
            yield CompareUpdate(i, b, seen, *_zeros(plan), progress=_progress(plan, seen, i), skipped=b)
            continue
        fa, fb = _forward(plan.model_a, plan.model_b, plan.layers_a, plan.layers_b, plan.same, x)
        _check_finite(fa, plan.layers_a, "model_a", i)
        if not plan.same:
            _check_finite(fb, plan.layers_b, arg_b, i)
        ga = _centred_grams(fa, plan.kernel, plan.threshold).reshape(len(fa), -1)
        gb = ga if plan.same else _centred_grams(fb, plan.kernel, plan.threshold).reshape(len(fb), -1).to(ga.device)
        scale = 1.0 / (b * (b - 3))
        xy = (ga.double() @ gb.double().T).mul_(scale).cpu().numpy()
        xx = (ga.double() ** 2).sum(1).mul_(scale).cpu().numpy()
        yy = xx if plan.same else (gb.double() ** 2).sum(1).mul_(scale).cpu().numpy()
        seen += b
        grams = None
        if not grams_done:
            take = min(b, plan.gram_samples - kept)
            keep_a.append([f[:take].float() for f in fa])
            keep_b.append([] if plan.same else [f[:take].float() for f in fb])
            keep_index.append(idx[:take])
            keep_labels.append(None if lab is None else np.asarray(lab)[:take])
            kept += take
            finished = plan.n_examples is not None and seen >= plan.n_examples
            if kept >= plan.gram_samples or finished:
                grams = _sample_grams(keep_a, keep_b, keep_index, keep_labels, plan.same)
                keep_a, keep_b, keep_index, keep_labels = [], [], [], []
                grams_done = True
        yield CompareUpdate(i, b, seen, xy, xx, yy, progress=_progress(plan, seen, i), grams=grams)
    if not grams_done and keep_index:  # data of unknown length ended before gram_samples examples
        yield CompareUpdate(-1, 0, seen, *_zeros(plan), progress=1.0,
                            grams=_sample_grams(keep_a, keep_b, keep_index, keep_labels, plan.same))


def _zeros(plan: ComparePlan):
    la, lb = plan.shape
    return np.zeros((la, lb)), np.zeros(la), np.zeros(lb)


def _progress(plan: ComparePlan, seen: int, i: int) -> float | None:
    if plan.n_examples:
        return min(1.0, seen / plan.n_examples)
    if plan.n_batches:
        return min(1.0, (i + 1) / plan.n_batches)
    return None


def _sample_grams(keep_a, keep_b, keep_index, keep_labels, same):
    """Centred linear Gram ``HKH`` of each layer on the kept examples (what linear CKA compares)."""

    def grams(chunks):
        feats = [torch.cat([c[j] for c in chunks]) for j in range(len(chunks[0]))]
        out = []
        for f in feats:
            f = f - f.mean(0, keepdim=True)
            out.append((f @ f.T).cpu())
        return out

    ga = grams(keep_a)
    gb = ga if same else grams(keep_b)
    labels = None if any(v is None for v in keep_labels) else np.concatenate(keep_labels)
    return ga, gb, np.concatenate(keep_index), labels


@dataclass
class CompareRecord:
    """Minibatch CKA between every layer of model A (rows) and every layer of model B (columns).

    ``values[i, j]`` is the CKA of ``layers_a[i]`` with ``layers_b[j]`` (NaN for a layer that was constant on
    every batch), ``se`` its jackknife standard error over batches. ``grams_a``/``grams_b`` are each layer's
    centred linear Gram matrix on the first ``gram_samples`` examples (``gram_index`` says which, ``gram_labels``
    their labels when known): the sample-affinity matrices a view opens when a cell is clicked.
    """

    values: torch.Tensor
    se: torch.Tensor
    layers_a: list[str]
    layers_b: list[str]
    params: dict = field(default_factory=dict)
    grams_a: list[torch.Tensor] | None = None
    grams_b: list[torch.Tensor] | None = None
    gram_index: np.ndarray | None = None
    gram_labels: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.values.shape)

    @property
    def examples(self) -> int:
        return int(self.params.get("examples", 0))


class CompareAccumulator:
    """Folds per-batch HSIC values into the running layer x layer CKA matrix."""

    def __init__(self, plan: ComparePlan) -> None:
        self.plan = plan
        la, lb = plan.shape
        self.sum_xy = np.zeros((la, lb))
        self.sum_xx = np.zeros(la)
        self.sum_yy = np.zeros(lb)
        self.batch_xy: list[np.ndarray] = []
        self.batch_xx: list[np.ndarray] = []
        self.batch_yy: list[np.ndarray] = []
        self.values = torch.full((la, lb), float("nan"), dtype=torch.float64)
        self.examples_seen = 0
        self.examples_used = 0
        self.batches = 0
        self.grams_a: list[torch.Tensor] | None = None
        self.grams_b: list[torch.Tensor] | None = None
        self.gram_index: np.ndarray | None = None
        self.gram_labels: np.ndarray | None = None

    @property
    def rows_done(self) -> int:
        """All rows once a batch is in (every cell is a running estimate), none before."""
        return self.plan.shape[0] if self.batches else 0

    def add(self, u: CompareUpdate) -> None:
        self.examples_seen = u.examples_seen
        if u.grams is not None:
            self.grams_a, self.grams_b, self.gram_index, self.gram_labels = u.grams
        if u.examples == 0 or u.skipped:
            return
        self.examples_used += u.examples
        self.batches += 1
        self.sum_xy += u.hsic_xy
        self.sum_xx += u.hsic_xx
        self.sum_yy += u.hsic_yy
        self.batch_xy.append(u.hsic_xy)
        self.batch_xx.append(u.hsic_xx)
        self.batch_yy.append(u.hsic_yy)
        self.values.copy_(torch.from_numpy(self.current()))

    def current(self) -> np.ndarray:
        denom = np.outer(self.sum_xx, self.sum_yy)
        with np.errstate(divide="ignore", invalid="ignore"):
            cka = self.sum_xy / np.sqrt(denom)
        cka[~(denom > 0)] = np.nan  # a layer constant on every batch: CKA is 0/0
        return cka

    def se(self) -> np.ndarray:
        if len(self.batch_xy) < 2:
            return np.full(self.plan.shape, np.nan)
        xy = np.stack(self.batch_xy)
        xx = np.stack(self.batch_xx)[:, :, None]
        yy = np.stack(self.batch_yy)[:, None, :]
        return _jackknife_matrix(xy, xx, yy)

    def result(self) -> CompareRecord:
        if self.batches == 0:
            raise RuntimeError("no batch of 4 or more examples was seen; CKA needs at least one")
        params = dict(self.plan.params)
        params.update(examples=self.examples_seen, examples_used=self.examples_used, batches=self.batches,
                      se_method="jackknife over batches")
        return CompareRecord(values=torch.from_numpy(self.current()), se=torch.from_numpy(self.se()),
                             layers_a=list(self.plan.layers_a), layers_b=list(self.plan.layers_b), params=params,
                             grams_a=self.grams_a, grams_b=self.grams_b, gram_index=self.gram_index,
                             gram_labels=self.gram_labels)


def _jackknife_matrix(xy: np.ndarray, xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
    b = xy.shape[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        loo = (xy.sum(0) - xy) / np.sqrt((xx.sum(0) - xx) * (yy.sum(0) - yy))
        return np.sqrt((b - 1) / b * ((loo - loo.mean(0)) ** 2).sum(0))

