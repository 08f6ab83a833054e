"""The consent lifecycle: creation rules, the bank and LGPD steps, time-driven changes and
forced changes. Every status change goes through `_move`, so what a change implies (its
follow-up jobs, and its announcement: `Notifications.consent_changed`) happens in one place."""

from __future__ import annotations

import builtins
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from klavi_mock.domain import consents as states
from klavi_mock.domain.clock import Clock
from klavi_mock.domain.consents import REASONS, Consent, new_consent, permissions_for
from klavi_mock.domain.institutions import InstitutionCatalog
from klavi_mock.domain.links import Link
from klavi_mock.domain.personas import Persona, PersonaCatalog
from klavi_mock.domain.tasks import PENDING as PENDING_TASK
from klavi_mock.domain.tenants import Tenant
from klavi_mock.domain.throttle import Throttle
from klavi_mock.domain.timeline import Timeline
from klavi_mock.errors import BusinessRuleError, Conflict, NotFound
from klavi_mock.sandbox.notifications import Notifications
from klavi_mock.storage.protocol import ConflictError, Store

log = logging.getLogger("klavi_mock")

# What an Open Data connection reads: Klavi lists no resources for those institutions.
OPEN_DATA_PERMISSIONS = ["ACCOUNTS_ALL", "CREDIT_CARDS_ALL"]

# What the partner's redirectURL receives in `error` when the journey fails.
REDIRECT_ERRORS = {
    "CUSTOMER_MANUALLY_REJECTED": "access_denied",
    "LGPD_DECLINED": "lgpd_declined",
    "CONSENT_TECHNICAL_ISSUE": "consent_error",
    "OPEN_DATA_CONNECTION_FAILED": "consent_error",
}

FORCEABLE = {
    "AUTHORISED": states.AUTHORISED,
    "REJECTED": states.REJECTED,
    "ERROR": states.ERROR,
    "EXPIRED": states.EXPIRED,
    "REVOKED": states.REVOKED,
    "DELETED_BY_USER": states.DELETED_BY_USER,
}


class BankLinkError(Exception):
    """The consentRedirectURL or a bank page cannot be used; `reason` says why."""

    def __init__(self, reason: str, consent: Consent | None = None) -> None:
        super().__init__(reason)
        self.reason = reason  # unknown | expired | used | finished
        self.consent = consent


@dataclass(frozen=True)
class FellDue:
    """A job the clock reached that changed a consent."""

    kind: str  # authorisation_window | expire | revoke | delete | crawl (an Open Data task's collection)
    due: datetime
    consent_id: str
    status_before: str
    status: str
    reason: str


@dataclass(frozen=True)
class BankStep:
    """Where the user goes next: a page of the journey, or back to the partner."""

    consent: Consent
    page: str | None = None  # bank | lgpd | waiting
    return_url: str | None = None


