"""Cosine affinity, N=8192 x D=512 float32: fx.affinity against the bare torch matmul and scikit-learn.

Same inputs, same machine, same run; warm-up excluded; median of repeated runs. Ratios:
  overhead  = fx / bare torch (normalise + X @ X.T): what tiling, validation and bookkeeping cost
  speed-up  = scikit-learn cosine_similarity / fx
Run: python benchmarks/bench_affinity.py [--n 8192] [--d 512] [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

import fxwidgets as fx


def timed(fn, repeats: int, sync) -> float:
    fn()  # warm-up
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=8192)
    parser.add_argument("--d", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    X_np = rng.standard_normal((args.n, args.d)).astype(np.float32)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"cosine affinity, N={args.n}, D={args.d}, float32, torch {torch.__version__}, "
          f"{torch.get_num_threads()} CPU threads, median of {args.repeats}")

    for device in devices:
        X = torch.from_numpy(X_np).to(device)
        sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

        def bare():
            Xn = torch.nn.functional.normalize(X, dim=1)
            return Xn @ Xn.T

        t_fx = timed(lambda: fx.affinity(X, metric="cosine"), args.repeats, sync)
        t_torch = timed(bare, args.repeats, sync)
        err = float((fx.affinity(X, metric="cosine").values - bare()).abs().max())
        print(f"[{device}] fx.affinity {t_fx * 1e3:8.1f} ms | bare torch {t_torch * 1e3:8.1f} ms | "
              f"overhead fx/torch = {t_fx / t_torch:.2f}x | max |diff| {err:.1e}")
        if device == "cpu":
            from sklearn.metrics.pairwise import cosine_similarity

            t_sk = timed(lambda: cosine_similarity(X_np), args.repeats, sync)
            print(f"[cpu] scikit-learn cosine_similarity {t_sk * 1e3:8.1f} ms | speed-up sklearn/fx = {t_sk / t_fx:.2f}x")


if __name__ == "__main__":
    main()
