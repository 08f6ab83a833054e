"""The mock's state. In memory by default; everything a tenant owns is looked up through
its tenant id, so one partner never sees another's links or consents."""

from __future__ import annotations

from .domain.consents import Consent
from .domain.links import Link
from .domain.tasks import Task
from .webhooks.outbox import Delivery


class MemoryStore:
    def __init__(self) -> None:
        self.links: dict[str, Link] = {}
        self.consents: dict[str, Consent] = {}
        # Lookups the API needs without scanning every consent.
        self._track_ids: dict[tuple[str, str], str] = {}
        self._by_ticket: dict[str, str] = {}
        self._by_flow: dict[str, str] = {}
        self._by_tenant: dict[str, list[Consent]] = {}
        self.deliveries: dict[str, Delivery] = {}  # the webhook log, oldest first
        self.outbox: dict[str, Delivery] = {}  # the pending ones: what the dispatcher looks at
        self.report_requests: dict = {}  # requestId -> reporting.ReportRequest
        self.tasks: dict[str, Task] = {}  # Open Data tasks

    # -- links ---------------------------------------------------------------------

    def add_link(self, link: Link) -> None:
        self.links[link.id] = link

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
        self._by_tenant.setdefault(consent.tenant_id, []).append(consent)

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
        consent.flow_token = flow_token
        self._by_flow[flow_token] = consent.id

    def list_consents(self, tenant_id: str | None = None) -> list[Consent]:
        return list(self.consents.values()) if tenant_id is None else list(self._by_tenant.get(tenant_id, ()))

    def reset(self) -> None:
        self.links.clear()
        self.consents.clear()
        self._track_ids.clear()
        self._by_ticket.clear()
        self._by_flow.clear()
        self._by_tenant.clear()
        self.deliveries.clear()
        self.outbox.clear()
        self.report_requests.clear()
        self.tasks.clear()
