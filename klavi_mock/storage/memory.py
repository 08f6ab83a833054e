"""The mock's state. In memory by default; everything a tenant owns is looked up through
its tenant id, so one partner never sees another's links or consents.

The interface a persistent store keeps too (`sqlite_store.SqliteStore`): whoever is about
to change a stored object in place says so first with `changing(obj)`, and `commit()` makes
every change since the last commit durable in one step. The app commits before each
response goes out, after each webhook attempt and after time-driven work; here commit is a
no-op.

Inside a request's unit of work (`unit_of_work`), every change here can be undone: an
added object is removed again, a changed one gets its old attributes back, and a delivery
reaches the outbox only when the request commits.
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Callable
from typing import Any

from klavi_mock import unit_of_work
from klavi_mock.domain.consents import Consent
from klavi_mock.domain.deliveries import DELIVERED, Delivery
from klavi_mock.domain.links import Link
from klavi_mock.domain.reports import report_id
from klavi_mock.domain.tasks import Task
from klavi_mock.storage.delivery_log import DeliveryLog
from klavi_mock.storage.delivery_queue import DeliveryQueue


class StorageError(Exception):
    """A durable store could not write a commit (e.g. the disk is full)."""


class MemoryStore:
    durable = False  # whether commit() and checkpoint() have anything to do

    def __init__(self, webhook_concurrency: int = 8, webhook_retention: int = 5000) -> None:
        self.links: dict[str, Link] = {}
        self.consents: dict[str, Consent] = {}
        # Lookups the API needs without scanning every consent.
        self._track_ids: dict[tuple[str, str], str] = {}
        self._by_ticket: dict[str, str] = {}
        self._by_flow: dict[str, str] = {}
        self._by_tenant: dict[str, list[Consent]] = {}
        self.deliveries = DeliveryLog()  # the webhook log, oldest first
        self.outbox = DeliveryQueue(webhook_concurrency)  # the pending ones, as the dispatcher takes them
        self.webhook_retention = webhook_retention  # delivered deliveries kept in the log
        self._delivered: deque[str] = deque()  # ids of delivered ones, oldest first (some since redelivered)
        self.report_requests: dict = {}  # requestId -> reporting.ReportRequest
        self._report_ids: dict[str, str] = {}  # productReportId -> requestId
        self.tasks: dict[str, Task] = {}  # Open Data tasks
        self._meta: dict[str, Any] = {}  # small named values: the clock's offset, the token secret...

    # -- changes -------------------------------------------------------------------

    def changing(self, obj: Any) -> None:
        """`obj` (a stored link, consent, delivery, task...) is about to be modified in place."""
        unit_of_work.save(obj)
        self._mark(obj)

    def _mark(self, obj: Any) -> None:
        """`obj` is new or changed: a durable store writes it at the next commit."""

    def _unmark(self, obj: Any) -> None:
        """`obj` was added by a request that failed: a durable store must not write it."""

    def commit(self) -> None:
        """Make every change since the last commit durable (nothing to do in memory)."""

    def checkpoint(self) -> None:
        """Slow upkeep of durable storage, called from a thread now and then (nothing here)."""

    def close(self) -> None:
        self.commit()

    def get_meta(self, key: str) -> Any:
        return self._meta.get(key)

    def set_meta(self, key: str, value: Any) -> None:
        missing = object()
        before = self._meta.get(key, missing)
        self._meta[key] = value
        unit_of_work.on_rollback(
            lambda: self._meta.pop(key) if before is missing else self._meta.__setitem__(key, before)
        )

    # -- links ---------------------------------------------------------------------

    def add_link(self, link: Link) -> None:
        self.links[link.id] = link
        self._added(link, lambda: self.links.pop(link.id, None))

    def get_link(self, tenant_id: str | None, link_id: str) -> Link | None:
        """`tenant_id` None: any tenant's (the control API)."""
        link = self.links.get(link_id)
        return link if link is not None and tenant_id in (None, link.tenant_id) else None

    def list_links(self, tenant_id: str | None = None) -> list[Link]:
        return [link for link in self.links.values() if tenant_id is None or link.tenant_id == tenant_id]

    # -- consents ------------------------------------------------------------------

    def add_consent(self, consent: Consent) -> None:
        self.consents[consent.id] = consent
        self._track_ids[(consent.tenant_id, consent.external_track_id)] = consent.id
        self._by_ticket[consent.ticket] = consent.id
        if consent.flow_token:
            self._by_flow[consent.flow_token] = consent.id
        self._by_tenant.setdefault(consent.tenant_id, []).append(consent)
        self._added(consent, lambda: self._remove_consent(consent))

    def _remove_consent(self, consent: Consent) -> None:
        self.consents.pop(consent.id, None)
        self._track_ids.pop((consent.tenant_id, consent.external_track_id), None)
        self._by_ticket.pop(consent.ticket, None)
        self._by_flow.pop(consent.flow_token or "", None)
        mine = self._by_tenant.get(consent.tenant_id, [])
        if consent in mine:
            mine.remove(consent)

    def get_consent(self, tenant_id: str | None, consent_id: str) -> Consent | None:
        """`tenant_id` None: any tenant's (the control API and the bank pages)."""
        consent = self.consents.get(consent_id)
        if consent is None or (tenant_id is not None and consent.tenant_id != tenant_id):
            return None
        return consent

    def consent_with_track_id(self, tenant_id: str, external_track_id: str) -> Consent | None:
        consent_id = self._track_ids.get((tenant_id, external_track_id))
        return self.consents.get(consent_id) if consent_id else None

    def consent_with_ticket(self, ticket: str) -> Consent | None:
        consent_id = self._by_ticket.get(ticket)
        return self.consents.get(consent_id) if consent_id else None

    def consent_with_flow(self, flow_token: str) -> Consent | None:
        consent_id = self._by_flow.get(flow_token)
        return self.consents.get(consent_id) if consent_id else None

    def start_flow(self, consent: Consent, flow_token: str) -> None:
        self.changing(consent)
        consent.flow_token = flow_token
        self._by_flow[flow_token] = consent.id
        unit_of_work.on_rollback(lambda: self._by_flow.pop(flow_token, None))

    def list_consents(self, tenant_id: str | None = None) -> list[Consent]:
        return list(self.consents.values()) if tenant_id is None else list(self._by_tenant.get(tenant_id, ()))

    # -- webhook deliveries ----------------------------------------------------------

    def add_delivery(self, delivery: Delivery) -> None:
        self.deliveries.add(delivery)
        self._added(delivery, lambda: self.deliveries.remove(delivery.id))
        self.queue(delivery)

    def queue(self, delivery: Delivery) -> None:
        """A new or changed delivery: in the outbox while it is pending, out of it after.
        Call `changing(delivery)` before changing it. In a request, this waits for the
        request to succeed: a webhook is only owed for a change that was kept."""
        unit_of_work.after_commit(lambda: self._queue_now(delivery))

    def _queue_now(self, delivery: Delivery) -> None:
        if delivery.id not in self.deliveries:
            return  # forgotten by a reset while its attempt was under way
        self.outbox.put(delivery)
        self.deliveries.recount(delivery)
        self._mark(delivery)
        self._retain(delivery)

    def attempted(self, delivery: Delivery) -> None:
        """The dispatcher recorded an attempt on `delivery` (outside any request)."""
        self.outbox.finished(delivery)
        if delivery.id in self.deliveries:
            self.deliveries.recount(delivery)
            self._mark(delivery)
            self._retain(delivery)

    def _retain(self, delivery: Delivery) -> None:
        """A delivered one counts towards the retention bound; the oldest beyond it are
        forgotten (memory stays bounded in a long-running sandbox)."""
        if delivery.status != DELIVERED:
            return
        self._delivered.append(delivery.id)
        while len(self._delivered) > self.webhook_retention:
            oldest = self.deliveries.get(self._delivered.popleft())
            if oldest is not None and oldest.status == DELIVERED and oldest.id not in self.outbox:
                self.forget_delivery(oldest)

    def forget_delivery(self, delivery: Delivery) -> None:
        self.deliveries.remove(delivery.id)
        self._unmark(delivery)

    # -- report requests and Open Data tasks ------------------------------------------

    def add_report_request(self, request: Any) -> None:
        self.report_requests[request.id] = request
        ids = [report_id(request.id, product) for product in request.products]
        self._report_ids.update(dict.fromkeys(ids, request.id))

        def remove() -> None:
            self.report_requests.pop(request.id, None)
            for key in ids:
                self._report_ids.pop(key, None)

        self._added(request, remove)

    def report_of(self, product_report_id: str) -> tuple[Any, str] | None:
        """The report request a productReportId belongs to, and its product."""
        request = self.report_requests.get(self._report_ids.get(product_report_id, ""))
        if request is None:
            return None
        return request, next(p for p in request.products if report_id(request.id, p) == product_report_id)

    def add_task(self, task: Task) -> None:
        self.tasks[task.id] = task
        self._added(task, lambda: self.tasks.pop(task.id, None))

    def _added(self, obj: Any, remove: Callable[[], object]) -> None:
        self._mark(obj)

        def undo() -> None:
            remove()
            self._unmark(obj)

        unit_of_work.on_rollback(undo)

    # -- control ---------------------------------------------------------------------

    def reset(self) -> None:
        """Forget links, consents, report requests, tasks and deliveries (not the meta values:
        the clock only moves forward)."""
        self._keep_for_rollback()
        self.links.clear()
        self.consents.clear()
        self._track_ids.clear()
        self._by_ticket.clear()
        self._by_flow.clear()
        self._by_tenant.clear()
        self.deliveries.clear()
        self.outbox.clear()
        self._delivered.clear()
        self.report_requests.clear()
        self._report_ids.clear()
        self.tasks.clear()

    def _keep_for_rollback(self) -> None:
        """A reset in a request that then fails gives everything back."""
        if unit_of_work.current() is None:
            return
        kept = {name: copy.copy(value) for name, value in vars(self).items() if isinstance(value, dict)}
        log, delivered = self.deliveries.copy(), list(self._delivered)

        def restore() -> None:
            for name, value in kept.items():
                getattr(self, name).clear()
                getattr(self, name).update(value)
            self.deliveries = log
            self._delivered.extend(delivered)
            for delivery in log.values():
                self.outbox.put(delivery)

        unit_of_work.on_rollback(restore)
