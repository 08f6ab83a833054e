"""`AutomaticPix`: the Automatic Pix service (no HTTP). Consents and their bank step,
charges, retries and cancellations, the list the management API pages, and the steps the
mock clock drives (the 60-minute authorisation window, a payment's settlement on its date,
a persona's scripted outcome). Every status change goes through `consent_to` or
`payment_to` (public: the QA levers use them too), which send its webhook
(`Webhooks.emit_payment`, the payload the GET answers).

The rules are the domain's (`domain/automatic_pix.py`); what happens to whom is the
persona's, picked by the payer's CPF/CNPJ (`customer.identifier`) as the data API's are.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from klavi_mock.domain import automatic_pix as ap
from klavi_mock.domain.clock import Clock, iso
from klavi_mock.domain.personas import PersonaCatalog
from klavi_mock.domain.tenants import Tenant
from klavi_mock.domain.timeline import Timeline
from klavi_mock.errors import Conflict, NotFound
from klavi_mock.storage.protocol import ConflictError, Store
from klavi_mock.webhooks.service import Webhooks

log = logging.getLogger("klavi_mock.automatic_pix")

CONSENT_EVENT = "automatic_consent_status_changed"
PAYMENT_EVENT = "automatic_payment_status_changed"
BANK_PATH = "/bank/automatic-pix/"  # + the consent's ticket: the fake bank's page (web/pages/payments)
REVOKE_AFTER = timedelta(hours=1)  # persona `revoked`: the payer revokes at the bank an hour after authorising
# persona `multiple-approvals`: a company's consent is CONSENT_PARTIALLY_ACCEPTED after the first
# approver, CONSENT_AUTHORIZED when the others have approved, 10 minutes later
OTHER_APPROVERS_AFTER = timedelta(minutes=10)
PAYER_CANCELS_AFTER = timedelta(hours=1)  # persona `payer-cancels`: each charge cancelled an hour after it is made
DEFAULT_PAYER_ISPB = "00000000"  # in an endToEndId, when the partner gave no debtorAccount


def consent_key(consent_id: str) -> str:
    return f"automatic-consent:{consent_id}"


def payment_key(payment: ap.AutomaticPayment) -> str:
    return f"automatic-consent:{payment.consent_id}/payment:{payment.id}"


def _reason(code: str | None) -> dict[str, str] | None:
    return {"code": code, "message": ap.REASONS.get(code, code)} if code else None


def consent_status_body(consent: ap.AutomaticConsent) -> dict[str, Any]:
    """GET /automatic/consents/{id}/status."""
    body: dict[str, Any] = {"id": consent.id, "clientRequestId": consent.client_request_id, "status": consent.status}
    if consent.status_reason:
        body["statusReason"] = _reason(consent.status_reason)
    body["statusUpdateAt"] = iso(consent.status_update_at or consent.created_at)
    return body


def consent_body(consent: ap.AutomaticConsent) -> dict[str, Any]:
    """The consent as GET /automatic/consents/{id} answers it (and its webhook carries it)."""
    body = consent_status_body(consent)
    body["createdAt"] = iso(consent.created_at)
    if consent.status in (ap.STARTED, ap.AWAITING_AUTHORIZATION):
        body["expireAt"] = iso(consent.authorisation_deadline())
        body["redirectConsentURL"] = consent.consent_url
    optional = {
        "institutionId": consent.institution_id or None,
        "redirectUrl": consent.redirect_url or None,
        "additionalInformation": consent.additional_information,
        "debtorAccount": consent.debtor_account,
        "clientMetadata": consent.client_metadata or None,
        "externalInfo": consent.external_info,
    }
    body.update(
        customer=consent.customer,
        creditorAccount=consent.creditor_account,
        paymentMethodConfig=consent.payment_method_config,
        **{k: v for k, v in optional.items() if v is not None},
    )
    if consent.cancelled_by:
        body["cancellation"] = {
            **consent.cancelled_by,
            "cancelledAt": iso(consent.status_update_at or consent.created_at),
        }
    return body


def payment_body(payment: ap.AutomaticPayment) -> dict[str, Any]:
    """The payment as GET .../payments/{paymentId} answers it (and its webhook carries it)."""
    body: dict[str, Any] = {
        "id": payment.id,
        "consentId": payment.consent_id,
        "clientRequestId": payment.client_request_id,
        "amount": payment.amount,
        "currency": payment.currency,
        "date": payment.due_date,
        "status": payment.status,
    }
    if payment.status_reason:
        body["statusReason"] = _reason(payment.status_reason)
    body["statusUpdateAt"] = iso(payment.status_update_at or payment.created_at)
    body["createdAt"] = iso(payment.created_at)
    body["firstPayment"] = payment.first
    optional = {
        "remittanceInformation": payment.remittance_information,
        "creditorAccount": payment.creditor_account,
        "originalPaymentId": payment.original_payment_id,
        "endToEndId": payment.end_to_end_id,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    if payment.cancellation:
        body["cancellation"] = {
            **payment.cancellation,
            "cancelledAt": iso(payment.status_update_at or payment.created_at),
        }
    return body


@dataclass(frozen=True)
class BankResult:
    consent: ap.AutomaticConsent
    return_url: str | None  # where the payer's browser goes now (None: the page asks)


@dataclass(frozen=True)
class Page:
    items: list[ap.AutomaticConsent]
    total: int


class AutomaticPix:
    def __init__(
        self, store: Store, clock: Clock, personas: PersonaCatalog, webhooks: Webhooks, strict_tax_ids: bool = False
    ) -> None:
        self.store = store
        self.clock = clock
        self.personas = personas
        self.webhooks = webhooks
        self.strict_tax_ids = strict_tax_ids  # wrong CPF/CNPJ check digits: refused, else tolerated and noted
        self.timeline = Timeline()  # its own: the consents' jobs name data-API consents

    # -- consents -----------------------------------------------------------------------

    def create_consent(
        self, tenant: Tenant, body: dict, base_url: str, link: bool = False
    ) -> tuple[ap.AutomaticConsent, bool, list[str]]:
        """The consent, whether it is new (False: the same request came before), and the
        tolerated notes (the conformance report's deviations)."""
        now = self.clock.now()
        body = dict(body)
        body.setdefault("clientRequestId", str(uuid.uuid4()))  # optional in a consent link
        before = self.store.automatic_consent_with_request(tenant.app_id, body["clientRequestId"])
        if before is not None:
            if before.fingerprint != ap.fingerprint(body):
                raise Conflict(
                    f"body.clientRequestId: {body['clientRequestId']!r} was used for another consent "
                    f"({before.id}) with a different body; use a new clientRequestId"
                )
            return before, False, []
        where = "body.consent" if link else "body"
        notes = ap.check_consent_request(body, now, strict=self.strict_tax_ids, where=where)
        persona = self.personas.for_tax_id(body["customer"]["identifier"])
        consent = ap.new_consent(tenant_id=tenant.app_id, body=body, persona_id=persona.id, now=now, link=link)
        consent.consent_url = f"{base_url}{BANK_PATH}{consent.ticket}"
        self.store.add_automatic_consent(consent)
        self.timeline.schedule(consent.authorisation_deadline(), "authorisation_window", consent.id)
        self._announce_consent(consent)
        return consent, True, notes

    def get_consent(self, tenant: Tenant | None, consent_id: str) -> ap.AutomaticConsent:
        consent = self.store.get_automatic_consent(tenant.app_id if tenant else None, consent_id)
        if consent is None:
            raise NotFound(f"automatic consent {consent_id} not found")
        return consent

    def list_consents(
        self, tenant: Tenant, app_id: str, page: int, size: int, status: str | None, identifier: str | None
    ) -> Page:
        """The management API's list: newest first, filtered, one page of it."""
        if app_id != tenant.app_id:  # another tenant's, like its objects, is not found
            raise NotFound(f"no application {app_id!r} for this token (its application is {tenant.app_id!r})")
        found = [
            c
            for c in reversed(self.store.list_automatic_consents(tenant.app_id))
            if (status is None or c.status == status) and (identifier is None or c.customer["identifier"] == identifier)
        ]
        return Page(found[(page - 1) * size : page * size], len(found))

    def cancel_consent(self, tenant: Tenant, consent_id: str, body: dict) -> tuple[ap.AutomaticConsent, list[str]]:
        """Cancel by consent: revoked, its pending and scheduled payments cancelled; the tolerated notes."""
        consent = self.get_consent(tenant, consent_id)
        who, notes = ap.check_cancellation(body, strict=self.strict_tax_ids)
        if consent.status not in (*ap.CONSENT_PENDING, ap.AUTHORIZED):
            raise Conflict(f"automatic consent {consent.id} is {consent.status}; it cannot be cancelled")
        with self.store.updating(consent):
            consent.cancelled_by = who
        self.revoke(consent, "REVOGADO_RECEBEDOR")
        return consent, notes

    # -- the bank page -----------------------------------------------------------------

    def at_bank(self, ticket: str) -> ap.AutomaticConsent:
        """The payer opens the consent URL: the consent waits for them (CONSENT_AWAITING_AUTHORIZATION)."""
        consent = self.store.automatic_consent_with_ticket(ticket)
        if consent is None:
            raise NotFound("this authorisation link does not exist")
        if consent.status == ap.STARTED:
            self.consent_to(consent, ap.AWAITING_AUTHORIZATION)
        return consent

    def bank_outcome(self, consent: ap.AutomaticConsent) -> BankResult | None:
        """What the persona's bank does by itself as its page opens (None: it asks the payer)."""
        if consent.status != ap.AWAITING_AUTHORIZATION:
            return None
        outcome = self._persona(consent)
        if outcome == "bank-denies":
            return self.decide(consent, approve=False)
        if outcome == "bank-error":
            self.consent_to(consent, ap.ERROR, "FALHA_INFRAESTRUTURA")
            return BankResult(consent, self.return_url(consent))
        return None

    def decide(self, consent: ap.AutomaticConsent, approve: bool) -> BankResult:
        """The payer's answer at the bank: Autorizar or Recusar."""
        if consent.status == ap.STARTED:
            self.consent_to(consent, ap.AWAITING_AUTHORIZATION)
        if consent.status != ap.AWAITING_AUTHORIZATION:
            raise Conflict(f"automatic consent {consent.id} is {consent.status}; there is nothing to authorise")
        if not approve:
            self.consent_to(consent, ap.REJECTED, "REJEITADO_USUARIO")
            return BankResult(consent, self.return_url(consent))
        if self._persona(consent) == "multiple-approvals":  # one of the company's approvers; the others later
            self.consent_to(consent, ap.PARTIALLY_ACCEPTED)
            self.timeline.schedule(self.clock.now() + OTHER_APPROVERS_AFTER, "other_approvers", consent.id)
        else:
            self._authorise(consent)
        return BankResult(consent, self.return_url(consent))

    def _authorise(self, consent: ap.AutomaticConsent) -> None:
        now = self.clock.now()
        self.consent_to(consent, ap.AUTHORIZED)
        first = ap.first_payment(consent, now)
        if first is not None:
            self._add_payment(first)
        if self._persona(consent) == "revoked":
            self.timeline.schedule(now + REVOKE_AFTER, "bank_revoke", consent.id)

    def return_url(self, consent: ap.AutomaticConsent) -> str | None:
        """The partner's redirectUrl with consentId and status (and error on a refusal)."""
        if not consent.redirect_url:
            return None
        params = [("consentId", consent.id), ("status", consent.status)]
        if consent.status in (ap.REJECTED, ap.ERROR):
            params += [("error", "access_denied" if consent.status == ap.REJECTED else "server_error")]
            params += [("error_description", ap.REASONS.get(consent.status_reason or "", consent.status))]
        parts = urlsplit(consent.redirect_url)
        query = urlencode(parse_qsl(parts.query, keep_blank_values=True) + params)
        return urlunsplit(parts._replace(query=query))

    # -- payments ----------------------------------------------------------------------

    def charge(self, tenant: Tenant, consent_id: str, body: dict) -> tuple[ap.AutomaticPayment, bool]:
        consent = self.get_consent(tenant, consent_id)
        before = self._same_request(tenant, consent, body)
        if before is not None:
            return before, False
        payment = ap.charge(consent, body, self.store.list_automatic_payments(consent.id), self.clock.now())
        self._add_payment(payment)
        if self._persona(consent) == "payer-cancels":
            self.timeline.schedule(self.clock.now() + PAYER_CANCELS_AFTER, "payer_cancel", payment.id)
        return payment, True

    def retry(self, tenant: Tenant, consent_id: str, payment_id: str, body: dict) -> tuple[ap.AutomaticPayment, bool]:
        consent = self.get_consent(tenant, consent_id)
        original = self.get_payment(tenant, consent_id, payment_id)
        before = self._same_request(tenant, consent, body)
        if before is not None:
            return before, False
        retries = [p for p in self.store.list_automatic_payments(consent.id) if p.original_payment_id == original.id]
        payment = ap.retry(consent, original, body, retries, self.clock.now())
        self._add_payment(payment)
        return payment, True

    def get_payment(self, tenant: Tenant | None, consent_id: str, payment_id: str) -> ap.AutomaticPayment:
        payment = self.store.get_automatic_payment(tenant.app_id if tenant else None, payment_id)
        if payment is None or payment.consent_id != consent_id:
            raise NotFound(f"payment {payment_id} of automatic consent {consent_id} not found")
        return payment

    def cancel_payment(
        self, tenant: Tenant, consent_id: str, payment_id: str, body: dict
    ) -> tuple[ap.AutomaticPayment, list[str]]:
        payment = self.get_payment(tenant, consent_id, payment_id)
        who, notes = ap.check_cancellation(body, strict=self.strict_tax_ids)
        with self.store.updating(payment):
            ap.cancel(payment, who, self.clock.now())
        self._announce_payment(payment)
        return payment, notes

    def payments_of(self, consent: ap.AutomaticConsent) -> list[ap.AutomaticPayment]:
        return self.store.list_automatic_payments(consent.id)

    def _same_request(self, tenant: Tenant, consent: ap.AutomaticConsent, body: dict) -> ap.AutomaticPayment | None:
        before = self.store.automatic_payment_with_request(tenant.app_id, body["clientRequestId"])
        if before is None:
            return None
        if before.consent_id != consent.id or before.fingerprint != ap.fingerprint(body):
            raise Conflict(
                f"body.clientRequestId: {body['clientRequestId']!r} was used for another payment "
                f"({before.id}) with a different body; use a new clientRequestId"
            )
        return before

    def _add_payment(self, payment: ap.AutomaticPayment) -> None:
        self.store.add_automatic_payment(payment)
        self.timeline.schedule(max(payment.settles_at(), payment.created_at), "settle", payment.id)
        self._announce_payment(payment)

    # -- the clock -----------------------------------------------------------------------

    def run_due(self) -> int:
        """Carry out what the clock has reached, including what that makes due at once (a
        clock moved days ahead settles a payment all the way); how many jobs ran."""
        if not self.timeline.has_due(self.clock.timestamp()):  # every request asks: keep it cheap
            return 0
        with self.store.exclusive("automatic-pix-jobs") as mine:
            return self._run_due() if mine else 0

    def _run_due(self) -> int:
        ran = 0
        now = self.clock.now()
        for _ in range(100):  # each pass may make more due; a bound, not a loop for ever
            jobs = self.timeline.pop_due(now.timestamp())
            if not jobs:
                break
            for job in jobs:
                due = datetime.fromtimestamp(job.due, timezone.utc)
                try:
                    ran += self._run_job(job.kind, job.subject_id, due)
                except ConflictError as exc:  # another instance changed it meanwhile: read it afresh later
                    log.warning("%s; its %s job runs again on the next tick", exc, job.kind)
                    self.timeline.schedule(due, job.kind, job.subject_id)
                    return ran
        return ran

    def _run_job(self, kind: str, subject_id: str, due: datetime) -> int:
        """One job on its consent or payment as it is now (1 if it changed something)."""
        if kind in ("authorisation_window", "bank_revoke", "other_approvers"):
            consent = self.store.get_automatic_consent(None, subject_id)
            if consent is None:
                return 0
            if kind == "authorisation_window" and consent.status in ap.CONSENT_PENDING:
                self.consent_to(consent, ap.EXPIRED, "TEMPO_EXPIRADO_AUTORIZACAO")
                return 1
            if kind == "bank_revoke" and consent.status == ap.AUTHORIZED:
                self.revoke(consent, "REVOGADO_USUARIO")
                return 1
            if kind == "other_approvers" and consent.status == ap.PARTIALLY_ACCEPTED:
                self._authorise(consent)
                return 1
            return 0
        payment = self.store.get_automatic_payment(None, subject_id)
        if payment is None:
            return 0
        if kind == "settle" and payment.status in ap.CANCELLABLE:
            self.payment_to(payment, ap.PAYMENT_SETTLEMENT_PROCESSING)
            self.timeline.schedule(due + ap.SETTLEMENT_TIME, "finish", payment.id)
            return 1
        if kind == "finish" and payment.status == ap.PAYMENT_SETTLEMENT_PROCESSING:
            self._finish(payment)
            return 1
        if kind == "payer_cancel" and payment.status in ap.CANCELLABLE:
            with self.store.updating(payment):
                payment.move_to(ap.CANCELED, self.clock.now(), "CANCELADO_PAGADOR")
            self._announce_payment(payment)
            return 1
        return 0

    def _finish(self, payment: ap.AutomaticPayment) -> None:
        """The settlement's outcome: the persona's."""
        consent = self.store.get_automatic_consent(None, payment.consent_id)
        outcome = self._persona(consent) if consent else "ok"
        if outcome == "insufficient-funds" and payment.original_payment_id is None:
            self.payment_to(payment, ap.PAYMENT_REJECTED, "SALDO_INSUFICIENTE")
        elif outcome == "limit-exceeded":
            self.payment_to(payment, ap.PAYMENT_REJECTED, "LIMITE_EXCEDIDO")
        else:
            ispb = ((consent.debtor_account if consent else None) or {}).get("ispb", DEFAULT_PAYER_ISPB)
            with self.store.updating(payment):
                payment.end_to_end_id = ap.end_to_end_id(ispb, self.clock.now())
            self.payment_to(payment, ap.PAYMENT_COMPLETED)

    def reschedule(self) -> None:
        """The jobs stored consents and payments still have ahead of them (at start-up: the
        timeline is rebuilt from the store)."""
        for consent in self.store.list_automatic_consents():
            if consent.status in ap.CONSENT_PENDING:
                self.timeline.schedule(consent.authorisation_deadline(), "authorisation_window", consent.id)
            if consent.status == ap.PARTIALLY_ACCEPTED:
                since = consent.status_update_at or consent.created_at
                self.timeline.schedule(since + OTHER_APPROVERS_AFTER, "other_approvers", consent.id)
            elif consent.status == ap.AUTHORIZED and self._persona(consent) == "revoked":
                self.timeline.schedule(
                    (consent.status_update_at or consent.created_at) + REVOKE_AFTER, "bank_revoke", consent.id
                )
        for payment in self.store.list_automatic_payments():
            if payment.status in ap.CANCELLABLE:
                self.timeline.schedule(max(payment.settles_at(), payment.created_at), "settle", payment.id)
            elif payment.status == ap.PAYMENT_SETTLEMENT_PROCESSING:
                since = payment.status_update_at or payment.created_at
                self.timeline.schedule(since + ap.SETTLEMENT_TIME, "finish", payment.id)

    def reset(self) -> None:
        self.timeline.clear()

    # -- status changes and their webhooks ------------------------------------------------

    def _persona(self, consent: ap.AutomaticConsent) -> str:
        persona = self.personas.get(consent.persona_id)
        return persona.automatic_pix if persona else "ok"

    def revoke(self, consent: ap.AutomaticConsent, reason: str) -> None:
        self.consent_to(consent, ap.REVOKED, reason)
        for payment in self.store.list_automatic_payments(consent.id):
            if payment.status in ap.CANCELLABLE:
                self.payment_to(payment, ap.CANCELED, "CANCELADO_CONSENTIMENTO_REVOGADO")

    def consent_to(self, consent: ap.AutomaticConsent, status: str, reason: str | None = None) -> None:
        with self.store.updating(consent):
            consent.move_to(status, self.clock.now(), reason)
        self._announce_consent(consent)

    def payment_to(self, payment: ap.AutomaticPayment, status: str, reason: str | None = None) -> None:
        with self.store.updating(payment):
            payment.move_to(status, self.clock.now(), reason)
        self._announce_payment(payment)

    def _announce_consent(self, consent: ap.AutomaticConsent) -> None:
        self.webhooks.emit_payment(consent.tenant_id, CONSENT_EVENT, consent_body(consent), consent_key(consent.id))

    def _announce_payment(self, payment: ap.AutomaticPayment) -> None:
        self.webhooks.emit_payment(payment.tenant_id, PAYMENT_EVENT, payment_body(payment), payment_key(payment))
