"""What a change announces to the partner: a consent's new status (its event), a new link
(link_created), what the user did on the hosted pages (their tracking events), and, with
reportDelivery automatic or manual, a consent's reports once it is AUTHORISED. The services call it where the change happens (`ConsentLifecycle._move`,
`Sandbox.create_link`); it puts the deliveries in the outbox through `Webhooks`."""

from __future__ import annotations

from typing import Any

from klavi_mock.domain.consents import AUTHORISED, REASONS, Consent
from klavi_mock.domain.deliveries import consent_key
from klavi_mock.domain.links import Link
from klavi_mock.sandbox.reports import ReportService
from klavi_mock.sandbox.tenants import Tenants
from klavi_mock.storage.protocol import Store
from klavi_mock.webhooks.events import CONSENT_EVENTS, consent_payload, link_created_payload, web_event_payload
from klavi_mock.webhooks.service import Webhooks


class Notifications:
    def __init__(self, store: Store, tenants: Tenants, webhooks: Webhooks, reports: ReportService) -> None:
        self.store = store
        self.tenants = tenants
        self.webhooks = webhooks
        self.reports = reports

    def consent_changed(self, consent: Consent) -> None:
        """A consent's new status is announced by its event (For-FI partners get the single
        link_action_status event naming it); AUTHORISED may send its reports too."""
        name = CONSENT_EVENTS.get(consent.status)
        tenant = self.tenants.get(consent.tenant_id)
        if name is None or tenant is None:
            return
        reason = (consent.status_reason, REASONS[consent.status_reason]) if consent.status_reason else None
        payload = consent_payload(consent, reason)
        if tenant.for_fi:
            name, payload = (
                "link_action_status",
                {**payload, "institutionCode": consent.institution_code, "actionStatus": name},
            )
        link = self.store.get_link(consent.tenant_id, consent.link_id)
        self.webhooks.emit(
            tenant.app_id,
            name,
            payload,
            link.external_info if link else {},
            ordering_key=consent_key(consent.link_id, consent.id),
        )
        if consent.status == AUTHORISED and tenant.report_delivery != "on-request":
            self.reports.record_on_authorisation(tenant, consent)

    def link_created(self, link: Link) -> None:
        self.webhooks.emit(
            link.tenant_id,
            "link_created",
            link_created_payload(link),
            link.external_info,
            ordering_key=f"link:{link.id}",
        )

    def page_events(self, link: Link, page: str, events: list[dict[str, Any]]) -> None:
        """The hosted pages' tracking events, to the event webhook too (eventType web), unless
        the tenant's trackingEvents is off. Keyed in the link's line (`link:<id>/web:<id>`): they
        wait for link_created, go one at a time in the order the user made them, and hold back
        no consent event."""
        tenant = self.tenants.get(link.tenant_id)
        if tenant is None or not tenant.tracking_events:
            return
        for item in events:
            self.webhooks.emit(
                tenant.app_id,
                item["eventName"],
                web_event_payload(link, page, item["payload"]),
                link.external_info,
                ordering_key=f"link:{link.id}/web:{link.id}",
                event_type="web",
            )
