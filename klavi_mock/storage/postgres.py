"""The store on PostgreSQL (`--database-url`): the team sandbox, several mock processes
over one database. It implements `protocol.Store`, whose docstring says the rules.

Nothing is kept in the process: every read is a query, so what one instance changed the
next request on any other instance sees. psycopg 3, synchronous (the protocol is; a local
query takes a fraction of a millisecond), over a connection pool.

Transactions. A unit of work (one HTTP request) is one transaction: its first store call
takes a pooled connection and begins; `commit()` commits it; a rollback of the unit rolls
it back (registered with `unit_of_work.on_rollback`). Inside a unit the same id gives the
same object (an identity map), since the services change objects in place and read them
again. Outside a unit (the ticker, the dispatcher) each call is its own short transaction:
its change is durable at once (the contract's "commit" has nothing left to do there).

No lost updates. Each object row has a `version`; an object keeps the one it was read at,
and `updating` writes the row only if it still has it (then one more), else raises
ConflictError: another transaction changed it since, and the later change gives way.

The outbox is the pending deliveries with a destination. `claim_due` runs under a
transaction-scoped advisory lock, so instances claim one at a time and each URL's
concurrency holds across them all; it walks each URL's pending rows through indexes and
stops once it has enough (`_free_heads`), so a backlog does not make a claim slower; a
claim is a lease (`claimed_until`: the webhook timeout and a margin, wall time), so a delivery whose instance was killed mid-attempt goes
again once its lease runs out. Reads of the outbox see committed rows only (a delivery
reaches it when its unit commits).

A database that cannot be reached raises `StorageError` (a request answers 503); the pool
reconnects by itself when it is back.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import secrets
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from importlib import resources
from typing import Any, TypeVar

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.types.json import Json as JsonValue
from psycopg_pool import ConnectionPool, PoolTimeout

from klavi_mock import unit_of_work
from klavi_mock.domain.automatic_pix import AutomaticConsent, AutomaticPayment
from klavi_mock.domain.consents import Consent
from klavi_mock.domain.deliveries import DELIVERED, TIMEOUT, Delivery, delivery_id, parent_key
from klavi_mock.domain.links import Link
from klavi_mock.domain.payments import InstantPayment
from klavi_mock.domain.report_requests import ReportRequest
from klavi_mock.domain.reports import report_id
from klavi_mock.domain.tasks import Task
from klavi_mock.errors import ConfigError
from klavi_mock.storage.delivery_log import STATUSES
from klavi_mock.storage.protocol import (
    EVERY_DELIVERY,
    ConflictError,
    DeliveryFilter,
    DeliveryPage,
    Json,
    StorageError,
    Stored,
)
from klavi_mock.storage.records import from_record, to_record

log = logging.getLogger("klavi_mock.state")

T = TypeVar("T")

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
LEASE = timedelta(seconds=TIMEOUT + 5)  # an attempt's claim: its timeout, and a margin
# Advisory lock keys (any two numbers no other program on the database uses).
MIGRATION_LOCK = 0x6B6C6176  # "klav"
CLAIM_LOCK = 0x6B6C6177
MIGRATIONS = "postgres_migrations"  # a folder of numbered SQL files beside this module
VERSION = "_row_version"  # the attribute that keeps, on an object, the row version it was read at
CLAIMED = "_claimed_here"  # on a delivery this instance claimed, until its attempt is recorded
POOL_TIMEOUT = 5.0  # seconds to wait for a pooled connection before answering 503


def where(url: str) -> str:
    """The database a URL names, without its password (for messages)."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "the database (the URL cannot be read)"
    host = parts.get("host") or "localhost"
    return f"{parts.get('dbname') or parts.get('user') or ''} on {host}:{parts.get('port') or 5432}"


# -- migrations ---------------------------------------------------------------------------


def migrations() -> list[tuple[int, str]]:
    """(version, SQL) of each numbered file shipped with the package, in order."""
    found = []
    for entry in (resources.files("klavi_mock.storage") / MIGRATIONS).iterdir():
        if entry.name.endswith(".sql") and entry.name[:4].isdigit():
            found.append((int(entry.name[:4]), entry.read_text(encoding="utf-8")))
    return sorted(found)


