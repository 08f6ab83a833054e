"""Automatic Pix over HTTP, as a partner drives it: a consent, the payer at the bank page,
charges scheduled and settled on the mock clock, retries, cancellations (one payment, or
by consent), the management list, idempotency by clientRequestId."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from klavi_mock.testing.helpers import delivery_log
from tests.payments.autopix import PARTNER_RETURN, AutoPix, consent_body


@pytest.fixture
def pix(client) -> AutoPix:
    return AutoPix(client)


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_a_consent_is_started_then_awaits_the_payer_at_the_bank_page(pix: AutoPix) -> None:
    consent = pix.create()
    assert consent["status"] == "STARTED" and consent["clientRequestId"].startswith("consent-")
    assert consent["paymentMethodConfig"]["interval"] == "MONTHLY" and consent["customer"]["identifier"]
    page = pix.bank(consent)
    assert page.status_code == 200
    for shown in (
        "Pix Automático",
        "Loja Exemplo",
        "Mensal",
        "R$ 80,01",
        "R$ 100,01",
        "R$ 30,02",
        "Autorizar",
        "Recusar",
    ):
        assert shown in page.text
    assert pix.consent(consent["id"])["status"] == "CONSENT_AWAITING_AUTHORIZATION"
    status = pix.get(f"/consents/{consent['id']}/status").json()
    assert status["status"] == "CONSENT_AWAITING_AUTHORIZATION" and set(status) == {
        "id",
        "clientRequestId",
        "status",
        "statusUpdateAt",
    }


def test_authorised_at_the_bank_the_payer_returns_and_the_first_payment_settles(pix: AutoPix) -> None:
    consent = pix.create()
    response = pix.bank(consent, "approve")
    assert response.status_code == 302
    back = response.headers["location"]
    assert back.startswith(PARTNER_RETURN) and query(back) == {
        "consentId": consent["id"],
        "status": "CONSENT_AUTHORIZED",
    }
    authorised = pix.consent(consent["id"])
    assert authorised["status"] == "CONSENT_AUTHORIZED" and "redirectConsentURL" not in authorised
    assert pix.bank(consent).status_code == 410  # answered: the page says so

    listed = pix.http.get("/payment/management/v1/merchants/automatic/sandbox-app/consents", headers=pix.headers)
    assert listed.json()["list"][0]["id"] == consent["id"]
    pix.advance(6 * 60)  # the first payment is due today: settling, then settled 5 minutes later
    first_id = _first_payment_id(pix, consent["id"])
    first = pix.payment(consent["id"], first_id)
    assert first["status"] == "PAYMENT_COMPLETED" and first["firstPayment"] is True
    assert first["amount"] == "30.02" and first["endToEndId"].startswith("E")


def _first_payment_id(pix: AutoPix, consent_id: str) -> str:
    """The first payment's id, as its webhook gave it (in the control API's delivery log)."""
    sent = delivery_log(pix.http, name="automatic_payment_status_changed")
    ids = {d["body"][0]["payload"]["id"] for d in sent if d["body"][0]["payload"]["consentId"] == consent_id}
    [first] = ids
    return first


def test_a_payer_who_refuses_returns_with_an_error_and_no_charge_can_be_made(pix: AutoPix) -> None:
    consent = pix.create()
    response = pix.bank(consent, "deny")
    back = query(response.headers["location"])
    assert back["status"] == "CONSENT_REJECTED" and back["error"] == "access_denied"
    rejected = pix.consent(consent["id"])
    assert rejected["statusReason"]["code"] == "REJEITADO_USUARIO"
    refused = pix.charge(consent["id"])
    assert refused.status_code == 409 and "CONSENT_AUTHORIZED" in refused.json()["message"]


def test_not_authorised_within_60_minutes_the_consent_expires(pix: AutoPix) -> None:
    consent = pix.create()
    pix.advance(59 * 60)
    assert pix.consent(consent["id"])["status"] == "STARTED"
    pix.advance(61)
    expired = pix.consent(consent["id"])
    assert expired["status"] == "EXPIRED" and expired["statusReason"]["code"] == "TEMPO_EXPIRADO_AUTORIZACAO"
    assert pix.bank(consent).status_code == 410


def test_a_charge_is_scheduled_then_settled_when_the_clock_reaches_its_date(pix: AutoPix) -> None:
    consent = pix.authorised(firstPayment=None)
    payment = pix.scheduled(consent["id"], days=3, amount=90, remittanceInformation="Mensalidade")
    assert payment["status"] == "PAYMENT_SCHEDULED" and payment["amount"] == "90.00"
    assert payment["date"] == (pix.today() + timedelta(days=3)).isoformat()
    pix.to_settlement_of(payment, extra_minutes=1)
    assert pix.payment(consent["id"], payment["id"])["status"] == "PAYMENT_SETTLEMENT_PROCESSING"
    pix.advance(5 * 60)
    settled = pix.payment(consent["id"], payment["id"])
    assert settled["status"] == "PAYMENT_COMPLETED" and settled["endToEndId"].startswith("E")


def test_a_clock_moved_past_the_date_settles_all_the_way(pix: AutoPix) -> None:
    consent = pix.authorised(firstPayment=None)
    payment = pix.scheduled(consent["id"], days=2)
    pix.advance(5 * 86400)
    assert pix.payment(consent["id"], payment["id"])["status"] == "PAYMENT_COMPLETED"


def test_the_same_clientrequestid_and_body_answer_the_same_resource_another_body_409(pix: AutoPix) -> None:
    body = consent_body(pix.today())
    first = pix.post("/consents", body)
    again = pix.post("/consents", body)
    assert (first.status_code, again.status_code) == (201, 200) and again.json()["id"] == first.json()["id"]
    other = pix.post("/consents", {**body, "additionalInformation": "outra"})
    assert other.status_code == 409 and "clientRequestId" in other.json()["message"]

    consent = pix.authorised(firstPayment=None)
    charge = {
        "clientRequestId": "charge-same",
        "date": (pix.today() + timedelta(days=4)).isoformat(),
        "amount": "95.00",
    }
    created = pix.post(f"/consents/{consent['id']}/payments", charge)
    replay = pix.post(f"/consents/{consent['id']}/payments", charge)
    assert (created.status_code, replay.status_code) == (201, 200) and replay.json()["id"] == created.json()["id"]
    changed = pix.post(f"/consents/{consent['id']}/payments", {**charge, "amount": "96.00"})
    assert changed.status_code == 409


def test_one_charge_a_period_within_the_consents_amounts(pix: AutoPix) -> None:
    consent = pix.authorised(firstPayment=None, interval="WEEKLY")
    pix.scheduled(consent["id"], days=2)
    same_week = pix.charge(consent["id"], days=3)
    assert same_week.status_code == 400 and same_week.json()["message"].startswith("body.date: ")
    assert "same WEEKLY period" in same_week.json()["message"]
    pix.scheduled(consent["id"], days=9)  # the next week
    too_much = pix.charge(consent["id"], days=10, amount="100.02")
    assert too_much.status_code == 400
    assert too_much.json()["message"] == "body.amount: 100.02 exceeds the consent's maximumVariableAmount 100.01"


def test_a_scheduled_payment_is_cancelled_until_the_day_before(pix: AutoPix) -> None:
    consent = pix.authorised(firstPayment=None)
    payment = pix.scheduled(consent["id"], days=2)
    who = {"cancelledBy": "76109277673", "identifierType": "CPF"}
    path = f"/consents/{consent['id']}/payments/{payment['id']}/cancel"
    cancelled = pix.post(path, who)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "CANCELED"
    assert cancelled.json()["cancellation"]["cancelledBy"] == "76109277673"
    again = pix.post(path, who)
    assert again.status_code == 409
    pix.to_settlement_of(payment)
    assert pix.payment(consent["id"], payment["id"])["status"] == "CANCELED"  # never settled


def test_a_payment_due_today_can_no_longer_be_cancelled(pix: AutoPix) -> None:
    consent = pix.authorised(firstPayment=None)
    payment = pix.scheduled(consent["id"], days=2)
    pix.to_settlement_of(payment, extra_minutes=-60)  # the evening before: still cancellable
    pix.advance(2 * 3600)  # 01:00 on the day: settling
    refused = pix.post(
        f"/consents/{consent['id']}/payments/{payment['id']}/cancel",
        {"cancelledBy": "76109277673", "identifierType": "CPF"},
    )
    assert refused.status_code == 409


def test_cancel_by_consent_revokes_it_and_cancels_its_scheduled_payments(pix: AutoPix) -> None:
    consent = pix.authorised(firstPayment=None, interval="WEEKLY")
    first, second = pix.scheduled(consent["id"], days=2), pix.scheduled(consent["id"], days=9)
    response = pix.post(
        f"/consents/{consent['id']}/cancel", {"cancelledBy": "11222333000181", "identifierType": "CNPJ"}
    )
    assert response.status_code == 200
    revoked = response.json()
    assert revoked["status"] == "CONSENT_REVOKED" and revoked["statusReason"]["code"] == "REVOGADO_RECEBEDOR"
    assert revoked["cancellation"]["identifierType"] == "CNPJ"
    for payment in (first, second):
        cancelled = pix.payment(consent["id"], payment["id"])
        assert (
            cancelled["status"] == "CANCELED"
            and cancelled["statusReason"]["code"] == "CANCELADO_CONSENTIMENTO_REVOGADO"
        )
    assert pix.charge(consent["id"]).status_code == 409
    assert (
        pix.post(
            f"/consents/{consent['id']}/cancel", {"cancelledBy": "11222333000181", "identifierType": "CNPJ"}
        ).status_code
        == 409
    )


def test_the_management_list_pages_newest_first_and_filters(pix: AutoPix) -> None:
    made = [pix.create()["id"] for _ in range(3)]
    pix.bank({"redirectConsentURL": pix.consent(made[0])["redirectConsentURL"]}, "approve")
    path = "/payment/management/v1/merchants/automatic/sandbox-app/consents"
    page = pix.http.get(path, params={"pageNum": 1, "pageSize": 2}, headers=pix.headers).json()
    assert page["total"] == 3 and page["pageSize"] == 2 and [c["id"] for c in page["list"]] == made[::-1][:2]
    last = pix.http.get(path, params={"pageNum": 2, "pageSize": 2}, headers=pix.headers).json()
    assert [c["id"] for c in last["list"]] == [made[0]]
    authorised = pix.http.get(path, params={"status": "CONSENT_AUTHORIZED"}, headers=pix.headers).json()
    assert [c["id"] for c in authorised["list"]] == [made[0]]
    other = pix.http.get("/payment/management/v1/merchants/automatic/other-app/consents", headers=pix.headers)
    assert other.status_code == 404
    bad = pix.http.get(path, params={"pageSize": 101}, headers=pix.headers)
    assert bad.status_code == 400 and "pageSize" in bad.json()["message"]


def test_another_partner_sees_none_of_it(pix: AutoPix, client) -> None:
    consent = pix.create()
    other = client.post(
        "/payment/customer/v1/auth", json={"accessKey": "other-access-key", "secretKey": "other-secret-key"}
    )
    token = other.json()["accessToken"]
    seen = client.get(
        f"/payment/customer/v1/automatic/consents/{consent['id']}", headers={"Authorization": f"Bearer {token}"}
    )
    assert seen.status_code == 404


def test_a_data_api_token_is_refused(pix: AutoPix, client) -> None:
    data_token = client.post(
        "/data/v1/auth", json={"accessKey": "sandbox-access-key", "secretKey": "sandbox-secret-key"}
    )
    response = client.post(
        "/payment/customer/v1/automatic/consents",
        json=consent_body(pix.today()),
        headers={"Authorization": f"Bearer {data_token.json()['accessToken']}"},
    )
    assert response.status_code == 401


def test_a_consent_link_takes_the_keys_and_its_url_is_the_bank_page(pix: AutoPix, client) -> None:
    body = consent_body(pix.today())
    for name in ("clientRequestId", "institutionId", "redirectUrl"):
        body.pop(name)
    link = client.post(
        "/payment/customer/v1/automatic/consent-links",
        json={
            "accessKey": "sandbox-access-key",
            "secretKey": "sandbox-secret-key",
            "consent": {**body, "externalInfo": {"order": 7}},
        },
    )
    assert link.status_code == 201, link.text
    made = link.json()
    assert made["consentURL"].endswith(made["token"])
    page = client.get(made["consentURL"])
    assert page.status_code == 200 and "Autorizar" in page.text
    unsure = client.post(made["consentURL"], data={"decision": "maybe"}, follow_redirects=False)
    assert unsure.status_code == 400 and "Escolha Autorizar ou Recusar" in unsure.text
    done = client.post(made["consentURL"], data={"decision": "approve"}, follow_redirects=False)
    assert done.status_code == 200 and "autorizado" in done.text  # no redirectUrl: the bank says so
    consent = pix.consent(made["consentId"])
    assert consent["status"] == "CONSENT_AUTHORIZED" and consent["externalInfo"] == {"order": 7}
    wrong = client.post(
        "/payment/customer/v1/automatic/consent-links",
        json={"accessKey": "sandbox-access-key", "secretKey": "nope", "consent": body},
    )
    assert wrong.status_code == 401


def test_a_reset_forgets_automatic_pix_and_what_was_due(pix: AutoPix) -> None:
    consent = pix.authorised(firstPayment=None)
    payment = pix.scheduled(consent["id"], days=2)
    assert pix.http.post("/__mock/reset").status_code == 200
    assert pix.get(f"/consents/{consent['id']}").status_code == 404
    pix.to_settlement_of(payment)  # the settlement job went with it: nothing runs, nothing is sent
    sent = delivery_log(pix.http, name="automatic_payment_status_changed")
    assert sent == []
