"""Automatic Pix (Pix Automático): a recurring-payment consent and the payments charged
against it, with Klavi's documented statuses (docs.klavi.ai/payment/automatic-pix) and
Open Finance Brasil's Pix Automático rules where Klavi's docs are silent.

The consent:

    STARTED --payer opens the bank page--> CONSENT_AWAITING_AUTHORIZATION --approves--> CONSENT_AUTHORIZED
       |  payer refuses: CONSENT_REJECTED; the bank fails: ERROR; 60 minutes pass: EXPIRED
    CONSENT_AUTHORIZED: cancelled by consent / revoked at the bank: CONSENT_REVOKED

CONSENT_PARTIALLY_ACCEPTED: a company's first approver said yes, the others not yet (then
CONSENT_AUTHORIZED). CONSENT_PERIOD_EXPIRED is in the machine as documented; nothing in the
mock leads there yet.

A payment:

    PAYMENT_PENDING (due today) | PAYMENT_SCHEDULED (a later date)
       --its date comes--> PAYMENT_SETTLEMENT_PROCESSING --> PAYMENT_COMPLETED | PAYMENT_REJECTED
    PENDING or SCHEDULED, until the day before its date: CANCELED

Dates are Brasília calendar dates (UTC-3; Brazil keeps no daylight saving time). Pure: no
storage, no HTTP; every rule raises InvalidRequest naming the field, or Conflict.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

from klavi_mock.domain import pix
from klavi_mock.errors import Conflict, InvalidRequest

# -- statuses (docs.klavi.ai/payment/automatic-pix) ---------------------------------------

STARTED = "STARTED"
AWAITING_AUTHORIZATION = "CONSENT_AWAITING_AUTHORIZATION"
AUTHORIZED = "CONSENT_AUTHORIZED"
REJECTED = "CONSENT_REJECTED"
PARTIALLY_ACCEPTED = "CONSENT_PARTIALLY_ACCEPTED"
REVOKED = "CONSENT_REVOKED"
PERIOD_EXPIRED = "CONSENT_PERIOD_EXPIRED"
EXPIRED = "EXPIRED"
ERROR = "ERROR"

CONSENT_STATUSES = (
    STARTED,
    AWAITING_AUTHORIZATION,
    AUTHORIZED,
    REJECTED,
    PARTIALLY_ACCEPTED,
    REVOKED,
    PERIOD_EXPIRED,
    EXPIRED,
    ERROR,
)
CONSENT_PENDING = (STARTED, AWAITING_AUTHORIZATION, PARTIALLY_ACCEPTED)
CONSENT_TRANSITIONS: dict[str, tuple[str, ...]] = {
    STARTED: (AWAITING_AUTHORIZATION, REJECTED, EXPIRED, ERROR, REVOKED),
    AWAITING_AUTHORIZATION: (AUTHORIZED, PARTIALLY_ACCEPTED, REJECTED, EXPIRED, ERROR, REVOKED),
    PARTIALLY_ACCEPTED: (AUTHORIZED, REJECTED, EXPIRED, REVOKED),
    AUTHORIZED: (REVOKED, PERIOD_EXPIRED),
}

PAYMENT_PENDING = "PAYMENT_PENDING"
PAYMENT_READY_FOR_SETTLEMENT = "PAYMENT_READY_FOR_SETTLEMENT"
PAYMENT_SCHEDULED = "PAYMENT_SCHEDULED"
PAYMENT_SETTLEMENT_PROCESSING = "PAYMENT_SETTLEMENT_PROCESSING"
PAYMENT_COMPLETED = "PAYMENT_COMPLETED"
PAYMENT_REJECTED = "PAYMENT_REJECTED"
CANCELED = "CANCELED"

PAYMENT_STATUSES = (
    PAYMENT_PENDING,
    PAYMENT_READY_FOR_SETTLEMENT,
    PAYMENT_SCHEDULED,
    PAYMENT_SETTLEMENT_PROCESSING,
    PAYMENT_COMPLETED,
    PAYMENT_REJECTED,
    CANCELED,
    ERROR,
)
PAYMENT_TRANSITIONS: dict[str, tuple[str, ...]] = {
    PAYMENT_PENDING: (PAYMENT_SETTLEMENT_PROCESSING, CANCELED, PAYMENT_REJECTED, ERROR),
    PAYMENT_SCHEDULED: (PAYMENT_SETTLEMENT_PROCESSING, CANCELED, PAYMENT_REJECTED, ERROR),
    PAYMENT_SETTLEMENT_PROCESSING: (PAYMENT_COMPLETED, PAYMENT_REJECTED, ERROR),
}
CANCELLABLE = (PAYMENT_PENDING, PAYMENT_SCHEDULED)

# Why a consent or a payment is where it is (Open Finance Brasil's codes where it has one).
REASONS = {
    "REJEITADO_USUARIO": "O usuário rejeitou a autorização na instituição detentora.",
    "TEMPO_EXPIRADO_AUTORIZACAO": "O consentimento não foi autorizado em 60 minutos.",
    "FALHA_INFRAESTRUTURA": "A instituição detentora falhou ao autorizar.",
    "REVOGADO_RECEBEDOR": "O consentimento foi cancelado pelo recebedor (cancelamento por consentimento).",
    "REVOGADO_USUARIO": "O usuário revogou o consentimento na instituição detentora.",
    "SALDO_INSUFICIENTE": "A conta do pagador não tem saldo suficiente.",
    "LIMITE_EXCEDIDO": "O valor excede o limite de transações Pix da conta do pagador.",
    "CANCELADO_RECEBEDOR": "O pagamento agendado foi cancelado pelo recebedor.",
    "CANCELADO_CONSENTIMENTO_REVOGADO": "O consentimento foi revogado; o agendamento foi cancelado.",
    "CANCELADO_PAGADOR": "O pagador cancelou o agendamento na instituição detentora.",
}

# -- time rules -------------------------------------------------------------------------

AUTHORISATION_WINDOW = timedelta(minutes=60)  # "CONSENT_AWAITING_AUTHORIZATION ... (60 minutes)"
SETTLEMENT_TIME = timedelta(minutes=5)  # mock choice: PAYMENT_SETTLEMENT_PROCESSING lasts 5 minutes
BRASILIA = timezone(timedelta(hours=-3))
EARLIEST_SCHEDULE_DAYS = 2  # OFB Pix Automático: a charge is scheduled D+2 ...
LATEST_SCHEDULE_DAYS = 10  # ... to D+10
RETRY_WINDOW_DAYS = 7  # OFB: retries ("tentativas extradia") within 7 days of the original date
MAX_RETRIES = 3  # OFB: at most 3 of them

INTERVALS = {"WEEKLY": 0, "MONTHLY": 1, "QUARTERLY": 3, "SEMIANNUAL": 6, "ANNUAL": 12}  # months a period (0: 7 days)
CURRENCY = pix.CURRENCY


def today(now: datetime) -> date:
    """The Brasília calendar date at `now`."""
    return now.astimezone(BRASILIA).date()


def start_of(day: date) -> datetime:
    """00:00 in Brasília on `day` (when a payment dated that day settles)."""
    return datetime.combine(day, time(0), tzinfo=BRASILIA).astimezone(timezone.utc)


# -- field rules (each raising InvalidRequest naming the field) --------------------------


def _bad(where: str, problem: str) -> InvalidRequest:
    return InvalidRequest(f"{where}: {problem}")


def amount_of(value: object, where: str) -> Decimal:
    """A positive amount with two decimals: "1333.00" (pix.check_amount); a JSON number is
    taken too (the docs' create-a-payment example sends `"amount": 0`)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        exact = Decimal(str(value))
        if exact.is_finite() and exact != exact.quantize(Decimal("0.01")):
            raise _bad(where, f"{value} has more than two decimal places")
        value = f"{exact:.2f}" if exact.is_finite() else str(value)
    return pix.check_amount(where, value)


def money(amount: Decimal) -> str:
    return f"{amount:.2f}"


def check_party(party: object, where: str, strict: bool) -> list[str]:
    """A person or company (pix.check_person: CPF or CNPJ as identifierType says); the
    tolerated notes (check digits wrong, without strictTaxIds: the data API's choice)."""
    return pix.check_person(where, party, strict=strict)


@dataclass(frozen=True)
class Limits:
    """What a consent lets be charged: a fixed amount, or between a minimum and a maximum."""

    fixed: Decimal | None
    minimum: Decimal | None
    maximum: Decimal | None

    def problem(self, amount: Decimal) -> str | None:
        if self.fixed is not None and amount != self.fixed:
            return f"{money(amount)} differs from the consent's fixedAmount {money(self.fixed)}"
        if self.minimum is not None and amount < self.minimum:
            return f"{money(amount)} is below the consent's minimumVariableAmount {money(self.minimum)}"
        if self.maximum is not None and amount > self.maximum:
            return f"{money(amount)} exceeds the consent's maximumVariableAmount {money(self.maximum)}"
        return None


def limits_of(config: dict, where: str = "body.paymentMethodConfig") -> Limits:
    def read(name: str) -> Decimal | None:
        return amount_of(config[name], f"{where}.{name}") if config.get(name) is not None else None

    fixed, minimum, maximum = read("fixedAmount"), read("minimumVariableAmount"), read("maximumVariableAmount")
    if fixed is not None and (minimum is not None or maximum is not None):
        raise _bad(f"{where}.fixedAmount", "a fixed amount excludes minimumVariableAmount and maximumVariableAmount")
    if minimum is not None and maximum is not None and minimum > maximum:
        raise _bad(
            f"{where}.minimumVariableAmount", f"{money(minimum)} is above maximumVariableAmount {money(maximum)}"
        )
    return Limits(fixed, minimum, maximum)


def check_consent_request(body: dict, now: datetime, strict: bool = False, where: str = "body") -> list[str]:
    """Everything POST /automatic/consents (or a consent link's `consent`) must get right
    that the spec's schema cannot say: tax ids, accounts, amounts, dates. The tolerated
    notes (CPF/CNPJ check digits, refused instead when `strict`: strictTaxIds). `where`: the
    consent's place in the request (a consent link's is body.consent)."""
    notes = check_party(body.get("customer"), f"{where}.customer", strict)
    notes += pix.check_account(f"{where}.creditorAccount", body.get("creditorAccount"), holder=True, strict=strict)
    if body.get("debtorAccount") is not None:
        pix.check_account(f"{where}.debtorAccount", body["debtorAccount"], holder=False)
    config = body.get("paymentMethodConfig")
    if not isinstance(config, dict):
        raise _bad(f"{where}.paymentMethodConfig", "is required")
    at = f"{where}.paymentMethodConfig"
    contract = config.get("contractId")
    if not isinstance(contract, str) or not 1 <= len(contract) <= 35:
        raise _bad(f"{at}.contractId", "is required: 1 to 35 characters")
    limits_of(config, at)
    pix.check_currency(f"{at}.currency", config.get("currency", CURRENCY))
    if config.get("interval") not in INTERVALS:
        raise _bad(f"{at}.interval", f"must be one of {', '.join(INTERVALS)}")
    pix.check_date(f"{at}.referenceStartDate", config.get("referenceStartDate"))
    notes += check_party(config.get("contractDebtor"), f"{at}.contractDebtor", strict)
    if not isinstance(config.get("isRetryAccepted", False), bool):
        raise _bad(f"{at}.isRetryAccepted", "must be true or false")
    first = config.get("firstPayment")
    if first is not None:
        if not isinstance(first, dict):
            raise _bad(f"{at}.firstPayment", "must be an object")
        amount_of(first.get("amount"), f"{at}.firstPayment.amount")
        pix.check_currency(f"{at}.firstPayment.currency", first.get("currency", CURRENCY))
        day = pix.check_date(f"{at}.firstPayment.date", first.get("date"))
        if day < today(now):
            raise _bad(f"{at}.firstPayment.date", f"{day} is in the past (today is {today(now)} in Brasília)")
        if day > today(now) + timedelta(days=LATEST_SCHEDULE_DAYS):
            raise _bad(f"{at}.firstPayment.date", f"{day} is more than {LATEST_SCHEDULE_DAYS} days ahead")
    return notes


def fingerprint(body: dict) -> str:
    """What makes two requests with one clientRequestId the same request."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def period_of(interval: str, reference: date, day: date) -> int:
    """Which recurrence period `day` falls in, counted from the consent's referenceStartDate."""
    months = INTERVALS[interval]
    if months == 0:
        return (day - reference).days // 7
    return ((day.year - reference.year) * 12 + day.month - reference.month) // months


# -- the consent ------------------------------------------------------------------------


@dataclass
class AutomaticConsent:
    id: str
    tenant_id: str
    client_request_id: str
    fingerprint: str
    institution_id: str
    customer: dict
    redirect_url: str
    creditor_account: dict
    payment_method_config: dict
    created_at: datetime
    persona_id: str
    additional_information: str | None = None
    debtor_account: dict | None = None
    client_metadata: dict = field(default_factory=dict)
    external_info: dict | None = None
    link: bool = False  # made through POST /automatic/consent-links (WhiteLabel)
    status: str = STARTED
    status_reason: str | None = None
    status_update_at: datetime | None = None
    cancelled_by: dict | None = None  # who cancelled by consent: {cancelledBy, identifierType}
    # The bank step: the consent URL's ticket opens the bank page, which can be opened again
    # while the consent waits (a payer who reloads it).
    ticket: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    consent_url: str = ""  # the bank page's address (the mock's own, as the client reached it)

    @property
    def config(self) -> dict:
        return self.payment_method_config

    @property
    def limits(self) -> Limits:
        return limits_of(self.config)

    @property
    def retry_accepted(self) -> bool:
        return bool(self.config.get("isRetryAccepted", False))

    @property
    def reference_start(self) -> date:
        return date.fromisoformat(self.config["referenceStartDate"])

    def authorisation_deadline(self) -> datetime:
        return self.created_at + AUTHORISATION_WINDOW

    def move_to(self, status: str, now: datetime, reason: str | None = None) -> None:
        """The only way a status changes: refuses what the state machine does not allow."""
        if status not in CONSENT_TRANSITIONS.get(self.status, ()):
            raise Conflict(f"automatic consent {self.id} is {self.status}; it cannot become {status}")
        self.status = status
        self.status_reason = reason
        self.status_update_at = now


def new_consent(*, tenant_id: str, body: dict, persona_id: str, now: datetime, link: bool = False) -> AutomaticConsent:
    """A consent from a request `check_consent_request` accepted."""
    config = dict(body["paymentMethodConfig"])
    config.setdefault("currency", CURRENCY)
    config.setdefault("isRetryAccepted", False)
    return AutomaticConsent(
        id=str(uuid.uuid4()),
        tenant_id=tenant_id,
        client_request_id=body["clientRequestId"],
        fingerprint=fingerprint(body),
        institution_id=body.get("institutionId", ""),
        customer=body["customer"],
        redirect_url=body.get("redirectUrl", ""),
        creditor_account=body["creditorAccount"],
        payment_method_config=config,
        created_at=now,
        status_update_at=now,
        persona_id=persona_id,
        additional_information=body.get("additionalInformation"),
        debtor_account=body.get("debtorAccount"),
        client_metadata=body.get("clientMetadata") or {},
        external_info=body.get("externalInfo"),
        link=link,
    )


# -- a payment --------------------------------------------------------------------------


@dataclass
class AutomaticPayment:
    id: str
    consent_id: str
    tenant_id: str
    client_request_id: str
    fingerprint: str
    amount: str
    due_date: str  # YYYY-MM-DD, Brasília (the API's `date`)
    created_at: datetime
    currency: str = CURRENCY
    remittance_information: str | None = None
    creditor_account: dict | None = None
    first: bool = False  # the consent's firstPayment
    original_payment_id: str | None = None  # a retry: the payment it retries
    status: str = PAYMENT_SCHEDULED
    status_reason: str | None = None
    status_update_at: datetime | None = None
    end_to_end_id: str | None = None  # once settled
    cancellation: dict | None = None  # who cancelled it: {cancelledBy, identifierType}

    @property
    def day(self) -> date:
        return date.fromisoformat(self.due_date)

    def settles_at(self) -> datetime:
        return start_of(self.day)

    def move_to(self, status: str, now: datetime, reason: str | None = None) -> None:
        if status not in PAYMENT_TRANSITIONS.get(self.status, ()):
            raise Conflict(f"automatic payment {self.id} is {self.status}; it cannot become {status}")
        self.status = status
        self.status_reason = reason
        self.status_update_at = now


def end_to_end_id(ispb: str, now: datetime) -> str:
    """A Pix endToEndId: E + the payer institution's ISPB + yyyyMMddHHmm + 11 characters."""
    return f"E{ispb}{now.astimezone(timezone.utc):%Y%m%d%H%M}{secrets.token_hex(6)[:11]}"


def _payment(
    consent: AutomaticConsent, client_request_id: str, body: dict, amount: Decimal, day: date, now: datetime, **extra
) -> AutomaticPayment:
    return AutomaticPayment(
        id=str(uuid.uuid4()),
        consent_id=consent.id,
        tenant_id=consent.tenant_id,
        client_request_id=client_request_id,
        fingerprint=fingerprint(body),
        amount=money(amount),
        due_date=day.isoformat(),
        created_at=now,
        status=PAYMENT_PENDING if day <= today(now) else PAYMENT_SCHEDULED,
        status_update_at=now,
        **extra,
    )


def first_payment(consent: AutomaticConsent, now: datetime) -> AutomaticPayment | None:
    """The consent's firstPayment, made when the payer authorises it (None if it has none)."""
    first = consent.config.get("firstPayment")
    if not first:
        return None
    day = max(date.fromisoformat(first["date"]), today(now))
    return _payment(
        consent,
        f"{consent.client_request_id}:firstPayment",
        first,
        amount_of(first["amount"], "firstPayment.amount"),
        day,
        now,
        remittance_information=first.get("remittanceInformation"),
        creditor_account=consent.creditor_account,
        first=True,
    )


def charge(consent: AutomaticConsent, body: dict, others: list[AutomaticPayment], now: datetime) -> AutomaticPayment:
    """A charge (POST /automatic/consents/{consentId}/payments) under the Pix Automático
    rules: an authorised consent; D+2 to D+10; on or after referenceStartDate; one charge a
    recurrence period; within the consent's amounts; in reais."""
    if consent.status != AUTHORIZED:
        raise Conflict(f"automatic consent {consent.id} is {consent.status}; payments need CONSENT_AUTHORIZED")
    amount = amount_of(body.get("amount"), "body.amount")
    problem = consent.limits.problem(amount)
    if problem:
        raise _bad("body.amount", problem)
    pix.check_currency("body.currency", body.get("currency", CURRENCY))
    day = pix.check_date("body.date", body.get("date"))
    earliest, latest = (
        today(now) + timedelta(days=EARLIEST_SCHEDULE_DAYS),
        today(now) + timedelta(days=LATEST_SCHEDULE_DAYS),
    )
    if not earliest <= day <= latest:
        raise _bad(
            "body.date",
            f"{day} is not allowed: Pix Automático charges are scheduled {EARLIEST_SCHEDULE_DAYS} to "
            f"{LATEST_SCHEDULE_DAYS} days ahead ({earliest} to {latest})",
        )
    if day < consent.reference_start:
        raise _bad("body.date", f"{day} is before the consent's referenceStartDate {consent.reference_start}")
    interval = consent.config["interval"]
    period = period_of(interval, consent.reference_start, day)
    for other in others:
        if (
            not other.first
            and other.original_payment_id is None
            and other.status not in (CANCELED, ERROR)
            and period_of(interval, consent.reference_start, other.day) == period
        ):
            raise _bad(
                "body.date", f"{day} falls in the same {interval} period as payment {other.id} ({other.due_date})"
            )
    account = body.get("creditorAccount") or {}
    if "ispb" in account or "number" in account:
        pix.check_account("body.creditorAccount", account, holder=False)
    else:
        account = None
    return _payment(
        consent,
        body["clientRequestId"],
        body,
        amount,
        day,
        now,
        remittance_information=body.get("remittanceInformation"),
        creditor_account=account or consent.creditor_account,
    )


def retry(
    consent: AutomaticConsent, original: AutomaticPayment, body: dict, retries: list[AutomaticPayment], now: datetime
) -> AutomaticPayment:
    """A new attempt at a rejected charge (POST .../payments/{paymentId}/retry): only when
    the consent accepts retries (isRetryAccepted), for a charge refused for want of funds,
    at most 3 times, on a later day within 7 days of the original date."""
    if consent.status != AUTHORIZED:
        raise Conflict(f"automatic consent {consent.id} is {consent.status}; retries need CONSENT_AUTHORIZED")
    if not consent.retry_accepted:
        raise Conflict(f"automatic consent {consent.id} does not accept retries (isRetryAccepted is false)")
    if original.status != PAYMENT_REJECTED or original.status_reason != "SALDO_INSUFICIENTE":
        raise Conflict(
            f"payment {original.id} is {original.status}; only a payment rejected for insufficient funds is retried"
        )
    if len(retries) >= MAX_RETRIES:
        raise Conflict(f"payment {original.id} was already retried {MAX_RETRIES} times")
    day = pix.check_date("body.date", body.get("date"))
    first_day, last_day = today(now) + timedelta(days=1), original.day + timedelta(days=RETRY_WINDOW_DAYS)
    if not first_day <= day <= last_day:
        raise _bad(
            "body.date",
            f"{day} is not allowed: a retry is scheduled from tomorrow ({first_day}) to {RETRY_WINDOW_DAYS} "
            f"days after the original date ({last_day})",
        )
    return _payment(
        consent,
        body["clientRequestId"],
        body,
        Decimal(original.amount),
        day,
        now,
        remittance_information=original.remittance_information,
        creditor_account=original.creditor_account,
        original_payment_id=original.id,
    )


def check_cancellation(body: dict, strict: bool = False) -> tuple[dict, list[str]]:
    """Who cancels: {cancelledBy: a CPF or CNPJ as identifierType says}; the tolerated notes."""
    note = pix.check_tax_id("body.cancelledBy", body.get("identifierType"), body.get("cancelledBy"), strict)
    return {"cancelledBy": body["cancelledBy"], "identifierType": body["identifierType"]}, [note] if note else []


def cancel(payment: AutomaticPayment, who: dict, now: datetime, reason: str = "CANCELADO_RECEBEDOR") -> None:
    """A scheduled charge is cancelled until the day before its date (OFB: up to 23:59 of D-1)."""
    if payment.status not in CANCELLABLE:
        raise Conflict(f"payment {payment.id} is {payment.status}; only a pending or scheduled payment is cancelled")
    if payment.day <= today(now):
        raise Conflict(
            f"payment {payment.id} is due today ({payment.due_date}); it can be cancelled until the day before"
        )
    payment.move_to(CANCELED, now, reason)
    payment.cancellation = who
