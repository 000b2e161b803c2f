"""``fx.compare``: the layer x layer CKA matrix of one or two networks, filling in batch by batch."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .compute.compare import CompareAccumulator, iter_compare, plan_compare
from .runtime import Job

__all__ = ["CompareResult", "compare"]


@dataclass
class CompareResult:
    """Minibatch CKA between every layer of model A (rows) and every layer of model B (columns).

    ``values[i, j]`` is the CKA of ``layers_a[i]`` with ``layers_b[j]`` (NaN for a layer that was constant on
    every batch), ``se`` its jackknife standard error over batches. ``grams_a``/``grams_b`` are each layer's
    centred linear Gram matrix on the first ``gram_samples`` examples (``gram_index`` says which, ``gram_labels``
    their labels when known): the sample-affinity matrices the view opens when a cell is clicked.
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

    def numpy(self) -> np.ndarray:
        return self.values.numpy()

    def to_dict(self) -> dict:
        return {"values": self.numpy(), "se": self.se.numpy(), "layers_a": list(self.layers_a),
                "layers_b": list(self.layers_b), "params": dict(self.params)}

    def show(self, **kwargs: Any):
        """The layer x layer heatmap; clicking a cell opens the two layers' Gram matrices side by side."""
        from .widgets.similarity import LayerComparison

        return LayerComparison(self, **kwargs)

    def plot(self, ax=None, *, cmap: str = "viridis", title: str | None = None, colorbar: bool = True):
        import matplotlib.pyplot as plt

        if ax is None:
            fig, ax = plt.subplots(figsize=(5, 4.2))
        else:
            fig = ax.figure
        im = ax.imshow(self.numpy(), cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
        ax.set_xticks(range(len(self.layers_b)), self.layers_b, rotation=90)
        ax.set_yticks(range(len(self.layers_a)), self.layers_a)
        ax.set_xlabel("model B layer" if not self.params.get("same_model") else "layer")
        ax.set_ylabel("model A layer" if not self.params.get("same_model") else "layer")
        ax.set_title(title if title is not None else f"CKA over {self.examples} examples")
        if colorbar:
            fig.colorbar(im, ax=ax, label="CKA")
        return fig

    def __repr__(self) -> str:
        return (f"CompareResult(shape={self.shape}, examples={self.examples}, layers_a={self.layers_a}, "
                f"layers_b={self.layers_b})")


def _compare_view(job: Job, **kwargs: Any):
    from .widgets.similarity import LayerComparison

    return LayerComparison(job, **kwargs)


def compare(
    model_a: torch.nn.Module,
    model_b: torch.nn.Module | None = None,
    data: Any = None,
    *,
    layers: Any = None,
    layers_b: Any = None,
    labels: Any = None,
    batch_size: int = 64,
    kernel: str = "linear",
    threshold: float = 1.0,
    shuffle: bool = True,
    seed: int = 0,
    gram_samples: int = 256,
    stream: bool = False,
) -> CompareResult | Job:
    """Minibatch CKA between the layers of ``model_a`` and those of ``model_b`` (or ``model_a`` again).

    Parameters
    ----------
    model_a, model_b:
        torch modules; ``model_b=None`` compares ``model_a``'s layers with each other. Both run in eval mode
        under ``torch.no_grad()`` (their train/eval flags are restored afterwards), each on its own device.
    data:
        Inputs: a tensor/array whose first dimension is the examples (batched here, shuffled with ``seed`` when
        ``shuffle``), or an iterable of batches such as a DataLoader (a batch may be ``(inputs, labels, ...)``;
        the labels then sort the Gram matrices in the view).
    layers, layers_b:
        Module names (``dict(model.named_modules())`` keys). Default: every leaf module; ``layers_b`` defaults to
        ``layers`` when model B has those names. An unknown name raises with the list of valid ones.
    labels:
        One label per example (tensor/array data) to sort the sample-affinity matrices by.
    batch_size:
        Examples per forward pass and per CKA minibatch (at least 4; a remainder under 4 joins the last batch).
    kernel, threshold:
        ``"linear"`` or ``"rbf"`` Grams per batch (RBF bandwidth = ``threshold`` x the batch's median distance).
    gram_samples:
        How many of the first examples keep their per-layer Gram matrix for the view (0: none).
    stream:
        ``True`` starts a background :class:`~fxwidgets.runtime.Job` at once; ``job.show()`` is the live view (the
        matrix fills in batch by batch, with the number of examples seen), ``job.result()`` the
        :class:`CompareResult`.
    """
    plan = plan_compare(model_a, model_b, data, layers=layers, layers_b=layers_b, labels=labels,
                        batch_size=batch_size, kernel=kernel, threshold=threshold, shuffle=shuffle, seed=seed,
                        gram_samples=gram_samples)
    accumulator = CompareAccumulator(plan)
    if stream:
        return Job(iter_compare(plan), accumulator, name="compare-cka", view_factory=_compare_view, params=plan.params)
    for update in iter_compare(plan):
        accumulator.add(update)
    return accumulator.result()
