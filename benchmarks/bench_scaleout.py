"""Scaling out: fx.knn exact against faiss (flat, IVF, HNSW) through ``index=``, and Ray against local.

k-NN: N x D float32 rows drawn around 100 Gaussian centres (the shape of real embeddings, where IVF and HNSW
are meant to work), cosine, k = 10. The same Q query rows (seeded) are searched among all N rows by every
method, with the same CPU threads: fx's exact tiled search, and fx.knn(index=...) with "flat", "ivf" and
"hnsw" (built by fxwidgets: IVF with about 4 sqrt(N) lists, an eighth probed; HNSW32, efSearch 64). Build
(train + add) and search are timed apart; recall@10 is measured against the exact search on every query
(recall_sample = Q, so no sampling error). Ratio: time(exact) / time(search) (> 1: the index is faster).

Ray: Integrated Gradients (n_steps = 64) of an MLP on a few hundred rows, locally and with engine="ray" on a
local cluster of two one-CPU workers started here (its start-up is reported, not counted). Ratio:
time(local) / time(ray), warm (the workers' first task, which imports torch and fxwidgets, is timed apart);
exactness: the largest absolute difference between the two answers.

Needs faiss-cpu and ray (`pip install fxwidgets[faiss,ray]`).

Run: python benchmarks/bench_scaleout.py [--n 100000,1000000] [--d 32] [--queries 2000] [--threads 2]
         [--ray-rows 400] [--skip-ray] [--skip-knn]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch


def clustered(n: int, d: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(100, d, generator=g) * 3
    out = torch.empty(n, d)
    for a in range(0, n, 1 << 18):  # bounded temporaries at 10^7 rows
        b = min(n, a + (1 << 18))
        out[a:b] = centres[torch.randint(100, (b - a,), generator=g)] + torch.randn(b - a, d, generator=g)
    return out


def bench_knn(ns: list[int], d: int, q: int, k: int, threads: int) -> None:
    import faiss

    import fxwidgets as fx
    from fxwidgets.compute.ann import build_index

    torch.set_num_threads(threads)
    faiss.omp_set_num_threads(threads)
    print(f"k-NN, cosine, k={k}, D={d}, {q} query rows, {threads} CPU threads, faiss {faiss.__version__}")
    print(f"{'N':>9} {'method':>7} {'build s':>8} {'search s':>9} {'exact/search':>13} {'recall@10':>10}")
    for n in ns:
        X = clustered(n, d)
        pick = torch.randperm(n, generator=torch.Generator().manual_seed(1))[:q].sort().values
        Q = X[pick]
        t = time.perf_counter()
        exact = fx.knn(Q, k, "cosine", Y=X)
        t_exact = time.perf_counter() - t
        print(f"{n:>9} {'exact':>7} {'':>8} {t_exact:>9.2f} {1.0:>13.2f} {1.0:>10.4f}")
        for spec in ("flat", "ivf", "hnsw"):
            # an empty index as fxwidgets builds it for the name: the first call trains it (IVF) and adds the rows,
            # the second finds it filled and only searches
            index, info = build_index(spec, d, n, "inner_product", k, faiss)
            t = time.perf_counter()
            fx.knn(Q[:1], k, "cosine", Y=X, index=index, recall_sample=0)
            t_build = time.perf_counter() - t
            t = time.perf_counter()
            got = fx.knn(Q, k, "cosine", Y=X, index=index, recall_sample=0)
            t_search = time.perf_counter() - t
            recall = float((got.indices[:, :, None] == exact.indices[:, None, :]).any(2).double().mean())
            print(f"{n:>9} {spec:>7} {t_build:>8.2f} {t_search:>9.2f} {t_exact / t_search:>13.2f} {recall:>10.4f}"
                  f"   {info.get('factory')} {', '.join(f'{key}={val}' for key, val in info.items() if key != 'factory')}")


def bench_ray(rows: int, reps: int = 3) -> None:
    import ray

    import fxwidgets as fx

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.Tanh(), torch.nn.Linear(256, 10))
    X = torch.randn(rows, 64)
    kw = dict(target=3, method="integrated_gradients", n_steps=64)
    t = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    t_start = time.perf_counter() - t
    try:
        torch.set_num_threads(1)  # what one Ray worker gets; the local run uses one thread too, then two
        engine = fx.RayEngine()
        t = time.perf_counter()
        fx.attribute(model, X, engine=engine, **kw)
        t_first = time.perf_counter() - t
        ray_t, local1, local2 = [], [], []
        for _ in range(reps):
            t = time.perf_counter()
            remote = fx.attribute(model, X, engine=engine, **kw)
            ray_t.append(time.perf_counter() - t)
            torch.set_num_threads(1)
            t = time.perf_counter()
            local = fx.attribute(model, X, **kw)
            local1.append(time.perf_counter() - t)
            torch.set_num_threads(2)
            t = time.perf_counter()
            fx.attribute(model, X, **kw)
            local2.append(time.perf_counter() - t)
        diff = float((remote.values - local.values).abs().max())
        med = {name: float(np.median(v)) for name, v in (("ray", ray_t), ("local1", local1), ("local2", local2))}
        print(f"\nRay: IG n_steps=64, MLP 64-256-10, {rows} rows, 2 one-CPU workers ({len(engine.blocks(rows))} blocks)")
        print(f"  cluster start {t_start:.1f} s (not counted); first Ray call {t_first:.2f} s (workers import torch)")
        print(f"  local 1 thread {med['local1']:.2f} s, local 2 threads {med['local2']:.2f} s, ray warm {med['ray']:.2f} s")
        print(f"  ratio local(1 thread)/ray = {med['local1'] / med['ray']:.2f}x, local(2 threads)/ray = "
              f"{med['local2'] / med['ray']:.2f}x; max |ray - local| = {diff:.2e} (float32 model), "
              f"bitwise equal: {torch.equal(remote.values, local.values)}")
    finally:
        ray.shutdown()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", default="100000,1000000")
    ap.add_argument("--d", type=int, default=32)
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ray-rows", type=int, default=400)
    ap.add_argument("--skip-ray", action="store_true")
    ap.add_argument("--skip-knn", action="store_true")
    a = ap.parse_args()
    if not a.skip_knn:
        bench_knn([int(v) for v in a.n.split(",")], a.d, a.queries, a.k, a.threads)
    if not a.skip_ray:
        bench_ray(a.ray_rows)


if __name__ == "__main__":
    main()
