"""The sandbox: one object that owns the clock, the state and the rules, and that the
HTTP handlers call. It speaks in domain terms (tenants, links, tokens), never HTTP."""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import logging
import secrets
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any

from klavi_mock import unit_of_work
from klavi_mock.config import Settings
from klavi_mock.domain.callbacks import normalize_products_callback
from klavi_mock.domain.clock import Clock
from klavi_mock.domain.consents import AUTHORISED, Consent
from klavi_mock.domain.institutions import InstitutionCatalog
from klavi_mock.domain.links import Link, new_link
from klavi_mock.domain.personas import PersonaCatalog
from klavi_mock.domain.tasks import FAIL, NEED_MFA, SUCCESS, Task, login_task, new_task
from klavi_mock.domain.tenants import Tenant
from klavi_mock.domain.timeline import Timeline
from klavi_mock.domain.tokens import ACCESS, ACCESS_TOKEN_TTL, LINK, TokenClaims, TokenService
from klavi_mock.errors import BusinessRuleError, InvalidRequest, NotFound, Unauthorized
from klavi_mock.qa.conformance import ConformanceLog
from klavi_mock.qa.faults import FaultBook
from klavi_mock.qa.journal import RequestJournal
from klavi_mock.qa.tracking import TrackingLog
from klavi_mock.resources import fixtures_dir
from klavi_mock.sandbox.consents import REASONS, ConsentLifecycle, FellDue
from klavi_mock.sandbox.reports import ReportService
from klavi_mock.storage.memory import MemoryStore, StorageError
from klavi_mock.storage.sqlite import SqliteStore
from klavi_mock.webhooks.events import CONSENT_EVENTS, consent_payload, link_created_payload
from klavi_mock.webhooks.service import Webhooks

log = logging.getLogger("klavi_mock")


def open_store(settings: Settings) -> MemoryStore:
    webhooks = {"webhook_concurrency": settings.webhook_concurrency, "webhook_retention": settings.webhook_retention}
    if settings.state_file is None:
        return MemoryStore(**webhooks)

    return SqliteStore(settings.state_file, **webhooks)


