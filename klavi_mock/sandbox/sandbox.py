"""The sandbox: the services the HTTP handlers and pages call, built and wired in one place
(`klavi_mock.app.compose`), plus the few steps that span several of them (authentication,
links, firing an event by hand, time and reset). It speaks in domain terms (tenants,
links, tokens), never HTTP.

Who calls whom: the lifecycle (`consents`) moves a consent and tells `notifications`,
which emits its webhook through `webhooks` (into the store's outbox, waking the
dispatcher through `wakeup` once the request commits) and, on authorisation, starts the
automatic reports (`reports`). `tasks` drives Open Data logins into the lifecycle;
`tenants` holds the partners' settings. Every service reads and writes state through
`store` (storage/protocol.py) and nothing else.
"""

from __future__ import annotations

import ctypes
import gc
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from klavi_mock import unit_of_work
from klavi_mock.config import Settings
from klavi_mock.domain.clock import Clock
from klavi_mock.domain.deliveries import Delivery, consent_key
from klavi_mock.domain.institutions import InstitutionCatalog
from klavi_mock.domain.links import Link, new_link
from klavi_mock.domain.personas import PersonaCatalog
from klavi_mock.domain.tenants import Tenant
from klavi_mock.domain.timeline import Timeline
from klavi_mock.domain.tokens import ACCESS, ACCESS_TOKEN_TTL, LINK, PAYMENT, TokenClaims, TokenService
from klavi_mock.errors import BusinessRuleError, InvalidRequest, NotFound, Unauthorized
from klavi_mock.qa.conformance import ConformanceLog
from klavi_mock.qa.faults import FaultBook
from klavi_mock.qa.journal import RequestJournal
from klavi_mock.qa.tracking import TrackingLog
from klavi_mock.sandbox.automatic_pix import AutomaticPix
from klavi_mock.sandbox.consents import ConsentLifecycle, FellDue
from klavi_mock.sandbox.notifications import Notifications
from klavi_mock.sandbox.payments import InstantPayments
from klavi_mock.sandbox.reports import ReportService
from klavi_mock.sandbox.tasks import OpenDataTasks
from klavi_mock.sandbox.tenants import Tenants
from klavi_mock.storage.protocol import Store
from klavi_mock.webhooks.events import CONSENT_EVENTS, consent_payload, link_created_payload
from klavi_mock.webhooks.service import Webhooks
from klavi_mock.webhooks.wakeup import WakeUp

FAULTS = "fault_rules"  # the meta value the control API's fault rules are shared in (a shared store)


