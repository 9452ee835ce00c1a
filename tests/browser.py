"""Headless Chromium for the browser tests (the Debian package at /usr/bin/chromium, driven by
playwright, which never downloads a browser here). Every request to a host other than
127.0.0.1 is aborted. A missing browser skips, except with CI=true, where it fails."""

from __future__ import annotations

import os
import socket
from contextlib import contextmanager
from typing import Iterator
from urllib.parse import urlparse

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
LOCAL = "127.0.0.1"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def require_browser() -> None:
    if os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK):
        return
    reason = f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)"
    if in_ci():
        pytest.fail(f"{reason}; CI=true: the browser test must run")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOCAL, 0))
        return int(s.getsockname()[1])


def local_only(route) -> None:
    host = urlparse(route.request.url).hostname
    if host in (LOCAL, "localhost") or route.request.url.startswith(("data:", "blob:")):
        route.continue_()
    else:
        route.abort()


@contextmanager
def chromium() -> Iterator[object]:
    """A playwright Browser (headless Chromium)."""
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()