class Sandbox:
    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or Clock()
        self.store = open_store(settings)
        self.tokens = TokenService(self._token_secret(), self.clock)
        self.institutions = InstitutionCatalog.from_file(fixtures_dir() / "institutions.yaml")
        self.personas = PersonaCatalog.from_file(fixtures_dir() / "personas.yaml")
        self.timeline = Timeline()
        self.consents = ConsentLifecycle(self.store, self.clock, self.institutions, self.personas, self.timeline)
        self.tenants = {t.app_id: t for t in settings.tenants}
        self._tenants_by_key = {t.access_key: t for t in settings.tenants}
        self.webhooks = Webhooks(self.store, self.clock, self.tenants.get)
        self.consents.on_change = self._consent_changed
        # Set by the app while it runs: wakes the webhook dispatcher (new work, clock moved).
        self.wake_dispatcher: Callable[[], None] = lambda: None
        self.webhooks.on_enqueue = lambda: self.wake_dispatcher()
        self.conformance = ConformanceLog()
        self.tracking = TrackingLog()  # the hosted pages' web tracking events
        self.faults = FaultBook(settings.faults)  # the fault rules (klavi_mock/qa/faults/)
        self.journal = RequestJournal(settings.journal_size)
        self.reports = ReportService(self.store, self.clock, self.institutions, self.personas, self.webhooks)
        self._background: set[asyncio.Task] = set()  # work started by requests, still running
        self._resume()

    def _token_secret(self) -> str:
        """The configured secret, else the state file's (so its tokens stay valid), else a new one."""
        if self.settings.token_secret:
            return self.settings.token_secret
        secret = self.store.get_meta("token_secret") or secrets.token_urlsafe(32)
        self.store.set_meta("token_secret", secret)
        return secret

    def _resume(self) -> None:
        """Pick up what a state file holds: the clock's offset, webhook settings changed
        through the control API, and the jobs the stored consents have ahead of them."""
        self.clock.offset = max(self.clock.offset, self.store.get_meta("clock_offset") or 0.0)
        for key in ("tenant_webhooks", "tenant_reports"):
            for app_id, values in (self.store.get_meta(key) or {}).items():
                if app_id in self.tenants:
                    self._set_tenant(dataclasses.replace(self.tenants[app_id], **values))
        for tenant in self.settings.tenants:
            if tenant.webhook_chaos:
                self.webhooks.set_chaos(tenant.app_id, tenant.webhook_chaos)
        for app_id, chaos in (self.store.get_meta("tenant_chaos") or {}).items():
            if app_id in self.tenants:
                self.webhooks.set_chaos(app_id, chaos)
        for consent in self.store.list_consents():
            self.consents.reschedule(consent)
        self.store.commit()

    def close(self) -> None:
        self.store.close()

    # -- authentication ------------------------------------------------------------

    def log_in(self, access_key: str, secret_key: str) -> tuple[str, int]:
        tenant = self._tenants_by_key.get(access_key)
        if tenant is None or not hmac.compare_digest(tenant.secret_key.encode(), secret_key.encode()):
            raise Unauthorized("Invalid accessKey or secretKey")
        return self.tokens.issue_access(tenant.app_id), ACCESS_TOKEN_TTL

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

    # -- links -------------------------------------------------------------------------

    def create_link(self, tenant: Tenant, request: dict) -> tuple[Link, str]:
        if request.get("connectionKey") and self._connection(tenant.app_id, request["connectionKey"]) is None:
            raise BusinessRuleError(
                4001,
                "body.connectionKey: no Open Data connection of this partner has that key "
                "(it comes in the links[] of an Open Data report)",
            )
        link = new_link(tenant.app_id, request, self.clock.now(), self.institutions)
        token = self.tokens.issue_link(tenant.app_id, link.id, link.expires_at)
        self.store.add_link(link)
        self.webhooks.emit(
            tenant.app_id,
            "link_created",
            link_created_payload(link),
            link.external_info,
            ordering_key=f"link:{link.id}",
        )
        return link, token

    def link_of(self, tenant: Tenant, claims: TokenClaims) -> Link:
        link = self.store.get_link(tenant.app_id, claims.link_id or "")
        assert link is not None, "authenticate() checked the link exists"
        return link

    # -- Open Data tasks -----------------------------------------------------------------

    def create_task(
        self,
        link_id: str,
        institution_code: str,
        status: str,
        code: int | None = None,
        message: str | None = None,
        mfa_type: str = "questions",
    ) -> Task:
        link = self.store.get_link(None, link_id)
        if link is None:
            raise NotFound(f"link {link_id} not found")
        institution = self.institutions.get(institution_code)
        if institution is None or institution.institution_type != 2:
            raise InvalidRequest(
                f"body.institutionCode: {institution_code!r} is not an Open Data institution (institutionType 2)"
            )
        task = new_task(link.tenant_id, link.id, institution_code, status, code, message, mfa_type)
        self.store.add_task(task)
        return task

    def task_of_link(self, claims: TokenClaims, task_id: str) -> Task:
        task = self.store.tasks.get(task_id)
        if task is None or task.link_id != claims.link_id:
            raise NotFound(f"task {task_id} not found for this link")
        return task

    def create_consent(self, tenant: Tenant, link: Link, request: dict) -> Consent:
        """A consent; at an Open Data institution, with the task that logs in (domain/tasks.py).
        A link made with a connectionKey of this institution updates without a login."""
        known = self._connection(tenant.app_id, link.connection_key) if link.connection_key else None
        if (
            known is not None and known.institution_code != request["institutionCode"]
        ):  # checked first: nothing half-made
            raise BusinessRuleError(
                4004,
                f"body.institutionCode: the link's connectionKey is for institution "
                f"{known.institution_code}, not {request['institutionCode']}",
            )
        consent = self.consents.create(tenant, link, request)
        if consent.open_data:
            task = login_task(
                tenant.app_id, link.id, consent.institution_code, consent.id, known.connection_key if known else None
            )
            self.store.add_task(task)
            self.store.changing(consent)
            consent.task_id = task.id
            if task.status == SUCCESS:
                self.consents.open_data_connected(consent, task.connection_key or "")
        return consent

    def _connection(self, app_id: str, connection_key: str) -> Task | None:
        return next(
            (t for t in self.store.tasks.values() if t.tenant_id == app_id and t.connection_key == connection_key), None
        )

    def submit_mfa(self, claims: TokenClaims, task_id: str, mfa: dict) -> Task:
        task = self.task_of_link(claims, task_id)
        self.store.changing(task)
        if task.consent_id is None:  # made by POST /__mock/tasks: any answer with its mfaId will do
            if task.status != NEED_MFA:
                raise BusinessRuleError(4001, f"task {task_id} is {task.status}; it is not waiting for MFA")
            if mfa["mfaId"] != task.mfa_id:
                raise InvalidRequest(
                    f"body.mfaId: {mfa['mfaId']} is not the pending MFA of task {task_id} ({task.mfa_id}); "
                    f"see GET /tasks/{task_id}/status"
                )
            task.status = SUCCESS
            return task
        task.answer(mfa)
        consent = self.store.get_consent(None, task.consent_id)
        if consent is not None and task.status == SUCCESS:
            self.consents.open_data_connected(consent, task.connection_key or "")
        elif consent is not None and task.status == FAIL:
            self.consents.open_data_failed(consent)
        return task

    # -- webhooks ----------------------------------------------------------------------

    def _consent_changed(self, consent: Consent) -> None:
        """A consent's new status is announced by its event (For-FI partners get the single
        link_action_status event naming it)."""
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
            tenant.app_id, name, payload, link.external_info if link else {}, ordering_key=f"consent:{consent.id}"
        )
        if consent.status == AUTHORISED and tenant.report_delivery != "on-request":
            unit_of_work.after_commit(
                lambda: self._in_background(self.reports.deliver_on_authorisation(tenant, consent))
            )

    def _in_background(self, work: Coroutine) -> None:
        """Run `work` on the event loop, after the request that started it, on its own: it
        applies and commits its changes itself (automatic report delivery)."""

        async def run() -> None:
            unit_of_work.detach()
            try:
                await work
                self.store.commit()
            except StorageError as exc:  # kept in memory, written by a later commit
                log.warning("%s; trying again", exc)
            except Exception:  # never a silent loss: the log says why the reports did not go
                log.exception("automatic report delivery failed")

        task = asyncio.get_running_loop().create_task(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def fire_event(
        self,
        name: str,
        *,
        app_id: str | None = None,
        consent_id: str | None = None,
        link_id: str | None = None,
        payload: dict | None = None,
        external_info: dict | None = None,
    ):
        """Send any API event now (control API): its payload from a consent, a link, or given."""
        link, key = None, None
        if consent_id is not None:
            key = f"consent:{consent_id}"
            consent = self.consents.get(None, consent_id)
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

    def configure_webhooks(
        self, app_id: str, events_url: str | None, products_callback_url: str | dict | None
    ) -> Tenant:
        if app_id not in self.tenants:
            raise NotFound(f"no tenant with appId {app_id!r}; see GET /__mock/tenants")
        callbacks = normalize_products_callback(products_callback_url, "body.productsCallbackURL")
        hooks: dict[str, Any] = {"events_url": events_url, "products_callback_url": callbacks}
        tenant = self._set_tenant(dataclasses.replace(self.tenants[app_id], **hooks))
        self.store.set_meta("tenant_webhooks", {**(self.store.get_meta("tenant_webhooks") or {}), app_id: hooks})
        return tenant

    def configure_reports(self, app_id: str, changes: dict) -> Tenant:
        """A tenant's report settings: `report_delivery`, `activated_products` (None: every
        product), `encrypt_sensitive_fields`; those not in `changes` keep their value."""
        if app_id not in self.tenants:
            raise NotFound(f"no tenant with appId {app_id!r}; see GET /__mock/tenants")
        tenant = self._set_tenant(dataclasses.replace(self.tenants[app_id], **changes))
        kept = {
            "report_delivery": tenant.report_delivery,
            "encrypt_sensitive_fields": tenant.encrypt_sensitive_fields,
            "activated_products": None if tenant.activated_products is None else list(tenant.activated_products),
        }
        self.store.set_meta("tenant_reports", {**(self.store.get_meta("tenant_reports") or {}), app_id: kept})
        return tenant

    def set_webhook_chaos(self, app_id: str, settings: dict | None):
        """A tenant's webhook chaos (None: none); kept in a state file like its URLs."""
        if app_id not in self.tenants:
            raise NotFound(f"no tenant with appId {app_id!r}; see GET /__mock/tenants")
        chaos = self.webhooks.set_chaos(app_id, settings)
        self.store.set_meta("tenant_chaos", {**(self.store.get_meta("tenant_chaos") or {}), app_id: settings or {}})
        return chaos

    def _configured_test_settings(self) -> None:
        """Back to what the configuration says: each tenant's report settings and webhook
        chaos (a reset starts the next test clean; the webhook URLs stay as they are)."""
        self.webhooks.clear_chaos()
        for configured in self.settings.tenants:
            self._set_tenant(
                dataclasses.replace(
                    self.tenants[configured.app_id],
                    report_delivery=configured.report_delivery,
                    activated_products=configured.activated_products,
                    encrypt_sensitive_fields=configured.encrypt_sensitive_fields,
                )
            )
            if configured.webhook_chaos:
                self.webhooks.set_chaos(configured.app_id, configured.webhook_chaos)
        self.store.set_meta("tenant_chaos", {})
        self.store.set_meta("tenant_reports", {})

    def _set_tenant(self, tenant: Tenant) -> Tenant:
        before = self.tenants.get(tenant.app_id)
        self.tenants[tenant.app_id] = tenant
        self._tenants_by_key[tenant.access_key] = tenant
        if before is not None:
            unit_of_work.on_rollback(lambda: self._set_tenant(before))
        return tenant

    # -- time and control ------------------------------------------------------------

    def run_due(self) -> list[FellDue]:
        """Carry out whatever the clock has made due (cheap when nothing is)."""
        return self.consents.run_due()

    def advance_clock(self, seconds: float) -> tuple[datetime, list[FellDue]]:
        """The new time and the consent jobs that ran because of the move."""
        now = self.clock.advance(seconds)
        self.store.set_meta("clock_offset", self.clock.offset)
        ran = self.run_due()
        self.wake_dispatcher()  # retries that fell due go now
        return now, ran

    def tenant_id_for_key(self, access_key: str) -> str | None:
        tenant = self._tenants_by_key.get(access_key)
        return tenant.app_id if tenant else None

    def reset(self, rewind_clock: bool = False) -> None:
        self.store.reset()
        self.timeline.clear()
        self.conformance.reset()
        self.tracking.clear()
        self.faults.reset()
        self.journal.clear()
        self.consents.throttle.clear()
        self.reports.throttle.clear()
        self._configured_test_settings()
        if rewind_clock:
            self.clock.rewind()
            self.store.set_meta("clock_offset", self.clock.offset)


TOKEN_KINDS = {"accessToken": ACCESS, "linkToken": LINK}
