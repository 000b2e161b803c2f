"""How much memory a result may take, per device, so an impossible request fails before it starts."""

from __future__ import annotations

import os

import torch

#: Share of the device's available memory that one result may claim by default: half leaves room for the
#: model, the inputs and whatever else the kernel holds.
DEFAULT_SHARE = 0.5

#: Bytes of scratch space one tile (a block of an affinity matrix, a chunk of model rows) may take. 32 MiB
#: keeps a tile inside a CPU's last-level cache neighbourhood and is far below any GPU's memory, while being
#: large enough that per-tile overhead (a Python loop step, a kernel launch) stays under a few percent.
TILE_BYTES = 32 * 2**20


class Options:
    """Package-wide settings: ``fxwidgets.options.memory_budget = 2 * 2**30`` caps any single result."""

    memory_budget: int | None = None


options = Options()


def available_bytes(device: torch.device) -> int:
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"))


def budget_bytes(device: torch.device) -> int:
    if options.memory_budget is not None:
        return int(options.memory_budget)
    return int(available_bytes(device) * DEFAULT_SHARE)


#: What lowers the need of a dense N x M matrix (the affinity's own knob), the default advice of ``check_fits``.
DENSE_MATRIX_HINT = "use fewer rows, or a k-NN graph instead of the dense matrix"


def check_fits(nbytes: int, what: str, device: torch.device, *, hint: str | None = None) -> None:
    """Raise ``MemoryError`` before work when ``what`` needs more than the budget: the need, the budget, the setting
    that sets it, and ``hint`` (the knob or change that lowers the need; None: :data:`DENSE_MATRIX_HINT`)."""
    budget = budget_bytes(device)
    if nbytes > budget:
        raise MemoryError(
            f"{what} needs {nbytes / 2**30:.2f} GiB on {device}, over the memory budget of {budget / 2**30:.2f} GiB "
            "(fxwidgets.options.memory_budget, default half the available memory); "
            + (hint if hint is not None else DENSE_MATRIX_HINT)
        )
