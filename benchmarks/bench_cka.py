"""Layer x layer minibatch CKA: fx.compare vs torch-cka and ckatorch, same models, same batches, same CPU.

    .venv/bin/python benchmarks/bench_cka.py [--n 1024] [--batch 256] [--repeats 3]

The anchors are test/benchmark dependencies: ``pip install ckatorch torch-cka`` (both leave an installed torch
alone). Protocol (research notes, section 13 item 4, scaled down to a CPU): two small CNNs from different seeds,
the same float32 inputs in the same batch order, minibatch linear CKA with the unbiased HSIC for every pair of
layers; one warm-up run, then the median of ``--repeats`` runs; the matrices must agree (max |difference| is
printed). Ratios are anchor time / fxwidgets time. With a GPU, fxwidgets' own CUDA time is printed separately
(never as GPU-vs-anchor-CPU).

- torch-cka: ``CKA(model1, model2, model1_layers, model2_layers).compare(loader)``, its own hooks and loop
  (it loops over layer pairs and recomputes HSIC(L, L) inside the inner loop).
- ckatorch: its ``CKA`` class cannot take 2-D/4-D layer outputs (its ``cka_batch`` expects (batches, n, features)
  and the class passes one batch at a time), so it is timed as its documented building block: features of every
  batch collected with forward hooks, then ``ckatorch.cka_batch`` for each pair of layers over the stacked batches.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import time
import warnings

os.environ.setdefault("TQDM_DISABLE", "1")  # the anchors' progress bars

import torch

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


def _sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timed_round_robin(fns: dict, repeats: int) -> dict:
    """Median time and last output of each function, run in turns (one warm-up each first) so that a change
    in the machine's load during the benchmark affects every contender alike."""
    outs, times = {}, {name: [] for name in fns}
    for name, fn in fns.items():
        outs[name] = fn()  # warm-up
    for _ in range(repeats):
        for name, fn in fns.items():
            _sync()
            t0 = time.perf_counter()
            outs[name] = fn()
            _sync()
            times[name].append(time.perf_counter() - t0)
    return {name: (statistics.median(times[name]), outs[name]) for name in fns}


def run_fx(a, b, x, batch, device="cpu"):
    return fx.compare(a.to(device), b.to(device), x, layers=LAYERS, batch_size=batch, shuffle=False,
                      gram_samples=0).values


def run_torch_cka(a, b, x, batch):
    from torch_cka import CKA

    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x), batch_size=batch, shuffle=False)
    # torch-cka never removes its hooks: give it fresh copies each run.
    cka = CKA(copy.deepcopy(a), copy.deepcopy(b), model1_layers=LAYERS, model2_layers=LAYERS, device="cpu")
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--size", type=int, default=16, help="image side (3 x size x size inputs)")
    args = ap.parse_args()
    if args.n % args.batch:
        raise SystemExit("--n must be a multiple of --batch (the anchors drop or pad a remainder differently)")
    torch.manual_seed(0)
    x = torch.randn(args.n, 3, args.size, args.size)
    a, b = cnn(0), cnn(1)
    print(f"two CNNs, {len(LAYERS)} x {len(LAYERS)} layers, {args.n} inputs 3x{args.size}x{args.size}, "
          f"batch {args.batch}, torch {torch.__version__}, {torch.get_num_threads()} CPU threads, "
          f"median of {args.repeats}")
    fns = {"fxwidgets fx.compare (CPU)": lambda: run_fx(a, b, x, args.batch)}
    for name, fn, module in (("torch-cka CKA.compare", run_torch_cka, "torch_cka"),
                             ("ckatorch cka_batch (float64)", run_ckatorch, "ckatorch")):
        try:
            __import__(module)
        except ImportError:
            print(f"  {name:30s}  not installed: pip install ckatorch torch-cka")
            continue
        fns[name] = lambda fn=fn: fn(a, b, x, args.batch)
    results = timed_round_robin(fns, args.repeats)
    t_fx, v_fx = results.pop("fxwidgets fx.compare (CPU)")
    # ckatorch computes in float64: it is the reference the matrices are checked against.
    ref = results.get("ckatorch cka_batch (float64)", (None, None))[1]

    def err(v):
        if ref is None:
            return "no float64 reference"
        finite = torch.isfinite(v)
        d = float((v.double() - ref.double())[finite].abs().max()) if finite.any() else float("nan")
        nan = f", {int((~finite).sum())} of {v.numel()} cells NaN" if not finite.all() else ""
        return f"max |CKA - float64 reference| {d:.1e}{nan}"

    print(f"  {'fxwidgets fx.compare (CPU)':30s}  {t_fx * 1000:8.1f} ms                  {err(v_fx)}")
    for name, (t, v) in results.items():
        print(f"  {name:30s}  {t * 1000:8.1f} ms   ratio {t / t_fx:5.1f}x   {err(v)}")
    if torch.cuda.is_available():
        t_gpu, v_gpu = timed_round_robin({"gpu": lambda: run_fx(a, b, x, args.batch, "cuda")}, args.repeats)["gpu"]
        diff = float((v_gpu.double().cpu() - v_fx.double()).abs().max())
        print(f"  fxwidgets fx.compare (CUDA, {torch.cuda.get_device_name()}) {t_gpu * 1000:8.1f} ms   "
              f"CPU/GPU {t_fx / t_gpu:5.1f}x   max |difference| {diff:.1e}")
    else:
        print("  (no CUDA device: no GPU figure)")
    if ref is not None:
        assert float((v_fx.double() - ref.double()).abs().max()) < 1e-4, "fxwidgets disagrees with ckatorch"

if __name__ == "__main__":
    main()
