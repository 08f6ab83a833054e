"""Instant Pix payments: creation (API-only and WhiteLabel), idempotency by clientRequestId,
the payer's bank step, the clock-driven steps to PAYMENT_COMPLETED, and each status change's
webhook (`payment_status_changed`, the payload as GET answers it). Every status change goes
through `move` (public: the QA levers, payment_levers.py, use it too). No HTTP here.

The persona is the payer's (the customer's CPF or CNPJ, or loggedUserCpf), read from the
`payment` block of fixtures/personas.yaml: whether the bank asks, refuses, never answers or
stalls after authorising, and how the payment ends.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

from klavi_mock.domain import payments as states
from klavi_mock.domain.clock import Clock, iso
from klavi_mock.domain.institutions import Institution, InstitutionCatalog
from klavi_mock.domain.payments import REASONS, InstantPayment, brasilia_today, check_payment, new_payment
from klavi_mock.domain.personas import Persona, PersonaCatalog
from klavi_mock.domain.timeline import Timeline
from klavi_mock.errors import Conflict, NotFound
from klavi_mock.storage.protocol import ConflictError, Store
from klavi_mock.webhooks.service import Webhooks

EVENT = "payment_status_changed"
PERSONA_DEFAULTS = {"bank": "ask", "outcome": "completed", "scheduled": "keep", "cancelAfterSeconds": 600}
# Where the payment ends, per persona outcome: (status, reason); None: completed.
OUTCOMES = {
    "insufficient-funds": (states.PAYMENT_REJECTED, "SALDO_INSUFICIENTE"),
    "limit-exceeded": (states.PAYMENT_REJECTED, "VALOR_ACIMA_LIMITE"),
    "bank-refuses": (states.PAYMENT_REJECTED, "PAGAMENTO_RECUSADO_DETENTORA"),
}


class PaymentLinkError(Exception):
    """The redirectConsentURL, a bank page or a paymentURL cannot be used; `reason` says why."""

    def __init__(self, reason: str, payment: InstantPayment | None = None) -> None:
        super().__init__(reason)
        self.reason = reason  # unknown | expired | used | finished
        self.payment = payment


@dataclass(frozen=True)
class PaymentFellDue:
    kind: str
    payment_id: str
    status_before: str
    status: str


class InstantPayments:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        institutions: InstitutionCatalog,
        personas: PersonaCatalog,
        webhooks: Webhooks,
        public_url: str,
        strict_tax_ids: bool = False,
    ) -> None:
        self.store = store
        self.clock = clock
        self.institutions = institutions
        self.personas = personas
        self.webhooks = webhooks
        self.public_url = public_url  # for the URLs in webhook payloads (no request to take them from)
        self.strict_tax_ids = strict_tax_ids
        self.timeline = Timeline()  # the payments' own jobs: the consents' timeline runs only theirs
        self._at: datetime | None = None  # the due time of the job running

    # -- the API ---------------------------------------------------------------------------

    def create(self, tenant_id: str, body: dict) -> tuple[InstantPayment, bool, list[str]]:
        """A new payment awaiting the payer at the bank, or the one this clientRequestId
        made before (idempotency); whether it is new; the tolerated notes."""
        found = self._same_request(tenant_id, body)
        if found is not None:
            return found, False, []
        notes = check_payment(body, today=brasilia_today(self.clock.now()), strict=self.strict_tax_ids)
        payment = new_payment(
            tenant_id=tenant_id, request=body, persona_id=self._persona_for(body).id, now=self.clock.now()
        )
        self.store.add_instant_payment(payment)
        self._awaiting(payment)
        self._announce(payment)
        return payment, True, notes

    def create_link(self, tenant_id: str, body: dict) -> tuple[InstantPayment, bool, list[str]]:
        """WhiteLabel: a payment whose payer starts it at paymentURL (PREPARING), or the one
        this clientRequestId made before."""
        found = self._same_request(tenant_id, body, "body.payment") if body.get("clientRequestId") else None
        if found is not None and found.link_token is not None:
            return found, False, []
        if found is not None:
            raise Conflict(
                f"body.payment.clientRequestId: {body['clientRequestId']!r} is already used by a payment created "
                "through POST /instant/payments; each clientRequestId makes one payment"
            )
        notes = check_payment(
            body, today=brasilia_today(self.clock.now()), strict=self.strict_tax_ids, where="body.payment"
        )
        payment = new_payment(
            tenant_id=tenant_id,
            request={"clientRequestId": body.get("clientRequestId") or f"link-{secrets.token_hex(8)}", **body},
            persona_id=self._persona_for(body).id,
            now=self.clock.now(),
            status=states.PREPARING,
        )
        payment.link_token = secrets.token_urlsafe(24)
        self.store.add_instant_payment(payment)
        self.timeline.schedule(payment.created_at + states.LINK_WINDOW, f"timeout:{states.PREPARING}", payment.id)
        self._announce(payment)
        return payment, True, notes

    def get(self, tenant_id: str | None, payment_id: str) -> InstantPayment:
        payment = self.store.get_instant_payment(tenant_id, payment_id)
        if payment is None:
            raise NotFound(f"payment {payment_id} not found")
        return payment

    def _same_request(self, tenant_id: str, body: dict, where: str = "body") -> InstantPayment | None:
        found = self.store.instant_payment_with_request_id(tenant_id, str(body.get("clientRequestId", "")))
        if found is None:
            return None
        if found.fingerprint != states.fingerprint(body):
            raise Conflict(
                f"{where}.clientRequestId: {body.get('clientRequestId')!r} was already used for payment {found.id} "
                "with a different body; send the same body to get that payment again, or a new clientRequestId"
            )
        return found

    def _persona_for(self, body: dict) -> Persona:
        customer = body.get("customer") or {}
        return self.personas.for_tax_id(str(customer.get("identifier") or body.get("loggedUserCpf") or ""))

    def persona_of(self, payment: InstantPayment) -> dict[str, Any]:
        persona = self.personas.get(payment.persona_id)
        return {**PERSONA_DEFAULTS, **((persona.payment if persona else None) or {})}

    def institution_of(self, payment: InstantPayment) -> Institution | None:
        """The payer's institution, when institutionId names one of the catalogue (by its
        code or its organisationId); Klavi's ids are its own, so any other id is taken."""
        wanted = str(payment.request.get("institutionId") or "")
        found = self.institutions.get(wanted)
        if found is not None:
            return found
        return next(
            (i for i in self.institutions.all() if wanted and i.api_fields.get("organizationId") == wanted), None
        )

    # -- WhiteLabel: the hosted page behind paymentURL ------------------------------------

    def by_link(self, link_token: str) -> InstantPayment:
        payment = self.store.instant_payment_with_link_token(link_token)
        if payment is None:
            raise PaymentLinkError("unknown")
        if payment.link_started or payment.status != states.PREPARING:
            raise PaymentLinkError("used" if payment.status not in states.FINAL else "finished", payment)
        return payment

    def start_link(self, link_token: str, institution_id: str | None) -> InstantPayment:
        """The payer chose their institution (if the partner did not) and goes to the bank:
        the one payment initiation the link's token is valid for."""
        payment = self.by_link(link_token)
        with self.store.updating(payment):
            if institution_id:
                payment.request = {**payment.request, "institutionId": institution_id}
            payment.link_started = True
            payment.ticket_used = True
            payment.flow_token = secrets.token_urlsafe(24)
            self.move(payment, states.CONSENT_AWAITING_AUTHORIZATION)
            self.bank_answers_at_once(payment)
        if payment.status == states.CONSENT_AWAITING_AUTHORIZATION:
            self._awaiting(payment)
        return payment

    # -- the payer's bank -------------------------------------------------------------------

    def open_redirect(self, ticket: str) -> InstantPayment:
        """redirectConsentURL: opens once, within 60 seconds; starts the bank page's flow.
        A persona's bank that refuses does so at once."""
        payment = self.store.instant_payment_with_ticket(ticket)
        if payment is None:
            raise PaymentLinkError("unknown")
        if payment.status != states.CONSENT_AWAITING_AUTHORIZATION:
            raise PaymentLinkError("finished", payment)
        if payment.ticket_used:
            raise PaymentLinkError("used", payment)
        if not payment.redirect_usable(self.clock.now()):
            raise PaymentLinkError("expired", payment)
        with self.store.updating(payment):
            payment.ticket_used = True
            payment.flow_token = secrets.token_urlsafe(24)
            self.bank_answers_at_once(payment)
        return payment

    def bank_answers_at_once(self, payment: InstantPayment) -> None:
        """A persona's bank that refuses does so as its page opens."""
        if self.persona_of(payment)["bank"] == "deny":
            self.move(payment, states.CONSENT_REJECTED, "REJEITADO_USUARIO")

    def waits_for_app(self, payment: InstantPayment) -> bool:
        """The persona's bank waits for a confirmation in its app that never comes."""
        return self.persona_of(payment)["bank"] == "abandon"

    def flow(self, flow_token: str) -> InstantPayment:
        payment = self.store.instant_payment_with_flow(flow_token)
        if payment is None:
            raise PaymentLinkError("unknown")
        if payment.status != states.CONSENT_AWAITING_AUTHORIZATION:
            raise PaymentLinkError("finished", payment)
        return payment

    def decide(self, flow_token: str, approve: bool) -> InstantPayment:
        """Autorizar or Recusar at the bank; what follows an authorisation happens at once
        (the consent consumed: PAYMENT_PENDING, or PAYMENT_SCHEDULED for a later date), and
        settlement goes on on the clock."""
        payment = self.flow(flow_token)
        persona = self.persona_of(payment)
        if self.waits_for_app(payment):
            return payment  # the answer has to come from the bank's app, and never does
        with self.store.updating(payment):
            if not approve:
                self.move(payment, states.CONSENT_REJECTED, "REJEITADO_USUARIO")
                return payment
            now = self.clock.now()
            payment.authorised_at = now
            creditor_ispb = (payment.request.get("creditorAccount") or {}).get("ispb") or "00000000"
            payment.end_to_end_id = states.end_to_end_id(creditor_ispb, now)
            self.move(payment, states.CONSENT_AUTHORIZED)
            if persona["bank"] == "stall":  # never consumed: the 5-minute window closes
                self.timeline.schedule(
                    now + states.CONSUMPTION_WINDOW, f"timeout:{states.CONSENT_AUTHORIZED}", payment.id
                )
                return payment
            if persona["outcome"] == "partially-accepted":
                self.move(payment, states.PAYMENT_PARTIALLY_ACCEPTED)
                self.timeline.schedule(
                    now + states.PARTIAL_WINDOW, f"timeout:{states.PAYMENT_PARTIALLY_ACCEPTED}", payment.id
                )
                return payment
            self.move(payment, states.PAYMENT_PENDING)
            self._after_pending(payment)
        return payment

    def return_url(self, payment: InstantPayment) -> str:
        """The partner's redirectUrl with the payment's id and status (a mock choice)."""
        target = str(payment.request.get("redirectUrl") or "")
        query = urlencode(
            {"paymentId": payment.id, "clientRequestId": payment.client_request_id, "status": payment.status}
        )
        return f"{target}{'&' if '?' in target else '?'}{query}"

    # -- the clock --------------------------------------------------------------------------

    def run_due(self) -> list[PaymentFellDue]:
        if not self.timeline.has_due(self.clock.timestamp()):
            return []
        with self.store.exclusive("payment-jobs") as mine:
            return self._run_due() if mine else []

    def _run_due(self) -> list[PaymentFellDue]:
        """Jobs a job schedules that are due already run too (a clock moved an hour on
        settles a payment completely), each at its own due time."""
        ran: list[PaymentFellDue] = []
        retry = []
        while self.timeline.has_due(self.clock.timestamp()):
            for job in self.timeline.pop_due(self.clock.timestamp()):
                self._at = datetime.fromtimestamp(job.due, timezone.utc)
                try:
                    done = self._run_job(job.kind, job.subject_id)
                except ConflictError:  # another instance changed it: try again next time
                    retry.append(job)
                    continue
                finally:
                    self._at = None
                if done is not None:
                    ran.append(done)
        for job in retry:
            self.timeline.schedule(datetime.fromtimestamp(job.due, timezone.utc), job.kind, job.subject_id)
        return ran

    def _now(self) -> datetime:
        """When a change happens: a job's due time while it runs, else the clock's now."""
        return self._at or self.clock.now()

    def _run_job(self, kind: str, payment_id: str) -> PaymentFellDue | None:
        payment = self.store.get_instant_payment(None, payment_id)
        if payment is None:
            return None
        before = payment.status
        with self.store.updating(payment):
            if kind.startswith("timeout:"):
                if payment.status != kind.split(":", 1)[1]:
                    return None  # it moved on before its window closed
                status, reason = TIMEOUTS[payment.status]
                self.move(payment, status, reason)
            elif kind == "cancel" and payment.status == states.PAYMENT_SCHEDULED:
                self.move(payment, states.CANCELED, "CANCELADO_AGENDAMENTO")
            elif kind == "date" and payment.status == states.PAYMENT_SCHEDULED:
                self.move(payment, states.PAYMENT_PENDING)
                self._settle_next(payment)
            elif kind == "settle" and payment.status in (states.PAYMENT_PENDING, *states.SETTLEMENT[:-1]):
                self._settle(payment)
            else:
                return None
        return PaymentFellDue(kind, payment.id, before, payment.status)

    def _after_pending(self, payment: InstantPayment) -> None:
        persona = self.persona_of(payment)
        settles_at = payment.settles_at(brasilia_today(self.clock.now()))
        if settles_at is None:
            self._settle_next(payment)
            return
        self.move(payment, states.PAYMENT_SCHEDULED)
        self.timeline.schedule(settles_at, "date", payment.id)
        if persona["scheduled"] == "cancel":
            when = self._now() + timedelta(seconds=float(persona["cancelAfterSeconds"]))
            self.timeline.schedule(min(when, settles_at - timedelta(seconds=1)), "cancel", payment.id)

    def _settle_next(self, payment: InstantPayment) -> None:
        self.timeline.schedule(self._now() + states.SETTLEMENT_STEP, "settle", payment.id)

    def _settle(self, payment: InstantPayment) -> None:
        """One settlement step; a persona's bank refuses the payment at its first."""
        outcome = OUTCOMES.get(self.persona_of(payment)["outcome"])
        if payment.status == states.PAYMENT_PENDING and outcome is not None:
            self.move(payment, *outcome)
            return
        following = {
            states.PAYMENT_PENDING: states.SETTLEMENT[0],
            states.SETTLEMENT[0]: states.SETTLEMENT[1],
            states.SETTLEMENT[1]: states.SETTLEMENT[2],
        }
        self.move(payment, following[payment.status])
        if payment.status != states.PAYMENT_COMPLETED:
            self._settle_next(payment)

    def _awaiting(self, payment: InstantPayment) -> None:
        """CONSENT_AWAITING_AUTHORIZATION: 60 minutes for the payer's answer (a persona's bank
        that never answers leaves them to run out)."""
        start = payment.status_update_at or payment.created_at
        self.timeline.schedule(
            start + states.AUTHORISATION_WINDOW, f"timeout:{states.CONSENT_AWAITING_AUTHORIZATION}", payment.id
        )

    def reschedule(self, payment: InstantPayment) -> None:
        """The jobs a stored payment still has ahead of it (the timeline is per process)."""
        since = payment.status_update_at or payment.created_at
        windows = {
            states.PREPARING: states.LINK_WINDOW,
            states.CONSENT_AWAITING_AUTHORIZATION: states.AUTHORISATION_WINDOW,
            states.CONSENT_AUTHORIZED: states.CONSUMPTION_WINDOW,
            states.PAYMENT_PARTIALLY_ACCEPTED: states.PARTIAL_WINDOW,
        }
        if payment.status in windows:
            self.timeline.schedule(since + windows[payment.status], f"timeout:{payment.status}", payment.id)
        elif payment.status in (states.PAYMENT_PENDING, *states.SETTLEMENT[:-1]):
            self.timeline.schedule(self.clock.now(), "settle", payment.id)
        elif payment.status == states.PAYMENT_SCHEDULED:
            settles_at = payment.settles_at(brasilia_today(since))
            self.timeline.schedule(settles_at or self.clock.now(), "date", payment.id)
            persona = self.persona_of(payment)
            if persona["scheduled"] == "cancel":
                self.timeline.schedule(
                    since + timedelta(seconds=float(persona["cancelAfterSeconds"])), "cancel", payment.id
                )

    # -- every change -----------------------------------------------------------------------

    def move(self, payment: InstantPayment, status: str, reason: str | None = None) -> None:
        payment.move_to(status, self._now(), reason)
        self._announce(payment)

    def _announce(self, payment: InstantPayment) -> None:
        self.webhooks.emit_payment(
            payment.tenant_id, EVENT, self.view(payment, self.public_url), f"payment:{payment.id}"
        )

    # -- how a payment looks on the wire ---------------------------------------------------

    def view(self, payment: InstantPayment, base_url: str) -> dict[str, Any]:
        """GET /instant/payments/{id}: the request's fields back, plus what the payment is now."""
        request = payment.request
        body: dict[str, Any] = {"id": payment.id, "appId": payment.tenant_id}
        for name in REQUEST_FIELDS:
            if request.get(name) is not None:
                body[name] = request[name]
        body["consentId"] = payment.consent_id
        if payment.end_to_end_id:
            body["endToEndId"] = payment.end_to_end_id
        body["status"] = payment.status
        if payment.status_reason:
            body["statusReason"] = {"code": payment.status_reason, "message": REASONS[payment.status_reason]}
        body["statusUpdateAt"] = iso(payment.status_update_at or payment.created_at)
        if payment.redirect_usable(self.clock.now()):
            body["redirectConsentURL"] = redirect_consent_url(base_url, payment)
        return body

    def status_view(self, payment: InstantPayment) -> dict[str, Any]:
        """GET /instant/payments/{id}/status."""
        body = self.view(payment, self.public_url)
        return {
            name: body[name]
            for name in ("id", "clientRequestId", "amount", "currency", "status", "statusReason", "statusUpdateAt")
            if name in body
        }


