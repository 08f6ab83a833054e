"""The store in memory (the default): dictionaries with the indexes the API needs. It
implements `protocol.Store`, whose docstring says the rules; commit is a no-op here.

Inside a request's unit of work (`unit_of_work`), every change here can be undone: an
added object is removed again, an updated one gets its old attributes back, and a
delivery reaches the outbox only when the request commits.
"""

from __future__ import annotations

import copy
import itertools
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from klavi_mock import unit_of_work
from klavi_mock.domain.automatic_pix import AutomaticConsent, AutomaticPayment
from klavi_mock.domain.consents import Consent
from klavi_mock.domain.deliveries import DELIVERED, Delivery, delivery_id
from klavi_mock.domain.links import Link
from klavi_mock.domain.payments import InstantPayment
from klavi_mock.domain.report_requests import ReportRequest
from klavi_mock.domain.reports import report_id
from klavi_mock.domain.tasks import Task
from klavi_mock.storage.delivery_log import DeliveryLog
from klavi_mock.storage.delivery_queue import DeliveryQueue
from klavi_mock.storage.protocol import EVERY_DELIVERY, DeliveryFilter, DeliveryPage, Json, Stored

# What a reset forgets, and a reset that is rolled back gives back.
_FORGOTTEN_BY_RESET = (
    "_links",
    "_consents",
    "_track_ids",
    "_by_ticket",
    "_by_flow",
    "_by_tenant",
    "_by_tax_id",
    "_report_requests",
    "_report_ids",
    "_tasks",
    # -- instant payments --
    "_instant_payments",
    "_instant_by_key",
    # -- automatic pix --
    "_auto_consents",
    "_auto_consent_requests",
    "_auto_tickets",
    "_auto_payments",
    "_auto_payment_requests",
    "_auto_by_tenant",
    "_auto_by_consent",
)


