"""What the rest of the mock calls to send webhooks: an event, a report, a redelivery.

Where deliveries go:
- API events: the tenant's eventsUrl (configuration, or PUT /__mock/tenants/{appId}/webhooks).
- Reports, by Klavi's priority: the report request's productsCallbackURL, then the link's,
  then the tenant's; in each, the product's own key, then `other`, then `all`.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any, Protocol

from klavi_mock import unit_of_work
from klavi_mock.domain.clock import Clock
from klavi_mock.domain.deliveries import Delivery, new_delivery
from klavi_mock.domain.tenants import Tenant
from klavi_mock.errors import NotFound
from klavi_mock.storage.protocol import DeliveryFilter, Store
from klavi_mock.webhooks.chaos import Chaos, disturb
from klavi_mock.webhooks.events import PAYMENT_EVENTS, envelope
from klavi_mock.webhooks.signing import encode_body
from klavi_mock.webhooks.wakeup import WakeUp


class TenantDirectory(Protocol):
    """What the webhooks need to know of a tenant (`sandbox.tenants.Tenants` answers)."""

    def get(self, app_id: str, /) -> Tenant | None: ...
    def chaos(self, app_id: str) -> Chaos | None: ...


def callback_url(product: str, *maps: dict[str, str] | None) -> str | None:
    """The first map that names a URL for `product` wins: its key, `other`, or `all`."""
    for urls in maps:
        if urls:
            for key in (product, "other", "all"):
                if urls.get(key):
                    return urls[key]
    return None


class Webhooks:
    def __init__(self, store: Store, clock: Clock, tenants: TenantDirectory, wakeup: WakeUp) -> None:
        self.store = store  # its deliveries (the log) and outbox (the pending ones)
        self.clock = clock
        self.tenants = tenants
        self.wakeup = wakeup  # the dispatcher's, woken once a new delivery is committed

    def _new(self, now: datetime, **fields: Any) -> Delivery:
        return new_delivery(id=self.store.next_delivery_id(now), now=now, **fields)

    def _add(self, delivery: Delivery) -> Delivery:
        chaos = self.tenants.chaos(delivery.tenant_id)
        if chaos is not None and chaos.active:
            return self._add_with_chaos(delivery, chaos)
        self.store.add_delivery(delivery)
        unit_of_work.after_commit(self.wakeup.wake)
        return delivery

    def _add_with_chaos(self, delivery: Delivery, chaos: Chaos) -> Delivery:
        if delivery.kind == "event" and chaos.strikes("batch"):
            batch = chaos.open_batch
            if batch is not None and self._takes_more(batch, chaos):
                with self.store.updating(batch):
                    batch.body = encode_body([*json.loads(batch.body), *json.loads(delivery.body)])
                    batch.chaos["batch"] = batch.chaos.get("batch", 1) + 1
                return batch
            delivery.chaos["batch"] = 1
            delivery.next_attempt_at += timedelta(seconds=chaos.parameter("batchSeconds"))
            chaos.open_batch = delivery
        disturb(delivery, chaos)
        self.store.add_delivery(delivery)
        twice = "duplicate" if delivery.kind == "event" else "reportTwice"
        if chaos.strikes(twice):
            copy = self._new(
                delivery.created_at,
                tenant_id=delivery.tenant_id,
                kind=delivery.kind,
                name=delivery.name,
                body=delivery.body,
                destination=delivery.destination,
                not_before=delivery.next_attempt_at,
                request_id=delivery.request_id,
                ordering_key=delivery.ordering_key,
            )
            copy.chaos = {**delivery.chaos, twice: delivery.id}
            self.store.add_delivery(copy)
        unit_of_work.after_commit(self.wakeup.wake)
        return delivery

    def _takes_more(self, batch: Delivery, chaos: Chaos) -> bool:
        """A batch takes events until it is due, sent, forgotten or full."""
        return (
            self.store.in_outbox(batch.id)
            and not batch.attempts
            and batch.next_attempt_at > self.clock.now()
            and batch.chaos.get("batch", 1) < chaos.parameter("batchSize")
        )

    def emit(
        self,
        app_id: str,
        name: str,
        payload: dict[str, Any],
        external_info: dict | None,
        not_before: datetime | None = None,
        request_id: str | None = None,
        ordering_key: str | None = None,
        event_type: str = "api",
    ) -> Delivery:
        """`ordering_key`: what the event is about (`link:<id>/consent:<id>`, `link:<id>`,
        `link:<id>/web:<id>` for the pages' tracking events); a report request's events are
        keyed by it (`request:<id>`)."""
        now = self.clock.now()
        tenant = self.tenants.get(app_id)
        body = encode_body([envelope(app_id, name, payload, external_info, now, event_type)])
        return self._add(
            self._new(
                now,
                tenant_id=app_id,
                kind="event",
                name=name,
                body=body,
                destination=_event_url(tenant, name),
                not_before=not_before,
                request_id=request_id,
                ordering_key=ordering_key or (f"request:{request_id}" if request_id else None),
            )
        )

    def emit_payment(self, app_id: str, name: str, payload: dict[str, Any], ordering_key: str) -> Delivery:
        """A payments API status change (`payment_status_changed`, ...): Klavi's envelope with
        `eventType: payment` (a mock choice: Klavi documents no payment webhook), to the
        tenant's paymentsUrl, else its eventsUrl; `ordering_key` names the resource
        (`payment:<id>`, `automatic-consent:<id>`, `automatic-consent:<id>/payment:<id>`)."""
        assert name in PAYMENT_EVENTS, name
        return self.emit(app_id, name, payload, None, ordering_key=ordering_key, event_type="payment")

    def send_report(
        self,
        app_id: str,
        product: str,
        body: bytes,
        destination: str | None,
        not_before: datetime | None,
        request_id: str,
        ordering_key: str | None = None,
    ) -> Delivery:
        """`body`: the report, encoded (`signing.encode_body`)."""
        return self._add(
            self._new(
                self.clock.now(),
                tenant_id=app_id,
                kind="report",
                name=product,
                body=body,
                destination=destination,
                not_before=not_before,
                request_id=request_id,
                ordering_key=ordering_key or f"request:{request_id}",
            )
        )

    def get(self, delivery_id: str) -> Delivery:
        delivery = self.store.get_delivery(delivery_id)
        if delivery is None:
            raise NotFound(f"webhook delivery {delivery_id} not found")
        return delivery

    def redeliver(self, delivery_id: str) -> Delivery:
        """Send again (a failed, undeliverable or even delivered one), with fresh retries.
        An event goes to the tenant's current eventsUrl (a payment event: its paymentsUrl, if
        any); a report keeps its URL, or takes
        the tenant's productsCallbackURL if it had none."""
        return self._redeliver(self.get(delivery_id))

    def redeliver_all(self, where: DeliveryFilter) -> list[Delivery]:
        """Send again every delivery that matches, oldest first."""
        return [self._redeliver(d) for d in self.store.list_deliveries(where)]

    def _redeliver(self, delivery: Delivery) -> Delivery:
        tenant = self.tenants.get(delivery.tenant_id)
        if delivery.kind == "event":
            destination = _event_url(tenant, delivery.name)
        else:
            destination = delivery.destination or callback_url(
                delivery.name, _as_map(tenant.products_callback_url) if tenant else None
            )
        with self.store.updating(delivery):
            delivery.redeliver(self.clock.now(), destination)
        self.store.requeue(delivery)
        unit_of_work.after_commit(self.wakeup.wake)
        return delivery


def _event_url(tenant: Tenant | None, name: str) -> str | None:
    """Payment events go to the tenant's paymentsUrl when it has one; the others to eventsUrl."""
    if tenant is None:
        return None
    return (tenant.payments_url or tenant.events_url) if name in PAYMENT_EVENTS else tenant.events_url


def _as_map(value: str | dict | None) -> dict[str, str] | None:
    return {"all": value} if isinstance(value, str) else value
