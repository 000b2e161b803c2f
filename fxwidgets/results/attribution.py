"""AttributionResult: attribution values plus what produced them and how far they can be trusted."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..compute.attribution import AttributionRecord
from .base import Result, new_axes, show_matrix, to_numpy


class AttributionResult(AttributionRecord, Result):
    """Attributions for a batch of inputs.

    ``values`` has the inputs' shape (Grad-CAM: (B, H, W) maps; concepts: (B, k, H, W) heat maps).
    Feature-group methods (ablation, Shapley) also give ``features`` (B, n_features). Sampling methods give
    ``stderr`` (the standard error of each value). ``diagnostics`` holds the completeness or efficiency gap,
    the base value f(baseline) and the output f(x) where the method has them.
    ``show(inputs)`` is the interactive :class:`~fxwidgets.AttributionView`.
    """

    @property
    def device(self) -> torch.device:
        return self.values.device

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.values.shape)

    @property
    def interactions(self) -> torch.Tensor | None:
        return self.extras.get("interactions")

    @property
    def completeness_gap(self) -> list | None:
        return self.diagnostics.get("completeness_gap", self.diagnostics.get("efficiency_gap"))

    @property
    def base_value(self) -> list | None:
        return self.diagnostics.get("base_value", self.diagnostics.get("baseline_output"))

    @property
    def output(self) -> list | None:
        return self.diagnostics.get("output")

    def numpy(self) -> np.ndarray:
        return to_numpy(self.values)

    def to_dict(self) -> dict:
        return {"method": self.method, "params": dict(self.params), "seed": self.seed, "target": self.target,
                "values": self.numpy(), "stderr": to_numpy(self.stderr), "features": to_numpy(self.features),
                "diagnostics": dict(self.diagnostics), **{k: to_numpy(v) for k, v in self.extras.items()}}

    def plot(self, index: int = 0, ax=None, *, cmap: Any = "RdBu_r", vmin: float | None = None,
             vmax: float | None = None, center: float | None = 0.0, title: str | None = None):
        """A static matplotlib figure of one row's attributions (image-like values as an image, else bars).

        Images: channels summed; ``cmap`` any matplotlib colour map (name or object); by default the colours
        are centred on 0 (``center=0.0``: the range is symmetric, ``±max|value|``), ``center=None`` with
        ``vmin``/``vmax`` as matplotlib (default: the data's range).
        """
        n = self.values.shape[0]
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < n:
            raise ValueError(f"index must be an integer in 0..{n - 1}, got {index!r}")
        v = self.numpy()[index]
        fig, ax = new_axes(ax, (5, 4))
        if v.ndim >= 2:
            img = v if v.ndim == 2 else v.reshape(-1, *v.shape[-2:]).sum(0)
            if center is not None and vmin is None and vmax is None and not np.any(img[np.isfinite(img)]):
                vmin, vmax = -1.0, 1.0  # an all-zero map: a readable range instead of a zero-width one
            im = show_matrix(ax, img, cmap=cmap, vmin=vmin, vmax=vmax, center=center)
            fig.colorbar(im, ax=ax)
        else:
            vals = self.features[index].cpu().numpy() if self.features is not None else v
            ax.barh(np.arange(len(vals)), vals, color=["#c0392b" if a > 0 else "#2e86c1" for a in vals])
            ax.invert_yaxis()
        ax.set_title(title if title is not None else self.method)
        return fig

    def __repr__(self) -> str:
        diag = {k: self.diagnostics[k] for k in ("max_abs_completeness_gap", "max_abs_efficiency_gap", "mean_stderr")
                if k in self.diagnostics}
        return (f"AttributionResult(method={self.method!r}, shape={self.shape}, device={self.device}, "
                f"seed={self.seed}, diagnostics={diag})")
