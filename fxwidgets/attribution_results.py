"""AttributionResult: attribution values plus what produced them and how far they can be trusted."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch


@dataclass
class AttributionResult:
    """Attributions for a batch of inputs.

    ``values`` has the inputs' shape (Grad-CAM: (B, H, W) maps; concepts: (B, k, H, W) heat maps).
    Feature-group methods (ablation, Shapley) also give ``features`` (B, n_features). Sampling methods give
    ``stderr`` (the standard error of each value). ``diagnostics`` holds the completeness or efficiency gap,
    the base value f(baseline) and the output f(x) where the method has them.
    """

    values: torch.Tensor
    method: str
    params: dict = field(default_factory=dict)
    seed: int | None = None
    target: list | None = None
    stderr: torch.Tensor | None = None
    features: torch.Tensor | None = None
    diagnostics: dict = field(default_factory=dict)
    extras: dict = field(default_factory=dict)

    @classmethod
    def from_step(cls, plan: Any, step: Any) -> AttributionResult:
        return cls(values=step.values, method=plan.method, params=dict(plan.params), seed=plan.seed,
                   target=None if plan.target is None else plan.target.cpu().tolist(),
                   stderr=step.stderr, features=step.features, diagnostics=dict(step.diagnostics),
                   extras=dict(step.extras))

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
        return self.values.detach().cpu().numpy()

    def to_dict(self) -> dict:
        def conv(v):
            return v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else v

        return {"method": self.method, "params": dict(self.params), "seed": self.seed, "target": self.target,
                "values": self.numpy(), "stderr": conv(self.stderr), "features": conv(self.features),
                "diagnostics": dict(self.diagnostics), **{k: conv(v) for k, v in self.extras.items()}}

    def show(self, inputs: Any = None, **kwargs: Any):
        """The interactive view (image overlay, text tokens or tabular waterfall)."""
        from .widgets.attribution import AttributionView

        return AttributionView(self, inputs=inputs, **kwargs)

    def plot(self, index: int = 0, ax=None, *, cmap: str = "RdBu_r", title: str | None = None):
        """A static matplotlib figure of one row's attributions (image-like values as an image, else bars)."""
        import matplotlib.pyplot as plt

        v = self.numpy()[index]
        if ax is None:
            fig, ax = plt.subplots(figsize=(5, 4))
        else:
            fig = ax.figure
        if v.ndim >= 2:
            img = v if v.ndim == 2 else v.sum(0)
            lim = float(np.abs(img).max()) or 1.0
            im = ax.imshow(img, cmap=cmap, vmin=-lim, vmax=lim)
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
