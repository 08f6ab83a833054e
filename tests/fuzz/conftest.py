"""The fuzzed mock, shared by the fuzz modules (its world is rebuilt whenever a request may
have changed it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from klavi_mock.app import create_app
from tests.fuzz.world import Mock, fuzz_settings


@pytest.fixture(scope="package")
def mock() -> Iterator[Mock]:
    with TestClient(create_app(fuzz_settings()), follow_redirects=False) as http:
        yield (mock := Mock(http))
        mock.close()
