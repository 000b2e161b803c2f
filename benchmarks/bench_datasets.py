"""Dataset-level compute against its anchors, CPU against CPU in one run: k-center greedy against a NumPy
farthest-first traversal, PCA against scikit-learn, unbiased MMD² and the Fréchet distance against direct
NumPy/SciPy formulas (Fréchet as pytorch-fid computes it: np.cov and scipy.linalg.sqrtm).

Same float32 inputs (float64 where the anchor's own formula is float64), same machine, same thread count;
warm-up excluded; fx and the anchor alternate within each round and each time is the median over rounds, so a
busy spell on a shared machine hits both alike. Ratio = time(anchor) / time(fx) (> 1: fx faster). Agreement is
printed on the line: the same picks and radius, the largest component / explained-variance-ratio difference,
the relative difference of the two values. CUDA figures (fx on the GPU against fx on the CPU) follow when a GPU
is present.

Run: python benchmarks/bench_datasets.py [--scale 1.0] [--repeats 5] [--threads N]
(the default sizes finish in well under two minutes on a 2-core machine; --scale multiplies the row counts)
"""

from __future__ import annotations

import time

import numpy as np
import torch
from common import Row, bench_parser, interleaved, pin_threads, print_table

from fxwidgets.compute.dataset_distance import frechet_distance, mmd2
from fxwidgets.compute.embedding import embed
from fxwidgets.compute.sample_selection import k_center_greedy


def numpy_farthest_first(X: np.ndarray, k: int, first: int) -> tuple[list[int], float]:
    d = ((X - X[first]) ** 2).sum(1)
    picks = [first]
    for _ in range(k - 1):
        j = int(np.argmax(d))
        picks.append(j)
        np.minimum(d, ((X - X[j]) ** 2).sum(1), out=d)
    return picks, float(np.sqrt(d.max()))


def bench_k_center(scale: float, repeats: int) -> list[Row]:
    n, d, k = int(50_000 * scale), 64, 100
    X = np.random.default_rng(0).standard_normal((n, d)).astype(np.float32)
    Xt = torch.from_numpy(X)
    out = {}

    def fx_run():
        out["fx"] = k_center_greedy(Xt, k, first=0)

    def np_run():
        out["np"] = numpy_farthest_first(X, k, 0)

    t = interleaved({"fx": fx_run, "np": np_run}, repeats)
    same = out["fx"].indices.tolist() == out["np"][0]
    rad = abs(out["fx"].diagnostics["radius"] - out["np"][1]) / out["np"][1]
    return [Row("datasets", f"k-center greedy k={k}", "NumPy farthest-first", f"N={n} d={d}", t["fx"], t["np"], rad,
                "radius rel diff", note="same picks" if same else "picks differ")]


def bench_pca(scale: float, repeats: int) -> list[Row]:
    from sklearn.decomposition import PCA

    cases = [(int(100_000 * scale), 128, 2, "covariance_eigh"), (int(5_000 * scale), 1_000, 10, "randomized"),
             (int(3_000 * scale), 300, 5, "full")]
    found = []
    for n, d, c, solver in cases:
        rng = np.random.default_rng(1)
        # 20 directions with geometrically decaying scales over isotropic noise: a clear gap after each of the
        # top components, so every solver (randomized ones included) has one right answer to agree on
        basis = np.linalg.qr(rng.standard_normal((d, 20)))[0]
        X = ((rng.standard_normal((n, 20)) * 10 * 0.8 ** np.arange(20)) @ basis.T
             + 0.1 * rng.standard_normal((n, d))).astype(np.float32)
        Xt = torch.from_numpy(X)
        out = {}

        def fx_run():
            out["fx"] = embed(Xt, "pca", c, solver=solver, seed=0)

        def sk_run():
            pca = PCA(c, svd_solver=solver, random_state=0)
            out["sk_coords"] = pca.fit_transform(X)  # fit + coordinates, as fx returns both
            out["sk"] = pca

        t = interleaved({"fx": fx_run, "sk": sk_run}, repeats)
        comp = np.abs(out["fx"].diagnostics["components"].numpy() - out["sk"].components_).max()
        evr = np.abs(np.array(out["fx"].diagnostics["explained_variance_ratio"])
                     - out["sk"].explained_variance_ratio_).max()
        found.append(Row("datasets", f"PCA {solver} c={c}", "scikit-learn PCA fit_transform", f"N={n} d={d}", t["fx"],
                         t["sk"], float(comp), "max abs component diff", note=f"max abs EVR diff {evr:.1e}"))
    return found


def numpy_mmd2(A: np.ndarray, B: np.ndarray, sigma: float) -> float:
    from scipy.spatial.distance import cdist

    g = 1.0 / (2 * sigma * sigma)
    kaa, kbb, kab = (np.exp(-g * cdist(x, y, "sqeuclidean")) for x, y in ((A, A), (B, B), (A, B)))
    m, n = len(A), len(B)
    return float((kaa.sum() - np.trace(kaa)) / (m * (m - 1)) + (kbb.sum() - np.trace(kbb)) / (n * (n - 1))
                 - 2 * kab.mean())


