"""Scaling curves: time and peak memory against N (or d) for fxwidgets and its anchors, as log-log PNGs.

    python benchmarks/curves.py [--quick] [--device cuda] [--only affinity,knn]

Families (x axis; contenders):
- affinity (N rows, D = 256; cosine): fx.affinity, bare torch normalise + matmul, scikit-learn cosine_similarity
- knn (N rows, D = 64, k = 10, every row queried): fx.knn, scikit-learn brute (cosine), faiss IndexFlatIP
- cka (N inputs, batch 128; 6 x 6 layers of two CNNs): fx.compare, ckatorch cka_batch
- shapley (d features of an MLP, 4 rows, 32 permutations): fx shapley_permutation, Captum ShapleyValueSampling
- relieff (N rows, d = 20, 10 neighbours): fx.select("relieff"), skrebate ReliefF

At each size the contenders are timed interleaved (one warm-up each, median of the rounds, common.interleaved) and
their peak memory is measured one call at a time (common.peak_bytes: the resident high-water mark above what was
held before the call on the CPU, torch.cuda.max_memory_allocated on a GPU). Writes docs/images/bench-<family>.png
(time and peak memory panels, the machine in the title) and the curve data into benchmarks/results/bench.json
under "curves" (the rows run_all.py wrote stay). An anchor that is not installed is left out of its plot.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import numpy as np
import torch
from common import (
    cpu_name,
    device_name,
    interleaved,
    machine,
    missing,
    peak_bytes,
    pin_threads,
    sync_for,
)

import fxwidgets as fx

IMAGES = HERE.parent / "docs" / "images"
RESULTS = HERE / "results" / "bench.json"


# Each family: (x label, sizes, sizes with --quick, make(size, device) -> {contender: callable}).
def affinity(n: int, device: str) -> dict:
    X_np = np.random.default_rng(0).standard_normal((n, 256)).astype(np.float32)
    X = torch.from_numpy(X_np).to(device)

    def bare():
        Xn = torch.nn.functional.normalize(X, dim=1)
        return Xn @ Xn.T

    fns = {"fx.affinity": lambda: fx.affinity(X, metric="cosine").values, "bare torch matmul": bare}
    if device == "cpu":
        from sklearn.metrics.pairwise import cosine_similarity

        fns["scikit-learn cosine_similarity"] = lambda: cosine_similarity(X_np)
    return fns


def knn(n: int, device: str) -> dict:
    X = np.random.default_rng(0).standard_normal((n, 64)).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    Xt = torch.from_numpy(X).to(device)
    fns = {"fx.knn": lambda: fx.knn(Xt, 10, metric="dot", Y=Xt).indices}
    if device == "cpu":
        from sklearn.neighbors import NearestNeighbors

        fns["scikit-learn brute"] = lambda: NearestNeighbors(n_neighbors=10, algorithm="brute", metric="cosine",
                                                             n_jobs=torch.get_num_threads()).fit(X).kneighbors(X)
        if not missing("faiss"):
            import faiss

            faiss.omp_set_num_threads(torch.get_num_threads())

            def flat():
                index = faiss.IndexFlatIP(64)
                index.add(X)
                return index.search(X, 10)

            fns["faiss IndexFlatIP"] = flat
    return fns


def cka(n: int, device: str) -> dict:
    import bench_cka

    torch.manual_seed(0)
    x = torch.randn(n, 3, 16, 16, device=device)
    a, b = bench_cka.cnn(0).to(device), bench_cka.cnn(1).to(device)
    fns = {"fx.compare": lambda: bench_cka.run_fx(a, b, x, 128, device)}
    if not missing("ckatorch"):
        fns["ckatorch cka_batch"] = lambda: bench_cka.run_ckatorch(a, b, x, 128)
    return fns


def shapley(d: int, device: str) -> dict:
    torch.manual_seed(0)
    mlp = torch.nn.Sequential(torch.nn.Linear(d, 64), torch.nn.Tanh(), torch.nn.Linear(64, 1)).eval().to(device)
    x = torch.randn(4, d, device=device)
    base = torch.zeros(d, device=device)
    fns = {"fx shapley_permutation": lambda: fx.attribute(mlp, x, method="shapley_permutation", baseline=base,
                                                          n_permutations=32, seed=1).features}
    if not missing("captum"):
        import captum.attr

        svs = captum.attr.ShapleyValueSampling(lambda z: mlp(z)[:, 0])
        fns["Captum ShapleyValueSampling"] = lambda: svs.attribute(x, baselines=base[None], n_samples=32,
                                                                   perturbations_per_eval=64)
    return fns


def relieff(n: int, device: str) -> dict:
    from bench_selection import data

    X, y = data(n, 20)
    X64 = X.astype(np.float64)
    Xt = torch.from_numpy(X64).to(device)
    fns = {"fx.select relieff": lambda: fx.select(Xt, y, "relieff", n_neighbors=10).scores}
    if device == "cpu" and not missing("skrebate"):
        from skrebate import ReliefF

        fns["skrebate ReliefF"] = lambda: ReliefF(n_neighbors=10, n_features_to_select=5).fit(X64, y)
    return fns


FAMILIES = {
    "affinity": ("N (rows, D = 256)", [1024, 2048, 4096, 8192], [512, 1024, 2048], affinity),
    "knn": ("N (rows, D = 64, k = 10, all rows queried)", [2000, 4000, 8000], [1000, 2000, 4000], knn),
    "cka": ("N (inputs 3x16x16, batch 128)", [256, 512, 1024, 2048], [128, 256], cka),
    "shapley": ("d (features; 4 rows, 32 permutations)", [8, 16, 32, 64], [8, 16, 32], shapley),
    "relieff": ("N (rows, d = 20, 10 neighbours)", [100, 200, 400, 800, 1600], [100, 200], relieff),
}


def measure(name: str, sizes: list[int], device: str, repeats: int) -> dict:
    xlabel, _, _, make = FAMILIES[name]
    sync = sync_for(device)
    curves: dict = {}
    for size in sizes:
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fns = make(size, device)
            times = interleaved(fns, repeats, sync)
            peaks = {who: peak_bytes(fn, device)[0] for who, fn in fns.items()}
        for who in fns:
            c = curves.setdefault(who, {"x": [], "seconds": [], "peak_bytes": []})
            c["x"].append(size)
            c["seconds"].append(times[who])
            c["peak_bytes"].append(peaks[who])
        print(f"  {name} {size:>6}: " + "  ".join(f"{who} {times[who] * 1e3:.1f} ms / {peaks[who] / 2**20:.1f} MiB"
                                                  for who in fns) + f"  ({time.perf_counter() - t0:.0f} s)", flush=True)
    return {"x_label": xlabel, "device": device, "repeats": repeats, "curves": curves,
            "memory": "torch.cuda.max_memory_allocated" if device.startswith("cuda") else "resident high-water mark"}


def plot(name: str, data: dict, title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(10, 4))
    for who, c in data["curves"].items():
        style = {"marker": "o", "linewidth": 2.2 if who.startswith("fx") else 1.4,
                 "linestyle": "-" if who.startswith("fx") else "--"}
        ax_t.plot(c["x"], c["seconds"], label=who, **style)
        ax_m.plot(c["x"], [max(b, 1) / 2**20 for b in c["peak_bytes"]], label=who, **style)
    for ax, ylabel in ((ax_t, "time per call (s, median)"), (ax_m, f"peak memory (MiB, {data['memory']})")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel(data["x_label"])
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
    ax_t.legend(fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer, smaller sizes and one round")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--only", help="comma-separated families: " + ", ".join(FAMILIES))
    ap.add_argument("--threads", type=int)
    ap.add_argument("--repeats", type=int)
    ap.add_argument("--json", default=str(RESULTS), help="the bench.json to add the curves to")
    ap.add_argument("--images", default=str(IMAGES))
    args = ap.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        ap.error("--device cuda: no CUDA device here")
    threads = pin_threads(args.threads)
    repeats = args.repeats or (1 if args.quick else 3)
    chosen = args.only.split(",") if args.only else list(FAMILIES)
    where = device_name(args.device) if args.device == "cuda" else f"{cpu_name()}, {threads} threads"
    out: dict = {}
    t_all = time.perf_counter()
    for name in chosen:
        sizes = FAMILIES[name][2 if args.quick else 1]
        print(f"== curves: {name} on {args.device}", flush=True)
        data = measure(name, sizes, args.device, repeats)
        path = Path(args.images) / f"bench-{name}.png"
        plot(name, data, f"{name}: fxwidgets vs anchors on {where} (torch {torch.__version__}, median of {data['repeats']})",
             path)
        data["image"] = f"docs/images/{path.name}"
        out[name] = data
        print(f"   -> {path}", flush=True)
    doc = json.loads(Path(args.json).read_text()) if Path(args.json).exists() else {"machine": machine(args.device)}
    doc.setdefault("curves", {}).update(out)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(doc, indent=1, default=str) + "\n")
    print(f"curves in {time.perf_counter() - t_all:.0f} s; data added to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
