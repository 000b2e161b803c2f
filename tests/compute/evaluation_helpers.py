"""Small models, explanation functions and a replaying perturb_func shared by the evaluation tests."""

import torch


def small_cnn(dtype=torch.float64) -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 6, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(6, 6, 3, padding=1), torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(2), torch.nn.Flatten(), torch.nn.Linear(24, 5)).eval().to(dtype)


def input_x_gradient(model, inputs, target):
    """x * df/dx at the target: an explain_func(model, inputs, target) that also takes numpy (for Quantus) and
    works under torch.no_grad (Captum calls its explanation_func there)."""
    x = torch.as_tensor(inputs)
    if not x.dtype.is_floating_point:
        x = x.float()
    t = torch.as_tensor(target).long()
    with torch.enable_grad():
        x = x.detach().clone().requires_grad_(True)
        out = model(x).gather(1, t[:, None]).sum()
        (g,) = torch.autograd.grad(out, x)
    return (g * x).detach()


def gradient(model, inputs, target):
    x = torch.as_tensor(inputs)
    t = None if target is None else torch.as_tensor(target).long()
    with torch.enable_grad():
        x = x.detach().clone().requires_grad_(True)
        out = model(x)
        out = out.gather(1, t[:, None]) if t is not None else out
        (g,) = torch.autograd.grad(out.sum(), x)
    return g.detach()


class Queue:
    """A perturb_func that hands out prepared perturbations in the order it is called, so that fxwidgets and an
    anchor that visit rows in the same order see the same perturbed inputs. ``kind``: 'pair' returns
    (perturbation, perturbed) with perturbed = x - perturbation (Captum infidelity); 'mask' returns
    (mask, x with the mask set to the baseline); 'add' returns x + noise (Captum sensitivity)."""

    def __init__(self, table: torch.Tensor, kind: str) -> None:
        self.table, self.kind, self.pos = table, kind, 0

    def __call__(self, inputs, baselines=None):
        k = inputs.shape[0]
        t = self.table[self.pos:self.pos + k].to(inputs.dtype)
        self.pos += k
        if self.kind == "pair":
            return t, inputs - t
        if self.kind == "mask":
            return t, torch.where(t.bool(), baselines, inputs)
        return inputs + t
