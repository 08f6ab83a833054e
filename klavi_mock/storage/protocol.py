"""The store: the one way anything reads or writes the mock's state.

Three backends implement it: `memory.MemoryStore` (the default), `sqlite.SqliteStore`
(`--state-file`) and `postgres.PostgresStore` (`--database-url`, shared by several processes). Nothing outside `klavi_mock/storage/` knows which one it has, nor
touches a backend's own structures (tests/unit/test_store_boundary.py checks that);
tests/storage/ is the contract both pass, and any new backend must.

What is stored: links, consents, Open Data tasks, report requests, webhook deliveries,
Automatic Pix consents and payments (the dataclasses of `klavi_mock.domain`), and meta
values (small JSON values: the clock's offset, the token secret, tenant settings changed
through the control API).

Reading. `get_*` and the lookups answer None when nothing matches; a `tenant_id` of None
means any tenant's (the control API, the bank pages), otherwise another tenant's object is
not found (tenant scoping happens here). Lists are in creation order unless they say
otherwise. (`list_consents(tenant, tax_id)` is indexed in every backend, so a report
request's cost does not grow with the number of consents.)

Changing. `add_*` stores a new object. An object the store gave out is changed in place,
and only inside `with store.updating(obj):` — one way, on purpose: on entry the store keeps
what a rollback needs (the object's attributes as they were: the memory backend hands out
its own objects, so the state before the change exists nowhere else); on exit it records
the new state (its indexes, the row the next commit writes). A shared store refuses the
change of an object another process changed since it was read (`ConflictError`, on exit
from `updating`). Deliveries have their own
steps besides (`requeue`, `attempted`, `release`), because the outbox follows them.

Units of work (`klavi_mock.unit_of_work`). Inside a unit (one HTTP request), every change
here can be undone: a backend registers its undo with `unit_of_work.on_rollback` as it
changes something, and defers with `unit_of_work.after_commit` what must wait for the
unit's success (a delivery reaches the outbox only then: a webhook is owed only for a
change that was kept). Outside a unit (the ticker, the dispatcher) changes apply at once
(on PostgreSQL they are also committed at once: each call is its own transaction).
`commit()` makes every change since the last commit durable in one step, or raises
`StorageError` and keeps them for a later commit; the app calls it just before a request's
answer goes out, after each webhook attempt and after time-driven work.

The outbox. Pending deliveries wait in lines: one URL and one ordering key per line (with
a webhook concurrency of 1, one URL). Only a line's head may be attempted, when its
`next_attempt_at` is reached; `claim_due` hands out what may go now (each URL within its
concurrency, oldest first), and counts it in flight until `attempted` or `release`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Protocol, TypeAlias

from klavi_mock.domain.automatic_pix import AutomaticConsent, AutomaticPayment
from klavi_mock.domain.consents import Consent
from klavi_mock.domain.deliveries import Delivery, key_names
from klavi_mock.domain.links import Link
from klavi_mock.domain.payments import InstantPayment
from klavi_mock.domain.report_requests import ReportRequest
from klavi_mock.domain.tasks import Task

# What a store keeps, and what a meta value may be (read back, its containers are dicts and lists).
Stored: TypeAlias = (
    "Link | Consent | Task | ReportRequest | Delivery | InstantPayment | AutomaticConsent | AutomaticPayment"
)
Json: TypeAlias = "None | bool | int | float | str | Sequence[Json] | Mapping[str, Json]"


class StorageError(Exception):
    """A durable store could not write a commit (e.g. the disk is full)."""


class ConflictError(StorageError):
    """A shared store (PostgreSQL): the object was changed by another transaction since
    it was read, so this change is refused rather than overwriting that one. Inside a unit
    the request answers 503 and nothing it did is kept; outside, the work is tried again."""


@dataclass(frozen=True)
class DeliveryFilter:
    """The deliveries the control API asks for: each field given must match."""

    tenant_id: str | None = None
    kind: str | None = None
    name: str | None = None
    status: str | None = None
    request_id: str | None = None
    ordering_key: str | None = None

    def matches(self, delivery: Delivery) -> bool:
        """Each field given equal; `ordering_key` may name the key's last part
        (`consent:<id>` finds `link:<id>/consent:<id>`)."""
        return all(
            getattr(self, f.name) is None
            or (
                key_names(delivery.ordering_key, self.ordering_key)
                if f.name == "ordering_key" and self.ordering_key is not None
                else getattr(delivery, f.name) == getattr(self, f.name)
            )
            for f in fields(self)
        )

    def without_status(self) -> DeliveryFilter:
        return DeliveryFilter(**{f.name: getattr(self, f.name) for f in fields(self) if f.name != "status"})


EVERY_DELIVERY = DeliveryFilter()


@dataclass(frozen=True)
class DeliveryPage:
    items: list[Delivery]  # newest first
    next_before: int | None  # the `before` of the next page; None at the end


class Store(Protocol):
    durable: bool  # whether commit() and checkpoint() have anything to do
    shared: bool  # whether other processes change it too (PostgreSQL): meta values are read again

    # -- links -------------------------------------------------------------------------
    def add_link(self, link: Link) -> None: ...
    def get_link(self, tenant_id: str | None, link_id: str) -> Link | None: ...
    def list_links(self, tenant_id: str | None = None) -> list[Link]: ...

    # -- consents ----------------------------------------------------------------------
    def add_consent(self, consent: Consent) -> None: ...
    def get_consent(self, tenant_id: str | None, consent_id: str) -> Consent | None: ...
    def consent_with_track_id(self, tenant_id: str, external_track_id: str) -> Consent | None: ...
    def consent_with_ticket(self, ticket: str) -> Consent | None:
        """By the ticket of its consentRedirectURL."""
        ...

    def consent_with_flow(self, flow_token: str) -> Consent | None:
        """By the token of its journey through the bank pages (set inside `updating`)."""
        ...

    def list_consents(self, tenant_id: str | None = None, tax_id: str | None = None) -> list[Consent]:
        """`tax_id`: only the consents whose data is its (`Consent.tax_id`): a report
        request's scope, without scanning every consent."""
        ...

    # -- Open Data tasks -----------------------------------------------------------------
    def add_task(self, task: Task) -> None: ...
    def get_task(self, task_id: str) -> Task | None: ...
    def task_with_connection(self, tenant_id: str, connection_key: str) -> Task | None:
        """The first task of the tenant that gave (or reuses) this connectionKey."""
        ...

    def list_tasks(self, link_id: str | None = None) -> list[Task]: ...

    # -- report requests -----------------------------------------------------------------
    def add_report_request(self, request: ReportRequest) -> None: ...
    def get_report_request(self, request_id: str) -> ReportRequest | None: ...
    def report_of(self, product_report_id: str) -> tuple[ReportRequest, str] | None:
        """The report request a productReportId belongs to, and its product."""
        ...

    def list_report_requests(self, tenant_id: str | None = None, tax_id: str | None = None) -> list[ReportRequest]:
        """Newest first."""
        ...

    def owed_report_requests(self, made_before: datetime | None = None) -> list[ReportRequest]:
        """Requests recorded but not built (`built` False), oldest first; only those made
        before `made_before`, if given."""
        ...

    # -- changing what was stored ----------------------------------------------------------
    def updating(self, obj: Stored) -> AbstractContextManager[None]:
        """`with store.updating(obj): ...change obj...` (see the module's docstring)."""
        ...

    # -- webhook deliveries: the log -----------------------------------------------------
    def next_delivery_id(self, now: datetime) -> str:
        """A new delivery's id: unique for the life of the store (a reset included), and in
        creation order (`Delivery.seq`)."""
        ...

    def add_delivery(self, delivery: Delivery) -> None:
        """In the log now; in the outbox, while pending, once the unit commits."""
        ...

    def get_delivery(self, delivery_id: str) -> Delivery | None: ...
    def list_deliveries(self, where: DeliveryFilter = EVERY_DELIVERY) -> list[Delivery]:
        """Oldest first."""
        ...

    def page_deliveries(self, where: DeliveryFilter, limit: int, before: int | None = None) -> DeliveryPage:
        """Up to `limit` matching deliveries, newest first, older than the delivery whose
        seq is `before` (None: from the newest)."""
        ...

    def delivery_counts(self, where: DeliveryFilter = EVERY_DELIVERY) -> dict[str, int]:
        """By status (every status named, 0 included), of the matching deliveries."""
        ...

    # -- webhook deliveries: the outbox ----------------------------------------------------
    def requeue(self, delivery: Delivery) -> None:
        """`delivery` was redelivered (changed inside `updating`): back in the outbox, once
        the unit commits, while pending."""
        ...

    def in_outbox(self, delivery_id: str) -> bool: ...
    def outbox_size(self) -> int: ...
    def claim_due(self, now: datetime, room: int) -> list[Delivery]:
        """Up to `room` deliveries to attempt now: line heads whose `next_attempt_at` has
        come, each URL's oldest first and within its concurrency. Each is in flight until
        `attempted` or `release`."""
        ...

    def next_due(self) -> datetime | None:
        """When the earliest waiting line head falls due (None: nothing waits)."""
        ...

    def attempted(self, delivery: Delivery) -> None:
        """An attempt on a claimed delivery was recorded (inside `updating`): it waits for
        its retry, or leaves the outbox."""
        ...

    def release(self, delivery: Delivery) -> None:
        """A claimed delivery's attempt was cut short (the mock is stopping): it stays
        pending, unchanged, to go again."""
        ...

    # -- meta values -------------------------------------------------------------------
    def get_meta(self, key: str) -> Json: ...
    def set_meta(self, key: str, value: Json) -> None: ...
    def meta_changes(self) -> int:
        """A number that changes whenever a meta value another process set is committed
        (a process that keeps copies of meta values reads them again then); constant for a
        store only this process changes."""
        ...

    # -- control -----------------------------------------------------------------------
    def exclusive(self, name: str) -> AbstractContextManager[bool]:
        """`with store.exclusive("consent-jobs") as mine:` work that one process at a time
        may do (several share a database): `mine` is False when another process is doing
        it now (skip it; it is tried again later). Inside a unit, held until the unit ends."""
        ...

    def reset(self) -> None:
        """Forget links, consents, tasks, report requests and deliveries; meta values stay
        (the clock only moves forward), and so does the delivery numbering."""
        ...

    def commit(self) -> None:
        """Make every change since the last commit durable in one step (StorageError if not)."""
        ...

    def checkpoint(self) -> None:
        """Slow upkeep of durable storage, called from a thread now and then."""
        ...

    def close(self) -> None:
        """Commit what is left and let go of the storage."""
        ...

    # -- instant payments --
    def add_instant_payment(self, payment: InstantPayment) -> None: ...
    def get_instant_payment(self, tenant_id: str | None, payment_id: str) -> InstantPayment | None: ...
    def instant_payment_with_request_id(self, tenant_id: str, client_request_id: str) -> InstantPayment | None:
        """The tenant's payment with this clientRequestId (the idempotency key)."""
        ...

    def instant_payment_with_ticket(self, ticket: str) -> InstantPayment | None:
        """By the ticket of its redirectConsentURL."""
        ...

    def instant_payment_with_flow(self, flow_token: str) -> InstantPayment | None:
        """By the token of its journey through the bank page (set inside `updating`)."""
        ...

    def instant_payment_with_link_token(self, link_token: str) -> InstantPayment | None:
        """A WhiteLabel payment by its paymentURL's token."""
        ...

    def list_instant_payments(self, tenant_id: str | None = None) -> list[InstantPayment]: ...
    # -- automatic pix -------------------------------------------------------------------
    def add_automatic_consent(self, consent: AutomaticConsent) -> None: ...
    def get_automatic_consent(self, tenant_id: str | None, consent_id: str) -> AutomaticConsent | None: ...
    def automatic_consent_with_request(self, tenant_id: str, client_request_id: str) -> AutomaticConsent | None:
        """By its clientRequestId (the idempotency key of POST /automatic/consents)."""
        ...

    def automatic_consent_with_ticket(self, ticket: str) -> AutomaticConsent | None:
        """By the ticket of its consent URL (the bank page)."""
        ...

    def list_automatic_consents(self, tenant_id: str | None = None) -> list[AutomaticConsent]: ...
    def add_automatic_payment(self, payment: AutomaticPayment) -> None: ...
    def get_automatic_payment(self, tenant_id: str | None, payment_id: str) -> AutomaticPayment | None: ...
    def automatic_payment_with_request(self, tenant_id: str, client_request_id: str) -> AutomaticPayment | None:
        """By its clientRequestId (the idempotency key of a charge or a retry)."""
        ...

    def list_automatic_payments(self, consent_id: str | None = None) -> list[AutomaticPayment]:
        """A consent's payments (None: every consent's), in creation order."""
        ...
