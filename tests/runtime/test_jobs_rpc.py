import threading
import time

import numpy as np
import pytest
import torch

import fxwidgets as fx
from fxwidgets.compute.affinity import AffinityAccumulator, iter_affinity_tiles, plan_affinity
from fxwidgets.runtime import Coalescer, Job, JobCancelled, RpcServer
from fxwidgets.testing import slow_affinity_job


# -- coalescing ---------------------------------------------------------------------------------

def test_coalescer_bounds_the_rate_and_loses_nothing():
    flushed, times = [], []

    def flush(batch):
        # The instant the coalescer stamped this flush (under its flush lock): a time read here, after the lock,
        # would add the scheduler's delay on a loaded machine to one gap and take it from the next.
        times.append(c._last_flush)
        flushed.append(batch)

    c = Coalescer(lambda pending, x: (pending or []) + [x], flush, max_rate_hz=20)
    start = time.monotonic()
    for i in range(2000):
        c.push(i)
        if i % 100 == 0:
            time.sleep(0.01)
    c.close()
    elapsed = time.monotonic() - start
    assert [x for batch in flushed for x in batch] == list(range(2000))  # every update, in order, once
    assert len(flushed) <= elapsed * 20 + 2
    gaps = np.diff(times[:-1])  # the closing flush may come at any time
    assert gaps.size == 0 or gaps.min() >= 0.05 - 0.01


def test_a_pending_update_is_flushed_by_the_timer_without_further_pushes():
    flushed = threading.Event()
    c = Coalescer(lambda p, x: x, lambda p: flushed.set(), max_rate_hz=10)
    c.push(1)  # flushed at once
    flushed.clear()
    c.push(2)  # too soon: waits for the timer
    assert flushed.wait(1.0)


def test_coalescer_rejects_a_bad_rate():
    with pytest.raises(ValueError, match="max_rate_hz"):
        Coalescer(lambda p, x: x, print, max_rate_hz=0)


# -- jobs -----------------------------------------------------------------------------------------

class Recorder:
    def __init__(self):
        self.items, self.ended = [], threading.Event()

    def on_item(self, job, item):
        self.items.append((item.row_start, item.row_stop, item.values.clone(), job.progress))

    def on_end(self, job):
        self.ended.set()


def test_every_partial_result_is_valid_and_the_final_equals_the_blocking_result():
    X = torch.randn(200, 9, dtype=torch.float64)
    blocking = fx.affinity(X, metric="rbf").values
    plan = plan_affinity(X, metric="rbf", chunk_size=13)
    job = Job(iter_affinity_tiles(plan), AffinityAccumulator(plan), start=False)
    rec = Recorder()
    job.subscribe(rec)
    job.start()
    final = job.result(timeout=30).values
    assert rec.ended.wait(5)
    torch.testing.assert_close(final, blocking, rtol=0, atol=1e-12)
    seen = 0
    for start, stop, values, progress in rec.items:
        assert start == seen  # contiguous, in order, nothing missing
        torch.testing.assert_close(values, blocking[start:stop], rtol=0, atol=1e-12)
        assert progress == pytest.approx(stop / 200)
        seen = stop
    assert seen == 200 and job.status == "done" and job.progress == 1.0


def test_cancel_stops_at_the_next_chunk_and_closes_the_generator():
    closed = threading.Event()
    plan = plan_affinity(torch.randn(400, 4), metric="dot", chunk_size=4)

    def slow():
        try:
            for tile in iter_affinity_tiles(plan):
                time.sleep(0.02)
                yield tile
        finally:
            closed.set()

    job = Job(slow(), AffinityAccumulator(plan))
    while job.items < 3:
        time.sleep(0.005)
    job.cancel()
    assert job.wait(5)
    assert job.status == "cancelled" and closed.is_set()
    assert job.items < 100
    with pytest.raises(JobCancelled, match="cancelled at"):
        job.result()


def test_an_exception_in_the_worker_is_readable_and_raised_by_result():
    job = slow_affinity_job(n=64, delay=0.0, chunk_size=8, fail_at=3)
    assert job.wait(10)
    assert job.status == "error"
    assert job.error_text == "RuntimeError: deliberate failure at tile 3"
    with pytest.raises(RuntimeError, match="deliberate failure at tile 3"):
        job.result()


