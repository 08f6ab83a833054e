"""What the browser tests share: Debian's Chromium driven by Playwright (never a downloaded
browser), a phone-sized page in Portuguese, and the skip when either is missing.

Importing this module skips the importing test module when Chromium (/usr/bin/chromium)
or the playwright package is missing.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TIMEOUT_MS = 10_000

if not os.path.exists(CHROMIUM):
    pytest.skip(f"browser tests need Chromium at {CHROMIUM}", allow_module_level=True)
try:
    from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
except ImportError:
    pytest.skip("browser tests need the playwright Python package", allow_module_level=True)

__all__ = ["Browser", "BrowserContext", "Page", "TIMEOUT_MS", "chromium", "expect", "phone_page"]


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield launched
        finally:
            launched.close()


@contextlib.contextmanager
def phone_page(browser: Browser) -> Iterator[Page]:
    """A page in a fresh context the size of a phone, in Portuguese (the hosted pages' users)."""
    context = browser.new_context(locale="pt-BR", viewport={"width": 420, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()
