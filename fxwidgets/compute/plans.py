"""What plans over one batch of inputs share: the batch's size, device and dtype, read off its tensor."""

from __future__ import annotations

from typing import ClassVar

import torch


class BatchPlan:
    """Mixin of a dataclass plan over one batch-first tensor, the field that ``batch_field`` names: ``batch`` is
    its number of rows; ``device`` and ``dtype`` are its own (work follows the input's device and dtype)."""

    batch_field: ClassVar[str]

    @property
    def batch(self) -> int:
        return getattr(self, self.batch_field).shape[0]

    @property
    def device(self) -> torch.device:
        return getattr(self, self.batch_field).device

    @property
    def dtype(self) -> torch.dtype:
        return getattr(self, self.batch_field).dtype
