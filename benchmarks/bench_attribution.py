"""Attributions: fxwidgets against Captum and shap on the same inputs, model, dtype (float32) and device.

Warm-up excluded. Sections 1 and 3 (with 4) time fxwidgets, the bare model passes and Captum in the same rounds,
the order rotated each round, and report medians of wall and CPU time over at least 20 rounds; the equal-error
sections report the best of their repeats (the minimum is the least disturbed run). Printed ratios (> 1 means
fxwidgets is faster):

1. Integrated Gradients vs Captum: same model, n_steps, quadrature (Gauss-Legendre) and rows per pass
   (chunk_size == internal_batch_size); outputs must agree.
2. Shapley at equal error: an MLP on 12 features (exact Shapley by enumerating 2^12 coalitions is the truth);
   every estimator's budget is doubled until mean |phi - phi_exact| <= tol * mean |f(x) - f(b)|; the time at that
   budget is compared. fxwidgets permutation sampling (antithetic) and KernelSHAP against Captum
   ShapleyValueSampling / KernelShap and shap PermutationExplainer / KernelExplainer (calling the same torch
   model through a numpy wrapper, as shap's model-agnostic explainers must).
3. Occlusion vs Captum: same window, stride, baseline and rows per pass; outputs must agree.
4. Overhead over the model passes a method cannot avoid: IG against bare chunked forward+backward passes over
   the same interpolated rows; occlusion against bare chunked forward passes over the same occluded rows.
5. Background Shapley at equal error: interventional values of an MLP on 10 features against a background of K
   rows (exact values from fxwidgets' 2^10 coalitions x K rows are the truth, checked against shap's Exact explainer);
   every estimator's budget is doubled until max |phi - phi_exact| <= tol x max |f(x) - E_b f(b)|. fxwidgets
   shapley_permutation / kernel_shap / shapley_exact (background=) against shap PermutationExplainer / KernelExplainer
   / ExactExplainer with shap.maskers.Independent(background, max_samples=K) (KernelExplainer: the background itself).

Scaled to run in about a minute on a 2-core CPU (--scale 2 or more for bigger problems; anchors-compute.md
section 13 describes the GPU-sized protocol: ResNet-50, 16 x 3 x 224 x 224, 16 features x 256 rows).
Captum and shap: `pip install captum shap` (captum is also in the `test` extra); missing anchors are skipped
with a message.

Run as a script, the process fixes glibc's malloc thresholds first (``pin_allocator``; ``--default-allocator`` to
not): page faults otherwise take half of an IG or occlusion call's CPU time here and move the ratios by 10-20%.

Run: python benchmarks/bench_attribution.py [--repeats 5] [--tol 0.001] [--scale 1] [--threads 1] [--only 5]
     [--default-allocator]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np
import torch
from common import Row, bench_parser, pin_allocator, pin_threads, print_table, timed

import fxwidgets as fx


#: Rounds of the interleaved IG / occlusion timings (sections 1, 3, 4): a call there takes 10-50 ms, and on a
#: shared machine the minimum of 5 runs moved by 10% between runs of the script, more than the overhead being
#: measured; each round calls every contender once, in a rotating order.
MIN_ROUNDS = 20


def rotating_rounds(fns: dict, rounds: int) -> tuple[dict, dict]:
    """Median wall seconds and median CPU seconds (this process's user + system time) per callable: one warm-up
    call each, then ``rounds`` rounds calling every callable once, the order rotated each round so that none
    always runs after the same one (cache and allocator state left by the previous call fall on all alike)."""
    names = list(fns)
    for name in names:
        fns[name]()
    wall: dict = {name: [] for name in names}
    cpu: dict = {name: [] for name in names}
    for i in range(rounds):
        for name in names[i % len(names):] + names[:i % len(names)]:
            t0, c0 = time.perf_counter(), time.process_time()
            fns[name]()
            cpu[name].append(time.process_time() - c0)
            wall[name].append(time.perf_counter() - t0)
    return ({n: statistics.median(v) for n, v in wall.items()}, {n: statistics.median(v) for n, v in cpu.items()})


def against_passes_and_captum(what: str, size: str, fns: dict, repeats: int, bare_name: str, captum_name: str,
                              relative: bool) -> list[Row]:
    """Time fxwidgets (``fns["fx"]``), the bare model passes the method cannot avoid (``"bare"``, the floor) and,
    when installed, Captum (``"captum"``) interleaved in the same rounds (at least :data:`MIN_ROUNDS`), medians
    of wall and of CPU time. Rows (wall medians): fx against the bare passes (its overhead), and against Captum
    with the largest difference of the two maps (relative to Captum's largest |value| if ``relative``)."""
    rounds = max(MIN_ROUNDS, 4 * repeats)
    t, c = rotating_rounds(fns, rounds)
    over, over_cpu = 100 * (t["fx"] / t["bare"] - 1), 100 * (c["fx"] / c["bare"] - 1)
    print(f"   medians of {rounds} interleaved rounds, wall (CPU):")
    print(f"   fxwidgets {t['fx'] * 1e3:8.1f} ms ({c['fx'] * 1e3:.1f})   bare passes {t['bare'] * 1e3:8.1f} ms "
          f"({c['bare'] * 1e3:.1f})   overhead {over:+.1f}% ({over_cpu:+.1f}%)")
    out = [Row("attribution", what, bare_name, size, t["fx"], t["bare"],
               note=f"overhead {over:+.0f}% (CPU time {over_cpu:+.0f}%), medians of {rounds} rounds")]
    if "captum" not in fns:
        out.append(Row("attribution", what, captum_name, size, note="captum not installed (pip install captum)"))
        return out
    ours, theirs = fns["fx"]().values, fns["captum"]()
    diff = (ours - theirs).abs().max()
    kind = "rel" if relative else "abs"
    diff = float(diff / theirs.abs().max() if relative else diff)
    print(f"   Captum    {t['captum'] * 1e3:8.1f} ms ({c['captum'] * 1e3:.1f})   ratio Captum/fx {t['captum'] / t['fx']:5.2f}x "
          f"({c['captum'] / c['fx']:.2f}x)   max {kind}. difference {diff:.1e}")
    out.append(Row("attribution", what, captum_name, size, t["fx"], t["captum"], diff, f"max {kind} diff",
                   note=f"CPU time ratio {c['captum'] / c['fx']:.2f}x"))
    return out


def cnn(channels: int = 3, width: int = 16, n_out: int = 10) -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(channels, width, 3, padding=1), torch.nn.ReLU(),
        torch.nn.Conv2d(width, width, 3, padding=1), torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(4), torch.nn.Flatten(), torch.nn.Linear(width * 16, n_out)).eval()


def bench_ig(args, captum_attr) -> list[Row]:
    net = cnn()
    B, S = 8 * args.scale, 32
    x = torch.randn(B, 3, S, S)
    steps, chunk = 32, 64
    print(f"\n1. Integrated Gradients: CNN, {B} x 3 x {S} x {S}, n_steps={steps}, gausslegendre, {chunk} rows per pass")
    alphas = torch.rand(B * steps, 1, 1, 1)
    rows = (alphas * x.repeat(steps, 1, 1, 1))

    # the passes IG cannot avoid: forward + backward over the same B*n_steps interpolated rows, in the same
    # chunks, plus f(x) and f(baseline)
    def bare():
        with torch.no_grad():  # f(x) and f(baseline): the completeness gap every IG result reports
            net(x)
            net(torch.zeros_like(x))
        for a in range(0, rows.shape[0], chunk):
            r = rows[a:a + chunk].clone().requires_grad_(True)
            torch.autograd.grad(net(r)[:, 3].sum(), r)

    fns = {"fx": lambda: fx.attribute(net, x, target=3, method="integrated_gradients", n_steps=steps, chunk_size=chunk),
           "bare": bare}
    if captum_attr is not None:
        ig = captum_attr.IntegratedGradients(net)
        fns["captum"] = lambda: ig.attribute(x, target=3, n_steps=steps, method="gausslegendre", internal_batch_size=chunk)
    return against_passes_and_captum("Integrated Gradients", f"{B}x3x{S}x{S} steps={steps}", fns, args.repeats,
                                     "bare fwd+bwd passes", "Captum IntegratedGradients", relative=True)


def shapley_error(phi: torch.Tensor, exact: torch.Tensor) -> float:
    return float((phi - exact).abs().mean())


def first_budget(run, exact, target_err, budgets):
    """Smallest budget whose error is under target; returns (budget, error, seconds) or None."""
    for b in budgets:
        t0 = time.perf_counter()
        phi = run(b)
        dt = time.perf_counter() - t0
        err = shapley_error(phi, exact)
        if err <= target_err:
            return b, err, dt
    return None


def bench_shapley(args, captum_attr, shap) -> list[Row]:
    n, rows = 12, 4 * args.scale
    torch.manual_seed(0)
    mlp = torch.nn.Sequential(torch.nn.Linear(n, 64), torch.nn.Tanh(), torch.nn.Linear(64, 64), torch.nn.Tanh(),
                              torch.nn.Linear(64, 1)).eval()
    x = torch.randn(rows, n)
    b = torch.zeros(n)
    t0 = time.perf_counter()
    exact = fx.attribute(mlp, x, method="shapley_exact", baseline=b).features
    t_exact = time.perf_counter() - t0
    with torch.no_grad():
        scale = float((mlp(x) - mlp(b[None])).abs().mean())
    target = args.tol * scale
    print(f"\n2. Shapley at equal error: MLP on {n} features, {rows} rows, baseline 0; exact (2^{n} coalitions) "
          f"{t_exact * 1e3:.0f} ms; target mean |error| <= {args.tol} x mean |f(x) - f(b)| = {target:.2e}")
    perms = [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096]
    samples = [64, 128, 256, 512, 1024, 2048, 4094]
    runs = {
        "fx shapley_permutation": (lambda k: fx.attribute(mlp, x, method="shapley_permutation", baseline=b,
                                                          n_permutations=k, seed=1).features, perms),
        "fx kernel_shap": (lambda k: fx.attribute(mlp, x, method="kernel_shap", baseline=b, n_samples=k,
                                                  seed=1).features, samples),
    }
    if captum_attr is not None:
        f1 = lambda z: mlp(z)[:, 0]
        svs, ks = captum_attr.ShapleyValueSampling(f1), captum_attr.KernelShap(f1)
        runs["Captum ShapleyValueSampling"] = (lambda k: svs.attribute(x, baselines=b[None], n_samples=k,
                                                                       perturbations_per_eval=64), perms)
        runs["Captum KernelShap"] = (lambda k: torch.cat([ks.attribute(x[i:i + 1], baselines=b[None], n_samples=k,
                                                                       perturbations_per_eval=64) for i in range(rows)]),
                                     samples)
    if shap is not None:
        def f_np(z):
            with torch.no_grad():
                return mlp(torch.as_tensor(z, dtype=torch.float32))[:, 0].numpy()

        bg = np.zeros((1, n), dtype=np.float32)
        masker = shap.maskers.Independent(bg)

        def shap_perm(k):
            ex = shap.PermutationExplainer(f_np, masker)
            return torch.as_tensor(ex(x.numpy(), max_evals=k * (2 * n + 1), silent=True).values, dtype=torch.float32)

        def shap_kernel(k):
            ex = shap.KernelExplainer(f_np, bg)
            return torch.as_tensor(np.asarray(ex.shap_values(x.numpy(), nsamples=k, l1_reg=False, silent=True)),
                                   dtype=torch.float32)

        runs["shap PermutationExplainer"] = (shap_perm, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024])
        runs["shap KernelExplainer"] = (shap_kernel, samples)
    found = {}
    for name, (run, budgets) in runs.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            hit = first_budget(run, exact, target, budgets)
        if hit is None:
            print(f"   {name:30s} did not reach the target within budget {budgets[-1]}")
            continue
        k, err, _ = hit
        t = timed(lambda: run(k), max(1, args.repeats // 2), stat="min")
        found[name] = (t, k, err)
        print(f"   {name:30s} budget {k:5d}   error {err:.2e}   {t * 1e3:9.1f} ms")
    size = f"MLP d={n} rows={rows}"
    return equal_error_rows("Shapley (baseline)", size, found, [
        ("fx shapley_permutation", "Captum ShapleyValueSampling"), ("fx shapley_permutation", "shap PermutationExplainer"),
        ("fx kernel_shap", "Captum KernelShap"), ("fx kernel_shap", "shap KernelExplainer")],
        f"mean abs err <= {target:.1e}")


def bench_occlusion(args, captum_attr) -> list[Row]:
    net = cnn()
    B, S = 4 * args.scale, 32
    x = torch.randn(B, 3, S, S)
    win, stride, chunk = (3, 8, 8), (3, 4, 4), 64
    print(f"\n3. Occlusion: CNN, {B} x 3 x {S} x {S}, window {win}, stride {stride}, {chunk} rows per pass")
    from fxwidgets.compute.attribution.perturbation import window_starts

    n_win = len(window_starts((3, S, S), win, stride))
    rows = x.repeat(n_win, 1, 1, 1)

    def bare():  # f(x) and one forward pass per occluded copy, in the same chunks
        with torch.no_grad():
            net(x)
            for a in range(0, rows.shape[0], chunk):
                net(rows[a:a + chunk])

    fns = {"fx": lambda: fx.attribute(net, x, target=1, method="occlusion", sliding_window=win, strides=stride,
                                      chunk_size=chunk), "bare": bare}
    if captum_attr is not None:
        occ = captum_attr.Occlusion(net)
        fns["captum"] = lambda: occ.attribute(x, sliding_window_shapes=win, strides=stride, target=1,
                                              perturbations_per_eval=max(1, chunk // B))
    return against_passes_and_captum("occlusion", f"{B}x3x{S}x{S} window 8x8", fns, args.repeats,
                                     "bare forward passes", "Captum Occlusion", relative=False)


def max_error(phi: torch.Tensor, exact: torch.Tensor) -> float:
    return float((phi - exact).abs().max())


def equal_error_rows(what: str, size: str, found: dict, pairs: list, goal: str) -> list[Row]:
    """One row per (fx estimator, anchor) pair, each timed at the smallest budget reaching the same error."""
    out = []
    for ours, theirs in pairs:
        if ours in found and theirs in found:
            (t_fx, k_fx, e_fx), (t_an, k_an, e_an) = found[ours], found[theirs]
            print(f"   ratio {theirs} / {ours}: {t_an / t_fx:6.2f}x")
            out.append(Row("attribution", f"{what} {ours[3:]}", theirs, size, t_fx, t_an, e_fx,
                           goal.split(" <=")[0] + " vs exact",
                           note=f"anchor's {e_an:.1e}; budgets fx {k_fx} / anchor {k_an}"))
        else:
            gone = theirs if theirs not in found else ours
            out.append(Row("attribution", f"{what} {ours[3:]}", theirs, size,
                           note=f"{gone} not installed or did not reach {goal}"))
    return out


def bench_background_shapley(args, shap) -> list[Row]:
    if shap is None:
        print("\n5. Background Shapley: shap is not installed, skipped")
        return [Row("attribution", "Shapley (background)", "shap", "", note="shap not installed (pip install shap)")]
    n, rows, K = 10, 4 * args.scale, 16
    torch.manual_seed(1)
    mlp = torch.nn.Sequential(torch.nn.Linear(n, 64), torch.nn.Tanh(), torch.nn.Linear(64, 64), torch.nn.Tanh(),
                              torch.nn.Linear(64, 1)).eval()
    x, bg = torch.randn(rows, n), torch.randn(K, n)
    t0 = time.perf_counter()
    exact = fx.attribute(mlp, x, method="shapley_exact", background=bg).features
    t_exact = time.perf_counter() - t0
    with torch.no_grad():
        scale = float((mlp(x)[:, 0] - mlp(bg)[:, 0].mean()).abs().max())
    target = args.tol * scale * 10  # max error, not mean: a looser multiple of the same tolerance

    def f_np(z):
        with torch.no_grad():
            return mlp(torch.as_tensor(z, dtype=torch.float32))[:, 0].numpy()

    masker = shap.maskers.Independent(bg.numpy(), max_samples=K)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        shap_exact = torch.as_tensor(shap.explainers.Exact(f_np, masker)(x.numpy()).values, dtype=torch.float32)
    print(f"\n5. Background Shapley at equal error: MLP on {n} features, {rows} rows, background of {K} rows; "
          f"exact (2^{n} coalitions x {K}) {t_exact * 1e3:.0f} ms, max |fx exact - shap Exact| "
          f"{max_error(shap_exact, exact):.1e}; target max |error| <= {target:.2e}")
    perms = [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
    samples = [64, 128, 256, 512, 1022]
    runs = {
        "fx shapley_permutation": (lambda k: fx.attribute(mlp, x, method="shapley_permutation", background=bg,
                                                          n_permutations=k, seed=1).features, perms),
        "fx kernel_shap": (lambda k: fx.attribute(mlp, x, method="kernel_shap", background=bg, n_samples=k,
                                                  seed=1).features, samples),
        "fx shapley_exact": (lambda k: fx.attribute(mlp, x, method="shapley_exact", background=bg).features, [0]),
        "shap PermutationExplainer": (lambda k: torch.as_tensor(shap.PermutationExplainer(f_np, masker, seed=1)(
            x.numpy(), max_evals=k * (2 * n + 1), silent=True).values, dtype=torch.float32), perms),
        "shap KernelExplainer": (lambda k: torch.as_tensor(np.asarray(shap.KernelExplainer(f_np, bg.numpy()).shap_values(
            x.numpy(), nsamples=k, l1_reg=False, silent=True)), dtype=torch.float32).reshape(rows, n), samples),
        "shap ExactExplainer": (lambda k: torch.as_tensor(shap.explainers.Exact(f_np, masker)(x.numpy()).values,
                                                          dtype=torch.float32), [0]),
    }
    found = {}
    for name, (run, budgets) in runs.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            hit = None
            for b in budgets:
                err = max_error(run(b), exact)
                if err <= target:
                    hit = (b, err)
                    break
            if hit is None:
                print(f"   {name:30s} did not reach the target within budget {budgets[-1]}")
                continue
            k, err = hit
            t = timed(lambda k=k, run=run: run(k), max(1, args.repeats // 2), stat="min")
        found[name] = (t, k, err)
        print(f"   {name:30s} budget {k:5d}   max error {err:.2e}   {t * 1e3:9.1f} ms")
    return equal_error_rows("Shapley (background)", f"MLP d={n} rows={rows} K={K}", found, [
        ("fx shapley_permutation", "shap PermutationExplainer"), ("fx kernel_shap", "shap KernelExplainer"),
        ("fx shapley_exact", "shap ExactExplainer")], f"max abs err <= {target:.1e}")


def anchors():
    try:
        import captum.attr as captum_attr
    except ImportError:
        captum_attr = None
        print("captum is not installed (pip install captum): Captum comparisons skipped")
    try:
        import shap
    except ImportError:
        shap = None
        print("shap is not installed (pip install shap): shap comparisons skipped")
    return captum_attr, shap


def rows(repeats: int = 5, tol: float = 0.001, scale: int = 1, only: int | None = None) -> list[Row]:
    """Every section's rows (the caller pins the threads)."""
    args = argparse.Namespace(repeats=repeats, tol=tol, scale=scale)
    captum_attr, shap = anchors()
    sections = {1: lambda: bench_ig(args, captum_attr), 2: lambda: bench_shapley(args, captum_attr, shap),
                3: lambda: bench_occlusion(args, captum_attr), 5: lambda: bench_background_shapley(args, shap)}
    out: list[Row] = []
    for key, section in sections.items():
        if only in (None, key):
            out += section()
    return out


def main(argv: list[str] | None = None) -> None:
    # 1 thread by default: stable numbers on a shared machine
    parser = bench_parser(__doc__, repeats=5, tol=0.001, scale=1, threads=1)
    parser.add_argument("--only", type=int, choices=(1, 2, 3, 5), help="run one section")
    parser.add_argument("--default-allocator", action="store_true",
                        help="leave glibc's malloc thresholds dynamic (see pin_allocator: noisier timings)")
    args = parser.parse_args(argv)
    pin_threads(args.threads)
    pinned = not args.default_allocator and pin_allocator()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, float32, CPU, "
          f"malloc thresholds {'fixed' if pinned else 'dynamic (default)'}")
    result = rows(args.repeats, args.tol, args.scale, args.only)
    print()
    print_table(result, "attributions (IG, occlusion: medians of interleaved rounds; Shapley: best runs)")


if __name__ == "__main__":
    main()
