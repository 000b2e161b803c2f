"""End-to-end streaming throughput: kernel -> real JupyterLab -> AffinityHeatmap in headless Chromium.

Per repetition: a cell creates an RBF affinity job over ``n`` points *without starting it*
(``fxwidgets.testing.slow_affinity_job(n, delay=0, start=False)``) and displays its live view; once the view is
on the page, a second cell starts the job. Timed: from that cell's ``job.start()`` (kernel clock) to the moment the
view's root element first shows ``data-status="done"`` *and* ``data-tiles`` equal to the number of tile messages
the kernel sent (``view.messages_sent``, read from Python afterwards). The page timestamps attribute changes with a
MutationObserver (``performance.timeOrigin + performance.now()``); kernel and browser share this machine's clock.
So the figure covers computing the matrix, coalescing, encoding, the websocket, decoding and applying the tiles
(the canvas redraw is scheduled on an animation frame; ``data-draws`` is reported, not waited on).

Why the view comes first: when one cell both starts a job and displays its view, tiles sent before the view has
rendered have no listener and are dropped (the view's ``snapshot`` request re-sends them), so "tiles applied ==
tiles sent" would not hold and the end of the transfer would be ambiguous.

Run:   .venv/bin/python benchmarks/bench_streaming.py [--n 4096] [--reps 3] [--chunk-size 256]

Caveat (e2e recipe, pitfall 10): Playwright's driver subscribes to CDP websocket frames, so every kernel frame is
also copied, base64-encoded, to its Node process. On 2 cores that makes large transfers slower than in a plain
browser (64 MB: ~0.85-1.3 s under Playwright vs ~0.70 s bare CDP in the recipe's probe). Read these numbers as a
lower bound on what a user's browser gets.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "e2e"))
import lab  # noqa: E402
from common import Row  # noqa: E402

NB = "bench_streaming.ipynb"
ROOT = "div.fx-heatmap"

PITFALL = ("note: Playwright instruments the page's websockets (every kernel frame is also copied base64 to its "
           "driver; e2e recipe pitfall 10), so these rates are a lower bound on a plain browser's")

# Installs, once per page, a log of data-status / data-tiles / data-draws changes on every heatmap root.
OBSERVER_JS = r"""
if (window.__fxObserver) return true;
const now = () => performance.timeOrigin + performance.now();
const snap = (el) => {
  (el.__fxlog = el.__fxlog || []).push({t: now(), status: el.getAttribute('data-status'),
    tiles: Number(el.getAttribute('data-tiles') || 0), draws: Number(el.getAttribute('data-draws') || 0)});
};
window.__fxObserver = new MutationObserver((records) => {
  for (const r of records) {
    if (r.type === 'attributes' && r.target.matches && r.target.matches('div.fx-heatmap')) snap(r.target);
    else if (r.type === 'childList') {
      for (const n of r.addedNodes) {
        if (!n.querySelectorAll) continue;
        if (n.matches('div.fx-heatmap')) snap(n);
        n.querySelectorAll('div.fx-heatmap').forEach(snap);
      }
    }
  }
});
window.__fxObserver.observe(document.body, {subtree: true, childList: true, attributes: true,
  attributeFilter: ['data-status', 'data-tiles', 'data-draws']});
