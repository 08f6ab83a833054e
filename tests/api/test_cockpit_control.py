"""The control-API endpoints the QA cockpit needs: answering at the bank, the report
requests, and what fell due when the clock moved."""

from __future__ import annotations

import time

import pytest

from klavi_mock.sandbox import report_building
from klavi_mock.testing import wait_for
from tests.conftest import VALID_CPF, ask, authorise, query_of

EXPIRES_SOON_CPF = "00000000515"  # persona expires-soon: EXPIRED 300 s after authorisation
SLOW_REPORT_CPF = "00000001244"  # persona slow-report: reports go out 600 s after the request


def bank(client, consent_id, **body):
    return client.post(f"/__mock/consents/{consent_id}/bank", json=body)


def test_approve_at_the_bank_authorises(klavi, client):
    consent = klavi.create_consent()
    response = bank(client, consent["consentId"], decision="approve")
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["consent"]["status"] == "AUTHORISED" and answer["waiting"] is False
    assert query_of(answer["returnURL"])["consent_id"] == consent["consentId"]
    assert klavi.consent(consent["consentId"])["status"] == "AUTHORISED"
    assert client.get(f"/__mock/consents/{consent['consentId']}").json()["redirectUsed"] is True


def test_deny_at_the_bank_rejects(klavi, client):
    consent = klavi.create_consent()
    answer = bank(client, consent["consentId"], decision="deny").json()
    assert answer["consent"]["status"] == "REJECTED"
    assert answer["consent"]["statusReason"]["code"] == "CUSTOMER_MANUALLY_REJECTED"
    assert query_of(answer["returnURL"])["error"] == "access_denied"


def test_approve_then_decline_lgpd(klavi, client):
    consent = klavi.create_consent()
    answer = bank(client, consent["consentId"], decision="approve", lgpd="decline").json()
    assert answer["consent"]["statusReason"]["code"] == "LGPD_DECLINED"


def test_the_persona_still_decides_what_the_bank_does(klavi, client):
    consent = klavi.create_consent()
    assert (
        client.post(f"/__mock/consents/{consent['consentId']}/persona", json={"persona": "never-completes"}).status_code
        == 200
    )
    answer = bank(client, consent["consentId"], decision="approve").json()
    assert answer["waiting"] is True and answer["returnURL"] is None
    assert answer["consent"]["status"] == "AWAITING_AUTHORISATION"


def test_a_consent_opened_at_the_bank_page_is_answered_from_there(klavi, client):
    consent = klavi.create_consent()
    page = client.get(consent["consentRedirectURL"])  # the user opened the bank page
    assert page.status_code == 200
    assert bank(client, consent["consentId"], decision="approve").json()["consent"]["status"] == "AUTHORISED"


def test_a_finished_consent_is_a_409(klavi, client):
    consent_id = authorise(klavi)
    response = bank(client, consent_id, decision="approve")
    assert response.status_code == 409 and "AUTHORISED" in response.json()["message"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "decision"),
        ({"decision": "maybe"}, "decision"),
        ({"decision": "approve", "lgpd": "nah"}, "lgpd"),
        ({"decision": "approve", "extra": 1}, "extra"),
    ],
)
def test_bad_bank_answers_are_400(klavi, client, body, field):
    consent = klavi.create_consent()
    response = bank(client, consent["consentId"], **body)
    assert response.status_code == 400 and field in response.json()["message"]
    assert set(response.json()) == {"statusCode", "error", "message"}


def test_an_unknown_consent_is_a_404(client):
    response = bank(client, "no-such-consent", decision="approve")
    assert response.status_code == 404 and response.json()["statusCode"] == 404


def test_reports_lists_requests_and_their_reports(klavi, client):
    consent_id = authorise(klavi)
    response = ask(
        klavi,
        "/personal/institution-data",
        taxId=VALID_CPF,
        institutionCode="341",
        products=["pf_checking_account", "pf_credit_card"],
    )
    request_id = response.json()["requestId"]
    # Built once the request is answered: listed at once, its reports shortly after.
    listed = wait_for(lambda: (found := client.get("/__mock/reports").json())[0]["reports"] and found)
    assert [r["requestId"] for r in listed] == [request_id]
    entry = listed[0]
    assert entry["appId"] == "sandbox-app" and entry["taxId"] == VALID_CPF and entry["level"] == "institution"
    assert sorted(r["productName"] for r in entry["reports"]) == ["pf_checking_account", "pf_credit_card"]
    assert all(r["code"] == 200 and r["productReportId"] for r in entry["reports"])
    assert [e["eventName"] for e in entry["events"]][0] == "product_request_received"
    assert consent_id  # the scope
    assert client.get("/__mock/reports", params={"taxId": "11144477735"}).json() == []
    assert client.get("/__mock/reports", params={"appId": "other-app"}).json() == []


def test_reports_bad_filter_is_400(client):
    response = client.get("/__mock/reports", params={"taxId": "1" * 20})
    assert response.status_code == 400 and "query.taxId" in response.json()["message"]


def test_clock_advance_says_what_fell_due(klavi, client):
    consent_id = authorise(klavi, personalTaxId=EXPIRES_SOON_CPF)
    pending = klavi.create_consent()["consentId"]
    quiet = client.post("/__mock/clock/advance", json={"seconds": 10}).json()
    assert quiet["fellDue"] == [] and {"now", "offsetSeconds"} <= set(quiet)
    moved = client.post("/__mock/clock/advance", json={"seconds": 3600}).json()
    by_consent = {item["consentId"]: item for item in moved["fellDue"] if item["consentId"]}
    assert by_consent[consent_id]["kind"] == "expire" and "EXPIRED" in by_consent[consent_id]["what"]
    assert by_consent[pending]["kind"] == "authorisation_window" and "REJECTED" in by_consent[pending]["what"]
    assert client.get(f"/__mock/consents/{consent_id}").json()["status"] == "EXPIRED"


def test_clock_advance_names_the_deliveries_it_made_due(hooked, client, receiver, monkeypatch):
    # A slow build (as under load): the move waits for it, so the delayed report is made due.
    build = report_building.build_each
    monkeypatch.setattr(report_building, "build_each", lambda *args: (time.sleep(0.5), build(*args))[1])
    authorise(hooked, personalTaxId=SLOW_REPORT_CPF)
    response = ask(
        hooked,
        "/personal/institution-data",
        taxId=SLOW_REPORT_CPF,
        institutionCode="341",
        products=["pf_checking_account"],
    )
    assert response.status_code == 200, response.text
    moved = client.post("/__mock/clock/advance", json={"seconds": 601}).json()
    webhooks = [item for item in moved["fellDue"] if item["kind"] == "webhook"]
    assert webhooks and all(item["deliveryId"] and item["consentId"] is None for item in webhooks)
    assert any("pf_checking_account" in item["what"] for item in webhooks)
