"""The Automatic Pix domain (klavi_mock/domain/automatic_pix.py): the field rules, the
consent's and a payment's state machines, and Pix Automático's scheduling rules."""

from __future__ import annotations

import copy
from datetime import date, datetime, timedelta, timezone

import pytest

from klavi_mock.domain import automatic_pix as ap
from klavi_mock.errors import Conflict, InvalidRequest

# 15:00 UTC is 12:00 in Brasília: the same calendar date in both.
NOW = datetime(2025, 5, 12, 15, 0, tzinfo=timezone.utc)
TODAY = date(2025, 5, 12)

CONSENT = {
    "clientRequestId": "req-1",
    "institutionId": "c8f0bf49-4744-4933-8960-7add6e590841",
    "customer": {"identifierType": "CPF", "identifier": "76109277673", "name": "João Silva"},
    "redirectUrl": "https://partner.example.com/callback",
    "creditorAccount": {
        "ispb": "12345678",
        "issuer": "0001",
        "number": "324223",
        "accountType": "CACC",
        "holder": {"identifier": "11222333000181", "name": "Loja", "identifierType": "CNPJ"},
    },
    "paymentMethodConfig": {
        "contractId": "EX123456123456",
        "minimumVariableAmount": "80.01",
        "maximumVariableAmount": "100.01",
        "currency": "BRL",
        "interval": "MONTHLY",
        "referenceStartDate": "2025-05-01",
        "contractDebtor": {"identifierType": "CPF", "identifier": "76109277673", "name": "João da Silva"},
        "isRetryAccepted": True,
        "firstPayment": {"date": "2025-05-12", "amount": "30.02", "currency": "BRL"},
    },
}


def body(**changes: object) -> dict:
    """CONSENT with `changes` at dotted paths ("paymentMethodConfig.interval": "DAILY"; None removes)."""
    made = copy.deepcopy(CONSENT)
    for path, value in changes.items():
        *parents, last = path.split("__")
        target = made
        for name in parents:
            target = target[name]
        if value is None:
            target.pop(last, None)
        else:
            target[last] = value
    return made


def authorised(**changes: object) -> ap.AutomaticConsent:
    consent = ap.new_consent(tenant_id="app", body=body(**changes), persona_id="happy-path", now=NOW)
    consent.move_to(ap.AWAITING_AUTHORIZATION, NOW)
    consent.move_to(ap.AUTHORIZED, NOW)
    return consent


def a_charge(day: date, amount: object = "90.00", client_request_id: str = "charge-1") -> dict:
    return {"clientRequestId": client_request_id, "date": day.isoformat(), "amount": amount}


