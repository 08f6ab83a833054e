"""What QA rehearses with instant payments: the payer personas (by the payer's CPF), the
timeouts on the mock clock, and the signed webhook of every status change."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import yaml

from klavi_mock.resources import fixtures_dir
from klavi_mock.testing.helpers import wait_for
from klavi_mock.webhooks.signing import verify_signature
from tests.payments.instant import Payer, body
from tests.worlds import in_process, tenant, world_settings

REFUSES, INSUFFICIENT, TIMEOUT, CANCELS = "00000020117", "00000020206", "00000020389", "00000020460"
LIMIT, APPROVERS, STALLS = "00000020540", "00000020621", "00000020702"


@pytest.fixture
def payer(client) -> Payer:
    return Payer(client)


def local(url: str) -> str:
    return url.replace("http://testserver", "")


def reason(payer: Payer, payment_id: str) -> tuple[str, str]:
    found = payer.get(payment_id)
    return found["status"], found.get("statusReason", {}).get("code", "")


def test_the_payer_who_refuses_is_rejected_as_the_page_opens(payer):
    created = payer.created(body(payer=REFUSES))
    left = payer.returned(payer.at_bank(local(created["redirectConsentURL"])))
    assert left["status"] == "CONSENT_REJECTED"
    assert reason(payer, created["id"]) == ("CONSENT_REJECTED", "REJEITADO_USUARIO")


@pytest.mark.parametrize(("cpf", "code"), [(INSUFFICIENT, "SALDO_INSUFICIENTE"), (LIMIT, "VALOR_ACIMA_LIMITE")])
def test_the_payers_bank_rejects_the_payment_after_authorisation(payer, cpf, code):
    created = payer.created(body(payer=cpf))
    assert payer.returned(payer.at_bank(local(created["redirectConsentURL"]), "approve"))["status"] == "PAYMENT_PENDING"
    payer.advance(1)
    assert reason(payer, created["id"]) == ("PAYMENT_REJECTED", code)


def test_a_bank_that_never_answers_expires_the_payment_after_60_minutes(payer):
    created = payer.created(body(payer=TIMEOUT))
    waiting = payer.at_bank(local(created["redirectConsentURL"]), "approve")
    assert waiting.status_code == 200 and "Aguardando confirmação" in waiting.text
    payer.advance(3599)
    assert payer.status(created["id"]) == "CONSENT_AWAITING_AUTHORIZATION"
    payer.advance(1)
    assert reason(payer, created["id"]) == ("CONSENT_REJECTED", "TEMPO_EXPIRADO_AUTORIZACAO")


def test_any_payment_left_unanswered_is_rejected_after_60_minutes(payer):
    created = payer.created(body())
    payer.advance(3600)
    assert reason(payer, created["id"]) == ("CONSENT_REJECTED", "TEMPO_EXPIRADO_AUTORIZACAO")


def test_a_scheduled_payment_is_cancelled_by_the_payer_at_the_bank(payer):
    today = date.fromisoformat(payer.http.get("/__mock/clock").json()["now"][:10])
    created = payer.created(body(payer=CANCELS, date=(today + timedelta(days=3)).isoformat()))
    assert (
        payer.returned(payer.at_bank(local(created["redirectConsentURL"]), "approve"))["status"] == "PAYMENT_SCHEDULED"
    )
    payer.advance(599)
    assert payer.status(created["id"]) == "PAYMENT_SCHEDULED"
    payer.advance(1)
    assert reason(payer, created["id"]) == ("CANCELED", "CANCELADO_AGENDAMENTO")
    payer.advance(5 * 86400)
    assert payer.status(created["id"]) == "CANCELED"


def test_several_approvers_then_24_hours(payer):
    created = payer.created(body(payer=APPROVERS))
    left = payer.returned(payer.at_bank(local(created["redirectConsentURL"]), "approve"))
    assert left["status"] == "PAYMENT_PARTIALLY_ACCEPTED"
    payer.advance(86400)
    assert reason(payer, created["id"]) == ("PAYMENT_REJECTED", "TEMPO_EXPIRADO_MULTIPLAS_ALCADAS")


def test_an_authorisation_never_consumed_is_rejected_after_5_minutes(payer):
    created = payer.created(body(payer=STALLS))
    assert (
        payer.returned(payer.at_bank(local(created["redirectConsentURL"]), "approve"))["status"] == "CONSENT_AUTHORIZED"
    )
    payer.advance(299)
    assert payer.status(created["id"]) == "CONSENT_AUTHORIZED"
    payer.advance(1)
    assert reason(payer, created["id"]) == ("CONSENT_REJECTED", "TEMPO_EXPIRADO_CONSUMO")


def test_every_status_change_is_a_signed_webhook_in_order(receiver):
    settings = world_settings(tenants=[tenant("sandbox-app", payments_url=receiver.url("/payments"))])
    with in_process(settings, follow_redirects=False) as http:
        payer = Payer(http)
        created = payer.created(body("PIX_MANU"))
        payer.at_bank(local(created["redirectConsentURL"]), "approve")
        payer.advance(3)
        final = payer.get(created["id"])
        deliveries = wait_for(lambda: len(receiver.at("/payments")) >= 6 and receiver.at("/payments"), what="6 events")
    statuses = []
    for delivery in deliveries:
        assert verify_signature(delivery.body, delivery.headers["x-klavi-signature"], "sandbox-secret-key")
        (event,) = delivery.json()
        assert event["eventType"] == "payment" and event["eventName"] == "payment_status_changed"
        assert event["payload"]["id"] == created["id"]
        statuses.append(event["payload"]["status"])
    assert statuses == [
        "CONSENT_AWAITING_AUTHORIZATION",
        "CONSENT_AUTHORIZED",
        "PAYMENT_PENDING",
        "PAYMENT_SETTLEMENT_PROCESSING",
        "PAYMENT_SETTLEMENT_DEBTOR_ACCOUNT",
        "PAYMENT_COMPLETED",
    ]
    last = deliveries[-1].json()[0]["payload"]
    assert last == final  # the payload is the payment as GET answers it


CHECKED = {
    "payer-refuses": REFUSES,
    "insufficient-funds": INSUFFICIENT,
    "payer-bank-timeout": TIMEOUT,
    "scheduled-then-cancelled": CANCELS,
    "payment-limit-exceeded": LIMIT,
    "multiple-approvers": APPROVERS,
    "payment-not-consumed": STALLS,
}


def test_every_payment_persona_is_checked_here():
    personas = yaml.safe_load((fixtures_dir() / "personas.yaml").read_text())["personas"]
    assert {p["id"]: p["personalTaxId"] for p in personas if "payment" in p} == CHECKED


@pytest.mark.parametrize("persona", ["payer-refuses", "insufficient-funds"])
def test_a_payer_company_is_its_cnpjs_persona(payer, persona):
    cnpj = {"payer-refuses": "00000201000199", "insufficient-funds": "00000202000133"}[persona]
    customer = {"identifierType": "CNPJ", "identifier": cnpj, "name": "Empresa"}
    created = payer.created(body(customer=customer, loggedUserCpf="76109277673"))
    left = payer.returned(payer.at_bank(local(created["redirectConsentURL"]), "approve"))
    payer.advance(1)
    expected = {"payer-refuses": "CONSENT_REJECTED", "insufficient-funds": "PAYMENT_REJECTED"}[persona]
    assert payer.status(created["id"]) == expected and left["status"] in (expected, "PAYMENT_PENDING")
