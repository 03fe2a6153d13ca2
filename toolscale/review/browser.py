"""A headless Chromium for the site's browser tests, benchmark and screenshots (needs the dev extra's playwright).

The browser is the system's (Debian's `chromium` package, which `.ci/run` installs), never one
Playwright downloads; each launch gets a fresh profile so runs share no storage.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

CHROMIUM = Path(os.environ.get("TOOLSCALE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
)


@contextmanager
def chromium(width: int = 1440, height: int = 900) -> Iterator[BrowserContext]:
    """A browser context on a fresh profile; downloads are accepted."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        raise FileNotFoundError(f"{CHROMIUM}: no Chromium; install Debian's `chromium` (or set TOOLSCALE_CHROMIUM)")
    profile = tempfile.mkdtemp(prefix="toolscale-chromium-")
    try:
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                profile,
                executable_path=str(CHROMIUM),
                headless=True,
                args=list(CHROMIUM_ARGS),
                viewport={"width": width, "height": height},
                accept_downloads=True,
            )
            try:
                yield context
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
