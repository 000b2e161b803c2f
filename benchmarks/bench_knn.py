"""k-NN top-k: fx.knn against scikit-learn NearestNeighbors(algorithm="brute") and faiss IndexFlatIP; and the
tile latency of the zoomable heatmap at N = 100 000.

k-NN: N x D float32 unit rows, every row queried against all N rows (itself included, so all three do the same
work: the top k of each row of X Xᵀ). Same inputs, same CPU, same thread count; warm-up excluded; median of
interleaved rounds. Each library runs in its own child process so that its *peak* resident memory above the data
(common.peak_bytes: the resident high-water mark of the first call above the resident size before it) is its own.
Ratio: time(anchor) / time(fx) (> 1: fx faster); both peaks are printed, and each library's CPU seconds (all its
threads; the median over rounds) in the note: on a shared machine a wall time that CPU time does not explain is
waiting, and CPU time well above threads x wall is OpenMP threads spinning at barriers while others hold the cores. Agreement: share of fx's neighbour lists
equal to the anchor's (ties aside).

Tile latency: ZoomHeatmap(X) with X 100 000 x 64; random tiles (256 x 256 cells) at every level, answered the way
the view's RPC is (compute + encode to the wire format); p50 / p95 per level, first-touch cost (block means of a
level built on first use) included in the "cold" line.

faiss is optional: `pip install faiss-cpu` (1.15.1 installs cleanly next to torch 2.13 CPU: its wheel needs only
numpy). Without it that column says "not installed".

Run: python benchmarks/bench_knn.py [--n 20000] [--d 128] [--k 10] [--repeats 3] [--threads 2] [--tiles 120] [--knn-only]
"""

from __future__ import annotations

import multiprocessing as mp
import statistics
import time

import numpy as np
from common import Row, bench_parser, peak_bytes, pin_threads, print_table, timed


def _child(which: str, n: int, d: int, k: int, repeats: int, threads: int, q) -> None:
    pin_threads(threads)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d)).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    if which == "fx":
        import torch

        import fxwidgets as fx

        Xt = torch.from_numpy(X)

        def run():
            r = fx.knn(Xt, k, metric="dot", Y=Xt)
            return r.indices.numpy()
    elif which == "sklearn":
        from sklearn.neighbors import NearestNeighbors

        def run():
            nn = NearestNeighbors(n_neighbors=k, algorithm="brute", metric="cosine", n_jobs=threads).fit(X)
            return nn.kneighbors(X, return_distance=False)
    else:
        try:
            import faiss
        except ImportError:
            q.put({"which": which, "missing": True})
            return
        faiss.omp_set_num_threads(threads)

        def run():
            index = faiss.IndexFlatIP(d)
            index.add(X)
            _, idx = index.search(X, k)
            return idx

    out = {}
    # the warm-up is the call whose peak is measured (later calls reuse the memory it took)
    peak, _how = peak_bytes(lambda: out.update(idx=run()))
    cpu0 = time.process_time()
    t = timed(lambda: out.update(idx=run()), repeats, warmup=False)
    cpu = (time.process_time() - cpu0) / repeats
    idx = out["idx"]
    q.put({"which": which, "time": t, "cpu": cpu, "peak": peak,
           "idx": idx.astype(np.int64).tolist() if n <= 5000 else np.asarray(idx[:2000], dtype=np.int64).tolist()})


ANCHORS = (("sklearn", "scikit-learn brute (cosine)"), ("faiss", "faiss IndexFlatIP"))