def migrate(url: str) -> tuple[int, int]:
    """Bring the database's schema up to this klavi-mock's, under an advisory lock (two
    instances starting at once are fine): (version before, version now). A database of
    a newer klavi-mock, or one that cannot be reached, raises ConfigError (one line)."""
    known = migrations()
    latest = known[-1][0]
    try:
        with psycopg.connect(url, connect_timeout=5) as db, db.transaction():
            db.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            db.execute("CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)")
            row = db.execute("SELECT max(version) FROM schema_version").fetchone()
            before = row[0] if row and row[0] is not None else 0
            if before > latest:
                raise ConfigError(
                    f"database {where(url)} was written by a newer klavi-mock (schema {before}, this one "
                    f"knows {latest}); upgrade klavi-mock or use another database"
                )
            for version, text in known:
                if version > before:
                    db.execute(text.encode())
                    db.execute("INSERT INTO schema_version (version) VALUES (%s)", (version,))
            return before, max(before, latest)
    except psycopg.OperationalError as exc:
        raise ConfigError(f"cannot reach database {where(url)}: {_one_line(exc)}") from None
    except psycopg.Error as exc:
        raise ConfigError(f"database {where(url)} cannot be used: {_one_line(exc)}") from None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


# -- the store ------------------------------------------------------------------------------


class _Transaction:
    """A unit's connection, its open transaction, and its identity map."""

    def __init__(self, connection: psycopg.Connection) -> None:
        self.connection: psycopg.Connection | None = connection
        self.objects: dict[tuple[str, str], Any] = {}