class MemoryStore:
    durable = False  # whether commit() and checkpoint() have anything to do
    shared = False  # one process's: no other changes it

    def __init__(self, webhook_concurrency: int = 8, webhook_retention: int = 5000) -> None:
        self._links: dict[str, Link] = {}
        self._consents: dict[str, Consent] = {}
        # Lookups the API needs without scanning every consent.
        self._track_ids: dict[tuple[str, str], str] = {}
        self._by_ticket: dict[str, str] = {}
        self._by_flow: dict[str, str] = {}
        self._by_tenant: dict[str, list[Consent]] = {}
        self._by_tax_id: dict[tuple[str, str], list[Consent]] = {}  # (tenant, Consent.tax_id)
        self._deliveries = DeliveryLog()  # the webhook log, oldest first
        self._outbox = DeliveryQueue(webhook_concurrency)  # the pending ones, as the dispatcher takes them
        self._retention = webhook_retention  # delivered deliveries kept in the log
        self._delivered: deque[str] = deque()  # ids of delivered ones, oldest first (some since redelivered)
        self._delivery_numbers = itertools.count(1)
        self._report_requests: dict[str, ReportRequest] = {}
        self._report_ids: dict[str, str] = {}  # productReportId -> requestId
        self._tasks: dict[str, Task] = {}  # Open Data tasks
        self._meta: dict[str, Json] = {}  # small named values: the clock's offset, the token secret...
        # -- instant payments --
        self._instant_payments: dict[str, InstantPayment] = {}
        # ("request", tenant, clientRequestId) | ("ticket", t) | ("flow", t) | ("link", t) -> id
        self._instant_by_key: dict[tuple[str, ...], str] = {}
        # -- automatic pix --
        self._auto_consents: dict[str, AutomaticConsent] = {}
        self._auto_consent_requests: dict[tuple[str, str], str] = {}  # (tenant, clientRequestId) -> id
        self._auto_tickets: dict[str, str] = {}
        self._auto_payments: dict[str, AutomaticPayment] = {}
        self._auto_payment_requests: dict[tuple[str, str], str] = {}
        self._auto_by_tenant: dict[str, list[AutomaticConsent]] = {}  # a tenant's consents, in creation order
        self._auto_by_consent: dict[str, list[AutomaticPayment]] = {}  # a consent's payments, in creation order

    # -- changes -------------------------------------------------------------------

    @contextmanager
    def updating(self, obj: Stored) -> Iterator[None]:
        unit_of_work.save(obj)
        try:
            yield
        finally:
            if isinstance(obj, Consent):
                self._index_flow(obj)
            elif isinstance(obj, InstantPayment):
                self._index_instant_payment(obj)
            self._mark(obj)

    def _mark(self, obj: Stored) -> None:
        """`obj` is new or changed: a durable store writes it at the next commit."""

    def _unmark(self, obj: Stored) -> None:
        """`obj` was added by a request that failed: a durable store must not write it."""

    def _added(self, obj: Stored, remove: Callable[[], object]) -> None:
        self._mark(obj)

        def undo() -> None:
            remove()
            self._unmark(obj)

        unit_of_work.on_rollback(undo)

    def commit(self) -> None:
        """Nothing to do in memory."""

    def checkpoint(self) -> None:
        """Nothing to do in memory."""

    def close(self) -> None:
        self.commit()

    def get_meta(self, key: str) -> Json:
        return self._meta.get(key)

    def meta_changes(self) -> int:
        return 0  # only this process changes them

    def set_meta(self, key: str, value: Json) -> None:
        had, before = key in self._meta, self._meta.get(key)
        self._meta[key] = value

        def undo() -> None:
            if had:
                self._meta[key] = before
            else:
                self._meta.pop(key, None)

        unit_of_work.on_rollback(undo)

    # -- links ---------------------------------------------------------------------

    def add_link(self, link: Link) -> None:
        self._links[link.id] = link
        self._added(link, lambda: self._links.pop(link.id, None))

    def get_link(self, tenant_id: str | None, link_id: str) -> Link | None:
        link = self._links.get(link_id)
        return link if link is not None and tenant_id in (None, link.tenant_id) else None

    def list_links(self, tenant_id: str | None = None) -> list[Link]:
        return [link for link in self._links.values() if tenant_id is None or link.tenant_id == tenant_id]

    # -- consents ------------------------------------------------------------------

    def add_consent(self, consent: Consent) -> None:
        self._consents[consent.id] = consent
        self._track_ids[(consent.tenant_id, consent.external_track_id)] = consent.id
        self._by_ticket[consent.ticket] = consent.id
        if consent.flow_token:
            self._by_flow[consent.flow_token] = consent.id
        self._by_tenant.setdefault(consent.tenant_id, []).append(consent)
        self._by_tax_id.setdefault((consent.tenant_id, consent.tax_id), []).append(consent)
        self._added(consent, lambda: self._remove_consent(consent))

    def _remove_consent(self, consent: Consent) -> None:
        self._consents.pop(consent.id, None)
        self._track_ids.pop((consent.tenant_id, consent.external_track_id), None)
        self._by_ticket.pop(consent.ticket, None)
        self._by_flow.pop(consent.flow_token or "", None)
        for mine in (
            self._by_tenant.get(consent.tenant_id, []),
            self._by_tax_id.get((consent.tenant_id, consent.tax_id), []),
        ):
            if consent in mine:
                mine.remove(consent)

    def _index_flow(self, consent: Consent) -> None:
        """A consent that started its journey through the bank pages is found by its flow token."""
        token = consent.flow_token
        if token and self._by_flow.get(token) != consent.id:
            self._by_flow[token] = consent.id
            unit_of_work.on_rollback(lambda: self._by_flow.pop(token, None))

    def get_consent(self, tenant_id: str | None, consent_id: str) -> Consent | None:
        consent = self._consents.get(consent_id)
        if consent is None or (tenant_id is not None and consent.tenant_id != tenant_id):
            return None
        return consent

    def consent_with_track_id(self, tenant_id: str, external_track_id: str) -> Consent | None:
        consent_id = self._track_ids.get((tenant_id, external_track_id))
        return self._consents.get(consent_id) if consent_id else None

    def consent_with_ticket(self, ticket: str) -> Consent | None:
        consent_id = self._by_ticket.get(ticket)
        return self._consents.get(consent_id) if consent_id else None

    def consent_with_flow(self, flow_token: str) -> Consent | None:
        consent_id = self._by_flow.get(flow_token)
        return self._consents.get(consent_id) if consent_id else None

    def list_consents(self, tenant_id: str | None = None, tax_id: str | None = None) -> list[Consent]:
        if tenant_id is not None and tax_id is not None:  # a report request's scope: indexed
            return list(self._by_tax_id.get((tenant_id, tax_id), ()))
        found = list(self._consents.values()) if tenant_id is None else list(self._by_tenant.get(tenant_id, ()))
        return found if tax_id is None else [c for c in found if c.tax_id == tax_id]

    # -- Open Data tasks (few: scanned) ------------------------------------------------------

    def add_task(self, task: Task) -> None:
        self._tasks[task.id] = task
        self._added(task, lambda: self._tasks.pop(task.id, None))

    def get_task(self, task_id: str) -> Task | None:
        return self._tasks.get(task_id)

    def task_with_connection(self, tenant_id: str, connection_key: str) -> Task | None:
        return next(
            (t for t in self._tasks.values() if t.tenant_id == tenant_id and t.connection_key == connection_key), None
        )

    def list_tasks(self, link_id: str | None = None) -> list[Task]:
        return [t for t in self._tasks.values() if link_id is None or t.link_id == link_id]

    # -- report requests -----------------------------------------------------------------

    def add_report_request(self, request: ReportRequest) -> None:
        self._report_requests[request.id] = request
        ids = [report_id(request.id, product) for product in request.products]
        self._report_ids.update(dict.fromkeys(ids, request.id))

        def remove() -> None:
            self._report_requests.pop(request.id, None)
            for key in ids:
                self._report_ids.pop(key, None)

        self._added(request, remove)

    def get_report_request(self, request_id: str) -> ReportRequest | None:
        return self._report_requests.get(request_id)

    def report_of(self, product_report_id: str) -> tuple[ReportRequest, str] | None:
        request = self._report_requests.get(self._report_ids.get(product_report_id, ""))
        if request is None:
            return None
        return request, next(p for p in request.products if report_id(request.id, p) == product_report_id)

    def list_report_requests(self, tenant_id: str | None = None, tax_id: str | None = None) -> list[ReportRequest]:
        newest_first = sorted(self._report_requests.values(), key=lambda r: r.created_at, reverse=True)
        return [
            r
            for r in newest_first
            if (tenant_id is None or r.tenant_id == tenant_id) and (tax_id is None or r.tax_id == tax_id)
        ]

    def owed_report_requests(self, made_before: datetime | None = None) -> list[ReportRequest]:
        owed = [
            r
            for r in self._report_requests.values()
            if not r.built and (made_before is None or r.created_at < made_before)
        ]
        return sorted(owed, key=lambda r: r.created_at)

    # -- webhook deliveries: the log ----------------------------------------------------

    def next_delivery_id(self, now: datetime) -> str:
        return delivery_id(next(self._delivery_numbers), now)

    def _number_after(self, deliveries: list[Delivery]) -> None:
        """New deliveries are numbered after stored ones (a state file read at start-up)."""
        highest = max((d.seq for d in deliveries), default=0)
        self._delivery_numbers = itertools.count(max(highest + 1, next(self._delivery_numbers)))

    def add_delivery(self, delivery: Delivery) -> None:
        self._deliveries.add(delivery)
        self._added(delivery, lambda: self._deliveries.remove(delivery.id))
        unit_of_work.after_commit(lambda: self._queue_now(delivery))

    def get_delivery(self, delivery_id: str) -> Delivery | None:
        return self._deliveries.get(delivery_id)

    def list_deliveries(self, where: DeliveryFilter = EVERY_DELIVERY) -> list[Delivery]:
        if where == EVERY_DELIVERY:
            return list(self._deliveries.values())
        return [d for d in self._deliveries.values() if where.matches(d)]

    def page_deliveries(self, where: DeliveryFilter, limit: int, before: int | None = None) -> DeliveryPage:
        items, next_before = self._deliveries.page(where.matches, limit, before)
        return DeliveryPage(items, next_before)

    def delivery_counts(self, where: DeliveryFilter = EVERY_DELIVERY) -> dict[str, int]:
        return self._deliveries.counts(None if where == EVERY_DELIVERY else where.matches)

    # -- webhook deliveries: the outbox ---------------------------------------------------

    def requeue(self, delivery: Delivery) -> None:
        unit_of_work.after_commit(lambda: self._queue_now(delivery))

    def _queue_now(self, delivery: Delivery) -> None:
        if delivery.id not in self._deliveries:
            return  # forgotten by a reset while its attempt was under way
        self._outbox.put(delivery)
        self._deliveries.recount(delivery)
        self._mark(delivery)
        self._retain(delivery)

    def in_outbox(self, delivery_id: str) -> bool:
        return delivery_id in self._outbox

    def outbox_size(self) -> int:
        return len(self._outbox)

    def claim_due(self, now: datetime, room: int) -> list[Delivery]:
        claimed = self._outbox.take(now, room)
        for delivery in claimed:
            delivery.in_flight = True
        return claimed

    def next_due(self) -> datetime | None:
        return self._outbox.next_due()

    def attempted(self, delivery: Delivery) -> None:
        self._outbox.finished(delivery)
        if delivery.id in self._deliveries:
            self._deliveries.recount(delivery)
            self._mark(delivery)
            self._retain(delivery)

    def release(self, delivery: Delivery) -> None:
        delivery.in_flight = False
        self._outbox.finished(delivery)

    def _retain(self, delivery: Delivery) -> None:
        """A delivered one counts towards the retention bound; the oldest beyond it are
        forgotten (memory stays bounded in a long-running sandbox)."""
        if delivery.status != DELIVERED:
            return
        self._delivered.append(delivery.id)
        while len(self._delivered) > self._retention:
            oldest = self._deliveries.get(self._delivered.popleft())
            if oldest is not None and oldest.status == DELIVERED and oldest.id not in self._outbox:
                self._forget_delivery(oldest)

    def _forget_delivery(self, delivery: Delivery) -> None:
        self._deliveries.remove(delivery.id)
        self._unmark(delivery)

    # -- control ---------------------------------------------------------------------

    @contextmanager
    def exclusive(self, name: str) -> Iterator[bool]:
        yield True  # one process: nobody else could be doing it

    def reset(self) -> None:
        self._keep_for_rollback()
        for name in _FORGOTTEN_BY_RESET:
            getattr(self, name).clear()
        self._deliveries.clear()
        self._outbox.clear()
        self._delivered.clear()

    def _keep_for_rollback(self) -> None:
        """A reset in a request that then fails gives everything back."""
        if unit_of_work.current() is None:
            return
        kept = {name: copy.copy(getattr(self, name)) for name in _FORGOTTEN_BY_RESET}
        log, delivered = self._deliveries.copy(), list(self._delivered)

        def restore() -> None:
            for name, value in kept.items():
                getattr(self, name).clear()
                getattr(self, name).update(value)
            self._deliveries = log
            self._delivered.extend(delivered)
            for delivery in log.values():
                self._outbox.put(delivery)

        unit_of_work.on_rollback(restore)

    # -- instant payments ------------------------------------------------------------------

    def add_instant_payment(self, payment: InstantPayment) -> None:
        self._instant_payments[payment.id] = payment
        self._index_instant_payment(payment)
        self._added(payment, lambda: self._instant_payments.pop(payment.id, None))

    def _instant_keys(self, payment: InstantPayment) -> list[tuple[str, ...]]:
        keys: list[tuple[str, ...]] = [("request", payment.tenant_id, payment.client_request_id)]
        keys += [("ticket", payment.ticket)]
        keys += [("flow", payment.flow_token)] if payment.flow_token else []
        keys += [("link", payment.link_token)] if payment.link_token else []
        return keys

    def _index_instant_payment(self, payment: InstantPayment) -> None:
        for key in self._instant_keys(payment):
            if self._instant_by_key.get(key) != payment.id:
                self._instant_by_key[key] = payment.id
                unit_of_work.on_rollback(lambda key=key: self._instant_by_key.pop(key, None))  # type: ignore[misc]

    def _instant_by(self, *key: str) -> InstantPayment | None:
        payment_id = self._instant_by_key.get(key)
        return self._instant_payments.get(payment_id) if payment_id else None

    def get_instant_payment(self, tenant_id: str | None, payment_id: str) -> InstantPayment | None:
        payment = self._instant_payments.get(payment_id)
        return payment if payment is not None and tenant_id in (None, payment.tenant_id) else None

    def instant_payment_with_request_id(self, tenant_id: str, client_request_id: str) -> InstantPayment | None:
        return self._instant_by("request", tenant_id, client_request_id)

    def instant_payment_with_ticket(self, ticket: str) -> InstantPayment | None:
        return self._instant_by("ticket", ticket)

    def instant_payment_with_flow(self, flow_token: str) -> InstantPayment | None:
        return self._instant_by("flow", flow_token)

    def instant_payment_with_link_token(self, link_token: str) -> InstantPayment | None:
        return self._instant_by("link", link_token)

    def list_instant_payments(self, tenant_id: str | None = None) -> list[InstantPayment]:
        return [p for p in self._instant_payments.values() if tenant_id is None or p.tenant_id == tenant_id]

    # -- automatic pix -----------------------------------------------------------------------

    def add_automatic_consent(self, consent: AutomaticConsent) -> None:
        self._auto_consents[consent.id] = consent
        self._auto_consent_requests[(consent.tenant_id, consent.client_request_id)] = consent.id
        self._auto_tickets[consent.ticket] = consent.id
        self._auto_by_tenant.setdefault(consent.tenant_id, []).append(consent)

        def remove() -> None:
            self._auto_consents.pop(consent.id, None)
            self._auto_consent_requests.pop((consent.tenant_id, consent.client_request_id), None)
            self._auto_tickets.pop(consent.ticket, None)
            mine = self._auto_by_tenant.get(consent.tenant_id, [])
            if consent in mine:
                mine.remove(consent)

        self._added(consent, remove)

    def get_automatic_consent(self, tenant_id: str | None, consent_id: str) -> AutomaticConsent | None:
        consent = self._auto_consents.get(consent_id)
        return consent if consent is not None and tenant_id in (None, consent.tenant_id) else None

    def automatic_consent_with_request(self, tenant_id: str, client_request_id: str) -> AutomaticConsent | None:
        return self._auto_consents.get(self._auto_consent_requests.get((tenant_id, client_request_id), ""))

    def automatic_consent_with_ticket(self, ticket: str) -> AutomaticConsent | None:
        return self._auto_consents.get(self._auto_tickets.get(ticket, ""))

    def list_automatic_consents(self, tenant_id: str | None = None) -> list[AutomaticConsent]:
        if tenant_id is None:
            return list(self._auto_consents.values())
        return list(self._auto_by_tenant.get(tenant_id, ()))

    def add_automatic_payment(self, payment: AutomaticPayment) -> None:
        self._auto_payments[payment.id] = payment
        self._auto_payment_requests[(payment.tenant_id, payment.client_request_id)] = payment.id
        self._auto_by_consent.setdefault(payment.consent_id, []).append(payment)

        def remove() -> None:
            self._auto_payments.pop(payment.id, None)
            self._auto_payment_requests.pop((payment.tenant_id, payment.client_request_id), None)
            mine = self._auto_by_consent.get(payment.consent_id, [])
            if payment in mine:
                mine.remove(payment)

        self._added(payment, remove)

    def get_automatic_payment(self, tenant_id: str | None, payment_id: str) -> AutomaticPayment | None:
        payment = self._auto_payments.get(payment_id)
        return payment if payment is not None and tenant_id in (None, payment.tenant_id) else None

    def automatic_payment_with_request(self, tenant_id: str, client_request_id: str) -> AutomaticPayment | None:
        return self._auto_payments.get(self._auto_payment_requests.get((tenant_id, client_request_id), ""))

    def list_automatic_payments(self, consent_id: str | None = None) -> list[AutomaticPayment]:
        if consent_id is None:
            return list(self._auto_payments.values())
        return list(self._auto_by_consent.get(consent_id, ()))