def rows(n: int = 20000, d: int = 128, k: int = 10, repeats: int = 3, threads: int | None = None) -> list[Row]:
    """fx.knn against each anchor; each library in its own child process so that its peak memory is its own."""
    threads = pin_threads(threads)
    ctx = mp.get_context("spawn")
    out: dict = {}
    # Rounds interleave the libraries (fx, sklearn, faiss, fx, sklearn, ...) so that a busy spell of a shared
    # machine hits all of them alike; each library's time is the median over rounds, its peak the largest.
    for _ in range(repeats):
        for which in ("fx", "sklearn", "faiss"):
            q = ctx.Queue()
            p = ctx.Process(target=_child, args=(which, n, d, k, 1, threads, q))
            p.start()
            r = q.get()
            p.join()
            if which not in out:
                out[which] = dict(r, times=[], cpus=[])
            if not r.get("missing"):
                out[which]["times"].append(r["time"])
                out[which]["cpus"].append(r["cpu"])
                out[which]["peak"] = max(out[which]["peak"], r["peak"])
    fx_ = out["fx"]
    t_fx = statistics.median(fx_["times"])
    ref = np.asarray(fx_["idx"])
    size = f"N={n} D={d} k={k}"
    result = []
    for which, label in ANCHORS:
        r = out[which]
        if r.get("missing"):
            result.append(Row("k-NN", "exact top-k", label, size, note="faiss not installed (pip install faiss-cpu)",
                              threads=threads))
            continue
        other = np.asarray(r["idx"])
        same = float(np.mean([set(a) == set(b) for a, b in zip(ref, other)]))
        cpu_fx, cpu_anchor = statistics.median(fx_["cpus"]), statistics.median(r["cpus"])
        result.append(Row("k-NN", "exact top-k", label, size, t_fx, statistics.median(r["times"]), same,
                          "same neighbour sets", threads=threads, fx_peak=fx_["peak"], anchor_peak=r["peak"],
                          note=f"CPU s fx {cpu_fx:.3f}, anchor {cpu_anchor:.3f} (ratio {cpu_anchor / cpu_fx:.2f})"))
    return result


def bench_knn(args) -> None:
    result = rows(args.n, args.d, args.k, args.repeats, args.threads)
    print_table(result, f"k-NN top-{args.k}: float32 unit rows, all N queried, median of {args.repeats} interleaved "
                        "rounds, each library in its own process (peak = resident high-water mark above the data)")


def bench_tiles(args) -> None:
    import torch

    import fxwidgets as fx
    from fxwidgets.runtime.codec import pack

    n, d = 100_000, 64
    g = torch.Generator().manual_seed(0)
    X = torch.randn(n, d, generator=g)
    t0 = time.perf_counter()
    view = fx.ZoomHeatmap(X, metric="cosine")
    setup = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    print(f"\nZoomHeatmap tile latency: N={n}, D={d}, cosine, {view.levels} levels, tiles of {view.tile_size}^2 cells, "
          f"set-up {setup * 1e3:.0f} ms")

    def answer(level, ti, tj):
        t = time.perf_counter()
        out = view._rpc_tile({"level": level, "ti": ti, "tj": tj})
        _content, buffers = pack({"type": "response", "id": "x", "ok": True, "result": out})
        return time.perf_counter() - t, sum(memoryview(b).nbytes for b in buffers)

    cold = [answer(level, 0, 0)[0] for level in range(view.levels)]
    print(f"  cold (first tile of each level, block means built): max {max(cold) * 1e3:.1f} ms, "
          f"sum over levels {sum(cold) * 1e3:.1f} ms")
    per_level = {}
    for level in range(view.levels):
        nt = -(-view.pyramid.cells(level) // view.tile_size)
        lat, nbytes = [], 0
        for _ in range(max(1, args.tiles // view.levels)):
            dt, nbytes = answer(level, int(rng.integers(nt)), int(rng.integers(nt)))
            lat.append(dt)
        per_level[level] = lat
        print(f"  level {level:2d} (cell = {2**level:5d}^2 entries, {nt:3d}^2 tiles): p50 {np.percentile(lat, 50) * 1e3:6.2f} ms"
              f"  p95 {np.percentile(lat, 95) * 1e3:6.2f} ms  ({nbytes / 1024:.0f} KiB on the wire)")
    everything = [x for v in per_level.values() for x in v]
    print(f"  all levels: p50 {np.percentile(everything, 50) * 1e3:.2f} ms, p95 {np.percentile(everything, 95) * 1e3:.2f} ms "
          f"over {len(everything)} warm tiles")


def main(argv: list[str] | None = None) -> None:
    parser = bench_parser(__doc__, n=20000, d=128, k=10, repeats=3, threads=None, tiles=120)
    parser.add_argument("--knn-only", action="store_true", help="skip the ZoomHeatmap tile latencies")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    bench_knn(args)
    if not args.knn_only:
        bench_tiles(args)
    print(f"\n(total {time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
