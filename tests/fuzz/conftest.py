"""The fuzzed mock, shared by the fuzz modules (its world is rebuilt whenever a request may
have changed it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fuzz.world import Mock, fuzz_settings
from tests.worlds import in_process


@pytest.fixture(scope="package")
def mock() -> Iterator[Mock]:
    with in_process(fuzz_settings(), follow_redirects=False) as http:
        yield (mock := Mock(http))
        mock.close()