@dataclass(eq=False)  # one sandbox per app: compared and hashed by identity
class Sandbox:
    settings: Settings
    clock: Clock
    store: Store
    tokens: TokenService
    institutions: InstitutionCatalog
    personas: PersonaCatalog
    timeline: Timeline
    tenants: Tenants
    wakeup: WakeUp
    webhooks: Webhooks
    reports: ReportService
    notifications: Notifications
    consents: ConsentLifecycle
    tasks: OpenDataTasks
    # What the QA tools keep (not state: no unit of work, no store).
    conformance: ConformanceLog
    tracking: TrackingLog  # the hosted pages' web tracking events
    faults: FaultBook  # the fault rules (klavi_mock/qa/faults/)
    journal: RequestJournal
    # -- instant payments --
    instant: InstantPayments
    # -- automatic pix --
    automatic_pix: AutomaticPix

    _meta_seen: int | None = None  # the store's meta_changes() when meta values were last read

    def close(self) -> None:
        self.store.close()

    # -- authentication ------------------------------------------------------------

    def log_in(self, access_key: str, secret_key: str, kind: str = ACCESS) -> tuple[str, int]:
        """A new token of `kind` (ACCESS: the data API's; PAYMENT: the payments API's, whose
        keys are the same: a mock choice) and its lifetime in seconds."""
        tenant = self.tenants.by_access_key(access_key)
        if tenant is None or not hmac.compare_digest(tenant.secret_key.encode(), secret_key.encode()):
            raise Unauthorized("Invalid accessKey or secretKey")
        return self.tokens.issue_access(tenant.app_id, kind), ACCESS_TOKEN_TTL

    def refresh(self, tenant: Tenant) -> tuple[str, int]:
        return self.tokens.issue_access(tenant.app_id), ACCESS_TOKEN_TTL

    def authenticate(self, token: str, accepted_kinds: tuple[str, ...], endpoint: str) -> tuple[Tenant, TokenClaims]:
        """The tenant behind a bearer token of an accepted kind, or Unauthorized."""
        claims = self.tokens.verify(token, accepted_kinds, endpoint)
        tenant = self.tenants.get(claims.tenant_id)
        if tenant is None:
            raise Unauthorized(f"the token belongs to app {claims.tenant_id!r}, which this mock is not configured with")
        if claims.kind == LINK and self.store.get_link(tenant.app_id, claims.link_id or "") is None:
            raise Unauthorized(
                "the linkToken's link no longer exists (the mock was reset or restarted); create a new link with POST /links"
            )
        return tenant, claims

    def tenant_id_for_key(self, access_key: str) -> str | None:
        tenant = self.tenants.by_access_key(access_key)
        return tenant.app_id if tenant else None

    # -- links -------------------------------------------------------------------------

    def create_link(self, tenant: Tenant, request: dict) -> tuple[Link, str]:
        if request.get("connectionKey") and self.tasks.connection(tenant.app_id, request["connectionKey"]) is None:
            raise BusinessRuleError(
                4001,
                "body.connectionKey: no Open Data connection of this partner has that key "
                "(it comes in the links[] of an Open Data report)",
            )
        link = new_link(tenant.app_id, request, self.clock.now(), self.institutions)
        token = self.tokens.issue_link(tenant.app_id, link.id, link.expires_at)
        self.store.add_link(link)
        self.notifications.link_created(link)
        return link, token

    def link_of(self, tenant: Tenant, claims: TokenClaims) -> Link:
        link = self.store.get_link(tenant.app_id, claims.link_id or "")
        assert link is not None, "authenticate() checked the link exists"
        return link

    def track(self, link: Link, page: str, events: list[dict]) -> None:
        """What the user did on a hosted page: kept for the control API and sent to the
        tenant's event webhook (Notifications.page_events)."""
        self.tracking.record(link.tenant_id, link.id, page, events, self.clock.now())
        self.notifications.page_events(link, page, events)

    # -- webhooks by hand (control API) --------------------------------------------------

    def fire_event(
        self,
        name: str,
        *,
        app_id: str | None = None,
        consent_id: str | None = None,
        link_id: str | None = None,
        payload: dict | None = None,
        external_info: dict | None = None,
    ) -> Delivery:
        """Send any API event now: its payload from a consent, a link, or given."""
        link, key = None, None
        if consent_id is not None:
            consent = self.consents.get(None, consent_id)
            key = consent_key(consent.link_id, consent.id)
            app_id = app_id or consent.tenant_id
            link = self.store.get_link(consent.tenant_id, consent.link_id)
            if payload is None:
                payload = consent_payload(consent)
                if name == "link_action_status":
                    payload.update(
                        institutionCode=consent.institution_code,
                        actionStatus=CONSENT_EVENTS.get(consent.status, consent.status.lower()),
                    )
        elif link_id is not None:
            key = f"link:{link_id}"
            link = self.store.get_link(None, link_id)
            if link is None:
                raise NotFound(f"link {link_id} not found")
            app_id = app_id or link.tenant_id
            payload = payload if payload is not None else link_created_payload(link)
        if payload is None:
            raise InvalidRequest(f"body: give consentId, linkId or payload, so {name} has a payload")
        app_id = app_id or next(iter(self.tenants))
        if app_id not in self.tenants:
            raise NotFound(f"no tenant with appId {app_id!r}; see GET /__mock/tenants")
        info = external_info if external_info is not None else (link.external_info if link else {})
        return self.webhooks.emit(app_id, name, payload, info, ordering_key=key)

    # -- time and control ------------------------------------------------------------

    def run_due(self) -> list[FellDue]:
        """Carry out whatever the clock has made due (cheap when nothing is). Before a
        request (outside its unit), first catch up with what other processes sharing the
        store changed."""
        if self.store.shared and unit_of_work.current() is None:
            self.catch_up()
        ran = self.consents.run_due()
        # -- instant payments --
        self.instant.run_due()
        self.automatic_pix.run_due()  # -- automatic pix -- (its jobs are not the control API's fellDue)
        return ran

    def catch_up(self) -> None:
        """Read again the meta values other processes may have changed (a team sandbox on
        PostgreSQL): the clock's offset, tenant settings and chaos, the fault rules. One
        cheap read when nothing changed."""
        changes = self.store.meta_changes()
        if changes == self._meta_seen:
            return
        self._meta_seen = changes
        offset = self.store.get_meta("clock_offset")
        if isinstance(offset, (int, float)) and not isinstance(offset, bool):
            self.clock.offset = float(offset)
        self.tenants.reload()
        self.faults.load(self.store.get_meta(FAULTS))

    def share_faults(self) -> None:
        """The control API changed the fault rules: other processes sharing the store take them up."""
        if self.store.shared:
            self.store.set_meta(FAULTS, self.faults.shared())

    def advance_clock(self, seconds: float) -> tuple[datetime, list[FellDue]]:
        """The new time and the consent jobs that ran because of the move."""
        now = self.clock.advance(seconds)
        self.store.set_meta("clock_offset", self.clock.offset)
        ran = self.run_due()
        self.wakeup.wake()  # retries that fell due go now
        return now, ran

    def reset(self, rewind_clock: bool = False) -> None:
        self.store.reset()
        self.timeline.clear()
        self.conformance.reset()
        self.tracking.clear()
        self.faults.reset()
        self.share_faults()
        self.journal.clear()
        self.consents.throttle.clear()
        self.reports.throttle.clear()
        self.tokens.forget_verified()
        self.tenants.back_to_configured()
        self.automatic_pix.reset()  # -- automatic pix --
        if rewind_clock:
            self.clock.rewind()
            self.store.set_meta("clock_offset", self.clock.offset)
        # -- instant payments --
        self.instant.timeline.clear()
        unit_of_work.after_commit(_give_back_memory)

    # -- automatic pix --

    def partner_with_keys(self, access_key: str, secret_key: str) -> Tenant:
        """The tenant whose keys these are (a consent link takes them in its body), or Unauthorized."""
        tenant = self.tenants.by_access_key(access_key)
        if tenant is None or not hmac.compare_digest(tenant.secret_key.encode(), secret_key.encode()):
            raise Unauthorized("Invalid accessKey or secretKey")
        return tenant


def _give_back_memory() -> None:
    """After a reset: collect what the forgotten state held (cycles included) and hand the
    freed heap back to the system (glibc's malloc_trim), so a sandbox reset between test
    runs returns to about its idle size instead of keeping its peak for ever."""
    gc.collect()
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(None).malloc_trim  # glibc only: elsewhere the memory stays for reuse
    except (AttributeError, OSError):
        return None


_MALLOC_TRIM = _malloc_trim()


TOKEN_KINDS = {"accessToken": ACCESS, "linkToken": LINK, "paymentToken": PAYMENT}
