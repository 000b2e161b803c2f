"""Scaling out: fx.knn exact against faiss (flat, IVF, HNSW) through ``index=``, and Ray against local.

k-NN: N x D float32 rows drawn around 100 Gaussian centres (the shape of real embeddings, where IVF and HNSW
are meant to work), cosine, k = 10. The same Q query rows (seeded) are searched among all N rows by every
method, with the same CPU threads: fx's exact tiled search, and fx.knn(index=...) with "flat", "ivf" and
"hnsw" (built by fxwidgets: IVF with about 4 sqrt(N) lists; HNSW32). Build (train, add, and for IVF and HNSW
the tuning of the search breadth to recall 0.95 on 256 rows) and search are timed apart; recall@10 is measured
against the exact search on every query (no sampling error). Ratio: time(exact) / time(search) (> 1: the index
is faster).

Ray: Integrated Gradients (n_steps = 64) of an MLP on a few hundred rows, locally and with engine="ray" on a
local cluster of two one-CPU workers started here (its start-up is reported, not counted). Ratio:
time(local) / time(ray), warm (the workers' first task, which imports torch and fxwidgets, is timed apart);
exactness: the largest absolute difference between the two answers.

Needs faiss-cpu and ray (`pip install fxwidgets[faiss,ray]`).

Run: python benchmarks/bench_scaleout.py [--n 100000,1000000] [--d 32] [--queries 2000] [--threads 2]
         [--ray-rows 400,4000] [--skip-ray] [--skip-knn]
"""

from __future__ import annotations

import time

import numpy as np
import torch
from common import Row, bench_parser, missing, pin_threads, print_table


