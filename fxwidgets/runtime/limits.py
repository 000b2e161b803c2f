"""Every transport limit of the kernel <-> browser link, named once with the reason for its value.

(The compute side's memory budget and tile size live in ``fxwidgets.compute.memory``: compute may not import
the runtime, and those numbers are about device memory, not about the wire.)
"""

#: Largest message one flush may send. Tornado refuses browser->kernel messages over 10 MiB by default and
#: the front end decodes a message in one piece on its main thread; 8 MiB stays under the first and keeps a
#: decode under ~50 ms. Larger updates are split by rows (see ``Coalescer``). Not a throughput limit: 64 MiB
#: through JupyterLab as 1, 8 or 32 MiB messages moved at 141, 160 and 164 MB/s (bench_streaming --loop-mib,
#: same run, medians; docs/benchmarks.md), within the run's noise, while 32 MiB messages doubled the server's CPU.
MAX_MESSAGE_BYTES = 8 * 2**20

#: Most flushes per second of a streaming view. Jupyter drops iopub traffic over 1000 msg/s, and a browser
#: paints at most 60 frames a second; 30 leaves every other frame for input handling while still looking live.
#: Not what limits a fast stream either: a 64 MiB matrix computed in ~0.1 s leaves in 9-11 messages of 6-8 MiB
#: (the size cap, not the rate, sets the count), and the page, not the kernel, is the bottleneck.
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

#: Largest picture (PNG bytes) a view may send of itself. The browser retakes a picture at a lower scale above
#: 2 MiB (js/lib/snapshot.ts, MAX_PNG_BYTES); 4 MiB leaves room for a HiDPI picture of a wide view. A picture is
#: kept in the widget state and in the notebook's picture output, so it must stay far below one message.
MAX_PICTURE_BYTES = 4 * 2**20

#: Largest width or height (CSS px) a picture may claim: wider than any output area, and a bound on the
#: ``width`` attribute written into the notebook.
MAX_PICTURE_SIDE = 16384

#: Most bytes of data one view ships into a standalone HTML page (``save_html``) so that hover, zoom and the
#: other requests are answered without a kernel. The page holds everything in memory and base64 adds a third:
#: 32 MiB keeps a file under ~45 MB, which a browser opens in a second and a mail or an issue still accepts.
#: What does not fit (finer zoom levels, exact values of a huge matrix) answers "needs the kernel".
STANDALONE_MAX_BYTES = 32 * 2**20

#: Most characters of a message's own text (a method name, an id, a value) an error reply echoes back. A page
#: that sends a megabyte as a method name gets a readable error, not the megabyte back.
MAX_ECHO_CHARS = 200

#: Longest request id and channel name the kernel accepts (the page uses short counters and view names; the
#: channel table holds one entry per channel with a request in flight).
MAX_ID_CHARS = 256
MAX_CHANNEL_CHARS = 256
