"""Debian's headless Chromium driven over the DevTools protocol (no browser download).

Why the DevTools protocol and not just `--dump-dom`: the test asks the page
what a person would see — `innerText` (only rendered text), computed colours,
layout overflow — and takes a full-page screenshot, all in one page load.
The websocket client is aiohttp's, already a dependency of the collector.
"""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import subprocess
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from tests.support.mosquitto import wait_for

FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-extensions", "--disable-default-apps", "--mute-audio", "--hide-scrollbars",
    "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
)


def chromium_binary() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class BrowserError(RuntimeError):
    """Chromium did not start or a DevTools command failed; the message says which."""


@dataclass
class Chromium:
    binary: str
    profile: Path
    proc: subprocess.Popen[bytes] | None = None
    port: int = 0
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.profile.with_suffix(".log")

    def start(self) -> Chromium:
        self.profile.mkdir(parents=True, exist_ok=True)
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [self.binary, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        # Chromium writes the port it picked here once DevTools listens.
        active = self.profile / "DevToolsActivePort"
        wait_for(self._listening, timeout=30, interval=0.1,
                 what=f"Chromium DevTools ({active}; log {self.log})")
        self.port = int(active.read_text().split()[0])
        return self

    def _listening(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise BrowserError(f"chromium exited with {self.proc.returncode}; see {self.log}")
        active = self.profile / "DevToolsActivePort"
        return active.exists() and len(active.read_text().split()) >= 2

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def page_socket(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/list", timeout=5) as r:
            targets = json.load(r)
        page = next((t for t in targets if t["type"] == "page"), None)
        if page is None:
            raise BrowserError(f"no page target in Chromium: {targets}")
        return str(page["webSocketDebuggerUrl"])


class Page:
    """One DevTools session on the browser's page; commands answer in order of ids."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws, self._ids = ws, itertools.count(1)
        self._events: list[str] = []  # events that arrived while waiting for a reply

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        msg_id = next(self._ids)
        await self._ws.send_json({"id": msg_id, "method": method, "params": params})
        while True:
            reply = await self._ws.receive_json(timeout=30)
            if "method" in reply:
                self._events.append(reply["method"])
            elif reply.get("id") == msg_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result

    async def until_event(self, method: str) -> None:
        while method not in self._events:
            self._events.append((await self._ws.receive_json(timeout=30)).get("method", ""))

    async def open(self, url: str, width: int = 1280, height: int = 900) -> None:
        await self.call("Page.enable")
        await self.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                        deviceScaleFactor=1, mobile=False)
        await self.call("Page.navigate", url=url)
        await self.until_event("Page.loadEventFired")

    async def evaluate(self, expression: str) -> Any:
        reply = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in reply:
            raise BrowserError(f"script failed: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    async def screenshot(self, path: Path) -> Path:
        shot = await self.call("Page.captureScreenshot", format="png",
                               captureBeyondViewport=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path


async def with_page(browser: Chromium, url: str, script: str,
                    shot: Path | None = None) -> Any:
    """Load `url`, return what `script` evaluates to, optionally keep a screenshot."""
    async with aiohttp.ClientSession() as session, \
            session.ws_connect(browser.page_socket(), max_msg_size=0) as ws:
        page = Page(ws)
        await page.open(url)
        value = await page.evaluate(script)
        if shot is not None:
            await page.screenshot(shot)
        return value
