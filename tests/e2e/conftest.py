"""Fixtures for the end-to-end tests: a JupyterLab server, a headless Chromium, a page per test.

Run:  .venv/bin/python -m pytest tests/e2e -q -p no:cacheprovider --timeout=300 -x

Artifacts (``artifacts/e2e/``, or ``$FX_ARTIFACTS``): ``jupyterlab.log``, ``console.log`` (browser console, per
test), ``pids.txt`` (server, kernel and Chromium pids, for a CI fallback kill), screenshots, ``FAILED-<test>.png``.
"""

from __future__ import annotations

import contextlib
import re
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lab  # noqa: E402


DEFAULT_TIMEOUT_S = 300  # per test, when pytest was run without --timeout (a hung page must never hang CI)


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).resolve().parent
    no_cli_timeout = not (config.getoption("timeout", None) or 0)
    for item in items:
        if Path(str(item.fspath)).resolve().parent == here:
            item.add_marker(pytest.mark.e2e)
            if no_cli_timeout and item.get_closest_marker("timeout") is None:
                item.add_marker(pytest.mark.timeout(DEFAULT_TIMEOUT_S))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    rep = yield
    setattr(item, f"rep_{rep.when}", rep)
    return rep


@pytest.fixture(scope="session")
def artifacts() -> Path:
    d = lab.artifacts_dir()
    # Fresh per session: logs and pid list describe this run only.
    for name in ("pids.txt", "console.log"):
        with contextlib.suppress(FileNotFoundError):
            (d / name).unlink()
    for old in d.glob("FAILED-*.png"):
        old.unlink()
    return d


@pytest.fixture(scope="session")
def jupyter_server(artifacts):
    """JupyterLab serving a temporary copy of ``notebooks/``; yields a ``lab.LabServer``."""
    lab.require_chromium()  # fail fast, before paying for a server start
    t0 = time.monotonic()
    server = lab.LabServer(source_dir=lab.REPO_ROOT / "notebooks", artifacts=artifacts).start()
    server.start_seconds = time.monotonic() - t0
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser(artifacts):
    """Playwright Chromium (Debian's ``/usr/bin/chromium``), killed by pid if it survives ``close()``."""
    exe = lab.require_chromium()  # raises (never skips) when missing
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    chromium_pids: list[int] = []
    try:
        browser, chromium_pids = lab.launch_browser(pw)
        assert exe
        yield browser
        with contextlib.suppress(Exception):
            browser.close()
    finally:
        with contextlib.suppress(Exception):
            pw.stop()
        lab.kill_pids(chromium_pids)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:120]


@pytest.fixture
def lab_page(request, jupyter_server, browser, artifacts):
    """A fresh browser context + page (1280x900) for one test.

    Teardown: screenshot ``FAILED-<test>.png`` if the test failed, append the browser console to ``console.log``,
    close the page and delete every kernel session through the REST API so the next test gets a new kernel.
    """
    console: list[str] = []
    page = lab.new_page(browser, console)
    page.set_default_timeout(60_000)
    for pid in jupyter_server.kernel_pids():
        lab.record_pid(pid, "kernel?")
    try:
        yield page
    finally:
        rep = getattr(request.node, "rep_call", None)
        if rep is None or rep.failed:
            with contextlib.suppress(Exception):
                page.screenshot(path=str(artifacts / f"FAILED-{_safe(request.node.name)}.png"), timeout=10_000)
        for pid in jupyter_server.kernel_pids():
            lab.record_pid(pid, "kernel")
        with open(artifacts / "console.log", "a") as f:
            f.write(f"===== {request.node.nodeid}\n")
            f.writelines(line + "\n" for line in console)
        with contextlib.suppress(Exception):
            page.context.close()
        with contextlib.suppress(Exception):
            jupyter_server.delete_all_sessions()
