"""The console in real headless Chromium (Debian's ``chromium``, never a downloaded
browser) against a real ``orderflow api`` process, a real ``orderflow worker`` process and
the session's real Temporal dev server.

Without ``/usr/bin/chromium`` these tests are skipped, unless ORDERFLOW_TEST_REQUIRE_BROWSER
is set (``.ci/run`` sets it, after installing chromium), when they fail instead.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from orderflow.domain.catalog import WAREHOUSES
from tests.e2e.cli import ORDERFLOW, Shop, free_port, stocked

CHROMIUM = Path("/usr/bin/chromium")
#: Chromium's flags on these closed machines (without the networking ones it stalls).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
KEY = "browser-test-key-0123456789abcdef"
#: Orders above this total wait for review (set on the API process, which starts orders).
REVIEW_THRESHOLD = "400"
STARTUP_S = 60.0

pytestmark = pytest.mark.browser


def _need_chromium() -> None:
    if CHROMIUM.exists():
        return
    message = f"{CHROMIUM} is missing: `apt-get install -y chromium` (make test does it as root)"
    if os.environ.get("ORDERFLOW_TEST_REQUIRE_BROWSER"):
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class Stack:
    """The console's URL, the shop behind it (data directory, task queue, environment)."""

    url: str
    shop: Shop
    env: dict[str, str]
    logs: Path

    def run(self, *args: str, timeout: float = 180, **env: str) -> subprocess.CompletedProcess[str]:
        """Run ``orderflow ARGS`` in this stack's environment (with ``env`` on top)."""
        return subprocess.run(
            [str(ORDERFLOW), *args],
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    async def arun(
        self, *args: str, timeout: float = 180, **env: str
    ) -> subprocess.CompletedProcess[str]:
        """``run`` off the event loop."""
        return await asyncio.to_thread(self.run, *args, timeout=timeout, **env)


def _spawn(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [str(ORDERFLOW), *args], env=env, stdout=out, stderr=subprocess.STDOUT
        )


async def _wait_for(what: str, check: Any, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_S
    while not await check():
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not ready after {STARTUP_S}s:\n{log.read_text()[-3000:]}")
        await asyncio.sleep(0.1)


@pytest.fixture(scope="module")
async def stack(
    temporal_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    """A worker (no faults) and the API with its console, as processes, on a fresh store."""
    _need_chromium()
    root = tmp_path_factory.mktemp("console")
    shop = Shop(
        data_dir=root / "data",
        temporal_address=temporal_env.client.service_client.config.target_host,
        task_queue=f"console-{uuid.uuid4().hex[:8]}",
    )
    store = stocked(shop.store(), units=40)
    for warehouse in WAREHOUSES:  # none: the demo's paid vinyl orders must be refunded
        store.set_stock("VINYL-LIMITED", 0, warehouse)
    store.engine.dispose()
    port = free_port()
    env = shop.env(
        ORDERFLOW_API_KEYS=KEY,
        ORDERFLOW_API_PORT=str(port),
        ORDERFLOW_REVIEW_THRESHOLD=REVIEW_THRESHOLD,
        ORDERFLOW_COMPENSATION_MAX_ATTEMPTS="2",
        ORDERFLOW_PAYMENT_FAILURE_RATE="0",
        ORDERFLOW_INVENTORY_FAILURE_RATE="0",
        ORDERFLOW_SHIPPING_FAILURE_RATE="0",
        ORDERFLOW_STALL_AFTER_S="10",
    )
    worker_log, api_log = root / "worker.log", root / "api.log"
    worker = _spawn(env, worker_log, "worker")
    api = _spawn(env, api_log, "api")
    url = f"http://127.0.0.1:{port}"
    try:
        await _wait_for(
            "the worker", lambda: _said(worker_log, "worker polling"), worker, worker_log
        )
        async with httpx.AsyncClient(base_url=url, timeout=2) as probe:

            async def healthy() -> bool:
                try:
                    return (await probe.get("/healthz")).status_code == 200
                except httpx.TransportError:
                    return False

            await _wait_for("the API", healthy, api, api_log)
        yield Stack(url=url, shop=shop, env=env, logs=root)
    finally:
        for proc in (api, worker):
            proc.terminate()
        for proc in (api, worker):
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


async def _said(log: Path, text: str) -> bool:
    return log.exists() and text in log.read_text(errors="replace")


@pytest.fixture(scope="module")
async def browser(stack: Stack) -> AsyncIterator[Any]:
    """One headless Chromium for the module."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def page(browser: Any, stack: Stack) -> AsyncIterator[Any]:
    """A fresh browser context (no cookies) and page; fails the test on a script error."""
    context = await browser.new_context(viewport={"width": 1366, "height": 900})
    context.set_default_timeout(30_000)
    tab = await context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda err: errors.append(str(err)))
    tab.on("dialog", lambda dialog: errors.append(f"a dialog opened: {dialog.message}"))
    try:
        yield tab
    finally:
        await context.close()
    assert errors == [], errors


async def sign_in(page: Any, stack: Stack, target: str = "/console/") -> None:
    """Sign in through the login page with the API key, landing on ``target``."""
    await page.goto(f"{stack.url}{target}")
    await page.fill("#key", KEY)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{stack.url}{target}")