def test_listeners_see_the_job_finished_when_it_ends():
    seen = []

    class Watcher:
        def on_item(self, job, item):
            seen.append(("item", job.finished))

        def on_end(self, job):
            seen.append(("end", job.finished, job.status))

    job = slow_affinity_job(n=32, delay=0.0, chunk_size=16, start=False)
    job.subscribe(Watcher())
    job.start()
    assert job.wait(10)
    assert seen == [("item", False), ("item", False), ("end", True, "done")]


def test_a_failing_listener_does_not_stop_the_job():
    class Broken:
        def on_item(self, job, item):
            raise KeyError("view gone")

        def on_end(self, job):
            pass

    job = slow_affinity_job(n=64, delay=0.001, chunk_size=8, start=False)
    job.subscribe(Broken())
    job.start()
    assert job.result(timeout=10).shape == (64, 64)
    assert job.listener_errors and "view gone" in job.listener_errors[0]


def test_result_times_out_with_a_clear_message():
    job = slow_affinity_job(n=64, delay=0.2, chunk_size=8)
    with pytest.raises(TimeoutError, match="did not finish within 0.01 s"):
        job.result(timeout=0.01)
    job.cancel()
    job.wait(5)


# -- requests with ids ------------------------------------------------------------------------------

class Outbox:
    def __init__(self):
        self.messages, self.cond = [], threading.Condition()

    def __call__(self, content, buffers):
        with self.cond:
            self.messages.append(content)
            self.cond.notify_all()

    def wait_for(self, n, timeout=5.0):
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.messages) >= n, timeout), self.messages
        return self.messages


@pytest.mark.parametrize(
    "message, error",
    [
        ("not a dict", "must be a JSON object"),
        ({"type": "shout", "id": "1"}, "unknown message type 'shout'"),
        ({"type": "request", "id": [1], "method": "echo"}, "request id must be"),
        ({"type": "request", "id": "1", "method": "nope"}, "unknown method 'nope'; this view answers echo"),
        ({"type": "request", "id": "1", "method": "echo", "args": [1, 2]}, "args of 'echo' must be an object"),
        ({"type": "request", "id": "1", "method": "echo", "channel": 5}, "channel must be a string"),
        ({"type": "request", "id": "1", "method": "echo", "args": {"fail": True}}, "ValueError: asked to fail"),
    ],
)
def test_malformed_requests_are_answered_with_an_error_and_never_raise(message, error):
    out = Outbox()
    server = RpcServer(out)

    def echo(args):
        if args.get("fail"):
            raise ValueError("asked to fail")
        return args

    server.register("echo", echo)
    future = server.handle(message, [])
    if future is not None:
        future.result(5)
    reply = out.wait_for(1)[0]
    assert error in reply["error"]
    assert reply["type"] == ("response" if isinstance(message, dict) and isinstance(message.get("id"), str) else "error")
    # ... and the server still answers a good request afterwards.
    server.handle({"type": "request", "id": "ok", "method": "echo", "args": {"x": 1}}).result(5)
    assert out.wait_for(2)[-1] == {"type": "response", "id": "ok", "ok": True, "result": {"x": 1}}


def test_latest_request_on_a_channel_wins():
    out = Outbox()
    server = RpcServer(out)
    release = threading.Event()
    server.register("block", lambda args: release.wait(5))
    server.register("value", lambda args: args["i"])
    blockers = [server.handle({"type": "request", "id": f"b{i}", "method": "block"}) for i in range(4)]
    # The pool is busy: the three hover requests queue up and only the last should be computed.
    hovers = [server.handle({"type": "request", "id": f"h{i}", "method": "value", "args": {"i": i},
                             "channel": "hover"}) for i in range(3)]
    release.set()
    for f in blockers + hovers:
        f.result(5)
    replies = {m["id"]: m for m in out.messages}
    assert replies["h0"] == {"type": "response", "id": "h0", "ok": False, "superseded": True}
    assert replies["h1"]["superseded"] is True
    assert replies["h2"] == {"type": "response", "id": "h2", "ok": True, "result": 2}
    assert server.superseded == 2


def test_results_with_arrays_travel_as_buffers():
    sent = []
    server = RpcServer(lambda content, buffers: sent.append((content, buffers)))
    server.register("arr", lambda args: {"a": np.arange(3, dtype=np.float32)})
    server.handle({"type": "request", "id": 1, "method": "arr"}).result(5)
    content, buffers = sent[0]
    assert content["result"]["a"] == {"dtype": "float32", "shape": [3], "$array": 0}
    assert bytes(buffers[0]) == np.arange(3, dtype=np.float32).tobytes()


