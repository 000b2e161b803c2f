"""Every transport limit of the kernel <-> browser link, named once with the reason for its value.

(The compute side's memory budget and tile size live in ``fxwidgets.compute.memory``: compute may not import
the runtime, and those numbers are about device memory, not about the wire.)
"""

#: Largest message one flush may send. Tornado refuses browser->kernel messages over 10 MiB by default and
#: the front end decodes a message in one piece on its main thread; 8 MiB stays under the first and keeps a
#: decode under ~50 ms. Larger updates are split by rows (see ``Coalescer``).
MAX_MESSAGE_BYTES = 8 * 2**20

#: Most flushes per second of a streaming view. Jupyter drops iopub traffic over 1000 msg/s, and a browser
#: paints at most 60 frames a second; 30 leaves every other frame for input handling while still looking live.
MAX_RATE_HZ = 30.0

#: Most bytes of features a view ships once so the page can answer hovers itself (PixelAffinity): the size
#: of one message, so shipping them never needs a split and never delays the first picture by more than that.
BROWSER_MAX_BYTES = MAX_MESSAGE_BYTES

#: Worker threads answering view requests. Requests are short (a tile, a pixel row); four keep a hover
#: answered while a few tiles are being computed, without oversubscribing a laptop's cores.
RPC_WORKERS = 4

#: How long Cancel waits, off the RPC pool, for a job to reach its next chunk before reporting the state it
#: reached. Chunks are sized to take well under a second.
CANCEL_WAIT_S = 5.0

#: How long the interpreter waits at exit for a worker thread to stop (a torch thread still running at exit
#: aborts the process).
EXIT_WAIT_S = 5.0