def bench_mmd(scale: float, repeats: int) -> list[Row]:
    n, d = int(4_000 * scale), 64
    rng = np.random.default_rng(2)
    A = rng.standard_normal((n, d))
    B = rng.standard_normal((n, d)) + 0.05
    At, Bt = torch.from_numpy(A), torch.from_numpy(B)
    sigma = float(np.sqrt(2 * d))  # a fixed bandwidth so both compute the same statistic
    out = {}

    def fx_run():
        out["fx"] = mmd2(At, Bt, bandwidth=sigma).value

    def np_run():
        out["np"] = numpy_mmd2(A, B, sigma)

    t = interleaved({"fx": fx_run, "np": np_run}, repeats)
    rel = abs(out["fx"] - out["np"]) / abs(out["np"])
    return [Row("datasets", "MMD² (float64)", "NumPy/SciPy cdist + exp", f"N=M={n} d={d}", t["fx"], t["np"], rel,
                "rel diff")]


def numpy_frechet(A: np.ndarray, B: np.ndarray) -> float:
    from scipy import linalg

    mu1, mu2 = A.mean(0), B.mean(0)
    s1, s2 = np.cov(A, rowvar=False), np.cov(B, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean.real))


def bench_frechet(scale: float, repeats: int) -> list[Row]:
    n, d = int(20_000 * scale), 512
    rng = np.random.default_rng(3)
    A = rng.standard_normal((n, d)).astype(np.float32)
    B = (rng.standard_normal((n, d)) * 1.1 + 0.1).astype(np.float32)
    At, Bt = torch.from_numpy(A), torch.from_numpy(B)
    out = {}

    def fx_run():
        out["fx"] = frechet_distance(At, Bt).value

    def np_run():
        out["np"] = numpy_frechet(A.astype(np.float64), B.astype(np.float64))

    t = interleaved({"fx": fx_run, "np": np_run}, repeats)
    rel = abs(out["fx"] - out["np"]) / abs(out["np"])
    return [Row("datasets", "Fréchet distance", "NumPy cov + SciPy sqrtm", f"N={n} d={d}", t["fx"], t["np"], rel,
                "rel diff")]


def bench_cuda(scale: float, repeats: int) -> None:
    if not torch.cuda.is_available():
        print("\nCUDA: no GPU here (fx on the GPU against fx on the CPU is printed where one exists)")
        return
    sync = torch.cuda.synchronize
    print(f"\nCUDA ({torch.cuda.get_device_name()}): fx on the GPU against fx on the CPU, same inputs")
    rng = np.random.default_rng(4)
    X = torch.from_numpy(rng.standard_normal((int(200_000 * scale), 128)).astype(np.float32))
    A = torch.from_numpy(rng.standard_normal((int(8_000 * scale), 64)).astype(np.float32))
    B = A + 0.05
    cases = {
        "k-center k=100": lambda x: k_center_greedy(x, 100, first=0),
        "PCA covariance c=2": lambda x: embed(x, "pca", 2, solver="covariance_eigh"),
    }
    for label, fn in cases.items():
        Xg = X.cuda()
        t = interleaved({"gpu": lambda: fn(Xg), "cpu": lambda: fn(X)}, repeats, sync)  # noqa: B023
        print(f"  {label:34s} GPU {t['gpu'] * 1e3:9.1f} ms | CPU {t['cpu'] * 1e3:9.1f} ms | {t['cpu'] / t['gpu']:6.1f}x")
    Ag, Bg = A.cuda(), B.cuda()
    t = interleaved({"gpu": lambda: mmd2(Ag, Bg, bandwidth=8.0), "cpu": lambda: mmd2(A, B, bandwidth=8.0)}, repeats,
                    sync)
    print(f"  {'MMD² N=M=' + str(A.shape[0]):34s} GPU {t['gpu'] * 1e3:9.1f} ms | CPU {t['cpu'] * 1e3:9.1f} ms | "
          f"{t['cpu'] / t['gpu']:6.1f}x")


def rows(scale: float = 1.0, repeats: int = 5) -> list[Row]:
    return (bench_k_center(scale, repeats) + bench_pca(scale, repeats) + bench_mmd(scale, repeats)
            + bench_frechet(scale, repeats))


def main(argv: list[str] | None = None) -> None:
    parser = bench_parser(__doc__, repeats=5, threads=None)
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every row count")
    args = parser.parse_args(argv)
    pin_threads(args.threads)
    t0 = time.perf_counter()
    print_table(rows(args.scale, args.repeats), f"datasets: torch {torch.__version__}, median of {args.repeats} "
                                                "interleaved rounds")
    bench_cuda(args.scale, args.repeats)
    print(f"\n(total {time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
