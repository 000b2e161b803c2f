"""Attribution evaluation metrics: fxwidgets against Captum and Quantus on the same inputs, model, attributions,
perturbations, dtype (float32) and device (CPU).

Each row times one metric in both libraries at equal values: both sides get the same perturbations (a table of
draws replayed in the order each visits its rows, or Quantus' own numpy draws reproduced), and the time of
making the draws is inside both timings. Warm-up excluded; runs interleaved between contenders; best run
reported (on a shared CPU the minimum is the least disturbed measurement). Printed: fxwidgets' time, the
anchor's, the ratio anchor / fxwidgets (> 1: fxwidgets is faster) and the largest difference of the per-sample
values relative to the largest value.

Model: a small CNN (two 3x3 convolutions, 16 channels, pooled, linear head, 10 classes) on 3 x 32 x 32 inputs;
attributions: input x gradient. Scaled to run in about a minute on a 2-core CPU (--scale 2 doubles the samples).
Captum and Quantus: `pip install captum quantus`; a missing anchor is skipped with a message.

Run: python benchmarks/bench_evaluation.py [--repeats 5] [--scale 1] [--threads 1]
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import torch
from common import Row, bench_parser, interleaved, pin_threads, print_table

from fxwidgets.compute.evaluation import evaluate


def cnn(width: int = 16, n_out: int = 10) -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, width, 3, padding=1), torch.nn.ReLU(),
        torch.nn.Conv2d(width, width, 3, padding=1), torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(4), torch.nn.Flatten(), torch.nn.Linear(width * 16, n_out)).eval()


def input_x_gradient(model, inputs, target):
    x = torch.as_tensor(inputs)
    t = torch.as_tensor(target).long()
    with torch.enable_grad():
        x = x.detach().clone().requires_grad_(True)
        (g,) = torch.autograd.grad(model(x).gather(1, t[:, None]).sum(), x)
    return (g * x).detach()


class Replay:
    """A perturb_func handing out prepared rows in call order ('pair': (I, x - I); 'mask': (m, x with m at the
    baseline); 'add': x + noise)."""

    def __init__(self, table, kind):
        self.table, self.kind, self.pos = table, kind, 0

    def __call__(self, inputs, baselines=None):
        k = inputs.shape[0]
        t = self.table[self.pos:self.pos + k]
        self.pos += k
        if self.kind == "pair":
            return t, inputs - t
        if self.kind == "mask":
            return t, torch.where(t.bool(), baselines, inputs)
        return inputs + t


def captum_order(table: torch.Tensor, B: int, n: int, max_examples_per_batch: int) -> torch.Tensor:
    """The rows of a sample-major table (B * n, ...) in the order Captum asks for them when it splits the n draws into
    calls of max_examples_per_batch // B draws, each call sample-major over that group of draws."""
    per = max(1, min(n, max_examples_per_batch // B))
    t = table.view(B, n, *table.shape[1:])
    return torch.cat([t[:, g:g + per].reshape(-1, *table.shape[1:]) for g in range(0, n, per)])


def rel_diff(ref, ours) -> float:
    ref = np.asarray(ref, dtype=np.float64).ravel()
    ours = np.asarray(ours, dtype=np.float64).ravel()
    return float(np.nanmax(np.abs(ref - ours)) / np.nanmax(np.abs(ref)))


SIZE = ""  # set by rows(): the batch the metrics run on


def report_row(name: str, anchor: str, fns: dict, check, repeats: int) -> Row:
    """fns: "fx" and "anchor" on the same draws; optionally "own": fxwidgets with its own seeded draws."""
    t = interleaved(fns, repeats, stat="min")
    ref, ours = check()
    diff = rel_diff(ref, ours)
    own = f"   (fx, own draws: {t['own'] * 1e3:.1f} ms)" if "own" in t else ""
    print(f"   {name:27s} fx {t['fx'] * 1e3:8.1f} ms   {anchor:8s} {t['anchor'] * 1e3:9.1f} ms   "
          f"ratio {t['anchor'] / t['fx']:6.2f}x   max rel. difference {diff:.1e}{own}")
    return Row("evaluation", name, anchor, SIZE, t["fx"], t["anchor"], diff, "max rel diff",
               note=f"fx own draws {t['own'] * 1e3:.1f} ms" if "own" in t else "")


def rows(repeats: int = 5, scale: int = 1) -> list[Row]:
    """Every metric against Captum and Quantus at equal values (the caller pins the threads)."""
    global SIZE
    args = argparse.Namespace(repeats=repeats, scale=scale)
    out: list[Row] = []

    def report(*a) -> None:
        out.append(report_row(*a))

    warnings.filterwarnings("ignore")
    try:
        import captum.metrics as captum_metrics
    except ImportError:
        captum_metrics = None
        out.append(Row("evaluation", "Captum metrics", "Captum", "", note="captum not installed (pip install captum)"))
    try:
        import quantus
    except ImportError:
        quantus = None
        out.append(Row("evaluation", "Quantus metrics", "Quantus", "", note="quantus not installed (pip install quantus)"))

    net = cnn()
    B, C, S = 16 * args.scale, 3, 32
    D = C * S * S
    g = torch.Generator().manual_seed(0)
    x = torch.randn(B, C, S, S, generator=g)
    t = torch.arange(B) % 10
    a = input_x_gradient(net, x, t)
    xn, tn, an = x.numpy(), t.numpy(), a.numpy()
    chunk = 64
    SIZE = f"{B}x{C}x{S}x{S}"
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, float32, CPU; CNN, {B} x {C} x {S} x {S}, "
          f"input x gradient, chunk_size={chunk}")

    if captum_metrics is not None:
        print("\nCaptum")
        n = 20

        def noise_table():
            return 0.1 * torch.randn(B * n, C, S, S, generator=torch.Generator().manual_seed(1))

        def captum_infid(normalize):
            table = captum_order(noise_table(), B, n, chunk)
            return captum_metrics.infidelity(net, Replay(table, "pair"), x, a, target=t, n_perturb_samples=n,
                                             max_examples_per_batch=chunk, normalize=normalize)

        def fx_infid(normalize):
            return evaluate(net, x, a, target=t, chunk_size=chunk, metrics={"infidelity": {
                "n_samples": n, "normalize": normalize, "perturb_func": Replay(noise_table(), "pair")}})["infidelity"].values

        for normalize in (False, True):
            report(f"infidelity{' (normalize)' if normalize else ''}", "Captum",
                   {"fx": lambda nz=normalize: fx_infid(nz), "anchor": lambda nz=normalize: captum_infid(nz)},
                   lambda nz=normalize: (captum_infid(nz), fx_infid(nz)), args.repeats)

        ns = 10

        def unif_table():
            return (2 * torch.rand(B * ns, C, S, S, generator=torch.Generator().manual_seed(2)) - 1) * 0.02

        def captum_sens():
            def explanation_func(inputs, target):
                return (input_x_gradient(net, inputs[0] if isinstance(inputs, tuple) else inputs, target),)
            table = captum_order(unif_table(), B, ns, chunk)
            return captum_metrics.sensitivity_max(explanation_func, x, perturb_func=Replay(table, "add"),
                                                  n_perturb_samples=ns, max_examples_per_batch=chunk, target=t)

        def fx_sens():
            return evaluate(net, x, a, target=t, chunk_size=chunk, explain_func=input_x_gradient, metrics={
                "max_sensitivity": {"n_samples": ns, "perturb_func": Replay(unif_table(), "add")}})["max_sensitivity"].values

        report("max_sensitivity", "Captum", {"fx": fx_sens, "anchor": captum_sens}, lambda: (captum_sens(), fx_sens()),
               args.repeats)

    if quantus is not None:
        print("\nQuantus (its numpy draws reproduced for fxwidgets, inside the timing)")

        def qexplain(model, inputs, targets, **kw):
            return input_x_gradient(model, inputs, targets).numpy()

        runs, k = 50, D // 10

        def q_faith():
            np.random.seed(3)
            return quantus.FaithfulnessCorrelation(nr_runs=runs, subset_size=k, perturb_baseline="black",
                                                   return_aggregate=False, disable_warnings=True)(
                model=net, x_batch=xn, y_batch=tn, a_batch=an, batch_size=B)

        def fx_faith():
            np.random.seed(3)
            masks = torch.zeros(B, runs, D)
            for r in range(runs):
                for b in range(B):
                    masks[b, r, np.random.choice(D, k, replace=False)] = 1
                np.random.uniform(0, 1, size=B)  # Quantus' unused 'uniform' baseline draw
            return evaluate(net, x, a, target=t, chunk_size=chunk, metrics={"faithfulness_correlation": {
                "n_samples": runs, "baseline": "black", "perturb_func": Replay(masks.view(B * runs, C, S, S), "mask")}}
            )["faithfulness_correlation"].values

        def fx_faith_own():
            return evaluate(net, x, a, target=t, chunk_size=chunk, metrics={"faithfulness_correlation": {
                "n_samples": runs, "subset_size": k, "baseline": "black"}})

        report("faithfulness_correlation", "Quantus", {"fx": fx_faith, "anchor": q_faith, "own": fx_faith_own},
               lambda: (q_faith(), fx_faith()), args.repeats)

        ns, lb = 10, 0.02
        for name, cls in (("max_sensitivity", quantus.MaxSensitivity), ("avg_sensitivity", quantus.AvgSensitivity)):
            def q_sens(cls=cls):
                np.random.seed(5)
                return cls(nr_samples=ns, lower_bound=lb, disable_warnings=True)(
                    model=net, x_batch=xn, y_batch=tn, a_batch=an, explain_func=qexplain, batch_size=B)

            def fx_sens(name=name):
                np.random.seed(5)
                noise = np.stack([np.random.uniform(-lb, lb, size=(B, D)) for _ in range(ns)], 1)
                table = torch.tensor(noise, dtype=torch.float32).reshape(B * ns, C, S, S)
                return evaluate(net, x, a, target=t, chunk_size=chunk, explain_func=input_x_gradient,
                                metrics={name: {"n_samples": ns, "perturb_func": Replay(table, "add")}})[name].values

            def fx_own(name=name):
                return evaluate(net, x, a, target=t, chunk_size=chunk, explain_func=input_x_gradient,
                                metrics={name: {"n_samples": ns, "radius": lb}})

            report(name, "Quantus", {"fx": fx_sens, "anchor": q_sens, "own": fx_own},
                   lambda q=q_sens, f=fx_sens: (q(), f()), args.repeats)

        steps = D // 128  # Quantus wants features_in_step to divide H x W too

        def q_flip():
            return quantus.PixelFlipping(features_in_step=D // steps, perturb_baseline="black", disable_warnings=True)(
                model=net, x_batch=xn, y_batch=tn, a_batch=an, softmax=False, batch_size=B)

        def fx_flip():
            return evaluate(net, x, a, target=t, chunk_size=chunk,
                            metrics={"deletion": {"n_steps": steps, "baseline": "black"}})["deletion"].curves[:, 1:]

        report("deletion (pixel flipping)", "Quantus", {"fx": fx_flip, "anchor": q_flip},
               lambda: (np.array(q_flip()), fx_flip()), args.repeats)

        for name, cls in (("complexity", quantus.Complexity), ("sparseness", quantus.Sparseness)):
            def q_map(cls=cls):
                return cls(disable_warnings=True)(model=net, x_batch=xn, y_batch=tn, a_batch=an, batch_size=B)

            def fx_map(name=name):
                return evaluate(net, x, a, target=t, chunk_size=chunk, metrics=[name])[name].values

            report(name, "Quantus", {"fx": fx_map, "anchor": q_map}, lambda q=q_map, f=fx_map: (q(), f()), args.repeats)

        def q_mprt():
            return quantus.MPRT(seed=42, disable_warnings=True)(model=net, x_batch=xn, y_batch=tn, a_batch=an,
                                                                explain_func=qexplain, batch_size=B)

        def fx_mprt():
            return evaluate(net, x, a, target=t, chunk_size=chunk, explain_func=input_x_gradient, seed=43,
                            metrics=["model_randomisation"])["model_randomisation"]

        def check_mprt():
            q, rec = q_mprt(), fx_mprt()
            return np.stack([q[name] for name in rec.curve_labels], 1), rec.curves

        report("model_randomisation (MPRT)", "Quantus", {"fx": fx_mprt, "anchor": q_mprt}, check_mprt, args.repeats)

        def q_logit():
            return quantus.RandomLogit(num_classes=10, seed=42, similarity_func=quantus.similarity_func.correlation_spearman,
                                       disable_warnings=True)(model=net, x_batch=xn, y_batch=tn, a_batch=an,
                                                              explain_func=qexplain, batch_size=B)

        def fx_logit():
            np.random.seed(42)
            r = np.random.randint(0, 9, B)
            other = torch.tensor(np.where(r >= tn, r + 1, r))
            return evaluate(net, x, a, target=t, chunk_size=chunk, explain_func=input_x_gradient, metrics={
                "random_target": {"other_target": other, "similarity": "spearman"}})["random_target"].values

        report("random_target (RandomLogit)", "Quantus", {"fx": fx_logit, "anchor": q_logit},
               lambda: (q_logit(), fx_logit()), args.repeats)

        a1 = a.sum(1, keepdim=True)
        mask = np.zeros((B, 1, S, S), dtype=bool)
        mask[:, :, 8:16, 8:16] = True
        mt = torch.tensor(mask)
        for name, make in (("top_k_precision", lambda: quantus.TopKIntersection(k=64, abs=True, disable_warnings=True)),
                           ("mass_in_mask", lambda: quantus.RelevanceMassAccuracy(abs=True, disable_warnings=True))):
            def q_loc(make=make):
                return make()(model=net, x_batch=xn, y_batch=tn, a_batch=a1.numpy(), s_batch=mask, batch_size=B)

            def fx_loc(name=name):
                params = {"k": 64} if name == "top_k_precision" else {}
                return evaluate(net, x, a1, target=t, chunk_size=chunk, mask=mt, metrics={name: params})[name].values

            report(name, "Quantus", {"fx": fx_loc, "anchor": q_loc}, lambda q=q_loc, f=fx_loc: (q(), f()), args.repeats)

    return out


def main(argv: list[str] | None = None) -> None:
    args = bench_parser(__doc__, repeats=5, scale=1, threads=1).parse_args(argv)  # both libraries use torch's threads
    pin_threads(args.threads)
    result = rows(args.repeats, args.scale)
    print()
    print_table(result, "attribution evaluation metrics at equal values (best of interleaved runs)")


if __name__ == "__main__":
    main()