class PostgresStore:
    durable = True  # whether commit() and checkpoint() have anything to do
    shared = True  # other instances change it too

    def __init__(self, url: str, webhook_concurrency: int = 8, webhook_retention: int = 5000, pool_size: int = 20):
        self.url = url
        self.instance = secrets.token_hex(6)  # whose lease a claim is
        self._per_url = webhook_concurrency
        self._retention = webhook_retention
        migrate(url)
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            timeout=POOL_TIMEOUT,
            open=True,
            # No check on every checkout (a round trip per store call): a connection the
            # server dropped fails its query once (503) and the pool replaces it. Autocommit:
            # a call outside a unit is one round trip, not BEGIN, the query and COMMIT; a
            # unit's transaction is begun and ended explicitly.
            kwargs={"connect_timeout": 5, "autocommit": True},
            name="klavi-mock",
        )
        self._units: weakref.WeakKeyDictionary[unit_of_work.Unit, _Transaction] = weakref.WeakKeyDictionary()
        self._shared: weakref.WeakValueDictionary[tuple[str, str], Any] = weakref.WeakValueDictionary()

    # -- connections ------------------------------------------------------------------

    @contextmanager
    def _db(self, committed: bool = False) -> Iterator[psycopg.Connection]:
        """The connection for this call: the unit's (its transaction), else one of its own
        committed at the end (`committed=True`: always one of its own, which sees only
        what was committed)."""
        unit = None if committed else self._unit()
        try:
            if unit is None:
                with self._pool.connection() as connection:
                    yield connection
            else:
                yield self._transaction(unit)
        except (psycopg.Error, PoolTimeout) as exc:
            raise StorageError(f"the database {where(self.url)} failed: {_one_line(exc)}") from exc

    def _unit(self) -> unit_of_work.Unit | None:
        """The unit whose transaction this call joins: None outside a unit, and once the
        unit's transaction has ended (what its after-commit steps do applies at once)."""
        unit = unit_of_work.current()
        if unit is None:
            return None
        tx = self._units.get(unit)
        return None if tx is not None and tx.connection is None else unit

    def _transaction(self, unit: unit_of_work.Unit) -> psycopg.Connection:
        tx = self._units.get(unit)
        if tx is None:
            connection = self._pool.getconn()
            try:
                connection.execute("BEGIN")
            except psycopg.Error:
                self._pool.putconn(connection)
                raise
            tx = _Transaction(connection)
            self._units[unit] = tx
            unit.on_rollback(lambda: self._end(tx, commit=False))
            # A unit dropped without ending (it should not happen) gives its connection back.
            weakref.finalize(unit, self._end, tx, False)
        assert tx.connection is not None
        return tx.connection

    def _end(self, tx: _Transaction, commit: bool) -> None:
        connection, tx.connection = tx.connection, None
        tx.objects.clear()
        if connection is None:
            return
        try:
            if commit:
                connection.execute("COMMIT")
            else:
                with contextlib.suppress(psycopg.Error):  # a broken connection: nothing to roll back
                    connection.execute("ROLLBACK")
        finally:
            self._pool.putconn(connection)  # the pool rolls back what is left open, and replaces a broken one

    def _identity(self) -> dict[tuple[str, str], Any] | None:
        unit = unit_of_work.current()
        tx = self._units.get(unit) if unit is not None else None
        return tx.objects if tx is not None and tx.connection is not None else None

    def _rows(self, query: str | sql.Composed, params: Sequence[Any] = (), committed: bool = False) -> list[tuple]:
        with self._db(committed) as db:
            return db.execute(query, params).fetchall()

    def _execute(self, query: str | sql.Composed, params: Sequence[Any] = ()) -> None:
        with self._db() as db:
            db.execute(query, params)

    def _object(self, cls: type[T], key: str, data: dict, version: int) -> T:
        """The row as an object: inside a unit, the one the unit already has for that id
        (its changes are the truth, and the version it read is the one its update names);
        outside, the one handed out before, if it is still held, brought up to date (as the
        memory store's objects are always current)."""
        objects = self._identity()
        if objects is not None:
            found = objects.get((TABLES[cls], key))
            if found is not None:
                return found
        obj = from_record(cls, data)
        vars(obj)[VERSION] = version
        if objects is not None:
            objects[(TABLES[cls], key)] = obj
            return obj
        return self._shared_object((TABLES[cls], key), obj)

    def _shared_object(self, key: tuple[str, str], obj: T) -> T:
        held = self._shared.get(key)
        if held is None:
            self._shared[key] = obj
            return obj
        vars(held).clear()
        vars(held).update(vars(obj))
        return held

    def _objects(self, cls: type[T], rows: list[tuple]) -> list[T]:
        return [self._object(cls, key, data, version) for key, data, version in rows]

    def _first(self, cls: type[T], rows: list[tuple]) -> T | None:
        return self._object(cls, rows[0][0], rows[0][1], rows[0][2]) if rows else None

    def _add(self, obj: Stored, columns: dict[str, Any]) -> None:
        table = TABLES[type(obj)]
        values = {"id": obj.id, **columns, "data": JsonValue(to_record(obj))}
        self._execute(_insert_query(table, tuple(values)), list(values.values()))
        vars(obj)[VERSION] = 0  # the column's default
        objects = self._identity()
        if objects is not None:
            objects[(table, obj.id)] = obj
        else:
            self._shared[(table, obj.id)] = obj

    # -- changes -----------------------------------------------------------------------

    @contextmanager
    def updating(self, obj: Stored) -> Iterator[None]:
        unit_of_work.save(obj)
        try:
            yield
        finally:
            self._update(obj)

    def _update(self, obj: Stored) -> None:
        """Write the object's row if it is still the version read (optimistic concurrency),
        else raise ConflictError. A row another open transaction changed is skipped, not
        waited for: a conflict at once (a wait would hold the event loop, and the other
        transaction may be a request on this very loop), and no error that would abort this
        unit's transaction (a caller that handles the conflict may go on)."""
        values = {**_columns(obj), "data": JsonValue(to_record(obj))}
        if isinstance(obj, Delivery) and not obj.in_flight and vars(obj).pop(CLAIMED, False):
            # The attempt this instance claimed it for is recorded: its claim ends in the same write.
            values |= {"claimed_until": None, "claimed_by": None}
        read = vars(obj).get(VERSION)  # None: not read from a row (no check)
        with self._db() as db:
            query = _update_query(TABLES[type(obj)], tuple(values))
            rows = db.execute(query, [obj.id, read, read, *values.values()]).fetchall()
        if not rows:
            raise ConflictError(
                f"{type(obj).__name__.lower()} {obj.id} was changed concurrently by another request or instance"
            )
        vars(obj)[VERSION] = rows[0][0]

    def commit(self) -> None:
        """Commit the unit's transaction (outside a unit every call committed already)."""
        unit = unit_of_work.current()
        tx = self._units.get(unit) if unit is not None else None
        if tx is None or tx.connection is None:
            return
        try:
            self._end(tx, commit=True)
        except psycopg.Error as exc:
            raise StorageError(f"could not commit to the database {where(self.url)}: {_one_line(exc)}") from exc

    def checkpoint(self) -> None:
        """Nothing to do: the database keeps itself."""

    def close(self) -> None:
        self._pool.close()

    def get_meta(self, key: str) -> Json:
        rows = self._rows("SELECT value FROM meta WHERE key = %s", (key,))
        return rows[0][0] if rows else None

    def set_meta(self, key: str, value: Json) -> None:
        self._execute(
            "INSERT INTO meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, JsonValue(value)),
        )
        self._execute("UPDATE meta_changes SET n = n + 1")

    def meta_changes(self) -> int:
        """A number that grows whenever any instance sets a meta value (committed ones)."""
        rows = self._rows("SELECT n FROM meta_changes", committed=True)
        return int(rows[0][0]) if rows else 0

    # -- links ---------------------------------------------------------------------------

    def add_link(self, link: Link) -> None:
        self._add(link, {"tenant_id": link.tenant_id})

    def get_link(self, tenant_id: str | None, link_id: str) -> Link | None:
        rows = self._rows("SELECT id, data, version FROM links WHERE id = %s", (link_id,))
        link = self._first(Link, rows)
        return link if link is not None and tenant_id in (None, link.tenant_id) else None

    def list_links(self, tenant_id: str | None = None) -> list[Link]:
        if tenant_id is None:
            return self._objects(Link, self._rows("SELECT id, data, version FROM links ORDER BY n"))
        return self._objects(
            Link, self._rows("SELECT id, data, version FROM links WHERE tenant_id = %s ORDER BY n", (tenant_id,))
        )

    # -- consents ----------------------------------------------------------------------

    def add_consent(self, consent: Consent) -> None:
        self._add(consent, {"tenant_id": consent.tenant_id, **_columns(consent)})

    def get_consent(self, tenant_id: str | None, consent_id: str) -> Consent | None:
        consent = self._first(
            Consent, self._rows("SELECT id, data, version FROM consents WHERE id = %s", (consent_id,))
        )
        return consent if consent is not None and tenant_id in (None, consent.tenant_id) else None

    def consent_with_track_id(self, tenant_id: str, external_track_id: str) -> Consent | None:
        rows = self._rows(
            "SELECT id, data, version FROM consents WHERE tenant_id = %s AND track_id = %s ORDER BY n DESC LIMIT 1",
            (tenant_id, external_track_id),
        )
        return self._first(Consent, rows)

    def consent_with_ticket(self, ticket: str) -> Consent | None:
        return self._first(
            Consent, self._rows("SELECT id, data, version FROM consents WHERE ticket = %s LIMIT 1", (ticket,))
        )

    def consent_with_flow(self, flow_token: str) -> Consent | None:
        rows = self._rows("SELECT id, data, version FROM consents WHERE flow_token = %s LIMIT 1", (flow_token,))
        return self._first(Consent, rows)

    def list_consents(self, tenant_id: str | None = None, tax_id: str | None = None) -> list[Consent]:
        rows = self._rows(
            "SELECT id, data, version FROM consents WHERE (%s::text IS NULL OR tenant_id = %s)"
            " AND (%s::text IS NULL OR tax_id = %s) ORDER BY n",
            (tenant_id, tenant_id, tax_id, tax_id),
        )
        return self._objects(Consent, rows)

    # -- Open Data tasks --------------------------------------------------------------------

    def add_task(self, task: Task) -> None:
        self._add(task, {"tenant_id": task.tenant_id, **_columns(task)})

    def get_task(self, task_id: str) -> Task | None:
        return self._first(Task, self._rows("SELECT id, data, version FROM tasks WHERE id = %s", (task_id,)))

    def task_with_connection(self, tenant_id: str, connection_key: str) -> Task | None:
        rows = self._rows(
            "SELECT id, data, version FROM tasks WHERE tenant_id = %s AND connection_key = %s ORDER BY n LIMIT 1",
            (tenant_id, connection_key),
        )
        return self._first(Task, rows)

    def list_tasks(self, link_id: str | None = None) -> list[Task]:
        if link_id is None:
            return self._objects(Task, self._rows("SELECT id, data, version FROM tasks ORDER BY n"))
        return self._objects(
            Task, self._rows("SELECT id, data, version FROM tasks WHERE link_id = %s ORDER BY n", (link_id,))
        )

    # -- report requests ---------------------------------------------------------------------

    def add_report_request(self, request: ReportRequest) -> None:
        self._add(
            request,
            {
                "tenant_id": request.tenant_id,
                "tax_id": request.tax_id,
                "created_at": request.created_at,
                "report_ids": [report_id(request.id, product) for product in request.products],
            },
        )

    def get_report_request(self, request_id: str) -> ReportRequest | None:
        rows = self._rows("SELECT id, data, version FROM report_requests WHERE id = %s", (request_id,))
        return self._first(ReportRequest, rows)

    def report_of(self, product_report_id: str) -> tuple[ReportRequest, str] | None:
        rows = self._rows(
            "SELECT id, data, version FROM report_requests WHERE report_ids @> ARRAY[%s]::text[] LIMIT 1",
            (product_report_id,),
        )
        request = self._first(ReportRequest, rows)
        if request is None:
            return None
        return request, next(p for p in request.products if report_id(request.id, p) == product_report_id)

    def list_report_requests(self, tenant_id: str | None = None, tax_id: str | None = None) -> list[ReportRequest]:
        rows = self._rows(
            "SELECT id, data, version FROM report_requests WHERE (%s::text IS NULL OR tenant_id = %s)"
            " AND (%s::text IS NULL OR tax_id = %s) ORDER BY created_at DESC, n",
            (tenant_id, tenant_id, tax_id, tax_id),
        )
        return self._objects(ReportRequest, rows)

    def owed_report_requests(self, made_before: datetime | None = None) -> list[ReportRequest]:
        rows = self._rows(
            f"SELECT id, data, version FROM report_requests WHERE {_OWED} "
            "AND (%s::timestamptz IS NULL OR created_at < %s) ORDER BY created_at, n",
            (made_before, made_before),
        )
        return self._objects(ReportRequest, rows)

    # -- webhook deliveries: the log -----------------------------------------------------------

    def next_delivery_id(self, now: datetime) -> str:
        # From a sequence: unique across instances and restarts, never rolled back.
        [(number,)] = self._rows("SELECT nextval('delivery_numbers')", committed=True)
        return delivery_id(int(number), now)

    def add_delivery(self, delivery: Delivery) -> None:
        self._add(
            delivery,
            {"seq": delivery.seq, "kind": delivery.kind, "tenant_id": delivery.tenant_id, **_columns(delivery)},
        )

    def _delivery(self, row: tuple) -> Delivery:
        """(id, data, version, in flight) as a delivery."""
        delivery = self._object(Delivery, row[0], row[1], row[2])
        delivery.in_flight = bool(row[3])
        return delivery

    def get_delivery(self, delivery_id: str) -> Delivery | None:
        rows = self._rows(f"SELECT id, data, version, {_IN_FLIGHT} FROM deliveries WHERE id = %s", (delivery_id,))
        return self._delivery(rows[0]) if rows else None

    def list_deliveries(self, where: DeliveryFilter = EVERY_DELIVERY) -> list[Delivery]:
        condition, params = _filter(where)
        rows = self._rows(
            f"SELECT id, data, version, {_IN_FLIGHT} FROM deliveries WHERE {condition} ORDER BY seq", params
        )
        return [self._delivery(row) for row in rows]

    def page_deliveries(self, where: DeliveryFilter, limit: int, before: int | None = None) -> DeliveryPage:
        condition, params = _filter(where)
        rows = self._rows(
            f"SELECT id, data, version, {_IN_FLIGHT} FROM deliveries WHERE {condition} AND (%s::bigint IS NULL OR seq < %s)"
            " ORDER BY seq DESC LIMIT %s",
            [*params, before, before, limit + 1],
        )
        items = [self._delivery(row) for row in rows[:limit]]
        return DeliveryPage(items, items[-1].seq if len(rows) > limit else None)

    def delivery_counts(self, where: DeliveryFilter = EVERY_DELIVERY) -> dict[str, int]:
        condition, params = _filter(where)
        rows = self._rows(f"SELECT status, count(*) FROM deliveries WHERE {condition} GROUP BY status", params)
        counted = dict(rows)
        return {status: int(counted.get(status, 0)) for status in STATUSES}

    # -- webhook deliveries: the outbox ----------------------------------------------------------

    def requeue(self, delivery: Delivery) -> None:
        """The row is pending again (written by `updating`): the outbox is those rows, so
        it is back there as its unit commits."""

    def in_outbox(self, delivery_id: str) -> bool:
        return bool(self._rows(f"SELECT 1 FROM deliveries WHERE id = %s AND {_OUTBOX}", (delivery_id,), committed=True))

    def outbox_size(self) -> int:
        return int(self._rows(f"SELECT count(*) FROM deliveries WHERE {_OUTBOX}", committed=True)[0][0])

    def _free_heads(
        self, db: psycopg.Connection, order: str, limit: int, now: datetime | None = None
    ) -> list[tuple[str, str, datetime]]:
        """(id, url, due) of heads of the outbox's lines (no older delivery of the line
        pending) that are not held back by a pending parent line nor in flight, at most as
        many per URL as its free slots, taken in `order` (seq, or next_attempt_at), at
        most `limit`; `now`: only those due by then. Each URL's pending deliveries are
        walked through an index and the walk stops once it has enough, so a backlog costs
        a claim only the heads it takes (a URL at its limit costs nothing)."""
        if self._per_url == 1:  # one line per URL: nothing older to it may be pending
            line, parent = "e.seq < d.seq", ""
        else:  # (an anti-join each, so the planner asks the index row by row)
            line = "coalesce(e.ordering_key, e.id) = coalesce(d.ordering_key, d.id) AND e.seq < d.seq"
            parent = (
                f"AND NOT EXISTS (SELECT 1 FROM deliveries e WHERE {_OUTBOX_E} AND e.destination = d.destination"
                " AND coalesce(e.ordering_key, e.id) = d.parent_key)"
            )
        return db.execute(
            f"""
            WITH RECURSIVE busy AS (  -- attempts under way per URL (leases not run out), every instance's
                SELECT destination, count(*) AS n FROM deliveries
                WHERE {_OUTBOX} AND claimed_until IS NOT NULL AND claimed_until > clock_timestamp()
                GROUP BY destination
            ), urls(destination) AS (  -- the outbox's URLs, one index probe each
                (SELECT destination FROM deliveries WHERE {_OUTBOX} ORDER BY destination LIMIT 1)
                UNION ALL
                SELECT (SELECT e.destination FROM deliveries e WHERE {_OUTBOX_E} AND e.destination > u.destination
                        ORDER BY e.destination LIMIT 1)
                FROM urls u WHERE u.destination IS NOT NULL
            )
            SELECT h.id, h.destination, h.next_attempt_at FROM urls u CROSS JOIN LATERAL (
                SELECT d.id, d.destination, d.next_attempt_at, d.seq FROM deliveries d
                WHERE d.status = 'pending' AND d.destination IS NOT NULL
                  -- (a range meaning =: with = the planner may walk the unique index on seq
                  -- through every delivery, the delivered ones too, rather than the URL's own)
                  AND d.destination >= u.destination AND d.destination <= u.destination
                  AND (%(now)s::timestamptz IS NULL OR d.next_attempt_at <= %(now)s)
                  AND NOT coalesce(d.claimed_until > clock_timestamp(), false)
                  AND NOT EXISTS (SELECT 1 FROM deliveries e WHERE {_OUTBOX_E} AND e.destination = d.destination AND {line})
                  {parent}
                ORDER BY d.destination, d.{order}
                LIMIT greatest(0, %(per_url)s - coalesce((SELECT n FROM busy b WHERE b.destination = u.destination), 0))
            ) h
            ORDER BY h.{order} LIMIT %(limit)s
            """,
            {"now": now, "limit": limit, "per_url": self._per_url},
        ).fetchall()

    def claim_due(self, now: datetime, room: int) -> list[Delivery]:
        if room <= 0:
            return []
        try:
            with self._pool.connection() as db, db.transaction():
                db.execute("SELECT pg_advisory_xact_lock(%s)", (CLAIM_LOCK,))  # one instance claims at a time
                chosen = [key for key, _, _ in self._free_heads(db, "seq", room, now)]
                if not chosen:
                    return []
                rows = db.execute(
                    "UPDATE deliveries SET claimed_until = clock_timestamp() + %s, claimed_by = %s"
                    " WHERE id = ANY(%s) RETURNING id, data, version",
                    (LEASE, self.instance, chosen),
                ).fetchall()
        except (psycopg.Error, PoolTimeout) as exc:
            raise StorageError(f"the database {where(self.url)} failed: {_one_line(exc)}") from exc
        found = {key: (data, version) for key, data, version in rows}
        claimed = []
        for key in chosen:
            data, version = found[key]
            fresh = from_record(Delivery, data)
            vars(fresh)[VERSION] = version
            delivery = self._shared_object(("deliveries", key), fresh)
            delivery.in_flight = True
            vars(delivery)[CLAIMED] = True
            claimed.append(delivery)
        return claimed

    def next_due(self) -> datetime | None:
        with self._db(committed=True) as db:
            heads = self._free_heads(db, "next_attempt_at", 1)
        return heads[0][2] if heads else None

    def attempted(self, delivery: Delivery) -> None:
        if vars(delivery).pop(CLAIMED, False):  # its claim was not ended with the attempt's record
            self._execute("UPDATE deliveries SET claimed_until = NULL, claimed_by = NULL WHERE id = %s", (delivery.id,))
        if delivery.status == DELIVERED:
            self._retain()

    def release(self, delivery: Delivery) -> None:
        delivery.in_flight = False
        vars(delivery).pop(CLAIMED, None)
        self._execute("UPDATE deliveries SET claimed_until = NULL, claimed_by = NULL WHERE id = %s", (delivery.id,))

    def _retain(self) -> None:
        """Delivered deliveries beyond the retention bound are forgotten, the oldest first."""
        self._execute(
            "DELETE FROM deliveries WHERE status = %s AND claimed_until IS NULL AND seq < ("
            " SELECT seq FROM deliveries WHERE status = %s ORDER BY seq DESC OFFSET %s LIMIT 1)",
            (DELIVERED, DELIVERED, self._retention - 1),
        )

    # -- instant payments ------------------------------------------------------------------

    def add_instant_payment(self, payment: InstantPayment) -> None:
        self._add(payment, {"tenant_id": payment.tenant_id, **_columns(payment)})

    def _instant(self, where: str, params: Sequence[Any]) -> InstantPayment | None:
        rows = self._rows(f"SELECT id, data, version FROM instant_payments WHERE {where} LIMIT 1", params)
        return self._first(InstantPayment, rows)

    def get_instant_payment(self, tenant_id: str | None, payment_id: str) -> InstantPayment | None:
        payment = self._instant("id = %s", (payment_id,))
        return payment if payment is not None and tenant_id in (None, payment.tenant_id) else None

    def instant_payment_with_request_id(self, tenant_id: str, client_request_id: str) -> InstantPayment | None:
        return self._instant("tenant_id = %s AND request_id = %s", (tenant_id, client_request_id))

    def instant_payment_with_ticket(self, ticket: str) -> InstantPayment | None:
        return self._instant("ticket = %s", (ticket,))

    def instant_payment_with_flow(self, flow_token: str) -> InstantPayment | None:
        return self._instant("flow_token = %s", (flow_token,))

    def instant_payment_with_link_token(self, link_token: str) -> InstantPayment | None:
        return self._instant("link_token = %s", (link_token,))

    def list_instant_payments(self, tenant_id: str | None = None) -> list[InstantPayment]:
        rows = self._rows(
            "SELECT id, data, version FROM instant_payments WHERE (%s::text IS NULL OR tenant_id = %s) ORDER BY n",
            (tenant_id, tenant_id),
        )
        return self._objects(InstantPayment, rows)

    # -- control -----------------------------------------------------------------------------

    @contextmanager
    def exclusive(self, name: str) -> Iterator[bool]:
        """A transaction-scoped advisory lock, tried, never waited for (a wait would hold
        the event loop, and the holder may be a request on this very loop): inside a unit
        on its transaction, so the work's changes are committed before another process
        may start; outside on a connection of its own, held while the work runs."""
        key = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)
        if self._unit() is not None:
            [(mine,)] = self._rows("SELECT pg_try_advisory_xact_lock(%s)", (key,))
            yield bool(mine)
            return
        with self._db(committed=True) as db, db.transaction():
            [(mine,)] = db.execute("SELECT pg_try_advisory_xact_lock(%s)", (key,)).fetchall()
            yield bool(mine)

    def reset(self) -> None:
        for table in TABLES.values():
            self._execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table)))
        objects = self._identity()
        if objects is not None:
            objects.clear()

    # -- automatic pix -------------------------------------------------------------------------

    def add_automatic_consent(self, consent: AutomaticConsent) -> None:
        self._add(consent, {"tenant_id": consent.tenant_id, **_columns(consent)})

    def get_automatic_consent(self, tenant_id: str | None, consent_id: str) -> AutomaticConsent | None:
        rows = self._rows("SELECT id, data, version FROM automatic_consents WHERE id = %s", (consent_id,))
        consent = self._first(AutomaticConsent, rows)
        return consent if consent is not None and tenant_id in (None, consent.tenant_id) else None

    def automatic_consent_with_request(self, tenant_id: str, client_request_id: str) -> AutomaticConsent | None:
        rows = self._rows(
            "SELECT id, data, version FROM automatic_consents WHERE tenant_id = %s AND client_request_id = %s"
            " ORDER BY n LIMIT 1",
            (tenant_id, client_request_id),
        )
        return self._first(AutomaticConsent, rows)

    def automatic_consent_with_ticket(self, ticket: str) -> AutomaticConsent | None:
        rows = self._rows("SELECT id, data, version FROM automatic_consents WHERE ticket = %s LIMIT 1", (ticket,))
        return self._first(AutomaticConsent, rows)

    def list_automatic_consents(self, tenant_id: str | None = None) -> list[AutomaticConsent]:
        rows = self._rows(
            "SELECT id, data, version FROM automatic_consents WHERE (%s::text IS NULL OR tenant_id = %s) ORDER BY n",
            (tenant_id, tenant_id),
        )
        return self._objects(AutomaticConsent, rows)

    def add_automatic_payment(self, payment: AutomaticPayment) -> None:
        self._add(payment, {"tenant_id": payment.tenant_id, **_columns(payment)})

    def get_automatic_payment(self, tenant_id: str | None, payment_id: str) -> AutomaticPayment | None:
        rows = self._rows("SELECT id, data, version FROM automatic_payments WHERE id = %s", (payment_id,))
        payment = self._first(AutomaticPayment, rows)
        return payment if payment is not None and tenant_id in (None, payment.tenant_id) else None

    def automatic_payment_with_request(self, tenant_id: str, client_request_id: str) -> AutomaticPayment | None:
        rows = self._rows(
            "SELECT id, data, version FROM automatic_payments WHERE tenant_id = %s AND client_request_id = %s"
            " ORDER BY n LIMIT 1",
            (tenant_id, client_request_id),
        )
        return self._first(AutomaticPayment, rows)

    def list_automatic_payments(self, consent_id: str | None = None) -> list[AutomaticPayment]:
        rows = self._rows(
            "SELECT id, data, version FROM automatic_payments WHERE (%s::text IS NULL OR consent_id = %s) ORDER BY n",
            (consent_id, consent_id),
        )
        return self._objects(AutomaticPayment, rows)


