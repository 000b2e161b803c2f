"""Cosine affinity, N=8192 x D=512 float32: fx.affinity against the bare torch matmul and scikit-learn.

Same inputs, same machine, same run; warm-up excluded; fx and each anchor interleaved, median of the rounds. Ratios
(anchor time / fx time):
  bare torch (normalise + X @ X.T): the share of fx's time the matmul itself takes (1 = no overhead)
  scikit-learn cosine_similarity: > 1 when fx is faster
Run: python benchmarks/bench_affinity.py [--n 8192] [--d 512] [--repeats 7] [--device cuda]
"""

from __future__ import annotations

import numpy as np
import torch
from common import Row, bench_parser, devices, interleaved, print_table, sync_for

import fxwidgets as fx


def rows(n: int = 8192, d: int = 512, repeats: int = 7, device: str | None = None) -> list[Row]:
    rng = np.random.default_rng(0)
    X_np = rng.standard_normal((n, d)).astype(np.float32)
    size = f"N={n} D={d}"
    out: list[Row] = []
    for dev in devices(device):
        X = torch.from_numpy(X_np).to(dev)
        sync = sync_for(dev)

        def bare():
            Xn = torch.nn.functional.normalize(X, dim=1)
            return Xn @ Xn.T

        res: dict = {}
        t = interleaved({"fx": lambda: fx.affinity(X, metric="cosine").values, "torch": bare}, repeats, sync,
                        outputs=res)
        err = float((res["fx"] - res["torch"]).abs().max())
        out.append(Row("affinity", "cosine", "bare torch matmul", size, t["fx"], t["torch"], err, "max abs diff",
                       device=dev))
        if dev == "cpu":
            from sklearn.metrics.pairwise import cosine_similarity

            t = interleaved({"fx": lambda: fx.affinity(X, metric="cosine").values,
                             "sk": lambda: cosine_similarity(X_np)}, repeats, sync, outputs=res)
            err = float(np.abs(res["fx"].numpy() - res["sk"]).max())
            out.append(Row("affinity", "cosine", "scikit-learn cosine_similarity", size, t["fx"], t["sk"], err,
                           "max abs diff", device=dev))
    return out


def main(argv: list[str] | None = None) -> None:
    args = bench_parser(__doc__, n=8192, d=512, repeats=7, device=None).parse_args(argv)
    print_table(rows(args.n, args.d, args.repeats, args.device),
                f"cosine affinity, float32, torch {torch.__version__}, median of {args.repeats} interleaved rounds")


if __name__ == "__main__":
    main()
