"""Instant Pix payments over HTTP, as a partner and a payer drive them: each initType to
PAYMENT_COMPLETED on the clock, the bank page without a browser, refusal, idempotency by
clientRequestId, the status endpoint, tokens of the wrong kind, tenants kept apart."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.conftest import bearer
from tests.payments.instant import PAYMENTS, Payer, body


@pytest.fixture
def payer(client) -> Payer:
    return Payer(client)


def local(url: str) -> str:
    return url.replace("http://testserver", "")


@pytest.mark.parametrize("init_type", ["PIX_MANU", "PIX_DICT", "PIX_QRCODE", "PIX_INIC", "PIX_MANU_AUTO"])
def test_each_init_type_goes_to_completed_on_the_clock(payer, init_type):
    created = payer.created(body(init_type))
    assert created["status"] == "CONSENT_AWAITING_AUTHORIZATION" and "endToEndId" not in created
    left = payer.returned(payer.at_bank(local(created["redirectConsentURL"]), "approve"))
    assert left == {
        "paymentId": created["id"],
        "clientRequestId": created["clientRequestId"],
        "status": "PAYMENT_PENDING",
    }
    pending = payer.get(created["id"])
    assert pending["status"] == "PAYMENT_PENDING" and "redirectConsentURL" not in pending
    assert pending["endToEndId"].startswith("E") and len(pending["endToEndId"]) == 32
    payer.advance(1)
    assert payer.status(created["id"]) == "PAYMENT_SETTLEMENT_PROCESSING"
    payer.advance(1)
    assert payer.status(created["id"]) == "PAYMENT_SETTLEMENT_DEBTOR_ACCOUNT"
    payer.advance(1)
    done = payer.get(created["id"])
    assert done["status"] == "PAYMENT_COMPLETED" and done["initType"] == init_type and done["amount"] == "1333.00"


def test_the_bank_page_shows_the_payment_in_portuguese_and_takes_the_answer_by_form(payer, client):
    created = payer.created(body("PIX_MANU", remittanceInformation="Pedido 42"))
    page = payer.at_bank(local(created["redirectConsentURL"]))
    assert page.status_code == 200 and 'lang="pt-BR"' in page.text
    for shown in (
        "Confirme o pagamento Pix",
        "R$ 1.333,00",
        "Klavi",
        "ISPB 87654321",
        "Pedido 42",
        "Autorizar",
        "Recusar",
    ):
        assert shown in page.text
    action = page.text.split('action="')[1].split('"')[0]
    unsure = client.post(local(action), data={"decision": "maybe"}, follow_redirects=False)
    assert unsure.status_code == 400 and "Escolha Autorizar ou Recusar" in unsure.text
    assert payer.status(created["id"]) == "CONSENT_AWAITING_AUTHORIZATION"
    answered = client.post(local(action), data={"decision": "deny"}, follow_redirects=False)
    assert payer.returned(answered)["status"] == "CONSENT_REJECTED"
    rejected = payer.get(created["id"])
    assert rejected["statusReason"]["code"] == "REJEITADO_USUARIO"
    again = client.post(local(action), data={"decision": "approve"}, follow_redirects=False)
    assert again.status_code == 410 and "Pagamento encerrado" in again.text


def test_the_redirect_consent_url_opens_once_and_within_60_seconds(payer):
    created = payer.created(body())
    assert payer.at_bank(local(created["redirectConsentURL"])).status_code == 200
    assert payer.at_bank(local(created["redirectConsentURL"])).status_code == 410
    late = payer.created(body())
    payer.advance(61)
    assert "redirectConsentURL" not in payer.get(late["id"])
    response = payer.at_bank(local(late["redirectConsentURL"]))
    assert response.status_code == 410 and "Link expirado" in response.text
    assert payer.at_bank("/bank/payments/authorize?ticket=nope").status_code == 404


def test_the_same_client_request_id_and_body_answer_the_same_payment(payer):
    request = body()
    first = payer.created(request)
    again = payer.create(request)
    assert again.status_code == 200 and again.json()["id"] == first["id"]
    other = payer.create({**request, "amount": "1.00"})
    assert other.status_code == 409
    assert other.json() == {
        "statusCode": 409,
        "error": "Conflict",
        "message": f"body.clientRequestId: {request['clientRequestId']!r} was already used for payment "
        f"{first['id']} with a different body; send the same body to get that payment again, or a new clientRequestId",
    }


def test_the_status_endpoint_answers_the_status_alone(payer, client):
    created = payer.created(body())
    payer.at_bank(local(created["redirectConsentURL"]), "deny")
    response = client.get(f"{PAYMENTS}/{created['id']}/status", headers=bearer(payer.token))
    assert response.status_code == 200
    assert set(response.json()) == {
        "id",
        "clientRequestId",
        "amount",
        "currency",
        "status",
        "statusReason",
        "statusUpdateAt",
    }
    assert response.json()["status"] == "CONSENT_REJECTED"


def test_a_data_api_token_is_refused_and_another_tenants_payment_is_not_found(payer, client, klavi):
    data_token = klavi.access_token()
    refused = payer.create(body(), token=data_token)
    assert refused.status_code == 401 and "accessToken" in refused.json()["message"]
    created = payer.created(body())
    other = client.post(
        "/payment/customer/v1/auth", json={"accessKey": "other-access-key", "secretKey": "other-secret-key"}
    )
    theirs = client.get(f"{PAYMENTS}/{created['id']}", headers=bearer(other.json()["accessToken"]))
    assert theirs.status_code == 404 and theirs.json()["message"] == f"payment {created['id']} not found"


def test_the_older_field_names_are_accepted(payer):
    request = body("PIX_DICT")
    older = {
        "externalId": request.pop("clientRequestId"),
        "participantId": request.pop("institutionId"),
        "method": request.pop("initType"),
        "pixKey": request.pop("proxy"),
        **request,
    }
    created = payer.created(older)
    assert (created["clientRequestId"], created["initType"], created["proxy"]) == (
        older["externalId"],
        "PIX_DICT",
        "44471172000119",
    )


def test_a_later_date_is_scheduled_and_paid_on_that_day(payer):
    today = payer.http.get("/__mock/clock").json()["now"]
    later = (date.fromisoformat(today[:10]) + timedelta(days=2)).isoformat()
    created = payer.created(body(date=later))
    left = payer.returned(payer.at_bank(local(created["redirectConsentURL"]), "approve"))
    assert left["status"] == "PAYMENT_SCHEDULED"
    payer.advance(3600)
    assert payer.status(created["id"]) == "PAYMENT_SCHEDULED"
    payer.advance(3 * 86400)
    assert payer.status(created["id"]) == "PAYMENT_COMPLETED"


def test_a_fault_rule_on_the_create_answers_instead_and_nothing_is_kept(payer, client):
    rule = client.post(
        "/__mock/faults", json={"path": "/payment/customer/v1/instant/payments", "status": 503, "times": 1}
    )
    assert rule.status_code == 200, rule.text
    request = body()
    failed = payer.create(request)
    assert failed.status_code == 503 and failed.json()["statusCode"] == 503
    sent = client.get("/__mock/webhooks", params={"name": "payment_status_changed"}).json()
    assert sent["items"] == []
    assert payer.create(request).status_code == 201  # the same clientRequestId is still free


def test_a_reset_forgets_payments_and_their_jobs(payer, client):
    created = payer.created(body())
    assert client.post("/__mock/reset", json={}).status_code == 200
    gone = client.get(f"{PAYMENTS}/{created['id']}", headers=bearer(payer.token))
    assert gone.status_code == 404
    payer.advance(3600)  # its 60-minute window was forgotten with it: nothing to run, nothing sent
    sent = client.get("/__mock/webhooks", params={"name": "payment_status_changed"}).json()
    assert sent["items"] == []
    assert payer.create(body(clientRequestId=created["clientRequestId"])).status_code == 201
