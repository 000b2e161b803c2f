"""The benchmarks' one shared toolkit: timing, peak memory, threads, devices, and the table every script reports.

- ``interleaved(fns, repeats)``: one warm-up call each, then ``repeats`` rounds calling every contender once per
  round (fx, anchor, fx, anchor, ...), so that a busy spell of a shared machine falls on all of them alike; each
  time is the median over rounds (``stat="min"``: the least disturbed run). ``timed(fn, repeats)`` is one contender.
- ``peak_bytes(fn, device)``: the peak memory one call takes above what was held before it. On CUDA
  ``torch.cuda.max_memory_allocated``; on CPU the process's resident high-water mark (Linux ``VmHWM``, reset through
  ``/proc/self/clear_refs``), which sees torch, NumPy, faiss and every other allocator alike; where that reset is
  not allowed, ``tracemalloc`` (NumPy and Python allocations only).
- ``pin_threads(n)``: the same CPU thread count for torch, the BLAS under NumPy/SciPy/scikit-learn (threadpoolctl),
  faiss (OpenMP) and, through the environment, child processes.
- ``Row``: one line of the table: a family, what is timed, the anchor, size, threads, device, fxwidgets' seconds,
  the anchor's seconds, ratio = anchor / fx (> 1: fxwidgets is faster) and an agreement figure with its meaning.
- ``print_table(rows)``, ``write_json(path, rows, **extra)``, ``machine()``.
- ``bench_parser(doc, **options)``: every script's command line, the shared options (``--repeats``, ``--threads``,
  ``--device``) with one meaning everywhere.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import gc
import json
import os
import platform
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
              "NUMEXPR_NUM_THREADS")


# ---------------------------------------------------------------------------------------------------- devices
def cuda_available() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:
        return False


def devices(requested: str | None = None) -> list[str]:
    """``["cpu"]`` plus ``"cuda"`` when a GPU is present; ``requested`` ("cpu" or "cuda") picks one."""
    if requested:
        if requested == "cuda" and not cuda_available():
            raise SystemExit("--device cuda: no CUDA device here")
        return [requested]
    return ["cpu"] + (["cuda"] if cuda_available() else [])


def sync_for(device: str) -> Callable[[], None]:
    """What makes a timing wait for the device: ``torch.cuda.synchronize`` on a GPU, nothing on the CPU."""
    if str(device).startswith("cuda"):
        import torch

        return torch.cuda.synchronize
    return lambda: None


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_name(device: str) -> str:
    if str(device).startswith("cuda"):
        import torch

        return torch.cuda.get_device_name()
    return f"{cpu_name()} ({os.cpu_count()} cores)"


# ---------------------------------------------------------------------------------------------------- threads
def pin_threads(n: int | None = None) -> int:
    """Give every library the same CPU thread count (default: torch's current one) and return it."""
    import torch

    n = int(n or torch.get_num_threads())
    for key in THREAD_ENV:  # for child processes (and libraries not imported yet)
        os.environ[key] = str(n)
    torch.set_num_threads(n)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(n)
    except ImportError:
        pass
    if "faiss" in sys.modules:
        sys.modules["faiss"].omp_set_num_threads(n)
    return n


def current_threads() -> int:
    import torch

    return torch.get_num_threads()


# ---------------------------------------------------------------------------------------------------- timing
def interleaved(fns: dict, repeats: int, sync: Callable[[], None] | None = None, stat: str = "median",
                outputs: dict | None = None, warmup: bool = True) -> dict:
    """Seconds per callable: one warm-up each, then ``repeats`` rounds calling each once per round.

    ``stat``: "median" (default) or "min" over the rounds. ``outputs``: a dict that receives each callable's last
    return value (so that agreement can be checked without running it again)."""
    sync = sync or (lambda: None)
    if warmup:
        for name, fn in fns.items():
            out = fn()
            sync()
            if outputs is not None:
                outputs[name] = out
    times: dict = {name: [] for name in fns}
    for _ in range(max(1, repeats)):
        for name, fn in fns.items():
            sync()
            t0 = time.perf_counter()
            out = fn()
            sync()
            times[name].append(time.perf_counter() - t0)
            if outputs is not None:
                outputs[name] = out
    pick = min if stat == "min" else statistics.median
    return {name: pick(t) for name, t in times.items()}


def timed(fn: Callable, repeats: int, sync: Callable[[], None] | None = None, stat: str = "median",
          warmup: bool = True) -> float:
    """Seconds of one callable (warm-up excluded, median of ``repeats``)."""
    return interleaved({"fn": fn}, repeats, sync, stat=stat, warmup=warmup)["fn"]


# ---------------------------------------------------------------------------------------------------- memory
def _proc_status(key: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _reset_hwm() -> bool:
    # Writing "5" to clear_refs resets the resident high-water mark (Linux >= 4.0): VmHWM then measures from here.
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _trim_heap() -> None:
    # Freed memory the C heap keeps (glibc raises its mmap threshold after large frees, so later large blocks come
    # from the heap) is resident already: a call reusing it would not raise the high-water mark. malloc_trim hands
    # every free page back first, so what the call touches is counted.
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def peak_bytes(fn: Callable, device: str = "cpu") -> tuple[int, str]:
    """(peak bytes one call of ``fn`` holds above what was held before it, how that was measured)."""
    gc.collect()
    if str(device).startswith("cuda"):
        import torch

        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        fn()
        torch.cuda.synchronize()
        return max(0, torch.cuda.max_memory_allocated() - base), "torch.cuda.max_memory_allocated"
    _trim_heap()
    base = _proc_status("VmRSS")
    if base is not None and _reset_hwm():
        fn()
        return max(0, (_proc_status("VmHWM") or 0) - base), "resident high-water mark"
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1], "tracemalloc (NumPy/Python only)"
    finally:
        tracemalloc.stop()


# ---------------------------------------------------------------------------------------------------- rows
@dataclass
class Row:
    """One measured comparison. ``ratio`` = anchor_s / fx_s: above 1 fxwidgets is faster; for an anchor that is
    the bare operation (a torch matmul, the model passes), it is the share of fxwidgets' time the bare work takes.
    ``agree`` is a number and ``agree_what`` its meaning ("max |diff|", "recall@10", "rank corr", ...)."""

    family: str
    what: str
    anchor: str
    size: str
    fx_s: float | None = None
    anchor_s: float | None = None
    agree: float | None = None
    agree_what: str = ""
    threads: int = field(default_factory=current_threads)
    device: str = "cpu"
    note: str = ""
    fx_peak: int | None = None
    anchor_peak: int | None = None

    @property
    def ratio(self) -> float | None:
        if self.fx_s and self.anchor_s:
            return self.anchor_s / self.fx_s
        return None

    @property
    def agreement(self) -> str:
        if self.agree is None:
            return self.agree_what
        v = self.agree
        if isinstance(v, bool):
            num = str(v)
        elif v == 0 or 1e-2 <= abs(v) < 1e4:
            num = f"{v:.4g}"
        else:
            num = f"{v:.1e}"
        return f"{self.agree_what} {num}".strip()

    def as_dict(self) -> dict:
        d = asdict(self)
        d["ratio"] = self.ratio
        d["agreement"] = self.agreement
        return d


def skipped(family: str, what: str, anchor: str, size: str, why: str, **kw) -> Row:
    """A row for a comparison that could not run (an anchor not installed, no browser, ...): the table says why."""
    return Row(family, what, anchor, size, note=why, **kw)


def missing(module: str, install: str | None = None) -> str | None:
    """None when ``module`` imports, else the note to put in the row."""
    try:
        __import__(module)
        return None
    except ImportError:
        return f"{module} not installed (pip install {install or module})"


def _ms(s: float | None) -> str:
    if s is None:
        return "-"
    return f"{s * 1e3:.1f} ms" if s < 10 else f"{s:.1f} s"


def mib(b: int | None) -> str:
    return "-" if b is None else f"{b / 2**20:.1f} MiB"


COLUMNS = ("family", "what", "anchor", "size", "thr", "device", "fx", "anchor time", "ratio", "agreement",
           "peak fx / anchor")


def table_lines(rows: list[Row]) -> list[str]:
    cells = [COLUMNS]
    for r in rows:
        ratio = f"{r.ratio:.2f}x" if r.ratio is not None else "-"
        agreement = "; ".join(v for v in (r.agreement, r.note) if v)
        cells.append((r.family, r.what, r.anchor, r.size, str(r.threads), r.device.split(" (")[0], _ms(r.fx_s),
                      _ms(r.anchor_s), ratio, agreement,
                      "-" if r.fx_peak is None and r.anchor_peak is None else f"{mib(r.fx_peak)} / {mib(r.anchor_peak)}"))
    width = [max(len(c[i]) for c in cells) for i in range(len(COLUMNS))]
    out = []
    for k, c in enumerate(cells):
        out.append("| " + " | ".join(v.ljust(width[i]) for i, v in enumerate(c)) + " |")
        if k == 0:
            out.append("|" + "|".join("-" * (w + 2) for w in width) + "|")
    return out


def print_table(rows: list[Row], title: str | None = None, file=None) -> None:
    file = file or sys.stdout
    if title:
        print(title, file=file)
    print("\n".join(table_lines(rows)), file=file, flush=True)
    print("ratio = anchor time / fx time (> 1: fxwidgets is faster; for a bare-operation anchor, the share of fx's "
          "time the bare work takes)", file=file)


# ---------------------------------------------------------------------------------------------------- machine, JSON
def pin_allocator() -> bool:
    """Fix glibc's malloc thresholds for the rest of the process (True when done). By default glibc raises its
    mmap threshold and trims the heap as large blocks come and go, so a freed 4 MB activation may go back to the
    kernel and be faulted in again by the next pass: measured here, about 15,000 minor page faults per IG or
    occlusion call, half of each contender's CPU time, and which blocks go back depends on what the previous call
    left, so fxwidgets, the bare passes and Captum moved by 10-20% against each other from run to run. With the
    thresholds fixed (32 MiB mmap threshold, no trimming) the faults stop after the warm-up for all three alike,
    and the medians measure the code. Equivalent to GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:
    glibc.malloc.trim_threshold=2147483647 before the process starts."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h
        return bool(libc.mallopt(M_MMAP_THRESHOLD, 32 * 2**20)) and bool(libc.mallopt(M_TRIM_THRESHOLD, 2**31 - 1))
    except (OSError, AttributeError):
        return False


def machine(device: str = "cpu") -> dict:
    import numpy
    import torch

    info = {"cpu": cpu_name(), "cores": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "torch": torch.__version__, "numpy": numpy.__version__,
            "threads": torch.get_num_threads(), "device": device, "device_name": device_name(device),
            "cuda": torch.version.cuda if torch.cuda.is_available() else None,
            "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None}
    return info


def write_json(path: str | Path, rows: list[Row], **extra) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = dict(extra)
    doc["rows"] = [r.as_dict() for r in rows]
    path.write_text(json.dumps(doc, indent=1, default=str) + "\n")
    return path


# ---------------------------------------------------------------------------------------------------- command line
def int_list(text: str) -> list[int]:
    """``"100000,1000000"`` -> ``[100000, 1000000]`` (a list of sizes on the command line)."""
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers, got {text!r}") from None


def _shown(default) -> str:
    return ",".join(map(str, default)) if isinstance(default, (list, tuple)) else str(default)


# The options several scripts take, with one meaning: (argparse keywords, help with the default filled in).
SHARED_OPTIONS = {
    "repeats": ({"type": int}, "timed rounds per contender, warm-up excluded (default {})"),
    "threads": ({"type": int}, "CPU threads for torch and the BLAS under NumPy/SciPy/scikit-learn alike (default {})"),
    "device": ({"choices": ("cpu", "cuda")}, "where torch runs (default {})"),
}
SHARED_DEFAULT_TEXT = {"threads": "all of torch's", "device": "the CPU and, when present, the GPU"}


def bench_parser(doc: str | None, **options) -> argparse.ArgumentParser:
    """The command line of a benchmark script: ``doc`` (its docstring) as the help text, and one option per keyword,
    its value the default: ``bench_parser(__doc__, n=8192, repeats=7, device=None)`` takes ``--n``, ``--repeats`` and
    ``--device``. ``repeats``, ``threads`` and ``device`` mean the same in every script (SHARED_OPTIONS); any other
    option has the default's type: a whole number, a float, a string, a list of whole numbers written
    ``100000,1000000``, or False for a flag. Underscores become dashes (``ray_rows`` -> ``--ray-rows``). Options
    that need their own help or choices are added to the parser returned."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name, default in options.items():
        flag = "--" + name.replace("_", "-")
        if name in SHARED_OPTIONS:
            kw, text = SHARED_OPTIONS[name]
            shown = SHARED_DEFAULT_TEXT[name] if default is None else _shown(default)
            parser.add_argument(flag, default=default, help=text.format(shown), **kw)
        elif default is None:
            raise TypeError(f"bench_parser: {name}=None says nothing of the option's type; give a typed default")
        elif default is False:
            parser.add_argument(flag, action="store_true")
        elif isinstance(default, (list, tuple)):
            parser.add_argument(flag, type=int_list, default=list(default), metavar="N,N,...",
                                help=f"(default {_shown(default)})")
        else:
            parser.add_argument(flag, type=type(default), default=default, help=f"(default {default})")
    return parser
