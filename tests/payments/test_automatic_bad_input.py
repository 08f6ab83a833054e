"""Bad Automatic Pix input answers 400 in Klavi's error shape, the message naming the field
(the spec's checks, then the domain's: check digits, amounts, dates); nothing is kept. With
strictTaxIds, as wrong CPF/CNPJ check digits are otherwise tolerated (the data API's choice)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from klavi_mock.config import Settings
from tests.payments.autopix import AutoPix, consent_body
from tests.worlds import in_process, world_settings


@pytest.fixture
def settings() -> Settings:
    return world_settings(strict_tax_ids=True)


@pytest.fixture
def pix(client) -> AutoPix:
    return AutoPix(client)


def test_wrong_check_digits_are_tolerated_unless_strict_tax_ids() -> None:
    with in_process(world_settings()) as http:
        tolerant = AutoPix(http)
        body = consent_body(tolerant.today())
        body["customer"]["identifier"] = "76109277670"
        assert tolerant.post("/consents", body).status_code == 201
    with in_process(world_settings(strict_tax_ids=True)) as http:
        strict = AutoPix(http)
        refused = strict.post("/consents", {**body, "clientRequestId": "strict"})
    assert refused.status_code == 400
    assert refused.json()["message"].startswith("body.customer.identifier: check digits invalid")


def changed(body: dict, path: str, value: object) -> dict:
    *parents, last = path.split(".")
    target = body
    for name in parents:
        target = target[name]
    if value is None:
        target.pop(last)
    else:
        target[last] = value
    return body


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("customer.identifier", "76109277670", "body.customer.identifier"),
        ("customer.identifierType", "RG", "body.customer.identifierType"),
        ("creditorAccount.ispb", "1234567", "body.creditorAccount.ispb"),
        ("creditorAccount.ispb", "1234567a", "body.creditorAccount.ispb"),
        ("creditorAccount.accountType", "POUP", "body.creditorAccount.accountType"),
        ("creditorAccount.holder.identifier", "11222333000180", "body.creditorAccount.holder.identifier"),
        ("paymentMethodConfig.interval", "DAILY", "body.paymentMethodConfig.interval"),
        ("paymentMethodConfig.currency", "USD", "body.paymentMethodConfig.currency"),
        ("paymentMethodConfig.maximumVariableAmount", "100,01", "body.paymentMethodConfig.maximumVariableAmount"),
        ("paymentMethodConfig.minimumVariableAmount", "500.00", "body.paymentMethodConfig.minimumVariableAmount"),
        ("paymentMethodConfig.fixedAmount", "90.00", "body.paymentMethodConfig.fixedAmount"),
        ("paymentMethodConfig.referenceStartDate", "2025-13-01", "body.paymentMethodConfig.referenceStartDate"),
        (
            "paymentMethodConfig.contractDebtor.identifier",
            "12345678900",
            "body.paymentMethodConfig.contractDebtor.identifier",
        ),
        ("paymentMethodConfig.firstPayment.date", "2020-01-01", "body.paymentMethodConfig.firstPayment.date"),
        ("paymentMethodConfig.firstPayment.amount", "0.00", "body.paymentMethodConfig.firstPayment.amount"),
        ("paymentMethodConfig.isRetryAccepted", "yes", "body.paymentMethodConfig.isRetryAccepted"),
        ("redirectUrl", "not a url", "body.redirectUrl"),
        ("clientRequestId", None, "body.clientRequestId"),
    ],
)
def test_a_bad_consent_field_is_named(pix: AutoPix, path: str, value: object, field: str) -> None:
    body = changed(consent_body(pix.today()), path, value)
    response = pix.post("/consents", body)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["statusCode"] == 400 and error["error"] == "Bad Request"
    assert error["message"].startswith(field), error["message"]
    listed = pix.http.get("/payment/management/v1/merchants/automatic/sandbox-app/consents", headers=pix.headers)
    assert listed.json()["total"] == 0  # nothing kept


@pytest.mark.parametrize(
    ("days", "amount", "extra", "field", "says"),
    [
        (1, "90.00", {}, "body.date", "2 to 10 days ahead"),
        (11, "90.00", {}, "body.date", "2 to 10 days ahead"),
        (3, "80.00", {}, "body.amount", "below the consent's minimumVariableAmount"),
        (3, "9.999", {}, "body.amount", ""),
        (3, -5, {}, "body.amount", ""),
        (3, "90.00", {"currency": "EUR"}, "body.currency", ""),
        (
            3,
            "90.00",
            {"creditorAccount": {"ispb": "123", "number": "1", "accountType": "CACC"}},
            "body.creditorAccount.ispb",
            "",
        ),
    ],
)
def test_a_bad_charge_field_is_named(
    pix: AutoPix, days: int, amount: object, extra: dict, field: str, says: str
) -> None:
    consent = pix.authorised(firstPayment=None)
    response = pix.charge(consent["id"], days, amount=amount, **extra)
    assert response.status_code == 400, response.text
    assert response.json()["message"].startswith(field) and says in response.json()["message"]


def test_a_charge_before_the_reference_start_date_is_refused(pix: AutoPix) -> None:
    start = pix.today() + timedelta(days=5)
    consent = pix.authorised(firstPayment=None, referenceStartDate=start.isoformat())
    response = pix.charge(consent["id"], 3)
    assert response.status_code == 400 and "referenceStartDate" in response.json()["message"]


def test_a_cancel_needs_a_valid_cpf_or_cnpj(pix: AutoPix) -> None:
    consent = pix.authorised(firstPayment=None)
    payment = pix.scheduled(consent["id"])
    path = f"/consents/{consent['id']}/payments/{payment['id']}/cancel"
    response = pix.post(path, {"cancelledBy": "76109277670", "identifierType": "CPF"})
    assert response.status_code == 400 and response.json()["message"].startswith("body.cancelledBy: ")
    assert pix.payment(consent["id"], payment["id"])["status"] == "PAYMENT_SCHEDULED"


def test_unknown_ids_answer_404(pix: AutoPix) -> None:
    assert pix.get("/consents/nope").status_code == 404
    consent = pix.create()
    assert pix.get(f"/consents/{consent['id']}/payments/nope").status_code == 404
    assert pix.http.get("/bank/automatic-pix/nope").status_code == 404