return true;
"""

READ_LOG_JS = r"""
const el = document.querySelectorAll('div.fx-heatmap')[arg];
if (!el) throw new Error('no heatmap #' + arg);
return el.__fxlog || [];
"""


def _setup_cells() -> list[str]:
    return [
        "import time, gc\n"
        "from IPython.display import display\n"
        "import fxwidgets as fx\n"
        "from fxwidgets.testing import slow_affinity_job\n"
        # warm up torch kernels and the widget bundle (the first render loads the ES module)
        "_w = slow_affinity_job(n=256, delay=0.0, chunk_size=64)\n"
        "_w.wait(60)\n"
        "_wv = _w.show()\n"
        "_wv",
    ]


def _create_cell(n: int, chunk_size: int) -> str:
    return (
        f"job = slow_affinity_job(n={n}, delay=0.0, chunk_size={chunk_size}, start=False)\n"
        "view = job.show()\n"
        "display(view)\n"
        "print(view.model_id)"
    )


START_CELL = "_t0 = time.time()\njob.start()\nprint('started')"


def run(n: int = 4096, reps: int = 3, chunk_size: int = 256, timeout_s: float = 240.0) -> dict:
    from playwright.sync_api import sync_playwright

    lab.require_chromium()
    art = lab.artifacts_dir()
    server = lab.LabServer(artifacts=art).start()
    pw = sync_playwright().start()
    pids: list[int] = []
    results: list[dict] = []
    tmo = int(timeout_s * 1000)
    try:
        browser, pids = lab.launch_browser(pw)
        console: list[str] = []
        page = lab.new_page(browser, console)
        server.put_notebook(NB, _setup_cells())
        lab.open_notebook(page, server.base_url, NB)
        lab.run_all(page, NB, timeout_ms=180_000)
        warm_id = lab.run_cell_json(page, "_wv.model_id")
        warm_nth = lab.widget_element_index(page, NB, warm_id, ROOT, 60_000)
        lab.wait_attr(page, ROOT, "data-status", "v === 'done'", 60_000, nth=warm_nth)
        lab.evaluate_async(page, OBSERVER_JS, None, 5_000)

        # Compute alone (no view), for reference: what the transport adds on top of it.
        compute_s = lab.run_cell_json(
            page, "round(_dt, 4)",
            setup=f"_j = slow_affinity_job(n={n}, delay=0.0, chunk_size={chunk_size}, start=False)\n"
                  "_t = time.perf_counter(); _j.start(); _j.wait(120); _dt = time.perf_counter() - _t\n"
                  "assert _j.status == 'done', _j",
        )

        for rep in range(reps):
            out = lab.run_cell_and_read(page, _create_cell(n, chunk_size), timeout_ms=tmo)
            model_id = out.strip().splitlines()[-1]
            nth = lab.widget_element_index(page, NB, model_id, ROOT, tmo)
            lab.wait_attr(page, ROOT, "data-status", "v === 'running'", 60_000, nth=nth)
            lab.run_cell_and_read(page, START_CELL, timeout_ms=tmo)
            lab.wait_attr(page, ROOT, "data-status", "v === 'done' || v === 'error' || v === 'cancelled'", tmo,
                          nth=nth)
            k = lab.run_cell_json(
                page,
                "{'t0': _t0, 'messages': view.messages_sent, 'bytes': view.bytes_sent, 'status': job.status, "
                "'shape': view.shape, 'display_shape': view.display_shape}",
                setup="job.wait(60)",
            )
            assert k["status"] == "done", k
            tiles = lab.wait_attr(page, ROOT, "data-tiles", f"Number(v) >= {k['messages']}", 60_000, nth=nth)
            log = lab.evaluate_async(page, READ_LOG_JS, nth, 5_000)
            done = [e for e in log if e["status"] == "done" and e["tiles"] >= k["messages"]]
            if not done:
                raise AssertionError(f"rep {rep}: no log entry with status done and {k['messages']} tiles: {log[-5:]}")
            first_tile = next((e["t"] for e in log if e["tiles"] > 0), None)
            elapsed = done[0]["t"] / 1000 - k["t0"]
            rec = {
                "rep": rep, "seconds": round(elapsed, 4), "messages": k["messages"], "bytes": k["bytes"],
                "view_tiles": int(tiles), "MB_per_s": round(k["bytes"] / elapsed / 1e6, 2),
                "matrix_MB_per_s": round(n * n * 4 / elapsed / 1e6, 2),
                "first_tile_after_s": None if first_tile is None else round(first_tile / 1000 - k["t0"], 4),
                "draws": log[-1]["draws"] if log else None,
            }
            results.append(rec)
            print(f"  rep {rep}: {rec['seconds']:.3f} s, {rec['messages']} messages "
                  f"({rec['view_tiles']} applied by the view), {rec['bytes'] / 2**20:.1f} MiB -> "
                  f"{rec['MB_per_s']:.1f} MB/s (first tile after {rec['first_tile_after_s']} s)", flush=True)
            if rep == reps - 1:
                page.locator(ROOT).nth(nth).screenshot(path=str(art / "bench_streaming.png"))
            # Free the page and the kernel before the next repetition.
            lab.run_cell_and_read(page, "view.close(); del view, job; gc.collect(); print('ok')")

        (art / "bench_console.log").write_text("\n".join(console) + "\n")
        page.context.close()
        browser.close()
    finally:
        try:
            pw.stop()
        finally:
            lab.kill_pids(pids)
            server.stop()

    secs = [r["seconds"] for r in results]
    summary = {
        "n": n, "chunk_size": chunk_size, "reps": reps, "matrix_MiB": n * n * 4 / 2**20,
        "median_seconds": statistics.median(secs),
        "median_MB_per_s": statistics.median(r["MB_per_s"] for r in results),
        "median_matrix_MB_per_s": statistics.median(r["matrix_MB_per_s"] for r in results),
        "messages": [r["messages"] for r in results], "bytes": [r["bytes"] for r in results],
        "bytes_per_message": statistics.median(r["bytes"] / max(1, r["messages"]) for r in results),
        "compute_only_seconds": compute_s, "runs": results, "note": PITFALL,
    }
    (art / "bench_streaming.json").write_text(json.dumps(summary, indent=2))
    return summary


def rows(n: int = 4096, reps: int = 3, chunk_size: int = 256) -> list[Row]:
    """End-to-end seconds against computing the same matrix with no view (ratio: the share of the end-to-end time
    the compute takes); every repetition checks that the view applied every tile the kernel sent."""
    s = run(n=n, reps=reps, chunk_size=chunk_size)
    return [Row("streaming", "rbf affinity job -> AffinityHeatmap in JupyterLab", "the same job, no view",
                f"{n}x{n} float32 ({s['matrix_MiB']:.0f} MiB)", s["median_seconds"], s["compute_only_seconds"],
                1.0, "tiles applied / sent",
                note=f"{s['median_MB_per_s']:.1f} MB/s on the wire, Playwright-instrumented (a lower bound)")]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=4096, help="matrix side (default 4096: 64 MiB of float32)")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--chunk-size", type=int, default=256, help="rows per computed tile")
    a = p.parse_args(argv)
    print(f"bench_streaming: {a.n}x{a.n} float32 rbf affinity streamed to an AffinityHeatmap in JupyterLab "
          f"(headless Chromium), {a.reps} reps", flush=True)
    s = run(n=a.n, reps=a.reps, chunk_size=a.chunk_size)
    print(PITFALL)
    reps_txt = ", ".join(f"{r['seconds']:.2f}" for r in s["runs"])
    print(
        f"bench_streaming: {s['n']}x{s['n']} float32 ({s['matrix_MiB']:.0f} MiB) -> median "
        f"{s['median_MB_per_s']:.1f} MB/s on the wire ({s['median_matrix_MB_per_s']:.1f} MB/s of matrix), "
        f"{s['median_seconds']:.2f} s job start -> view done (reps {reps_txt} s); "
        f"tile messages per rep {', '.join(map(str, s['messages']))} "
        f"(median {s['bytes_per_message'] / 2**20:.2f} MiB each); "
        f"compute alone {s['compute_only_seconds']:.2f} s; Playwright-instrumented websockets: a lower bound"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