# -- the boundary never raises (issue 11) -------------------------------------------------------------------------

@pytest.mark.parametrize("message", [
    {"type": "request", "id": "1", "method": {"a": 1}},  # an object as the method: unhashable
    {"type": "request", "id": "1", "method": ["echo"]},
    {"type": "request", "id": "1", "method": None},
    {"type": "request", "id": "1"},
    {"type": "request", "method": "echo"},  # no id
    {"type": "request", "id": None, "method": "echo"},
    {"type": "request", "id": 1.5, "method": "echo"},
    {"type": "request", "id": True, "method": "echo"},
    {"type": "request", "id": "x" * 10_000, "method": "echo"},
    {"type": "request", "id": "1", "method": "e" * 1_000_000},
    {"type": "request", "id": "1", "method": "echo", "args": "x"},
    {"type": "request", "id": "1", "method": "echo", "args": 7},
    {"type": "request", "id": "1", "method": "echo", "channel": ["hover"]},
    {"type": "request", "id": "1", "method": "echo", "channel": "c" * 10_000},
    {"type": ["request"], "id": "1", "method": "echo"},
    {"type": {"k": 1}, "id": "1", "method": "echo"},
    None, 5, [1, 2], b"bytes", "x" * 100_000,
])
def test_any_malformed_message_gets_an_error_reply_and_nothing_raises(message):
    out = Outbox()
    server = RpcServer(out)
    server.register("echo", lambda args: args)
    server.handle(message, []).result(5)
    reply = out.wait_for(1)[0]
    assert reply["ok"] is False if reply["type"] == "response" else reply["type"] == "error"
    assert len(reply["error"]) <= 1000  # a megabyte sent is not a megabyte echoed
    server.handle({"type": "request", "id": "ok", "method": "echo", "args": {"x": 1}}).result(5)
    assert out.wait_for(2)[-1] == {"type": "response", "id": "ok", "ok": True, "result": {"x": 1}}


def test_the_channel_table_is_pruned_after_many_channels():
    out = Outbox()
    server = RpcServer(out)
    server.register("value", lambda args: args["i"])
    for i in range(2000):  # e.g. one channel per hovered view, or a page that invents names
        server.handle({"type": "request", "id": i, "method": "value", "args": {"i": i}, "channel": f"c{i}"}).result(5)
    assert server.channels == 0 and server.answered == 2000


def test_a_method_may_answer_later_without_holding_a_pool_thread():
    from concurrent.futures import Future

    out = Outbox()
    server = RpcServer(out)
    later: Future = Future()
    server.register("later", lambda args: later)
    server.register("now", lambda args: "now")
    answered = server.handle({"type": "request", "id": "l", "method": "later"})
    server.handle({"type": "request", "id": "n", "method": "now"}).result(5)
    assert [m["id"] for m in out.messages] == ["n"] and not answered.done()
    later.set_result({"status": "cancelled"})
    answered.result(5)
    assert out.messages[-1] == {"type": "response", "id": "l", "ok": True, "result": {"status": "cancelled"}}


def test_cancel_never_blocks_the_shared_pool_a_hover_elsewhere_answers_at_once():
    # Jobs whose chunks take 1.5 s: a Cancel is answered only once its job reaches the next chunk. Six Cancels used
    # to hold the four shared RPC threads for that long; a hover on another view must not wait behind them.
    jobs = [slow_affinity_job(n=64, delay=1.5, chunk_size=64, seed=i) for i in range(6)]
    views = [job.show() for job in jobs]
    other = fx.AffinityHeatmap(np.eye(3))
    replies = Outbox()
    for v in views + [other]:
        v.send = lambda content, buffers=None, out=replies: out(content, buffers)
    try:
        cancels = [v.rpc.handle({"type": "request", "id": f"c{i}", "method": "cancel"}) for i, v in enumerate(views)]
        start = time.monotonic()
        other.rpc.handle({"type": "request", "id": "hover", "method": "cell", "args": {"row": 1, "col": 1}}).result(5)
        took = time.monotonic() - start
        assert took < 0.5, f"the hover waited {took:.2f} s behind the Cancels"
        for c in cancels:
            c.result(10)
        by_id = {m["id"]: m for m in replies.messages if m.get("type") == "response"}
        assert by_id["hover"]["result"]["value"] == 1.0
        assert all(by_id[f"c{i}"]["result"] == {"status": "cancelled"} for i in range(6))
    finally:
        for job in jobs:
            job.cancel()
            job.wait(5)
