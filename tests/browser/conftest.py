"""What most browser test modules start from: the mock under uvicorn (strict), a partner's
return page, one Chromium per module and a fresh phone-sized page per test. A module that
needs another mock or page defines its own fixture of the same name.

tests/browsers.py is imported inside the fixtures: importing it skips the importing module
when Chromium is missing, which a conftest must not do to the whole folder."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from klavi_mock.config import Settings
from tests.worlds import in_thread


@pytest.fixture(scope="module")
def mock_url() -> Iterator[str]:
    with in_thread(Settings(strict=True)) as url:
        yield url


@pytest.fixture(scope="module")
def partner_url() -> Iterator[str]:
    from tests.browser.test_browser import serve_partner

    with serve_partner() as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from tests.browsers import chromium

    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    from tests.browsers import phone_page

    with phone_page(browser) as opened:
        yield opened


@pytest.fixture(scope="module")
def api(mock_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=mock_url, timeout=10) as client:
        yield client
