"""k-NN top-k: fx.knn against scikit-learn NearestNeighbors(algorithm="brute") and faiss IndexFlatIP; and the
tile latency of the zoomable heatmap at N = 100 000.

k-NN: N x D float32 unit rows, every row queried against all N rows (itself included, so all three do the same
work: the top k of each row of X Xᵀ). Same inputs, same CPU, same thread count; warm-up excluded; median of
interleaved rounds. Each library runs in its own child process so that its *peak* resident memory above the data
(VmHWM over warm-up and runs minus VmRSS before the first) is its own. Ratios: time(anchor) / time(fx) (> 1: fx faster) and
peak(anchor) / peak(fx). Agreement: share of fx's neighbour lists equal to faiss's (ties aside).

Tile latency: ZoomHeatmap(X) with X 100 000 x 64; random tiles (256 x 256 cells) at every level, answered the way
the view's RPC is (compute + encode to the wire format); p50 / p95 per level, first-touch cost (block means of a
level built on first use) included in the "cold" line.

faiss is optional: `pip install faiss-cpu` (1.15.1 installs cleanly next to torch 2.13 CPU: its wheel needs only
numpy). Without it that column says "not installed".

Run: python benchmarks/bench_knn.py [--n 20000] [--d 128] [--k 10] [--repeats 3] [--tiles 120]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import time

import numpy as np


def _status(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0


def vmhwm() -> int:
    return _status("VmHWM")


def reset_hwm() -> None:
    # Writing "5" to clear_refs resets the peak RSS counter (Linux >= 4.0) so VmHWM measures from here on.
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def _child(which: str, n: int, d: int, k: int, repeats: int, threads: int, q) -> None:
    import torch

    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d)).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    if which == "fx":
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

    base = _status("VmRSS")  # data and libraries loaded, nothing computed yet
    reset_hwm()
    idx = run()  # warm-up (counted in the peak: later runs reuse the memory it took)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        idx = run()
        times.append(time.perf_counter() - t0)
    q.put({"which": which, "time": statistics.median(times), "peak": max(0, vmhwm() - base),
           "idx": idx.astype(np.int64).tolist() if n <= 5000 else np.asarray(idx[:2000], dtype=np.int64).tolist()})


def bench_knn(args) -> None:
    import torch

    threads = torch.get_num_threads()
    print(f"k-NN top-{args.k}: N={args.n}, D={args.d}, float32 unit rows, all N queried, {threads} CPU threads, "
          f"median of {args.repeats} interleaved rounds")
    ctx = mp.get_context("spawn")
    out: dict = {}
    # Rounds interleave the libraries (fx, sklearn, faiss, fx, sklearn, ...) so that a busy spell of a shared
    # machine hits all of them alike; each library's time is the median over rounds, its peak the largest.
    for _ in range(args.repeats):
        for which in ("fx", "sklearn", "faiss"):
            q = ctx.Queue()
            p = ctx.Process(target=_child, args=(which, args.n, args.d, args.k, 1, threads, q))
            p.start()
            r = q.get()
            p.join()
            if which not in out:
                out[which] = dict(r, times=[])
            if not r.get("missing"):
                out[which]["times"].append(r["time"])
                out[which]["peak"] = max(out[which]["peak"], r["peak"])
    for r in out.values():
        if not r.get("missing"):
            r["time"] = statistics.median(r["times"])
    fx_ = out["fx"]
    print(f"  fx.knn (metric='dot', tiled)       {fx_['time'] * 1e3:9.1f} ms   peak +{fx_['peak'] / 2**20:7.1f} MiB")
    ref = np.asarray(fx_["idx"])
    for which, label in (("sklearn", "scikit-learn brute (cosine)"), ("faiss", "faiss IndexFlatIP")):
        r = out[which]
        if r.get("missing"):
            print(f"  {label:34s} not installed (pip install faiss-cpu)")
            continue
        other = np.asarray(r["idx"])
        same = float(np.mean([set(a) == set(b) for a, b in zip(ref, other)]))
        print(f"  {label:34s} {r['time'] * 1e3:9.1f} ms   peak +{r['peak'] / 2**20:7.1f} MiB   "
              f"time ratio {r['time'] / fx_['time']:5.2f}x   memory ratio {r['peak'] / max(fx_['peak'], 1):6.2f}x   "
              f"same neighbour sets {same:.1%}")


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--d", type=int, default=128)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tiles", type=int, default=120)
    args = parser.parse_args()
    t0 = time.perf_counter()
    bench_knn(args)
    bench_tiles(args)
    print(f"\n(total {time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
