"""QA levers over the payments (the control API's /__mock/payments/.../force): what the payer,
their bank or the settlement would do, done now, one documented step at a time. Every
change goes through the payment services' own steps (`InstantPayments.move`,
`AutomaticPix.consent_to` / `payment_to` / `decide` / `revoke`), so each one sends its
webhook and obeys the status machine; a lever the payment's status does not allow raises
Conflict (409) and changes nothing. No HTTP here.

Instant payments (domain/payments.py's machine):
    approve   CONSENT_AWAITING_AUTHORIZATION (or PREPARING: the payer starts the WhiteLabel
              link first): the payer authorises at the bank (the persona's bank still decides:
              one that refuses refuses, one that waits for its app waits)
    refuse    CONSENT_AWAITING_AUTHORIZATION -> CONSENT_REJECTED (REJEITADO_USUARIO)
    expire    the open window closes now: PREPARING -> EXPIRED, CONSENT_AWAITING_AUTHORIZATION
              or CONSENT_AUTHORIZED -> CONSENT_REJECTED, PAYMENT_PARTIALLY_ACCEPTED -> PAYMENT_REJECTED
    complete  settled now (a scheduled one as if its date had come) -> PAYMENT_COMPLETED
    reject    PAYMENT_PENDING, PAYMENT_PARTIALLY_ACCEPTED or PAYMENT_SETTLEMENT_PROCESSING
              -> PAYMENT_REJECTED with `reason` (default PAGAMENTO_RECUSADO_DETENTORA)
    cancel    PAYMENT_SCHEDULED -> CANCELED (CANCELADO_AGENDAMENTO: the payer, at the bank)
    error     before the payment is made -> ERROR (FALHA_INFRAESTRUTURA)

Automatic Pix consents (domain/automatic_pix.py's machine): approve, refuse, expire, error
before authorisation; revoke an authorised one at the bank (REVOGADO_USUARIO: its pending
and scheduled payments are cancelled). Automatic Pix payments: complete and reject (settled
now, through PAYMENT_SETTLEMENT_PROCESSING; reject's default reason SALDO_INSUFICIENTE, the
one a retry needs), cancel (the payer at the bank: CANCELADO_PAGADOR), error.
"""

from __future__ import annotations

import secrets

from klavi_mock.domain import automatic_pix as ap
from klavi_mock.domain import payments as states
from klavi_mock.domain.payments import InstantPayment
from klavi_mock.errors import Conflict, InvalidRequest
from klavi_mock.sandbox.automatic_pix import DEFAULT_PAYER_ISPB, AutomaticPix
from klavi_mock.sandbox.payments import TIMEOUTS, InstantPayments

# -- instant payments ---------------------------------------------------------------------

INSTANT_REJECT_REASONS = (
    "PAGAMENTO_RECUSADO_DETENTORA",
    "SALDO_INSUFICIENTE",
    "VALOR_ACIMA_LIMITE",
    "FALHA_INFRAESTRUTURA",
    "NAO_INFORMADO",
)
_SETTLING = (states.PAYMENT_PENDING, *states.SETTLEMENT[:-1])
INSTANT_LEVERS: dict[str, tuple[str, ...]] = {  # lever -> the statuses it works from
    "approve": (states.PREPARING, states.CONSENT_AWAITING_AUTHORIZATION),
    "refuse": (states.CONSENT_AWAITING_AUTHORIZATION,),
    "expire": tuple(TIMEOUTS),
    "complete": (states.PAYMENT_PARTIALLY_ACCEPTED, states.PAYMENT_SCHEDULED, *_SETTLING),
    "reject": (states.PAYMENT_PARTIALLY_ACCEPTED, states.PAYMENT_PENDING, states.PAYMENT_SETTLEMENT_PROCESSING),
    "cancel": (states.PAYMENT_SCHEDULED,),
    "error": tuple(s for s, nexts in states.TRANSITIONS.items() if states.ERROR in nexts),
}


def instant_levers(payment: InstantPayment) -> list[str]:
    """The levers a payment in its status takes (the cockpit's buttons)."""
    return [lever for lever, sources in INSTANT_LEVERS.items() if payment.status in sources]


def _check(kind: str, ident: str, status: str, lever: str, sources: tuple[str, ...]) -> None:
    if status not in sources:
        raise Conflict(
            f"{kind} {ident} is {status}; {lever} works only from {', '.join(sources)}"
            " (GET its state for the levers it takes now)"
        )


def _reason(lever: str, reason: str | None, allowed: tuple[str, ...]) -> str:
    if reason is not None and lever != "reject":
        raise InvalidRequest(f"body.reason: only the reject lever takes a reason (this is {lever})")
    chosen = reason or allowed[0]
    if chosen not in allowed:
        raise InvalidRequest(f"body.reason: {chosen!r} is not one of {', '.join(allowed)}")
    return chosen


