"""Every benchmark family in one table: fxwidgets against each anchor, with the ratio and the agreement.

    python benchmarks/run_all.py [--quick] [--device cuda] [--no-browser] [--only knn,cka] [--threads N]

Runs each family's ``rows()`` at a size that finishes the whole table in about 15 minutes on a 2-core CPU
(``--quick``: about 3 minutes, smaller sizes and fewer repeats), prints one table (a Markdown table, also written to
``benchmarks/results/bench.md`` for docs/benchmarks.md) and writes ``benchmarks/results/bench.json``: the machine
(CPU, cores, torch, threads, device name, date, load average) and every row. Ratio = anchor time / fxwidgets time
(> 1: fxwidgets is faster). An anchor that is not installed, or a family that fails, becomes a row saying so; the
rest still runs. The browser families (streaming, scatter) start headless Chromium (and JupyterLab);
``--no-browser`` leaves them out.

``--device cuda`` runs the families whose anchors run on a GPU (affinity against torch, CKA against ckatorch) on
it; every other family's anchors are CPU-only, so those rows stay on the CPU and say so.

Threads: every library gets the same count (``--threads``, default all of torch's); attribution and evaluation are
pinned to 1 thread, their own protocol on a shared machine (``--threads`` overrides).
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import Row, bench_parser, machine, pin_allocator, pin_threads, print_table, table_lines, write_json

RESULTS = HERE / "results" / "bench.json"


def families(quick: bool, device: str | None) -> dict:
    """name -> (threads override or None, browser?, callable returning rows). Sizes: default / --quick."""
    q = quick

    def affinity():
        import bench_affinity

        return bench_affinity.rows(n=2048 if q else 4096, d=512, repeats=3 if q else 5, device=device)

    def knn():
        import bench_knn

        return bench_knn.rows(n=5000 if q else 20000, d=128, k=10, repeats=1 if q else 3)

    def cka():
        import bench_cka

        return bench_cka.rows(n=256 if q else 512, batch=128 if q else 256, repeats=1 if q else 3, device=device)

    def attribution():
        import bench_attribution

        return bench_attribution.rows(repeats=2 if q else 5)

    def evaluation():
        import bench_evaluation

        return bench_evaluation.rows(repeats=1 if q else 3)

    def selection():
        import bench_selection

        return bench_selection.rows(repeats=1 if q else 3, scale=0.25 if q else 1.0)

    def datasets():
        import bench_datasets

        return bench_datasets.rows(scale=0.1 if q else 0.5, repeats=1 if q else 3)

    def scaleout():
        import bench_scaleout

        n, queries = (20_000, 500) if q else (100_000, 2000)
        return (bench_scaleout.bench_knn([n], 32, queries, 10, None)
                + bench_scaleout.bench_ray([200 if q else 400], reps=1 if q else 3))

    def streaming():
        import bench_streaming

        return bench_streaming.rows(n=2048 if q else 4096, reps=1 if q else 2)

    def scatter():
        import bench_scatter

        return bench_scatter.rows([100_000] if q else [100_000, 1_000_000], frames=5 if q else 10, reps=1 if q else 2)

    return {"affinity": (None, False, affinity), "knn": (None, False, knn), "cka": (None, False, cka),
            "attribution": (1, False, attribution), "evaluation": (1, False, evaluation),
            "selection": (None, False, selection), "datasets": (None, False, datasets),
            "scaleout": (None, False, scaleout), "streaming": (None, True, streaming),
            "scatter": (None, True, scatter)}


def browser_missing() -> str | None:
    """Why the browser families cannot run here, or None."""
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright not installed (the test extra)"
    if not (HERE.parent / "fxwidgets" / "static" / "scatter.js").exists():
        return "front end not built (npm run build)"
    sys.path.insert(0, str(HERE.parent / "tests" / "e2e"))
    try:
        import lab

        lab.require_chromium()
    except (ImportError, RuntimeError) as e:  # lab.require_chromium raises with what to install
        return f"no Chromium: {e}"
    return None


def main(argv: list[str] | None = None) -> int:
    # --device: where the GPU-capable families run; --threads: every family's, theirs by default
    ap = bench_parser(__doc__, device="cpu", threads=None)
    ap.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats (about 3 minutes)")
    ap.add_argument("--no-browser", action="store_true", help="leave out streaming and scatter (Chromium)")
    ap.add_argument("--only", help="comma-separated families (affinity, knn, cka, attribution, evaluation, "
                                   "selection, datasets, scaleout, streaming, scatter)")
    ap.add_argument("--out", default=str(RESULTS), help="where the JSON goes")
    ap.add_argument("--default-allocator", action="store_true",
                    help="leave glibc's malloc thresholds dynamic (see common.pin_allocator: noisier timings)")
    args = ap.parse_args(argv)
    # Every family, anchors included, runs with the same fixed malloc thresholds (see pin_allocator).
    pinned = not args.default_allocator and pin_allocator()

    import torch

    base_threads = args.threads or torch.get_num_threads()
    table = families(args.quick, args.device)
    chosen = args.only.split(",") if args.only else list(table)
    unknown = set(chosen) - set(table)
    if unknown:
        ap.error(f"--only: unknown families {sorted(unknown)}; known: {', '.join(table)}")
    no_browser = "left out (--no-browser)" if args.no_browser else None
    info = machine(args.device)
    print(f"make bench{' --quick' if args.quick else ''}: {info['cpu']} ({info['cores']} cores), "
          f"{info['device_name'] if args.device == 'cuda' else 'CPU'}, torch {info['torch']}, "
          f"{base_threads} threads, load average {info['load_average']:.1f}, "
          f"malloc thresholds {'fixed' if pinned else 'dynamic'}", flush=True)
    rows: list[Row] = []
    seconds: dict = {}
    t_all = time.perf_counter()
    for name in chosen:
        own_threads, needs_browser, fn = table[name]
        why = (no_browser or browser_missing()) if needs_browser else None
        if why:
            rows.append(Row(name, "(all)", "-", "-", note=why))
            continue
        pin_threads(args.threads or own_threads or base_threads)
        print(f"\n== {name}", flush=True)
        t0 = time.perf_counter()
        try:
            got = fn()
        except Exception as e:  # noqa: BLE001 -- one family failing leaves the others' rows
            traceback.print_exc()
            got = [Row(name, "(failed)", "-", "-", note=f"{type(e).__name__}: {str(e)[:160]}")]
        seconds[name] = round(time.perf_counter() - t0, 1)
        rows += got
        print(f"-- {name}: {seconds[name]:.0f} s", flush=True)
    pin_threads(base_threads)
    total = time.perf_counter() - t_all
    print()
    print_table(rows, f"{len(rows)} rows in {total / 60:.1f} min")
    out = write_json(args.out, rows, machine=info, quick=args.quick, threads=base_threads, malloc_pinned=pinned,
                     seconds_per_family=seconds, total_seconds=round(total, 1))
    md = out.with_suffix(".md")
    md.write_text(f"Measured {info['date']} on {info['device_name']}, torch {info['torch']}, {base_threads} threads "
                  f"(load average {info['load_average']:.1f} at the start; malloc thresholds {'fixed' if pinned else 'dynamic'}), "
                  f"{'--quick' if args.quick else 'default'} "
                  f"sizes, {total / 60:.1f} min:\n\n" + "\n".join(table_lines(rows)) + "\n")
    print(f"written to {out} and {md}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
