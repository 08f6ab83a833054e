"""The backends the store contract (test_store_contract.py) runs against. A new backend
(PostgreSQL, say) is one more entry in BACKENDS: how to open a store on a test's own
storage, whether a store opened again there finds what was committed, and how to stop one
the way kill -9 does."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from klavi_mock.storage.memory import MemoryStore
from klavi_mock.storage.postgres import PostgresStore
from klavi_mock.storage.protocol import Store
from klavi_mock.storage.sqlite import SqliteStore
from tests.postgres import database_for


@dataclass(frozen=True)
class Kind:
    open: Callable[[Path, int], Store]  # (this test's folder, webhook concurrency) -> a store
    durable: bool  # a store opened again on the same storage finds what was committed
    crash: Callable[[Store], None] = lambda store: None  # stop without closing (kill -9)
    # Outside a unit of work every change is committed at once (PostgreSQL: each call is its
    # own transaction, so the ticker's and the dispatcher's work is shared at once).
    commits_at_once: bool = False


def _sqlite_crash(store: Store) -> None:
    assert isinstance(store, SqliteStore)
    store._release()  # the connections and the file lock go, as the OS would take them; nothing is written


def _postgres_crash(store: Store) -> None:
    assert isinstance(store, PostgresStore)
    store.close()  # the connections go; a transaction left open is rolled back, as after kill -9


BACKENDS: dict[str, Kind] = {
    "memory": Kind(lambda where, concurrency: MemoryStore(webhook_concurrency=concurrency), durable=False),
    "sqlite": Kind(
        lambda where, concurrency: SqliteStore(where / "state.sqlite", webhook_concurrency=concurrency),
        durable=True,
        crash=_sqlite_crash,
    ),
    "postgres": Kind(
        lambda where, concurrency: PostgresStore(database_for(where), webhook_concurrency=concurrency, pool_size=4),
        durable=True,
        crash=_postgres_crash,
        commits_at_once=True,
    ),
}


@dataclass
class Backend:
    name: str
    where: Path
    kind: Kind
    opened: list[Store] = field(default_factory=list)

    @property
    def durable(self) -> bool:
        return self.kind.durable

    def open(self, webhook_concurrency: int = 8) -> Store:
        store = self.kind.open(self.where, webhook_concurrency)
        self.opened.append(store)
        return store

    def reopen(self, store: Store, webhook_concurrency: int = 8, crash: bool = False) -> Store:
        """The store as a restarted process finds it (durable backends only): after a
        clean stop, or after kill -9 (`crash`)."""
        if not self.durable:
            pytest.skip(f"{self.name} keeps nothing across a restart")
        self.kind.crash(store) if crash else store.close()
        self.opened.remove(store)
        return self.open(webhook_concurrency)


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    backend = Backend(request.param, tmp_path, BACKENDS[request.param])
    yield backend
    for store in backend.opened:
        store.close()


@pytest.fixture
def store(backend: Backend) -> Store:
    return backend.open()
