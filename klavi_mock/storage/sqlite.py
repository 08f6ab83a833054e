"""The store behind `--state-file`: the in-memory store, written through to SQLite. It
implements `protocol.Store` as `MemoryStore` does (its indexes, its outbox), plus
durability.

Reads never touch the file: everything is loaded at start-up and kept in memory, as in
`MemoryStore`. Changes are collected (`changed`) and written by `commit` in one
transaction, so a request's consent and the webhook it causes land together or not at
all. WAL with synchronous=NORMAL: a commit survives the process being killed (kill -9)
without an fsync per request; a power cut may lose the last few commits. A commit is a
write to the OS's page cache (tens of µs); the checkpoints, which fsync, are taken off the
event loop (`checkpoint`, run in a thread by the app's ticker).

One row per object, the object as JSON (`records.py`), so the file can be inspected with
`sqlite3 STATE 'select data from consents'`. One process per file: a second one is refused.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from klavi_mock import unit_of_work
from klavi_mock.domain.automatic_pix import AutomaticConsent, AutomaticPayment
from klavi_mock.domain.consents import Consent
from klavi_mock.domain.deliveries import Delivery
from klavi_mock.domain.links import Link
from klavi_mock.domain.payments import InstantPayment
from klavi_mock.domain.report_requests import ReportRequest
from klavi_mock.domain.tasks import Task
from klavi_mock.errors import ConfigError
from klavi_mock.storage.memory import MemoryStore
from klavi_mock.storage.protocol import Json, StorageError, Stored
from klavi_mock.storage.records import from_record, to_record

try:
    import fcntl
except ImportError:  # Windows: no advisory lock; one process per file is then on you
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("klavi_mock.state")

SCHEMA_VERSION = 1
# Table per stored class, in the order they load (consents need nothing; deliveries last).
TABLES: dict[type, str] = {
    Link: "links",
    Consent: "consents",
    ReportRequest: "report_requests",
    Task: "tasks",
    Delivery: "deliveries",
    # -- instant payments --
    InstantPayment: "instant_payments",
    # -- automatic pix --
    AutomaticConsent: "automatic_consents",
    AutomaticPayment: "automatic_payments",
}


class SqliteStore(MemoryStore):
    durable = True

    def __init__(self, path: str | os.PathLike, **settings: int) -> None:
        super().__init__(**settings)
        self.path = Path(path)
        self._dirty: dict[tuple[str, str], Stored] = {}
        self._gone: list[str] = []  # deliveries forgotten (retention): rows to delete
        self._dirty_meta: set[str] = set()
        self._wipe = False
        self._lock = _lock(self.path)
        self._db: sqlite3.Connection | None = None
        self._checkpoints: sqlite3.Connection | None = None
        # Held by a checkpoint while it runs (on a thread) and by close: closing a connection
        # another thread is using crashes the process (seen: a segfault at shutdown).
        self._checkpointing = threading.Lock()
        self._sidecars = [p for p in _sidecars(self.path) if not p.exists()]  # ours to remove if refused
        try:
            # Everything is checked and read on a read-only connection first: a file that
            # is refused is left exactly as it was.
            reader = _read_only(self.path)
            try:
                _check_schema(reader, self.path)
                self._load(reader)
            finally:
                reader.close()
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._checkpoints = sqlite3.connect(self.path, check_same_thread=False)
            self._writer.execute("PRAGMA journal_mode=WAL")
            self._writer.execute("PRAGMA synchronous=NORMAL")
            self._writer.execute("PRAGMA wal_autocheckpoint=0")  # see checkpoint()
            self._create_schema()
        except sqlite3.DatabaseError as exc:
            self._refuse()
            raise ConfigError(f"state file {self.path} cannot be used: {exc}") from exc
        except ConfigError:
            self._refuse()
            raise

    def _refuse(self) -> None:
        """Let go of a refused file, removing the -wal and -shm files opening it made."""
        self._release()
        for sidecar in self._sidecars:
            sidecar.unlink(missing_ok=True)

    @property
    def _writer(self) -> sqlite3.Connection:
        assert self._db is not None, "opened in __init__"
        return self._db

    def _create_schema(self) -> None:
        with self._writer:
            self._writer.execute("BEGIN")
            for table in (*TABLES.values(), "meta"):
                self._writer.execute(f"CREATE TABLE IF NOT EXISTS {table} (id TEXT PRIMARY KEY, data TEXT NOT NULL)")
            if self._writer.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                self._writer.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _load(self, reader: sqlite3.Connection) -> None:
        # Hundreds of thousands of objects that live as long as the process: the cyclic
        # garbage collector would walk them over and over while they load, and later.
        collecting = gc.isenabled()
        gc.disable()
        try:
            self._load_rows(reader)
        finally:
            if collecting:
                gc.enable()
        gc.freeze()

    def _load_rows(self, reader: sqlite3.Connection) -> None:
        adders: dict[type, Callable[[Any], None]] = {
            Link: self.add_link,
            Consent: self.add_consent,
            ReportRequest: self.add_report_request,
            Task: self.add_task,
            Delivery: self._add_stored_delivery,
            # -- instant payments --
            InstantPayment: self.add_instant_payment,
            # -- automatic pix --
            AutomaticConsent: self.add_automatic_consent,
            AutomaticPayment: self.add_automatic_payment,
        }
        for cls, table in TABLES.items():
            if not _has_table(reader, table):
                continue
            for key, data in reader.execute(f"SELECT id, data FROM {table} ORDER BY rowid"):
                try:
                    adders[cls](from_record(cls, json.loads(data)))
                except (ValueError, TypeError, KeyError, AttributeError) as exc:  # edited by hand, or torn
                    raise ConfigError(
                        f"state file {self.path}: {table} row {key!r} cannot be read ({exc}); "
                        "fix or delete that row, or start with another file"
                    ) from None
        for key, data in reader.execute("SELECT id, data FROM meta") if _has_table(reader, "meta") else ():
            try:
                self._meta[key] = json.loads(data)
            except ValueError as exc:
                raise ConfigError(f"state file {self.path}: meta row {key!r} is not JSON ({exc})") from None
        self._number_after(self.list_deliveries())
        self._dirty.clear()

    def _add_stored_delivery(self, delivery: Delivery) -> None:
        delivery.in_flight = False  # an attempt cut short by the stop: it goes again
        self.add_delivery(delivery)

    # -- the store interface -----------------------------------------------------------

    def _mark(self, obj: Stored) -> None:
        self._dirty[(TABLES[type(obj)], obj.id)] = obj

    def _unmark(self, obj: Stored) -> None:
        self._dirty.pop((TABLES[type(obj)], obj.id), None)

    def _forget_delivery(self, delivery: Delivery) -> None:
        super()._forget_delivery(delivery)
        self._gone.append(delivery.id)

    def set_meta(self, key: str, value: Json) -> None:
        super().set_meta(key, value)
        self._dirty_meta.add(key)

    def reset(self) -> None:
        wiping, dirty = self._wipe, dict(self._dirty)
        super().reset()
        self._dirty.clear()
        self._wipe = True

        def undo() -> None:  # what was to be written still is
            self._wipe = wiping
            self._dirty.update(dirty)

        unit_of_work.on_rollback(undo)

    def commit(self) -> None:
        """Write every change since the last commit in one transaction. If that fails (a
        full disk), nothing is written, the changes stay to be written by a later commit,
        and StorageError says why: a request then answers 503, never 200."""
        if not (self._dirty or self._dirty_meta or self._wipe or self._gone):
            return
        rows: dict[str, list[tuple[str, str]]] = {}
        for (table, key), obj in self._dirty.items():
            rows.setdefault(table, []).append((key, json.dumps(to_record(obj), ensure_ascii=False)))
        rows["meta"] = [
            (key, json.dumps(self._meta[key], ensure_ascii=False)) for key in self._dirty_meta if key in self._meta
        ]
        gone_meta = [(key,) for key in self._dirty_meta if key not in self._meta]  # set, then undone
        try:
            with self._writer:
                self._writer.execute("BEGIN")
                if self._wipe:
                    for table in TABLES.values():
                        self._writer.execute(f"DELETE FROM {table}")
                for table, values in rows.items():
                    self._writer.executemany(
                        f"INSERT INTO {table} (id, data) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET data = excluded.data",
                        values,
                    )
                self._writer.executemany("DELETE FROM meta WHERE id = ?", gone_meta)
                self._writer.executemany("DELETE FROM deliveries WHERE id = ?", [(key,) for key in self._gone])
        except sqlite3.Error as exc:
            raise StorageError(f"could not write the state file {self.path}: {exc}") from exc
        self._dirty.clear()
        self._dirty_meta.clear()
        self._gone.clear()
        self._wipe = False

    def checkpoint(self) -> None:
        """Move the WAL's pages into the database file (this one fsyncs): from a thread, on a
        connection of its own, without blocking the commits."""
        with self._checkpointing:
            try:
                if self._checkpoints is not None:  # None once closed
                    self._checkpoints.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error:
                log.exception("could not checkpoint the state file %s", self.path)

    def close(self) -> None:
        try:
            self.commit()
            self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except (StorageError, sqlite3.Error) as exc:
            log.error("the last changes could not be written at shutdown: %s", exc)
        self._release()

    def _release(self) -> None:
        with self._checkpointing:  # a checkpoint under way (the ticker's thread) ends first
            connections, self._checkpoints = (self._checkpoints, self._db), None
        for connection in connections:
            if connection is not None:
                connection.close()
        if self._lock is not None:
            self._lock.close()


def _sidecars(path: Path) -> list[Path]:
    return [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm")]


SQLITE_HEADER = b"SQLite format 3\x00"


def _read_only(path: Path) -> sqlite3.Connection:
    """A connection that cannot write, on a file that is new or at least looks like SQLite."""
    with open(path, "rb") as handle:
        header = handle.read(len(SQLITE_HEADER))
    if header and header != SQLITE_HEADER:
        raise ConfigError(
            f"state file {path} is not an SQLite database (it starts with {header[:16]!r}); "
            "use another file, or delete this one if it is yours to lose"
        )
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)


def _has_table(db: sqlite3.Connection, table: str) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone() is not None


def _check_schema(db: sqlite3.Connection, path: Path) -> None:
    """Refuse a damaged file, one of a newer klavi-mock, and one another program made."""
    findings = [row[0] for row in db.execute("PRAGMA quick_check(3)")]
    if findings != ["ok"]:
        verdict = " ".join("; ".join(findings).split())  # one line
        raise ConfigError(
            f"state file {path} is damaged (SQLite's quick_check: {verdict}); "
            "restore it from a copy, or start with another file"
        )
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise ConfigError(
            f"state file {path} was written by a newer klavi-mock (schema {version}); "
            "upgrade klavi-mock or use another file"
        )
    ours = {*TABLES.values(), "meta"}
    tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    if tables and version != SCHEMA_VERSION:
        raise ConfigError(
            f"state file {path} belongs to another program (tables {', '.join(sorted(tables))}, "
            f"user_version {version}); klavi-mock only opens its own files"
        )
    for table in tables:
        columns = [(row[1], row[2].upper()) for row in db.execute(f"PRAGMA table_info({_quoted(table)})")]
        if table not in ours or columns != [("id", "TEXT"), ("data", "TEXT")]:
            raise ConfigError(
                f"state file {path} has a table klavi-mock did not make ({table}: "
                f"{', '.join(name for name, _ in columns)}); klavi-mock only opens its own files"
            )


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lock(path: Path):
    """Hold an exclusive lock on the file for the life of the process (released by the OS
    even on kill -9)."""
    if fcntl is None:
        return None
    try:
        handle = open(path, "a+b")  # noqa: SIM115  (held open for the lock until close)
    except OSError as exc:
        raise ConfigError(f"state file {path} cannot be opened: {exc.strerror}") from exc
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise ConfigError(
            f"state file {path} is in use by another klavi-mock process; stop it or use another file"
        ) from None
    return handle
