"""The Automatic Pix personas, picked by the payer's CPF (customer.identifier) as the data
API's are: what QA rehearses (fixtures/personas.yaml, `automaticPix`)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from klavi_mock.resources import fixtures_dir
from klavi_mock.testing.helpers import delivery_log
from tests.payments.autopix import AutoPix, consent_body

CHECKED = {"00000090328", "00000090409", "00000090247", "00000090590", "00000090166", "00000090670", "00000090751"}


@pytest.fixture
def pix(client) -> AutoPix:
    return AutoPix(client)


def as_payer(pix: AutoPix, cpf: str, **config) -> dict:
    body = consent_body(pix.today(), **config)
    body["customer"]["identifier"] = cpf
    return body


def test_insufficient_funds_rejects_the_charge_and_a_retry_settles(pix: AutoPix) -> None:
    consent = pix.authorised(as_payer(pix, "00000090328", firstPayment=None))
    payment = pix.scheduled(consent["id"], days=2)
    pix.to_settlement_of(payment)
    rejected = pix.payment(consent["id"], payment["id"])
    assert rejected["status"] == "PAYMENT_REJECTED" and rejected["statusReason"]["code"] == "SALDO_INSUFICIENTE"

    retry_path = f"/consents/{consent['id']}/payments/{payment['id']}/retry"
    too_late = pix.post(
        retry_path, {"clientRequestId": "retry-late", "date": (pix.today() + timedelta(days=8)).isoformat()}
    )
    assert too_late.status_code == 400 and too_late.json()["message"].startswith("body.date: ")
    retried = pix.post(
        retry_path, {"clientRequestId": "retry-1", "date": (pix.today() + timedelta(days=1)).isoformat()}
    )
    assert retried.status_code == 201, retried.text
    retry = retried.json()
    assert retry["originalPaymentId"] == payment["id"] and retry["amount"] == payment["amount"]
    pix.to_settlement_of(retry)
    assert pix.payment(consent["id"], retry["id"])["status"] == "PAYMENT_COMPLETED"


def test_no_retry_when_the_consent_does_not_accept_them(pix: AutoPix) -> None:
    consent = pix.authorised(as_payer(pix, "00000090328", firstPayment=None, isRetryAccepted=False))
    payment = pix.scheduled(consent["id"], days=2)
    pix.to_settlement_of(payment)
    refused = pix.post(
        f"/consents/{consent['id']}/payments/{payment['id']}/retry",
        {"clientRequestId": "retry-x", "date": (pix.today() + timedelta(days=1)).isoformat()},
    )
    assert refused.status_code == 409 and "isRetryAccepted" in refused.json()["message"]


def test_limit_exceeded_rejects_the_charge_and_it_cannot_be_retried(pix: AutoPix) -> None:
    consent = pix.authorised(as_payer(pix, "00000090409", firstPayment=None))
    payment = pix.scheduled(consent["id"], days=2)
    pix.to_settlement_of(payment)
    rejected = pix.payment(consent["id"], payment["id"])
    assert rejected["status"] == "PAYMENT_REJECTED" and rejected["statusReason"]["code"] == "LIMITE_EXCEDIDO"
    refused = pix.post(
        f"/consents/{consent['id']}/payments/{payment['id']}/retry",
        {"clientRequestId": "retry-y", "date": (pix.today() + timedelta(days=1)).isoformat()},
    )
    assert refused.status_code == 409


def test_revoked_at_the_bank_an_hour_later_cancels_the_scheduled_charges(pix: AutoPix) -> None:
    consent = pix.authorised(as_payer(pix, "00000090247", firstPayment=None))
    payment = pix.scheduled(consent["id"], days=2)
    pix.advance(3600)
    revoked = pix.consent(consent["id"])
    assert revoked["status"] == "CONSENT_REVOKED" and revoked["statusReason"]["code"] == "REVOGADO_USUARIO"
    assert pix.payment(consent["id"], payment["id"])["status"] == "CANCELED"


def test_the_payer_cancels_a_scheduled_charge_an_hour_later(pix: AutoPix) -> None:
    consent = pix.authorised(as_payer(pix, "00000090590", firstPayment=None))
    payment = pix.scheduled(consent["id"], days=2)
    assert pix.payment(consent["id"], payment["id"])["status"] == "PAYMENT_SCHEDULED"
    pix.advance(3600)
    cancelled = pix.payment(consent["id"], payment["id"])
    assert cancelled["status"] == "CANCELED" and cancelled["statusReason"]["code"] == "CANCELADO_PAGADOR"
    assert pix.consent(consent["id"])["status"] == "CONSENT_AUTHORIZED"


@pytest.mark.parametrize(
    ("cpf", "status", "error"),
    [("00000090166", "CONSENT_REJECTED", "access_denied"), ("00000090670", "ERROR", "server_error")],
)
def test_the_bank_answers_by_itself_as_its_page_opens(pix: AutoPix, cpf: str, status: str, error: str) -> None:
    consent = pix.create(as_payer(pix, cpf))
    response = pix.bank(consent)
    assert response.status_code == 302
    back = {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}
    assert back["status"] == status and back["error"] == error
    assert pix.consent(consent["id"])["status"] == status


def test_a_companys_other_approvers_approve_ten_minutes_later(pix: AutoPix) -> None:
    body = as_payer(pix, "00000090751")
    body["customer"] = {"identifierType": "CNPJ", "identifier": "00000090700015", "name": "Empresa Exemplo"}
    consent = pix.create(body)
    response = pix.bank(consent, "approve")
    back = {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}
    assert back["status"] == "CONSENT_PARTIALLY_ACCEPTED"
    assert pix.charge(consent["id"]).status_code == 409  # not authorised yet
    pix.advance(9 * 60)
    assert pix.consent(consent["id"])["status"] == "CONSENT_PARTIALLY_ACCEPTED"
    pix.advance(60)
    assert pix.consent(consent["id"])["status"] == "CONSENT_AUTHORIZED"
    sent = [d["body"][0]["payload"] for d in delivery_log(pix.http, name="automatic_payment_status_changed")]
    assert len({p["id"] for p in sent}) == 1 and all(p["firstPayment"] for p in sent)  # made on the authorisation


def test_every_automatic_pix_persona_is_checked_here() -> None:
    personas = yaml.safe_load((fixtures_dir() / "personas.yaml").read_text())["personas"]
    assert {p["personalTaxId"] for p in personas if "automaticPix" in p} == CHECKED