TIMEOUTS = {
    states.PREPARING: (states.EXPIRED, "LINK_EXPIRADO"),
    states.CONSENT_AWAITING_AUTHORIZATION: (states.CONSENT_REJECTED, "TEMPO_EXPIRADO_AUTORIZACAO"),
    states.CONSENT_AUTHORIZED: (states.CONSENT_REJECTED, "TEMPO_EXPIRADO_CONSUMO"),
    states.PAYMENT_PARTIALLY_ACCEPTED: (states.PAYMENT_REJECTED, "TEMPO_EXPIRADO_MULTIPLAS_ALCADAS"),
}

# The request's fields the GET answers back, in the docs' order.
REQUEST_FIELDS = (
    "clientRequestId",
    "institutionId",
    "customer",
    "date",
    "transactionIdentification",
    "loggedUserCpf",
    "ibgeTownCode",
    "proxy",
    "qrCode",
    "initType",
    "amount",
    "currency",
    "remittanceInformation",
    "debtorAccount",
    "creditorAccount",
    "redirectUrl",
    "clientMetadata",
    "externalInfo",
)


def redirect_consent_url(base_url: str, payment: InstantPayment) -> str:
    """redirectConsentURL: the mock's bank page for this payment's ticket."""
    return f"{base_url}/bank/payments/authorize?{urlencode({'ticket': payment.ticket})}"


def payment_url(base_url: str, payment: InstantPayment) -> str:
    """paymentURL: the hosted WhiteLabel starting page for this payment's link token."""
    return f"{base_url}/payments/start?{urlencode({'v': payment.link_token or ''})}"
