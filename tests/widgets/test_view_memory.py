"""Views give their memory back: a closed view is collected, so showing and closing many never adds up."""

import gc
import weakref

import psutil
import torch

import fxwidgets as fx


def _rss_mib() -> float:
    gc.collect()
    return psutil.Process().memory_info().rss / 2**20


def test_a_closed_streamed_heatmap_is_collected():
    job = fx.affinity(torch.randn(300, 8), stream=True)
    view = job.show()
    job.result()
    view.close()
    ref = weakref.ref(view)
    del view, job
    gc.collect()
    assert ref() is None  # nothing (anywidget's file watcher, a listener, the RPC pool) keeps it alive


def test_showing_and_closing_a_streamed_view_100_times_keeps_the_kernel_bounded():
    X = torch.randn(1024, 16)  # each matrix is 4 MiB, its display copy 4 MiB more: 100 leaked views = 800 MiB
    refs = []

    def cycle():
        job = fx.affinity(X, stream=True)
        view = job.show()
        job.result()
        view.close()
        refs.append(weakref.ref(view))

    for _ in range(10):  # warm the allocator's arenas and the thread pool first
        cycle()
    before = _rss_mib()
    for _ in range(100):
        cycle()
    grown = _rss_mib() - before
    assert sum(r() is not None for r in refs) == 0
    # Leaking views would grow it by ~800 MiB; the allocator keeps a few arenas of freed memory (up to ~120 MiB seen).
    assert grown < 250, f"the kernel grew by {grown:.0f} MiB over 100 closed views"


def test_a_closed_zoom_heatmap_is_collected():
    view = fx.ZoomHeatmap(torch.randn(2000, 8))
    view.tile(0, 0, 0)
    view.close()
    ref = weakref.ref(view)
    del view
    gc.collect()
    assert ref() is None
