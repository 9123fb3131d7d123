"""Open a local HTML file in headless Chromium over the DevTools protocol: what the page logged,
what it requested, what a script finds in it, and a full-page screenshot.

Chromium runs with no network features and a fresh profile; the page is a file:// URL. Used by
tests/e2e/test_report_browser.py; also runnable by hand:

    python tests/support/chromium.py reports/simsiam_predictor.html /tmp/shot.png
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import websocket  # websocket-client

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--no-default-browser-check",
    "--disable-extensions", "--mute-audio", "--hide-scrollbars", "--remote-debugging-port=0",
    "--window-size=1280,900",
]


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    return None


@dataclass
class PageVisit:
    errors: list[str] = field(default_factory=list)  # exceptions, console errors, error log entries, dialogs
    requests: list[str] = field(default_factory=list)  # every URL the page asked for
    checks: dict = field(default_factory=dict)  # what the `probe` script returned
    screenshot: bytes = b""


class _Session:
    def __init__(self, url: str):
        self.ws = websocket.create_connection(url, timeout=30, suppress_origin=True)
        self.ids = itertools.count(1)
        self.events: list[dict] = []

    def call(self, method: str, **params) -> dict:
        ident = next(self.ids)
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, method: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == method for e in self.events):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {method} within {timeout} s")
            self.ws.settimeout(max(0.1, deadline - time.monotonic()))
            event = json.loads(self.ws.recv())
            self.events.append(event)
            if event.get("method") == "Page.javascriptDialogOpening":  # an alert() would block the load
                self.call("Page.handleJavaScriptDialog", accept=False)


def _start(binary: str, profile: Path) -> tuple[subprocess.Popen, int]:
    # Its own process group: chromium's helpers (renderer, zygote, crash handler) go with it at the end.
    process = subprocess.Popen([binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + 60
    while not (port_file.exists() and port_file.read_text().strip()):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"chromium did not start (exit {process.poll()})")
        time.sleep(0.1)
    return process, int(port_file.read_text().split()[0])


def visit(page: Path, probe: str = "({})", binary: str | None = None) -> PageVisit:
    """Load `page`, run the JavaScript expression `probe` (it must return JSON), take a screenshot."""
    binary = binary or find_chromium()
    if binary is None:
        raise FileNotFoundError("no chromium on PATH")
    # A helper may still be writing to the profile while it is removed (CI once saw "Directory not
    # empty: 'Default'"); what is left in /tmp then is no reason to fail the test.
    with tempfile.TemporaryDirectory(prefix="harness-chromium-", ignore_cleanup_errors=True) as profile:
        process, port = _start(binary, Path(profile))
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as reply:
                targets = json.load(reply)
            target = next(t for t in targets if t.get("type") == "page")
            session = _Session(target["webSocketDebuggerUrl"])
            for domain in ("Page", "Runtime", "Log", "Network"):
                session.call(f"{domain}.enable")
            session.call("Page.navigate", url=Path(page).resolve().as_uri())
            session.wait_for("Page.loadEventFired")
            result = session.call("Runtime.evaluate", expression=f"JSON.stringify({probe})", returnByValue=True)
            shot = session.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
            session.call("Runtime.evaluate", expression="0")  # drain events logged meanwhile
            session.ws.close()
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(process.pid, signal.SIGKILL)  # the helpers left behind, and the browser if it hung
            except ProcessLookupError:
                pass
            process.wait()
    out = PageVisit(checks=json.loads(result["result"]["value"]), screenshot=base64.b64decode(shot["data"]))
    for event in session.events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            out.errors.append("exception: " + json.dumps(params.get("exceptionDetails", {}))[:500])
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert", "warning"):
            out.errors.append(f"console.{params['type']}: " + json.dumps(params.get("args"))[:500])
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") in ("error", "warning"):
            out.errors.append(f"log {params['entry']['level']}: {params['entry'].get('text')} {params['entry'].get('url', '')}")
        elif method == "Page.javascriptDialogOpening":
            out.errors.append(f"dialog: {params.get('message')}")
        elif method == "Network.requestWillBeSent":
            out.requests.append(params["request"]["url"][:120])
        elif method == "Network.loadingFailed":
            out.errors.append(f"loading failed: {params.get('errorText')}")
    return out


if __name__ == "__main__":
    page, shot = Path(sys.argv[1]), Path(sys.argv[2])
    result = visit(page, "({tables: document.querySelectorAll('table').length, images: document.images.length})")
    shot.write_bytes(result.screenshot)
    print(json.dumps({"errors": result.errors, "requests": result.requests, "checks": result.checks}, indent=1))
