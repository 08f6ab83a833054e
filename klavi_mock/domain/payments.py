"""Instant Pix payments (payment initiation): what POST /instant/payments takes, and the one
status machine they follow (docs.klavi.ai payment/instant-payment and payment/payment-status).

    PREPARING (a WhiteLabel link, its payer still to fill in the payment)
      -> CONSENT_AWAITING_AUTHORIZATION --payer approves--> CONSENT_AUTHORIZED
           |  payer refuses, or 60 minutes without an answer: CONSENT_REJECTED
      CONSENT_AUTHORIZED -> PAYMENT_PENDING (the consent consumed at once)
           |  5 minutes without a payment (a stalled bank): CONSENT_REJECTED
           |  several approvers needed: PAYMENT_PARTIALLY_ACCEPTED; 24 h without the rest: PAYMENT_REJECTED
      PAYMENT_PENDING -> PAYMENT_SCHEDULED (a future date) -> ... at the date: PAYMENT_PENDING
      PAYMENT_PENDING -> PAYMENT_SETTLEMENT_PROCESSING -> PAYMENT_SETTLEMENT_DEBTOR_ACCOUNT
                      -> PAYMENT_COMPLETED, one step a second on the clock
      PAYMENT_PENDING: insufficient funds and other refusals of the payer's bank: PAYMENT_REJECTED
      PAYMENT_SCHEDULED: cancelled by the payer at the bank: CANCELED
      a WhiteLabel link nobody starts within 60 minutes: EXPIRED

CONSENT_REJECTED, PAYMENT_REJECTED, PAYMENT_COMPLETED, CANCELED, ERROR and EXPIRED are final.
A status reason is `{code, message}` with Open Finance Brasil's codes (the docs' example:
NAO_INFORMADO).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from klavi_mock.domain import pix
from klavi_mock.errors import Conflict, InvalidRequest

PREPARING = "PREPARING"
STARTED = "STARTED"
ENQUEUED = "ENQUEUED"
CONSENT_AWAITING_AUTHORIZATION = "CONSENT_AWAITING_AUTHORIZATION"
CONSENT_AUTHORIZED = "CONSENT_AUTHORIZED"
CONSENT_REJECTED = "CONSENT_REJECTED"
PAYMENT_PARTIALLY_ACCEPTED = "PAYMENT_PARTIALLY_ACCEPTED"
PAYMENT_PENDING = "PAYMENT_PENDING"
PAYMENT_READY_FOR_SETTLEMENT = "PAYMENT_READY_FOR_SETTLEMENT"
PAYMENT_SCHEDULED = "PAYMENT_SCHEDULED"
PAYMENT_SETTLEMENT_PROCESSING = "PAYMENT_SETTLEMENT_PROCESSING"
PAYMENT_SETTLEMENT_DEBTOR_ACCOUNT = "PAYMENT_SETTLEMENT_DEBTOR_ACCOUNT"
PAYMENT_COMPLETED = "PAYMENT_COMPLETED"
PAYMENT_REJECTED = "PAYMENT_REJECTED"
CANCELED = "CANCELED"
ERROR = "ERROR"
EXPIRED = "EXPIRED"

STATUSES = (
    PREPARING,
    STARTED,
    ENQUEUED,
    CONSENT_AWAITING_AUTHORIZATION,
    CONSENT_AUTHORIZED,
    CONSENT_REJECTED,
    PAYMENT_PARTIALLY_ACCEPTED,
    PAYMENT_PENDING,
    PAYMENT_READY_FOR_SETTLEMENT,
    PAYMENT_SCHEDULED,
    PAYMENT_SETTLEMENT_PROCESSING,
    PAYMENT_SETTLEMENT_DEBTOR_ACCOUNT,
    PAYMENT_COMPLETED,
    PAYMENT_REJECTED,
    CANCELED,
    ERROR,
    EXPIRED,
)
FINAL = (CONSENT_REJECTED, PAYMENT_REJECTED, PAYMENT_COMPLETED, CANCELED, ERROR, EXPIRED)
# The settlement steps after PAYMENT_PENDING, one each SETTLEMENT_STEP on the clock.
SETTLEMENT = (PAYMENT_SETTLEMENT_PROCESSING, PAYMENT_SETTLEMENT_DEBTOR_ACCOUNT, PAYMENT_COMPLETED)
TRANSITIONS: dict[str, tuple[str, ...]] = {
    PREPARING: (CONSENT_AWAITING_AUTHORIZATION, EXPIRED, ERROR),
    CONSENT_AWAITING_AUTHORIZATION: (CONSENT_AUTHORIZED, CONSENT_REJECTED, ERROR),
    CONSENT_AUTHORIZED: (PAYMENT_PENDING, PAYMENT_PARTIALLY_ACCEPTED, CONSENT_REJECTED, ERROR),
    PAYMENT_PARTIALLY_ACCEPTED: (PAYMENT_PENDING, PAYMENT_REJECTED),
    PAYMENT_PENDING: (PAYMENT_SCHEDULED, PAYMENT_SETTLEMENT_PROCESSING, PAYMENT_REJECTED),
    PAYMENT_SCHEDULED: (PAYMENT_PENDING, CANCELED),
    PAYMENT_SETTLEMENT_PROCESSING: (PAYMENT_SETTLEMENT_DEBTOR_ACCOUNT, PAYMENT_REJECTED),
    PAYMENT_SETTLEMENT_DEBTOR_ACCOUNT: (PAYMENT_COMPLETED,),
}

INIT_TYPES = ("PIX_MANU", "PIX_DICT", "PIX_QRCODE", "PIX_INIC", "PIX_MANU_AUTO")

REDIRECT_TTL = timedelta(seconds=60)  # redirectConsentURL: opened once, within 60 seconds
AUTHORISATION_WINDOW = timedelta(minutes=60)  # CONSENT_AWAITING_AUTHORIZATION: 60 minutes
CONSUMPTION_WINDOW = timedelta(minutes=5)  # CONSENT_AUTHORIZED: 5 minutes
PARTIAL_WINDOW = timedelta(hours=24)  # PAYMENT_PARTIALLY_ACCEPTED: 24 hours
LINK_WINDOW = timedelta(minutes=60)  # a WhiteLabel link not started: EXPIRED (a mock choice)
SETTLEMENT_STEP = timedelta(seconds=1)
# `date` is Brasília's (the docs: "utc -3"); Brazil has had no daylight saving since 2019.
BRASILIA = timezone(timedelta(hours=-3))

# Open Finance Brasil's reason codes (payments API: consent rejection, payment rejection,
# cancellation), with the Portuguese messages the payer's bank would give.
REASONS = {
    "NAO_INFORMADO": "Erro não informado na iniciadora ou detentora de conta.",
    "REJEITADO_USUARIO": "O usuário rejeitou a autorização do consentimento na detentora de conta.",
    "TEMPO_EXPIRADO_AUTORIZACAO": "O consentimento não foi autorizado em 60 minutos.",
    "TEMPO_EXPIRADO_CONSUMO": "O consentimento autorizado não foi consumido em 5 minutos.",
    "SALDO_INSUFICIENTE": "A conta do pagador não tem saldo suficiente para o pagamento.",
    "VALOR_ACIMA_LIMITE": "O valor ultrapassa o limite da conta do pagador para a transação.",
    "PAGAMENTO_RECUSADO_DETENTORA": "A detentora de conta recusou o pagamento.",
    "FALHA_INFRAESTRUTURA": "Falha de infraestrutura na detentora de conta.",
    "TEMPO_EXPIRADO_MULTIPLAS_ALCADAS": "As demais alçadas não autorizaram o pagamento em 24 horas.",
    "CANCELADO_AGENDAMENTO": "O pagador cancelou o agendamento na detentora de conta.",
    "LINK_EXPIRADO": "O link de pagamento não foi usado em 60 minutos.",
}


@dataclass
class InstantPayment:
    id: str
    tenant_id: str
    client_request_id: str
    request: dict  # the payment as the client sent it (the GET answers its fields back)
    fingerprint: str  # of the request: the same clientRequestId with another body is refused
    created_at: datetime
    persona_id: str
    status: str = CONSENT_AWAITING_AUTHORIZATION
    status_reason: str | None = None  # a REASONS code
    status_update_at: datetime | None = None
    consent_id: str = field(default_factory=lambda: f"urn:klavi-mock:{uuid.uuid4()}")
    end_to_end_id: str | None = None
    authorised_at: datetime | None = None
    # The bank step: the redirect ticket works once, within REDIRECT_TTL; the flow token
    # then carries the browser through the bank page.
    ticket: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    ticket_used: bool = False
    flow_token: str | None = None
    # WhiteLabel: made through POST /instant/payment-links; its page token and whether
    # its one payment initiation has been started.
    link_token: str | None = None
    link_started: bool = False
    history: list[dict] = field(default_factory=list)  # each status, when (the control API shows it)

    @property
    def init_type(self) -> str:
        return str(self.request.get("initType", ""))

    @property
    def amount(self) -> str:
        return str(self.request.get("amount", ""))

    @property
    def payer_tax_id(self) -> str:
        customer = self.request.get("customer") or {}
        return str(self.request.get("loggedUserCpf") or customer.get("identifier") or "")

    def scheduled_for(self) -> date | None:
        raw = self.request.get("date")
        return date.fromisoformat(raw) if raw else None

    def settles_at(self, today: date) -> datetime | None:
        """When a payment for a later date than `today` (Brasília) is paid: that day's start
        in Brasília; None when it is paid now."""
        day = self.scheduled_for()
        if day is None or day <= today:
            return None
        return datetime.combine(day, time(0, 0), tzinfo=BRASILIA).astimezone(timezone.utc)

    def redirect_usable(self, now: datetime) -> bool:
        return (
            self.status == CONSENT_AWAITING_AUTHORIZATION
            and not self.ticket_used
            and now <= (self.status_update_at or self.created_at) + REDIRECT_TTL
        )

    def move_to(self, status: str, now: datetime, reason: str | None = None) -> None:
        """The only way a status changes: refuses what the state machine does not allow."""
        if status not in TRANSITIONS.get(self.status, ()):
            final = " (final)" if self.status in FINAL else ""
            raise Conflict(f"payment {self.id} is {self.status}{final}; it cannot become {status}")
        self.status = status
        self.status_reason = reason
        self.status_update_at = now
        self.history.append({"status": status, "at": now.isoformat()})


def fingerprint(request: dict) -> str:
    return hashlib.sha256(json.dumps(request, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def check_payment(body: dict, *, today: date, strict: bool = False, where: str = "body") -> list[str]:
    """Every rule the schema cannot say, field by field (the first problem raises
    InvalidRequest naming its field); the tolerated notes (wrong check digits)."""
    notes: list[str] = []
    init_type = body.get("initType")
    if init_type not in INIT_TYPES:
        raise InvalidRequest(f"{where}.initType: {json.dumps(init_type)} is not one of {', '.join(INIT_TYPES)}")
    notes += pix.check_person(f"{where}.customer", body.get("customer"), strict=strict)
    customer = body.get("customer") or {}
    if customer.get("identifierType") == "CNPJ" and not body.get("loggedUserCpf"):
        raise InvalidRequest(f"{where}.loggedUserCpf: is required when customer.identifierType is CNPJ")
    if body.get("loggedUserCpf") is not None:
        note = pix.check_tax_id(f"{where}.loggedUserCpf", "CPF", body["loggedUserCpf"], strict)
        notes += [note] if note else []
    pix.check_amount(f"{where}.amount", body.get("amount"))
    pix.check_currency(f"{where}.currency", body.get("currency"))
    if body.get("date") is not None:
        day = pix.check_date(f"{where}.date", body["date"])
        if day < today:
            raise InvalidRequest(
                f"{where}.date: {body['date']} is in the past (today is {today.isoformat()} in Brasília)"
            )
        if day > today + timedelta(days=365):
            raise InvalidRequest(f"{where}.date: {body['date']} is more than 365 days ahead (Open Finance's limit)")
    if body.get("debtorAccount") is not None:
        notes += pix.check_account(f"{where}.debtorAccount", body["debtorAccount"], holder=False)
    creditor = body.get("creditorAccount")
    if init_type == "PIX_MANU" and creditor is None:
        raise InvalidRequest(f"{where}.creditorAccount: is required when initType is PIX_MANU")
    if creditor is not None:
        notes += pix.check_account(f"{where}.creditorAccount", creditor, holder=True, strict=strict)
    if init_type in ("PIX_DICT", "PIX_INIC") and not body.get("proxy"):
        raise InvalidRequest(f"{where}.proxy: is required when initType is {init_type} (the creditor's Pix key)")
    if body.get("proxy") is not None:
        notes += pix.check_pix_key(f"{where}.proxy", body["proxy"], strict)[1]
    if init_type == "PIX_QRCODE":
        if not body.get("qrCode"):
            raise InvalidRequest(f"{where}.qrCode: is required when initType is PIX_QRCODE (the BR Code, copia e cola)")
        code = pix.parse_br_code(f"{where}.qrCode", body["qrCode"])
        if code.amount is not None and code.amount != pix.check_amount(f"{where}.amount", body["amount"]):
            raise InvalidRequest(
                f"{where}.amount: {body['amount']} differs from the amount the qrCode fixes (field 54: {code.amount})"
            )
    elif body.get("qrCode") is not None:
        pix.parse_br_code(f"{where}.qrCode", body["qrCode"])
    return notes


def creditor_of(payment: InstantPayment) -> dict:
    """Who is paid, for the bank page: a name and what identifies the account."""
    request = payment.request
    creditor = request.get("creditorAccount") or {}
    holder = creditor.get("holder") or {}
    if payment.init_type == "PIX_QRCODE" and request.get("qrCode"):
        code = pix.parse_br_code("qrCode", request["qrCode"])
        return {"name": code.merchant_name, "key": code.key or code.url or "", "account": None}
    account = None
    if creditor:
        account = (
            f"ISPB {creditor.get('ispb')} · agência {creditor.get('issuer', '-')} · conta {creditor.get('number')}"
        )
    return {"name": holder.get("name") or "", "key": request.get("proxy") or "", "account": account}


def new_payment(
    *, tenant_id: str, request: dict, persona_id: str, now: datetime, status: str = CONSENT_AWAITING_AUTHORIZATION
) -> InstantPayment:
    payment = InstantPayment(
        id=str(uuid.uuid4()),
        tenant_id=tenant_id,
        client_request_id=str(request.get("clientRequestId", "")),
        request=request,
        fingerprint=fingerprint(request),
        created_at=now,
        status_update_at=now,
        persona_id=persona_id,
        status=status,
    )
    payment.history.append({"status": status, "at": now.isoformat()})
    return payment


def end_to_end_id(ispb: str, now: datetime) -> str:
    """Pix's endToEndId: E, the ISPB, yyyyMMddHHmm (UTC), 11 random alphanumerics."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    tail = "".join(secrets.choice(alphabet) for _ in range(11))
    return f"E{ispb}{now.strftime('%Y%m%d%H%M')}{tail}"


def brasilia_today(now: datetime) -> date:
    return now.astimezone(BRASILIA).date()