# In flight: claimed, and the lease has not run out.
_IN_FLIGHT = "coalesce(claimed_until > clock_timestamp(), false)"
_OUTBOX = "status = 'pending' AND destination IS NOT NULL"
_OWED = "data->>'built' = 'false'"  # a report request recorded but not built (migration 0006's index)
_OUTBOX_E = "e.status = 'pending' AND e.destination IS NOT NULL"  # the same, of a row named e


@functools.cache
def _insert_query(table: str, names: tuple[str, ...]) -> sql.Composed:
    """The insert of a row of `table` with `names` (composed once per shape)."""
    return sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
        sql.Identifier(table),
        sql.SQL(", ").join(map(sql.Identifier, names)),
        sql.SQL(", ").join(sql.Placeholder() * len(names)),
    )


@functools.cache
def _update_query(table: str, names: tuple[str, ...]) -> sql.Composed:
    """The optimistic update of `table`'s row setting `names` (composed once per shape)."""
    return sql.SQL(
        "WITH mine AS (SELECT id FROM {t} WHERE id = %s AND (%s::integer IS NULL OR version = %s)"
        " FOR UPDATE SKIP LOCKED) UPDATE {t} SET {sets}, version = {t}.version + 1 FROM mine"
        " WHERE {t}.id = mine.id RETURNING {t}.version"
    ).format(
        t=sql.Identifier(table),
        sets=sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(name)) for name in names),
    )