def clustered(n: int, d: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(100, d, generator=g) * 3
    out = torch.empty(n, d)
    for a in range(0, n, 1 << 18):  # bounded temporaries at 10^7 rows
        b = min(n, a + (1 << 18))
        out[a:b] = centres[torch.randint(100, (b - a,), generator=g)] + torch.randn(b - a, d, generator=g)
    return out


def bench_knn(ns: list[int], d: int, q: int, k: int, threads: int) -> list[Row]:
    why = missing("faiss", "faiss-cpu")
    if why:
        return [Row("scale-out", f"fx.knn index={spec}", "fx.knn exact", "", note=why) for spec in ("flat", "ivf", "hnsw")]
    import faiss

    import fxwidgets as fx
    from fxwidgets.compute.ann import AnnAccumulator, AnnBuildStep, iter_ann, plan_ann

    threads = pin_threads(threads)
    out = []
    print(f"k-NN, cosine, k={k}, D={d}, {q} query rows, {threads} CPU threads, faiss {faiss.__version__}")
    print(f"{'N':>9} {'method':>7} {'build s':>8} {'search s':>9} {'exact/search':>13} {'recall@10':>10}")
    for n in ns:
        X = clustered(n, d)
        pick = torch.randperm(n, generator=torch.Generator().manual_seed(1))[:q].sort().values
        Q = X[pick]
        fx.knn(Q[:64], k, "cosine", Y=X)  # warm-up, as the index paths get theirs in the build
        t = time.perf_counter()
        exact = fx.knn(Q, k, "cosine", Y=X)
        t_exact = time.perf_counter() - t
        print(f"{n:>9} {'exact':>7} {'':>8} {t_exact:>9.2f} {1.0:>13.2f} {1.0:>10.4f}")
        for spec in ("flat", "ivf", "hnsw"):
            # the index as fxwidgets builds it from the name: build (train, add, tune the search breadth) and
            # search are timed apart from the generator's own stages (the build steps come first)
            plan = plan_ann(Q, X, k, "cosine", index=spec, recall_sample=0)
            acc = AnnAccumulator(plan)
            t = time.perf_counter()
            t_build = 0.0
            for item in iter_ann(plan):
                if isinstance(item, AnnBuildStep):
                    t_build = time.perf_counter() - t
                acc.add(item)
            t_search = time.perf_counter() - t - t_build
            got = acc.result()
            info = {key: got.params[key] for key in ("factory", "nprobe", "efSearch", "tuned_recall") if key in got.params}
            recall = float((got.indices[:, :, None] == exact.indices[:, None, :]).any(2).double().mean())
            params = ", ".join(f"{key}={val}" for key, val in info.items() if key != "factory")
            print(f"{n:>9} {spec:>7} {t_build:>8.2f} {t_search:>9.2f} {t_exact / t_search:>13.2f} {recall:>10.4f}"
                  f"   {info.get('factory')} {params}")
            # the "anchor" here is fx's own exact search: ratio = exact time / index search time
            out.append(Row("scale-out", f"fx.knn index={spec} (search)", "fx.knn exact", f"N={n} D={d} Q={q} k={k}",
                           t_search, t_exact, recall, f"recall@{k}", threads=threads,
                           note=f"build {t_build:.2f} s; {info.get('factory')} {params}"))
    return out


def bench_ray(sizes: list[int], reps: int = 3) -> list[Row]:
    why = missing("ray")
    if why:
        return [Row("scale-out", "IG engine=ray", "local, 1 thread", "", note=why)]
    import ray

    import fxwidgets as fx

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.Tanh(), torch.nn.Linear(256, 10))
    kw = {"target": 3, "method": "integrated_gradients", "n_steps": 64}
    t = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    t_start = time.perf_counter() - t
    out = []
    try:
        engine = fx.RayEngine()
        t = time.perf_counter()
        fx.attribute(model, torch.randn(8, 64), engine=engine, **kw)
        t_first = time.perf_counter() - t
        print(f"\nRay: IG n_steps=64, MLP 64-256-10 (float32), 2 one-CPU workers; cluster start {t_start:.1f} s and the "
              f"first call {t_first:.2f} s (workers import torch) not counted; median of {reps}")
        print(f"{'rows':>6} {'blocks':>6} {'local 1 thr s':>13} {'local 2 thr s':>13} {'ray s':>7} "
              f"{'local1/ray':>10} {'local2/ray':>10} {'max|diff|':>10} {'bitwise':>8}")
        for rows in sizes:
            X = torch.randn(rows, 64, generator=torch.Generator().manual_seed(rows))
            ray_t, local1, local2 = [], [], []
            for _ in range(reps):
                t = time.perf_counter()
                remote = fx.attribute(model, X, engine=engine, **kw)
                ray_t.append(time.perf_counter() - t)
                torch.set_num_threads(1)  # what one Ray worker gets
                t = time.perf_counter()
                local = fx.attribute(model, X, **kw)
                local1.append(time.perf_counter() - t)
                torch.set_num_threads(2)
                t = time.perf_counter()
                fx.attribute(model, X, **kw)
                local2.append(time.perf_counter() - t)
            r, l1, l2 = (float(np.median(v)) for v in (ray_t, local1, local2))
            diff = float((remote.values - local.values).abs().max())
            print(f"{rows:>6} {len(engine.blocks(rows)):>6} {l1:>13.2f} {l2:>13.2f} {r:>7.2f} {l1 / r:>10.2f} "
                  f"{l2 / r:>10.2f} {diff:>10.1e} {torch.equal(remote.values, local.values)!s:>8}")
            size = f"{rows} rows, MLP 64-256-10, steps=64"
            out.append(Row("scale-out", "IG engine=ray (2 workers)", "local, 1 thread", size, r, l1, diff,
                           "max abs diff", threads=1))
            out.append(Row("scale-out", "IG engine=ray (2 workers)", "local, 2 threads", size, r, l2, diff,
                           "max abs diff", threads=2))
    finally:
        ray.shutdown()
    return out


def main(argv: list[str] | None = None) -> None:
    a = bench_parser(__doc__, n=[100_000, 1_000_000], d=32, queries=2000, k=10, threads=2, ray_rows=[400, 4000],
                     skip_ray=False, skip_knn=False).parse_args(argv)
    result = []
    if not a.skip_knn:
        result += bench_knn(a.n, a.d, a.queries, a.k, a.threads)
    if not a.skip_ray:
        result += bench_ray(a.ray_rows)
    print()
    print_table(result, "scale-out: faiss indexes through fx.knn(index=), Ray against local")


if __name__ == "__main__":
    main()
