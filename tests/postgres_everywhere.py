"""A pytest plugin: every app the tests build keeps its state in PostgreSQL (a fresh
database each, on the session's throwaway server), so any test folder can be run over the
PostgreSQL backend:

    python -m pytest -p tests.postgres_everywhere tests/api \\
        --deselect tests/api/test_state_file.py \\
        --deselect tests/api/test_webhooks.py::test_stopping_lets_an_attempt_under_way_finish

(the state-file tests are about SQLite; the other reads the store after the app closed it,
which a memory store allows and a database pool does not). Apps with a state file keep it.
"""

from __future__ import annotations

import itertools

import klavi_mock.app as app
from klavi_mock.config import Settings
from klavi_mock.storage.postgres import PostgresStore
from klavi_mock.storage.protocol import Store
from tests.postgres import server

_numbers = itertools.count()
_open_store = app.open_store


def _on_postgres(settings: Settings) -> Store:
    if settings.state_file is not None:
        return _open_store(settings)
    url = server().database(f"everywhere_{next(_numbers)}")
    return PostgresStore(
        url,
        webhook_concurrency=settings.webhook_concurrency,
        webhook_retention=settings.webhook_retention,
        pool_size=4,
    )


app.open_store = _on_postgres  # compose() looks it up at each call
