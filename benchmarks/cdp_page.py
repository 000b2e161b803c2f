"""A headless Chromium driven over bare CDP (no Playwright), with the slice of Playwright's Page API the e2e helpers
in tests/e2e/lab.py use: ``goto``, ``evaluate``, ``wait_for_function``, ``locator(...).wait_for/click``, ``url`` and
``send`` (a raw CDP command, like a Playwright CDP session's).

Why: Playwright's driver subscribes to ``Network.webSocketFrameReceived`` on every page, so each kernel websocket
frame is also shipped base64-encoded to its Node process (e2e recipe, pitfall 10). A user's browser has no such
tap. Here only the ``Page``, ``Runtime``, ``Emulation``, ``Input`` and (when asked) ``Profiler`` domains are used;
the ``Network`` domain is never enabled, so frames are not reported to anyone.

Two things Playwright does for a page that bare CDP must do itself (recipe, pitfall 11): focus emulation plus
``Page.bringToFront`` (else JupyterLab has no current notebook), and a real window size (the status bar drops the
kernel item in the default headless window).
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

_FUNCTION = re.compile(r"^\s*(async\s+)?(\(|function\b|[A-Za-z_$][\w$]*\s*=>)")


class CdpError(RuntimeError):
    pass


class CdpBrowser:
    """Chromium started by pid with ``--remote-debugging-port=0`` and a fresh profile; ``page`` is its first tab."""

    def __init__(self, executable: str, args: list[str]):
        import psutil

        self.profile = Path(tempfile.mkdtemp(prefix="fx-cdp-"))
        before = {p.pid for p in psutil.Process().children(recursive=True)}
        self.proc = subprocess.Popen(
            [executable, *args, "--remote-debugging-port=0", f"--user-data-dir={self.profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
        )
        port_file = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise CdpError("Chromium did not open its DevTools port")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        self.pids = [p.pid for p in psutil.Process().children(recursive=True) if p.pid not in before]
        targets = []
        for _ in range(50):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as r:
                targets = [t for t in json.loads(r.read()) if t.get("type") == "page"]
            if targets:
                break
            time.sleep(0.1)
        if not targets:
            self.close()
            raise CdpError("Chromium has no page target")
        self.page = CdpPage(targets[0]["webSocketDebuggerUrl"])

    def close(self) -> None:
        from lab import kill_pids  # tests/e2e/lab.py, on the path bench_streaming sets up

        with contextlib.suppress(Exception):
            self.page.ws.close()
        kill_pids(getattr(self, "pids", []) or [self.proc.pid])
        with contextlib.suppress(Exception):
            self.proc.wait(5)
        shutil.rmtree(self.profile, ignore_errors=True)


class CdpPage:
    def __init__(self, ws_url: str):
        import websocket  # websocket-client, a dependency of jupyter's own tooling

        self.ws = websocket.create_connection(ws_url, timeout=600, max_size=None, suppress_origin=True)
        self._id = 0
        self.url = "about:blank"
        self.send("Page.enable")
        self.send("Emulation.setFocusEmulationEnabled", {"enabled": True})
        self.send("Page.bringToFront")

    # -- raw CDP --------------------------------------------------------------------------------------------
    def send(self, method: str, params: dict | None = None) -> dict:
        self._id += 1
        mid = self._id
        self.ws.send(json.dumps({"id": mid, "method": method, "params": params or {}}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == mid:
                if "error" in msg:
                    raise CdpError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            # events (Page lifecycle) are not needed: dropped

    # -- the Page API the e2e helpers use ------------------------------------------------------------------
    def add_init_script(self, source: str) -> None:
        self.send("Page.addScriptToEvaluateOnNewDocument", {"source": source})

    def goto(self, url: str, wait_until: str = "domcontentloaded", timeout: float = 60_000) -> None:
        self.send("Page.navigate", {"url": url})
        self.url = url
        self.wait_for_function("() => document.readyState !== 'loading' && location.href !== 'about:blank'",
                               timeout=timeout)

    def evaluate(self, expression: str, arg: Any = None) -> Any:
        expr = f"({expression})({json.dumps(arg)})" if _FUNCTION.match(expression) else expression
        r = self.send("Runtime.evaluate", {"expression": expr, "awaitPromise": True, "returnByValue": True})
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            text = (d.get("exception") or {}).get("description") or d.get("text")
            raise CdpError(f"page JS raised: {text}")
        return r.get("result", {}).get("value")

    def wait_for_function(self, expression: str, arg: Any = None, timeout: float = 30_000, polling: int = 50):
        """Poll ``expression`` (a function of ``arg``) in the page until truthy; one CDP call, polled in the page."""
        fn = expression if _FUNCTION.match(expression) else f"() => ({expression})"
        js = (
            "(async ([arg, ms, every]) => { const f = (" + fn + "); const end = Date.now() + ms;"
            " for (;;) { const v = await f(arg); if (v) return typeof v === 'object' ? true : v;"
            " if (Date.now() > end) throw new Error('Timeout ' + ms + ' ms exceeded waiting for function');"
            " await new Promise(r => setTimeout(r, every)); } })"
        )
        return _Handle(self.evaluate(js, [arg, timeout, polling or 50]))

    def locator(self, selector: str, has_text: str | None = None) -> "_Locator":
        return _Locator(self, selector, has_text, 0)


class _Handle:
    def __init__(self, value: Any):
        self.value = value

    def json_value(self) -> Any:
        return self.value


class _Locator:
    def __init__(self, page: CdpPage, selector: str, has_text: str | None, nth: int):
        self.page, self.selector, self.has_text, self.index = page, selector, has_text, nth

    @property
    def first(self) -> "_Locator":
        return _Locator(self.page, self.selector, self.has_text, 0)

    def nth(self, i: int) -> "_Locator":
        return _Locator(self.page, self.selector, self.has_text, i)

    def _find_js(self) -> str:
        return (
            "([sel, text, nth]) => { const all = Array.from(document.querySelectorAll(sel))"
            ".filter(e => text === null || (e.textContent || '').includes(text));"
            " const el = all[nth]; if (!el || !el.getClientRects().length) return null;"
            " const r = el.getBoundingClientRect(); return {x: r.x + r.width / 2, y: r.y + r.height / 2}; }"
        )

    def wait_for(self, state: str = "visible", timeout: float = 30_000) -> None:
        self.page.wait_for_function(self._find_js(), [self.selector, self.has_text, self.index], timeout=timeout)

    def click(self, timeout: float = 30_000) -> None:
        at = self.page.wait_for_function(self._find_js(), [self.selector, self.has_text, self.index],
                                         timeout=timeout).json_value()
        for kind in ("mousePressed", "mouseReleased"):
            self.page.send("Input.dispatchMouseEvent",
                           {"type": kind, "x": at["x"], "y": at["y"], "button": "left", "clickCount": 1})