def _columns(obj: Stored) -> dict[str, Any]:
    """The indexed columns an update may change."""
    if isinstance(obj, Consent):
        return {
            "track_id": obj.external_track_id,
            "ticket": obj.ticket,
            "flow_token": obj.flow_token,
            "tax_id": obj.tax_id,
        }
    if isinstance(obj, Task):
        return {"link_id": obj.link_id, "connection_key": obj.connection_key}
    if isinstance(obj, Delivery):
        return {
            "name": obj.name,
            "status": obj.status,
            "request_id": obj.request_id,
            "ordering_key": obj.ordering_key,
            "parent_key": parent_key(obj.ordering_key),
            "destination": obj.destination,
            "next_attempt_at": obj.next_attempt_at,
        }
    if isinstance(obj, Link):
        return {"tenant_id": obj.tenant_id}
    # -- instant payments --
    if isinstance(obj, InstantPayment):
        return {
            "request_id": obj.client_request_id,
            "ticket": obj.ticket,
            "flow_token": obj.flow_token,
            "link_token": obj.link_token,
        }
    # -- automatic pix --
    if isinstance(obj, AutomaticConsent):
        return {"client_request_id": obj.client_request_id, "ticket": obj.ticket}
    if isinstance(obj, AutomaticPayment):
        return {"consent_id": obj.consent_id, "client_request_id": obj.client_request_id}
    return {}


def _filter(where: DeliveryFilter) -> tuple[str, list[Any]]:
    """The control API's filter as SQL; an ordering key may name the key's last part."""
    conditions, params = ["true"], []
    for name in ("tenant_id", "kind", "name", "status", "request_id"):
        value = getattr(where, name)
        if value is not None:
            conditions.append(f"{name} = %s")
            params.append(value)
    if where.ordering_key is not None:
        conditions.append("(ordering_key = %s OR regexp_replace(ordering_key, '^.*/', '') = %s)")
        params += [where.ordering_key, where.ordering_key]
    return " AND ".join(conditions), params