class ConsentLifecycle:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        institutions: InstitutionCatalog,
        personas: PersonaCatalog,
        timeline: Timeline,
        notifications: Notifications,
    ) -> None:
        self.store = store
        self.clock = clock
        self.institutions = institutions
        self.personas = personas
        self.timeline = timeline
        self.notifications = notifications
        self.throttle = Throttle()  # the rate-limited persona's 429s

    # -- the Klavi API -------------------------------------------------------------------

    def create(self, tenant: Tenant, link: Link, request: dict, hosted: bool = False) -> Consent:
        # A company's consent may carry its representative's CPF too; the CNPJ says whose it is.
        tax_id: str = request.get("businessTaxId") or request.get("personalTaxId") or ""
        person = "pj" if request.get("businessTaxId") else "pf"
        persona = self.personas.for_tax_id(tax_id)
        if persona.throttle_seconds:
            self.throttle.check(
                (tenant.app_id, tax_id), persona.throttle_seconds, self.clock.timestamp(), f"consents of taxId {tax_id}"
            )
        if persona.create == "limit":
            raise BusinessRuleError(
                4003, f"Invalid consent request: the number of consents for taxId {tax_id} exceeds the limit"
            )
        code = request["institutionCode"]
        institution = self.institutions.get(code)
        if institution is None:
            raise BusinessRuleError(4004, f"institutionCode {code!r} is not an institution of GET /links/institutions")
        open_data = institution.institution_type == 2  # a login and MFA through a task, not a bank redirect
        if not institution.serves(person):
            who = "companies (businessType LEGAL)" if person == "pf" else "people (businessType NATURAL)"
            field = "personalTaxId" if person == "pf" else "businessTaxId"
            raise BusinessRuleError(
                4004, f"{institution.name} ({code}) serves {who} only; it cannot take a consent for a {field}"
            )
        if institution.is_outage:
            raise BusinessRuleError(
                4004, f"{institution.name} ({code}) is in outage (isOutage true); try another institution or later"
            )
        if self.store.consent_with_track_id(tenant.app_id, request["externalTrackId"]) is not None:
            raise Conflict(
                f"body.externalTrackId: {request['externalTrackId']!r} is already used by another consent; each value must be unique"
            )
        consent = new_consent(
            tenant_id=tenant.app_id,
            link_id=link.id,
            request=request,
            permissions=OPEN_DATA_PERMISSIONS if open_data else permissions_for(institution.available_resources),
            persona_id=persona.id,
            now=self.clock.now(),
            hosted=hosted,
        )
        consent.open_data = open_data
        self.store.add_consent(consent)
        self.timeline.schedule(consent.authorisation_deadline(), "authorisation_window", consent.id)
        return consent

    def get(self, tenant: Tenant | None, consent_id: str) -> Consent:
        consent = self.store.get_consent(tenant.app_id if tenant else None, consent_id)
        if consent is None:
            raise NotFound(f"consent {consent_id} not found")
        return consent

    def list(
        self,
        tenant: Tenant | None,
        *,
        personal_tax_id: str | None = None,
        business_tax_id: str | None = None,
        link_id: str | None = None,
        status: str | None = None,
    ) -> builtins.list[Consent]:
        found = [
            c
            for c in self.store.list_consents(tenant.app_id if tenant else None)
            if (personal_tax_id is None or c.personal_tax_id == personal_tax_id)
            and (business_tax_id is None or c.business_tax_id == business_tax_id)
            and (link_id is None or c.link_id == link_id)
            and (status is None or c.status == status)
        ]
        return sorted(found, key=lambda c: c.created_at, reverse=True)

    def revoke(self, tenant: Tenant, consent_id: str) -> Consent:
        consent = self.get(tenant, consent_id)
        if consent.status in states.FINAL:
            raise BusinessRuleError(
                4001,
                f"consent {consent_id} is already {consent.status}; only a pending or AUTHORISED consent can be revoked",
            )
        if consent.status in states.PENDING:
            # Klavi: a consent revoked before it is completed "moves to REJECTED" and its
            # consentRedirectURL fails (the bank page's ticket sees a finished consent).
            self._move(consent, states.REJECTED, "REVOKED_BEFORE_AUTHORISATION")
        else:
            self._move(consent, states.REVOKED, "REVOKED_BY_PARTNER")
        return consent

    def persona_of(self, consent: Consent) -> Persona:
        return self.personas.get(consent.persona_id) or self.personas.default

    # -- the bank ------------------------------------------------------------------------

    def open_redirect(self, ticket: str) -> BankStep:
        """The user's browser opens consentRedirectURL: once, within 60 seconds."""
        consent = self.store.consent_with_ticket(ticket)
        if consent is None:
            raise BankLinkError("unknown")
        if consent.ticket_used:
            raise BankLinkError("used", consent)
        with self.store.updating(consent):
            consent.ticket_used = True
        if consent.status not in states.PENDING:
            raise BankLinkError("finished", consent)
        if self.clock.now() > consent.redirect_expires_at():
            self._move(consent, states.REJECTED, "REDIRECT_URL_EXPIRED")
            raise BankLinkError("expired", consent)
        return self._enter_bank(consent)

    def _enter_bank(self, consent: Consent) -> BankStep:
        """The user is at the bank: the persona's bank may refuse or fail before any page."""
        with self.store.updating(consent):
            consent.flow_token = secrets.token_urlsafe(24)
        persona = self.persona_of(consent)
        if persona.bank == "deny":
            return self._fail(consent, states.REJECTED, "CUSTOMER_MANUALLY_REJECTED")
        if persona.bank == "error":
            return self._fail(consent, states.ERROR, "CONSENT_TECHNICAL_ISSUE")
        return BankStep(consent, page="waiting" if persona.bank == "abandon" else "bank")

    def act_at_bank(
        self, consent_id: str, approve: bool, chosen: builtins.list[str] | None = None, accept_lgpd: bool = True
    ) -> BankStep:
        """The user's whole answer at once (the control API's bank action): the same steps
        as the bank and LGPD pages' form posts, from wherever the consent is. A consent whose
        consentRedirectURL was never opened enters the bank as if it had been, in time."""
        consent = self.get(None, consent_id)
        if consent.status == states.AWAITING_AUTHORISATION:
            if consent.flow_token is None:
                with self.store.updating(consent):
                    consent.ticket_used = True
                step = self._enter_bank(consent)
                if step.page != "bank":
                    return step
            step = self.decide_at_bank(consent.flow_token or "", approve, chosen)
            if step.page != "lgpd":
                return step
        elif consent.status != states.AWAITING_LGPD_AUTHORISATION:
            raise Conflict(
                f"consent {consent_id} is {consent.status}; only a consent awaiting authorisation "
                "(at the bank or at Klavi's LGPD step) can be answered at the bank"
            )
        return self.decide_lgpd(consent.flow_token or "", approve and accept_lgpd)

    def flow(self, flow_token: str, expected_status: str) -> Consent:
        consent = self.store.consent_with_flow(flow_token)
        if consent is None:
            raise BankLinkError("unknown")
        if consent.status != expected_status:
            raise BankLinkError("finished", consent)
        return consent

    def decide_at_bank(self, flow_token: str, approve: bool, chosen: builtins.list[str] | None = None) -> BankStep:
        consent = self.flow(flow_token, states.AWAITING_AUTHORISATION)
        persona = self.persona_of(consent)
        if persona.bank == "abandon":
            return BankStep(consent, page="waiting")  # the in-app confirmation never comes
        if not approve:
            return self._fail(consent, states.REJECTED, "CUSTOMER_MANUALLY_REJECTED")
        granted = persona.granted(consent.permissions_apply, chosen)
        if not granted:
            return self._fail(consent, states.REJECTED, "CUSTOMER_MANUALLY_REJECTED")
        with self.store.updating(consent):
            consent.permissions_granted = granted
        self._move(consent, states.AWAITING_LGPD_AUTHORISATION)
        if persona.lgpd == "decline":
            return self._fail(consent, states.REJECTED, "LGPD_DECLINED")
        return BankStep(consent, page="lgpd")

    def decide_lgpd(self, flow_token: str, accept: bool) -> BankStep:
        consent = self.flow(flow_token, states.AWAITING_LGPD_AUTHORISATION)
        if not accept:
            return self._fail(consent, states.REJECTED, "LGPD_DECLINED")
        self._move(consent, states.AUTHORISED)
        return BankStep(consent, return_url=self.return_url(consent))

    def return_url(self, consent: Consent, reason: str | None = None, to: str | None = None) -> str:
        """The consent's redirectURL (or `to`: the link's, at the end of a hosted journey)
        with Klavi's query parameters added."""
        link = self.store.get_link(consent.tenant_id, consent.link_id)
        params = {
            "link_id": consent.link_id,
            "consent_id": consent.id,
            "external_track_id": consent.external_track_id,
            "external_info": json.dumps(link.external_info if link else {}, separators=(",", ":"), ensure_ascii=False),
        }
        if reason is not None:
            params["error"] = REDIRECT_ERRORS.get(reason, "consent_rejected")
            params["error_description"] = REASONS[reason]
        parts = urlsplit(to or consent.redirect_url)
        query = urlencode(parse_qsl(parts.query, keep_blank_values=True) + list(params.items()))
        return urlunsplit(parts._replace(query=query))

    def _fail(self, consent: Consent, status: str, reason: str) -> BankStep:
        self._move(consent, status, reason)
        return BankStep(consent, return_url=self.return_url(consent, reason))

    # -- time and control ----------------------------------------------------------------

    def run_due(self) -> builtins.list[FellDue]:
        """Carry out the jobs the clock has reached; what each one changed (jobs whose consent
        had already moved on change nothing and are left out)."""
        if not self.timeline.has_due(self.clock.timestamp()):  # every request asks: keep it cheap
            return []
        # Processes sharing a database may hold the same jobs (each schedules what it sees
        # and a restarted one reschedules every stored consent): one runs them at a time, and
        # each job reads its consent afresh, so a job another process ran changes nothing.
        with self.store.exclusive("consent-jobs") as mine:
            return self._run_due() if mine else []

    def _run_due(self) -> builtins.list[FellDue]:
        now = self.clock.now()
        ran = []
        for job in self.timeline.pop_due(now.timestamp()):
            try:
                fell_due = self._run_job(job.kind, job.subject_id, datetime.fromtimestamp(job.due, timezone.utc), now)
            except ConflictError as exc:  # another instance changed the consent meanwhile: read it afresh later
                log.warning("%s; its %s job runs again on the next tick", exc, job.kind)
                self.timeline.schedule(datetime.fromtimestamp(job.due, timezone.utc), job.kind, job.subject_id)
                continue
            if fell_due is not None:
                ran.append(fell_due)
        return ran

    def _run_job(self, kind: str, consent_id: str, due: datetime, now: datetime) -> FellDue | None:
        """One job on its consent as it is now: what it changed, if anything."""
        consent = self.store.get_consent(None, consent_id)
        if consent is None:
            return None
        move = None
        if kind == "authorisation_window" and consent.status in states.PENDING:
            move = (states.REJECTED, "CONSENT_EXPIRED")
        elif kind == "expire" and consent.status == states.AUTHORISED and consent.expires_at <= now:
            move = (states.EXPIRED, "CONSENT_MAX_DATE_REACHED")
        elif kind == "revoke" and consent.status == states.AUTHORISED:
            move = (states.REVOKED, "CUSTOMER_MANUALLY_REVOKED")
        elif kind == "delete" and consent.status == states.AUTHORISED:
            move = (states.DELETED_BY_USER, "DELETED_BY_USER")
        elif kind == "crawl" and consent.status in states.PENDING:
            before = consent.status
            if self._crawl_done(consent):
                return FellDue(kind, due, consent.id, before, consent.status, "OPEN_DATA_COLLECTED")
            return None
        if move is None:
            return None
        before = consent.status
        self._move(consent, *move)
        return FellDue(kind, due, consent.id, before, *move)

    def open_data_connected(self, consent: Consent, connection_key: str, code: int = 200) -> None:
        """Its task succeeded (`code`: 200, or 201-203): the data can be reported (no bank
        page, no LGPD step)."""
        with self.store.updating(consent):
            consent.permissions_granted = self.persona_of(consent).granted(consent.permissions_apply)
            consent.connection_key = connection_key
            consent.open_data_code = code
        self._move(consent, states.AUTHORISED)

    def open_data_collecting(self, consent: Consent, seconds: float) -> None:
        """Its task is `pending` while the bank's data is collected: done `seconds` later on
        the clock (POST /__mock/clock/advance gets there)."""
        self.timeline.schedule(self.clock.now() + timedelta(seconds=seconds), "crawl", consent.id)

    def _crawl_done(self, consent: Consent) -> bool:
        task = self.store.get_task(consent.task_id) if consent.task_id else None
        if task is None or task.status != PENDING_TASK:
            return False
        with self.store.updating(task):
            task.succeed()
        self.open_data_connected(consent, task.connection_key or "", task.code)
        return True

    def open_data_failed(self, consent: Consent) -> None:
        self._move(consent, states.ERROR, "OPEN_DATA_CONNECTION_FAILED")

    def force(self, consent_id: str, status: str) -> Consent:
        consent = self.get(None, consent_id)
        target = FORCEABLE[status]
        if target == states.AUTHORISED and not consent.permissions_granted:
            with self.store.updating(consent):
                consent.permissions_granted = self.persona_of(consent).granted(consent.permissions_apply)
        self._move(consent, target, None if target == states.AUTHORISED else "FORCED")
        return consent

    def set_persona(self, consent_id: str, persona_id: str) -> Consent:
        consent = self.get(None, consent_id)
        if self.personas.get(persona_id) is None:
            raise NotFound(f"persona {persona_id!r} does not exist; see GET /__mock/personas")
        with self.store.updating(consent):
            consent.persona_id = persona_id
        return consent

    def reschedule(self, consent: Consent) -> None:
        """The jobs a stored consent still has ahead of it (the timeline is rebuilt from the
        consents when the mock restarts on a state file)."""
        if consent.status in states.PENDING:
            self.timeline.schedule(consent.authorisation_deadline(), "authorisation_window", consent.id)
            task = self.store.get_task(consent.task_id) if consent.task_id else None
            if task is not None and task.status == PENDING_TASK:  # its collection's job: due now
                self.timeline.schedule(self.clock.now(), "crawl", consent.id)
        elif consent.status == states.AUTHORISED:
            self._schedule_after_authorisation(consent, authorised_at=consent.updated_at or consent.created_at)

    def _move(self, consent: Consent, status: str, reason: str | None = None) -> None:
        now = self.clock.now()
        with self.store.updating(consent):
            consent.move_to(status, now, reason)
            persona = self.persona_of(consent)
            if status == states.AUTHORISED and persona.after_action == "expire":
                consent.expires_at = now + timedelta(seconds=persona.after_seconds)
        if status == states.AUTHORISED:
            self._schedule_after_authorisation(consent, authorised_at=now)
        self.notifications.consent_changed(consent)

    def _schedule_after_authorisation(self, consent: Consent, authorised_at: datetime) -> None:
        persona = self.persona_of(consent)
        if persona.after_action in ("revoke", "delete"):
            self.timeline.schedule(
                authorised_at + timedelta(seconds=persona.after_seconds), persona.after_action, consent.id
            )
        self.timeline.schedule(consent.expires_at, "expire", consent.id)
