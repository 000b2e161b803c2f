"""Layer x layer minibatch CKA: fx.compare vs torch-cka and ckatorch, same models, same batches, same CPU.

    .venv/bin/python benchmarks/bench_cka.py [--n 1024] [--batch 256] [--repeats 3]

The anchors are test/benchmark dependencies: ``pip install ckatorch torch-cka`` (both leave an installed torch
alone). Protocol (research notes, section 13 item 4, scaled down to a CPU): two small CNNs from different seeds,
the same float32 inputs in the same batch order, minibatch linear CKA with the unbiased HSIC for every pair of
layers; one warm-up run, then the median of ``--repeats`` runs; the matrices must agree (max |difference| is
printed). Ratios are anchor time / fxwidgets time. With a GPU, fxwidgets and the anchors run again, all on the GPU
(never GPU against an anchor's CPU).

- torch-cka: ``CKA(model1, model2, model1_layers, model2_layers).compare(loader)``, its own hooks and loop
  (it loops over layer pairs and recomputes HSIC(L, L) inside the inner loop).
- ckatorch: its ``CKA`` class cannot take 2-D/4-D layer outputs (its ``cka_batch`` expects (batches, n, features)
  and the class passes one batch at a time), so it is timed as its documented building block: features of every
  batch collected with forward hooks, then ``ckatorch.cka_batch`` for each pair of layers over the stacked batches.
"""

from __future__ import annotations

import copy
import os
import warnings

os.environ.setdefault("TQDM_DISABLE", "1")  # the anchors' progress bars

import torch
from common import Row, bench_parser, devices, interleaved, missing, print_table, sync_for

import fxwidgets as fx

warnings.filterwarnings("ignore")


def cnn(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU(),
        torch.nn.Conv2d(16, 32, 3, stride=2, padding=1), torch.nn.ReLU(),
        torch.nn.Conv2d(32, 32, 3, padding=1), torch.nn.ReLU(),
        torch.nn.Conv2d(32, 64, 3, stride=2, padding=1), torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(64, 10),
    ).eval()


LAYERS = ["1", "3", "5", "7", "8", "10"]


def run_fx(a, b, x, batch, device="cpu"):
    return fx.compare(a.to(device), b.to(device), x, layers=LAYERS, batch_size=batch, shuffle=False,
                      gram_samples=0).values


def run_torch_cka(a, b, x, batch):
    from torch_cka import CKA

    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x), batch_size=batch, shuffle=False)
    # torch-cka never removes its hooks: give it fresh copies each run.
    cka = CKA(copy.deepcopy(a), copy.deepcopy(b), model1_layers=LAYERS, model2_layers=LAYERS, device=str(x.device))
    try:
        cka.compare(loader)
    except AssertionError:
        # "HSIC computation resulted in NANs": its float32 HSIC of uncentred Grams cancels to a negative
        # HSIC(K, K) for ReLU layers (AntixK/PyTorch-Model-Compare#2, #4, #6, #10). The work was done; keep
        # the matrix, NaNs included, so the finite cells can still be compared.
        pass
    return cka.hsic_matrix.double()


def run_ckatorch(a, b, x, batch):
    import ckatorch

    def features(model):
        store = {n: [] for n in LAYERS}
        mods = dict(model.named_modules())
        hs = [mods[n].register_forward_hook(lambda m, i, o, n=n: store[n].append(o.detach().flatten(1)))
              for n in LAYERS]
        with torch.no_grad():
            for xb in x.split(batch):
                model(xb)
        for h in hs:
            h.remove()
        return [torch.stack(store[n]) for n in LAYERS]

    fa, fb = features(a), features(b)
    return torch.tensor([[float(ckatorch.cka_batch(p, q)) for q in fb] for p in fa])


ANCHORS = (("torch-cka CKA.compare", run_torch_cka, "torch_cka", "torch-cka"),
           ("ckatorch cka_batch (float64)", run_ckatorch, "ckatorch", "ckatorch"))


def max_diff(v: torch.Tensor, ref: torch.Tensor) -> tuple[float, str]:
    """Largest |difference| over the cells both have finite, and a note on NaN cells."""
    v, ref = v.double().cpu(), ref.double().cpu()
    finite = torch.isfinite(v) & torch.isfinite(ref)
    d = float((v - ref)[finite].abs().max()) if finite.any() else float("nan")
    nan = "" if finite.all() else f"{int((~finite).sum())} of {v.numel()} cells NaN"
    return d, nan


def rows(n: int = 1024, batch: int = 256, repeats: int = 3, size: int = 16, device: str | None = None) -> list[Row]:
    """fx.compare against each CKA anchor, same models, batches and device; agreement: max |fx - anchor| over the
    layer x layer matrix (ckatorch computes in float64)."""
    if n % batch:
        raise ValueError("n must be a multiple of batch (the anchors drop or pad a remainder differently)")
    torch.manual_seed(0)
    x_cpu = torch.randn(n, 3, size, size)
    what, shape = f"minibatch CKA {len(LAYERS)}x{len(LAYERS)} layers", f"N={n} 3x{size}x{size} batch={batch}"
    out: list[Row] = []
    for dev in devices(device):
        a, b, x = cnn(0).to(dev), cnn(1).to(dev), x_cpu.to(dev)
        fns = {"fx": lambda: run_fx(a, b, x, batch, dev)}
        for label, fn, module, pip in ANCHORS:
            why = missing(module, pip)
            if why:
                out.append(Row("CKA", what, label, shape, device=dev, note=why))
                continue
            fns[label] = lambda fn=fn: fn(a, b, x, batch)
        res: dict = {}
        t = interleaved(fns, repeats, sync_for(dev), outputs=res)
        for label in fns:
            if label == "fx":
                continue
            d, nan = max_diff(res["fx"], res[label])
            out.append(Row("CKA", what, label, shape, t["fx"], t[label], d, "max abs diff", device=dev, note=nan))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = bench_parser(__doc__, n=1024, batch=256, repeats=3, device=None)
    parser.add_argument("--size", type=int, default=16, help="image side (3 x size x size inputs)")
    args = parser.parse_args(argv)
    result = rows(args.n, args.batch, args.repeats, args.size, args.device)
    print_table(result, f"two CNNs, linear CKA (unbiased HSIC), torch {torch.__version__}, median of {args.repeats} "
                        "interleaved rounds")
    for r in result:
        if r.anchor.startswith("ckatorch") and r.agree is not None:
            assert r.agree < 1e-4, "fxwidgets disagrees with ckatorch"


if __name__ == "__main__":
    main()
