"""Requests from a view, answered off the kernel's main thread (see docs/protocol.md, "Messages").

The kernel processes one front-end message at a time on its main thread; a handler that ran torch work
there would freeze every widget. Each request is validated on the main thread (cheap) and run in a
small shared thread pool; the answer goes back as a ``response`` message carrying the request's id.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable

from .codec import pack
from .limits import RPC_WORKERS

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
    def handle(self, content: Any, buffers: list | None = None) -> Future | None:
        """Handle one message. Never raises: a malformed message is answered with an error."""
        try:
            request_id, method, args, channel = self._parse(content)
        except RpcError as exc:
            request_id = content.get("id") if isinstance(content, dict) else None
            self._reject(request_id, str(exc))
            return None
        if channel is not None:
            with self._lock:
                self._latest[channel] = request_id
        return _pool().submit(self._run, request_id, method, args, channel)

    def _parse(self, content: Any) -> tuple[Any, Callable, dict, str | None]:
        if not isinstance(content, dict):
            raise RpcError(f"a message must be a JSON object, got {type(content).__name__}")
        kind = content.get("type")
        if kind != "request":
            raise RpcError(f"unknown message type {kind!r}; the kernel accepts 'request'")
        request_id = content.get("id")
        if not isinstance(request_id, (str, int)) or isinstance(request_id, bool):
            raise RpcError(f"request id must be a string or an integer, got {request_id!r}")
        name = content.get("method")
        if name not in self._methods:
            raise RpcError(f"unknown method {name!r}; this view answers {', '.join(self.methods)}")
        args = content.get("args", {})
        if args is None:
            args = {}
        if not isinstance(args, dict):
            raise RpcError(f"args of {name!r} must be an object, got {type(args).__name__}")
        channel = content.get("channel")
        if channel is not None and not isinstance(channel, str):
            raise RpcError(f"channel must be a string or null, got {channel!r}")
        return request_id, self._methods[name], args, channel

    # -- in the pool -------------------------------------------------------------------------------
    def _run(self, request_id: Any, method: Callable, args: dict, channel: str | None) -> None:
        if channel is not None:
            with self._lock:
                superseded = self._latest.get(channel) != request_id
            if superseded:
                self.superseded += 1
                self._reply({"type": "response", "id": request_id, "ok": False, "superseded": True}, [])
                return
        try:
            result = method(args)
        except Exception as exc:  # noqa: BLE001 - every failure is answered, none escapes
            log.info("request %r failed: %s", request_id, exc, exc_info=not isinstance(exc, (ValueError, TypeError)))
            self._reject(request_id, f"{type(exc).__name__}: {exc}")
            return
        content, buffers = pack({"type": "response", "id": request_id, "ok": True, "result": result})
        self._reply(content, buffers)
        self.answered += 1

    def _reject(self, request_id: Any, error: str) -> None:
        self.rejected += 1
        if isinstance(request_id, (str, int)) and not isinstance(request_id, bool):
            self._reply({"type": "response", "id": request_id, "ok": False, "error": error}, [])
        else:
            self._reply({"type": "error", "error": error}, [])

    def _reply(self, content: dict, buffers: list) -> None:
        try:
            self._send(content, buffers)
        except Exception:  # noqa: BLE001 - a closed comm must not take the kernel down
            log.exception("could not send a response")