def force_instant(service: InstantPayments, payment_id: str, lever: str, reason: str | None = None) -> InstantPayment:
    """Pull `lever` on the payment (see the module's docstring)."""
    payment = service.get(None, payment_id)
    code = _reason(lever, reason, INSTANT_REJECT_REASONS)
    _check("payment", payment.id, payment.status, lever, INSTANT_LEVERS[lever])
    store = service.store
    if lever == "approve":
        if payment.status == states.PREPARING and payment.link_token:  # WhiteLabel: the payer starts the link
            payment = service.start_link(payment.link_token, None)
        _approve_instant(service, payment)
        return payment
    with store.updating(payment):
        if lever == "refuse":
            service.move(payment, states.CONSENT_REJECTED, "REJEITADO_USUARIO")
        elif lever == "expire":
            service.move(payment, *TIMEOUTS[payment.status])
        elif lever == "cancel":
            service.move(payment, states.CANCELED, "CANCELADO_AGENDAMENTO")
        elif lever == "error":
            service.move(payment, states.ERROR, "FALHA_INFRAESTRUTURA")
        elif lever == "reject":
            service.move(payment, states.PAYMENT_REJECTED, code)
        else:  # complete: the rest of the way, each step announced
            if payment.status in (states.PAYMENT_PARTIALLY_ACCEPTED, states.PAYMENT_SCHEDULED):
                service.move(payment, states.PAYMENT_PENDING)
            if payment.end_to_end_id is None:
                ispb = (payment.request.get("creditorAccount") or {}).get("ispb") or "00000000"
                payment.end_to_end_id = states.end_to_end_id(ispb, service.clock.now())
            following = dict(zip(_SETTLING, states.SETTLEMENT, strict=True))
            while payment.status != states.PAYMENT_COMPLETED:
                service.move(payment, following[payment.status])
    return payment


def _approve_instant(service: InstantPayments, payment: InstantPayment) -> None:
    """The payer at the bank without the page: the redirect opened (if it was not), then
    Autorizar; what follows is the service's (settlement on the clock, or scheduled)."""
    if not payment.ticket_used:
        with service.store.updating(payment):
            payment.ticket_used = True
            payment.flow_token = payment.flow_token or secrets.token_urlsafe(24)  # as the bank page's
            service.bank_answers_at_once(payment)
    if payment.status == states.CONSENT_AWAITING_AUTHORIZATION and payment.flow_token:
        service.decide(payment.flow_token, approve=True)


# -- Automatic Pix ------------------------------------------------------------------------

CONSENT_LEVERS: dict[str, tuple[str, ...]] = {
    "approve": (ap.STARTED, ap.AWAITING_AUTHORIZATION),
    "refuse": (ap.STARTED, ap.AWAITING_AUTHORIZATION),
    "expire": ap.CONSENT_PENDING,
    "error": (ap.STARTED, ap.AWAITING_AUTHORIZATION),
    "revoke": (ap.AUTHORIZED,),
}
AUTOMATIC_REJECT_REASONS = ("SALDO_INSUFICIENTE", "LIMITE_EXCEDIDO", "FALHA_INFRAESTRUTURA")
PAYMENT_LEVERS: dict[str, tuple[str, ...]] = {
    "complete": (*ap.CANCELLABLE, ap.PAYMENT_SETTLEMENT_PROCESSING),
    "reject": (*ap.CANCELLABLE, ap.PAYMENT_SETTLEMENT_PROCESSING),
    "cancel": ap.CANCELLABLE,
    "error": (*ap.CANCELLABLE, ap.PAYMENT_SETTLEMENT_PROCESSING),
}


def consent_levers(consent: ap.AutomaticConsent) -> list[str]:
    return [lever for lever, sources in CONSENT_LEVERS.items() if consent.status in sources]


def payment_levers(payment: ap.AutomaticPayment) -> list[str]:
    return [lever for lever, sources in PAYMENT_LEVERS.items() if payment.status in sources]


def force_automatic_consent(
    service: AutomaticPix, consent_id: str, lever: str, reason: str | None = None
) -> ap.AutomaticConsent:
    consent = service.get_consent(None, consent_id)
    if reason is not None:
        raise InvalidRequest("body.reason: only a payment's reject lever takes a reason")
    _check("automatic consent", consent.id, consent.status, lever, CONSENT_LEVERS[lever])
    if lever == "approve":  # the persona's bank still decides (one that denies or fails does)
        if consent.status == ap.STARTED:
            service.consent_to(consent, ap.AWAITING_AUTHORIZATION)
        if service.bank_outcome(consent) is None:
            service.decide(consent, approve=True)
    elif lever == "refuse":
        service.decide(consent, approve=False)
    elif lever == "expire":
        service.consent_to(consent, ap.EXPIRED, "TEMPO_EXPIRADO_AUTORIZACAO")
    elif lever == "error":
        service.consent_to(consent, ap.ERROR, "FALHA_INFRAESTRUTURA")
    else:  # revoke: the payer, at their bank
        service.revoke(consent, "REVOGADO_USUARIO")
    return consent


def force_automatic_payment(
    service: AutomaticPix, consent_id: str, payment_id: str, lever: str, reason: str | None = None
) -> ap.AutomaticPayment:
    payment = service.get_payment(None, consent_id, payment_id)
    code = _reason(lever, reason, AUTOMATIC_REJECT_REASONS)
    _check("automatic payment", payment.id, payment.status, lever, PAYMENT_LEVERS[lever])
    if lever == "cancel":
        service.payment_to(payment, ap.CANCELED, "CANCELADO_PAGADOR")
    elif lever == "error":
        service.payment_to(payment, ap.ERROR, "FALHA_INFRAESTRUTURA")
    else:  # complete or reject: settled now, its date or not
        if payment.status in ap.CANCELLABLE:
            service.payment_to(payment, ap.PAYMENT_SETTLEMENT_PROCESSING)
        if lever == "reject":
            service.payment_to(payment, ap.PAYMENT_REJECTED, code)
        else:
            consent = service.get_consent(None, consent_id)
            ispb = (consent.debtor_account or {}).get("ispb", DEFAULT_PAYER_ISPB)
            with service.store.updating(payment):
                payment.end_to_end_id = ap.end_to_end_id(ispb, service.clock.now())
            service.payment_to(payment, ap.PAYMENT_COMPLETED)
    return payment