def test_a_well_formed_consent_request_is_accepted() -> None:
    ap.check_consent_request(body(), NOW)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"customer__identifier": "76109277670"}, "body.customer.identifier"),
        ({"customer__identifierType": "RG"}, "body.customer.identifierType"),
        ({"creditorAccount__ispb": "1234"}, "body.creditorAccount.ispb"),
        ({"creditorAccount__issuer": "12345"}, "body.creditorAccount.issuer"),
        ({"creditorAccount__accountType": "XXXX"}, "body.creditorAccount.accountType"),
        ({"creditorAccount__holder__identifier": "11222333000180"}, "body.creditorAccount.holder.identifier"),
        ({"paymentMethodConfig__interval": "DAILY"}, "body.paymentMethodConfig.interval"),
        ({"paymentMethodConfig__currency": "USD"}, "body.paymentMethodConfig.currency"),
        ({"paymentMethodConfig__minimumVariableAmount": "80.1"}, "body.paymentMethodConfig.minimumVariableAmount"),
        ({"paymentMethodConfig__minimumVariableAmount": "200.00"}, "body.paymentMethodConfig.minimumVariableAmount"),
        ({"paymentMethodConfig__fixedAmount": "90.00"}, "body.paymentMethodConfig.fixedAmount"),
        ({"paymentMethodConfig__referenceStartDate": "2025-02-30"}, "body.paymentMethodConfig.referenceStartDate"),
        ({"paymentMethodConfig__contractId": ""}, "body.paymentMethodConfig.contractId"),
        (
            {"paymentMethodConfig__contractDebtor__identifier": "1"},
            "body.paymentMethodConfig.contractDebtor.identifier",
        ),
        ({"paymentMethodConfig__firstPayment__date": "2025-05-11"}, "body.paymentMethodConfig.firstPayment.date"),
        ({"paymentMethodConfig__firstPayment__amount": "-1.00"}, "body.paymentMethodConfig.firstPayment.amount"),
    ],
)
def test_each_bad_field_is_named(changes: dict, field: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        ap.check_consent_request(body(**changes), NOW, strict=True)
    assert raised.value.message.startswith(f"{field}: ")


def test_wrong_check_digits_are_noted_unless_strict() -> None:
    notes = ap.check_consent_request(body(customer__identifier="76109277670"), NOW)
    assert notes == ["body.customer.identifier: check digits invalid: a real bank will not find this customer"]
    linked = ap.check_consent_request(body(customer__identifier="76109277670"), NOW, where="body.consent")
    assert linked[0].startswith("body.consent.customer.identifier: ")


def test_amounts_take_two_decimals_as_a_string_or_a_number() -> None:
    assert ap.amount_of("1333.00", "x") == ap.amount_of(1333, "x") == ap.amount_of(1333.0, "x")
    for bad in ("1333", "1.333,00", 0, "0.00", 1.005, True, None):
        with pytest.raises(InvalidRequest):
            ap.amount_of(bad, "x")


def test_the_consent_machine_goes_as_documented_and_refuses_the_rest() -> None:
    consent = ap.new_consent(tenant_id="app", body=body(), persona_id="happy-path", now=NOW)
    assert consent.status == ap.STARTED and consent.authorisation_deadline() == NOW + timedelta(minutes=60)
    with pytest.raises(Conflict):
        consent.move_to(ap.AUTHORIZED, NOW)  # not before the payer reached the bank
    consent.move_to(ap.AWAITING_AUTHORIZATION, NOW)
    consent.move_to(ap.AUTHORIZED, NOW)
    consent.move_to(ap.REVOKED, NOW, "REVOGADO_USUARIO")
    with pytest.raises(Conflict):
        consent.move_to(ap.AUTHORIZED, NOW)  # final


def test_the_first_payment_is_due_on_its_date() -> None:
    consent = authorised()
    first = ap.first_payment(consent, NOW)
    assert first is not None and first.first and first.amount == "30.02" and first.status == ap.PAYMENT_PENDING
    later = authorised(paymentMethodConfig__firstPayment__date="2025-05-20")
    scheduled = ap.first_payment(later, NOW)
    assert scheduled is not None and scheduled.status == ap.PAYMENT_SCHEDULED
    assert scheduled.settles_at() == datetime(2025, 5, 20, 3, 0, tzinfo=timezone.utc)  # 00:00 in Brasília
    assert ap.first_payment(authorised(paymentMethodConfig__firstPayment=None), NOW) is None


def test_a_charge_is_scheduled_two_to_ten_days_ahead() -> None:
    consent = authorised()
    for days in (2, 10):
        payment = ap.charge(consent, a_charge(TODAY + timedelta(days=days)), [], NOW)
        assert payment.status == ap.PAYMENT_SCHEDULED and payment.amount == "90.00"
    for days in (0, 1, 11):
        with pytest.raises(InvalidRequest, match=r"^body\.date: .* 2 to 10 days ahead"):
            ap.charge(consent, a_charge(TODAY + timedelta(days=days)), [], NOW)


def test_a_charge_keeps_within_the_consents_amounts() -> None:
    consent = authorised()
    day = TODAY + timedelta(days=3)
    for amount in ("80.00", "100.02"):
        with pytest.raises(InvalidRequest, match=r"^body\.amount: "):
            ap.charge(consent, a_charge(day, amount), [], NOW)
    fixed = authorised(
        paymentMethodConfig__minimumVariableAmount=None,
        paymentMethodConfig__maximumVariableAmount=None,
        paymentMethodConfig__fixedAmount="49.90",
    )
    assert ap.charge(fixed, a_charge(day, 49.9), [], NOW).amount == "49.90"
    with pytest.raises(InvalidRequest, match="fixedAmount"):
        ap.charge(fixed, a_charge(day, "49.91"), [], NOW)


def test_one_charge_a_period() -> None:
    consent = authorised(paymentMethodConfig__referenceStartDate="2025-05-01")
    may = ap.charge(consent, a_charge(date(2025, 5, 20)), [], NOW)
    with pytest.raises(InvalidRequest, match="same MONTHLY period"):
        ap.charge(consent, a_charge(date(2025, 5, 22)), [may], NOW)
    may.status = ap.CANCELED
    ap.charge(consent, a_charge(date(2025, 5, 22)), [may], NOW)  # a cancelled one leaves room
    weekly = authorised(paymentMethodConfig__interval="WEEKLY", paymentMethodConfig__referenceStartDate="2025-05-12")
    monday = ap.charge(weekly, a_charge(date(2025, 5, 19)), [], NOW)
    ap.charge(weekly, a_charge(date(2025, 5, 14)), [monday], NOW)  # the week before


def test_a_charge_needs_an_authorised_consent() -> None:
    consent = ap.new_consent(tenant_id="app", body=body(), persona_id="happy-path", now=NOW)
    with pytest.raises(Conflict):
        ap.charge(consent, a_charge(TODAY + timedelta(days=3)), [], NOW)


def test_retries_only_when_accepted_for_want_of_funds_three_times_within_seven_days() -> None:
    consent = authorised()
    original = ap.charge(consent, a_charge(TODAY + timedelta(days=2)), [], NOW)
    later = NOW + timedelta(days=2)
    original.move_to(ap.PAYMENT_SETTLEMENT_PROCESSING, later)
    original.move_to(ap.PAYMENT_REJECTED, later, "SALDO_INSUFICIENTE")
    retry_body = {"clientRequestId": "retry-1", "date": (original.day + timedelta(days=1)).isoformat()}
    retried = ap.retry(consent, original, retry_body, [], later)
    assert retried.original_payment_id == original.id and retried.amount == original.amount
    with pytest.raises(InvalidRequest, match=r"^body\.date: "):
        ap.retry(consent, original, {**retry_body, "date": (original.day + timedelta(days=8)).isoformat()}, [], later)
    with pytest.raises(Conflict, match="3 times"):
        ap.retry(consent, original, retry_body, [retried] * 3, later)
    refusing = authorised(paymentMethodConfig__isRetryAccepted=False)
    with pytest.raises(Conflict, match="isRetryAccepted"):
        ap.retry(refusing, original, retry_body, [], later)


def test_a_scheduled_payment_is_cancelled_until_the_day_before() -> None:
    consent = authorised()
    payment = ap.charge(consent, a_charge(TODAY + timedelta(days=2)), [], NOW)
    who, notes = ap.check_cancellation({"cancelledBy": "76109277673", "identifierType": "CPF"})
    assert notes == []
    on_the_day = ap.start_of(payment.day) + timedelta(hours=1)
    with pytest.raises(Conflict, match="day before"):
        ap.cancel(payment, who, on_the_day)
    ap.cancel(payment, who, NOW)
    assert payment.status == ap.CANCELED and payment.cancellation == who
    with pytest.raises(InvalidRequest, match=r"^body\.cancelledBy: "):
        ap.check_cancellation({"cancelledBy": "123", "identifierType": "CPF"})
    with pytest.raises(InvalidRequest, match=r"^body\.cancelledBy: check digits invalid"):
        ap.check_cancellation({"cancelledBy": "76109277670", "identifierType": "CPF"}, strict=True)


def test_the_same_body_has_the_same_fingerprint_whatever_its_key_order() -> None:
    assert ap.fingerprint({"a": 1, "b": 2}) == ap.fingerprint({"b": 2, "a": 1}) != ap.fingerprint({"a": 2, "b": 2})
