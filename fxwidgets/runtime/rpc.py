"""Requests from a view, answered off the kernel's main thread (see docs/protocol.md, "Messages").

The kernel processes one front-end message at a time on its main thread; a handler that ran torch work
there would freeze every widget. Each request is validated on the main thread (cheap) and run in a
small shared thread pool; the answer goes back as a ``response`` message carrying the request's id.

The boundary never raises: whatever the page sends (a method that is an object, args that are a list, no id,
a megabyte of text) is answered with an error reply, and text echoed back from a message is cut to
``MAX_ECHO_CHARS``. A method may return a :class:`~concurrent.futures.Future` (e.g. Cancel: "answer when the job
has stopped"); its pool thread is then released at once and the reply goes out when the future settles, so a
slow answer never holds one of the ``RPC_WORKERS`` threads a hover on another view needs.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable

from .codec import pack
from .limits import MAX_CHANNEL_CHARS, MAX_ECHO_CHARS, MAX_ID_CHARS, RPC_WORKERS

log = logging.getLogger("fxwidgets.rpc")

_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=RPC_WORKERS, thread_name_prefix="fxwidgets-rpc")
        return _POOL


class RpcError(ValueError):
    """A request that cannot be answered; its message goes back to the view as is."""


def short_repr(value: Any, limit: int = MAX_ECHO_CHARS) -> str:
    """``repr(value)`` cut to ``limit`` characters: what an error may echo of a message the page sent."""
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a repr that fails is still described
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _valid_id(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, str) and len(value) <= MAX_ID_CHARS


Send = Callable[[dict, list], None]


class RpcServer:
    """Dispatch ``request`` messages to registered methods and send back ``response`` messages."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self._methods: dict[str, Callable[[dict], Any]] = {}
        self._latest: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.answered = 0
        self.rejected = 0
        self.superseded = 0

    def register(self, name: str, method: Callable[[dict], Any]) -> None:
        """``method(args) -> result``; the result may hold arrays (they are packed as binary buffers)."""
        self._methods[name] = method

    @property
    def methods(self) -> list[str]:
        return sorted(self._methods)

    # -- entry point, on the kernel's main thread -------------------------------------------------
    def handle(self, content: Any, buffers: list | None = None) -> Future:
        """Handle one message. Never raises: a malformed message is answered with an error.

        Returns a future that settles once the reply has been sent (tests wait on it)."""
        answered: Future = Future()
        try:
            try:
                request_id, method, args, channel = self._parse(content)
            except RpcError as exc:
                request_id = content.get("id") if isinstance(content, dict) else None
                self._reject(request_id, str(exc))
                answered.set_result(None)
                return answered
            if channel is not None:
                with self._lock:
                    self._latest[channel] = request_id
            _pool().submit(self._run, request_id, method, args, channel, answered)
        except Exception as exc:  # noqa: BLE001 - the boundary never raises, whatever arrives
            log.exception("could not handle a message")
            self._reject(None, f"{type(exc).__name__}: {exc}")
            if not answered.done():
                answered.set_result(None)
        return answered

    @property
    def channels(self) -> int:
        """Channels with a request in flight (the table is pruned as requests are answered)."""
        with self._lock:
            return len(self._latest)

    def _parse(self, content: Any) -> tuple[Any, Callable, dict, str | None]:
        if not isinstance(content, dict):
            raise RpcError(f"a message must be a JSON object, got {type(content).__name__}")
        kind = content.get("type")
        if not isinstance(kind, str) or kind != "request":
            raise RpcError(f"unknown message type {short_repr(kind)}; the kernel accepts 'request'")
        request_id = content.get("id")
        if not _valid_id(request_id):
            raise RpcError(f"request id must be a string of at most {MAX_ID_CHARS} characters or an integer, "
                           f"got {short_repr(request_id)}")
        name = content.get("method")
        if not isinstance(name, str) or name not in self._methods:
            raise RpcError(f"unknown method {short_repr(name)}; this view answers {', '.join(self.methods)}")
        args = content.get("args", {})
        if args is None:
            args = {}
        if not isinstance(args, dict):
            raise RpcError(f"args of {name!r} must be an object, got {type(args).__name__}")
        channel = content.get("channel")
        if channel is not None and (not isinstance(channel, str) or len(channel) > MAX_CHANNEL_CHARS):
            raise RpcError(f"channel must be a string of at most {MAX_CHANNEL_CHARS} characters or null, "
                           f"got {short_repr(channel)}")
        return request_id, self._methods[name], args, channel

    # -- in the pool -------------------------------------------------------------------------------
    def _run(self, request_id: Any, method: Callable, args: dict, channel: str | None, answered: Future) -> None:
        deferred = False
        try:
            if channel is not None:
                with self._lock:
                    superseded = self._latest.get(channel) != request_id
                    if not superseded:  # this request is the channel's newest: its entry goes with it
                        del self._latest[channel]
                if superseded:
                    self.superseded += 1
                    self._reply({"type": "response", "id": request_id, "ok": False, "superseded": True}, [])
                    return
            try:
                result = method(args)
            except Exception as exc:  # noqa: BLE001 - every failure is answered, none escapes
                self._failed(request_id, exc)
                return
            if isinstance(result, Future):  # answered when it settles; this pool thread is free now
                deferred = True
                result.add_done_callback(lambda f: self._settle(request_id, f, answered))
                return
            self._answer(request_id, result)
        except Exception:  # noqa: BLE001 - a reply that cannot be packed or sent is logged, never raised
            log.exception("request %s could not be answered", short_repr(request_id))
        finally:
            if not deferred and not answered.done():
                answered.set_result(None)

    def _settle(self, request_id: Any, future: Future, answered: Future) -> None:
        try:
            exc = future.exception()
            if exc is not None:
                self._failed(request_id, exc)
            else:
                self._answer(request_id, future.result())
        except Exception:  # noqa: BLE001 - a callback must not raise into whoever settled the future
            log.exception("request %s could not be answered", short_repr(request_id))
        finally:
            if not answered.done():
                answered.set_result(None)

    def _answer(self, request_id: Any, result: Any) -> None:
        try:
            content, buffers = pack({"type": "response", "id": request_id, "ok": True, "result": result})
        except Exception as exc:  # noqa: BLE001 - a result the codec refuses is a failed request
            self._failed(request_id, exc)
            return
        self._reply(content, buffers)
        self.answered += 1

    def _failed(self, request_id: Any, exc: BaseException) -> None:
        log.info("request %s failed: %s", short_repr(request_id), exc,
                 exc_info=not isinstance(exc, (ValueError, TypeError)))
        self._reject(request_id, f"{type(exc).__name__}: {exc}")

    def _reject(self, request_id: Any, error: str) -> None:
        self.rejected += 1
        if len(error) > 4 * MAX_ECHO_CHARS:  # an exception's text may quote what the page sent
            error = error[: 4 * MAX_ECHO_CHARS - 1] + "…"
        if _valid_id(request_id):
            self._reply({"type": "response", "id": request_id, "ok": False, "error": error}, [])
        else:
            self._reply({"type": "error", "error": error}, [])

    def _reply(self, content: dict, buffers: list) -> None:
        try:
            self._send(content, buffers)
        except Exception:  # noqa: BLE001 - a closed comm must not take the kernel down
            log.exception("could not send a response")
