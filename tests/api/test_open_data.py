"""Open Data (institutionType 2) end to end through the API: a consent at an Open Data
institution starts a task; the partner drives its login and MFA steps with the linkToken;
success authorises the consent and its reports carry a connectionKey that a later link
uses to update without a login; failures carry Open Data codes."""

from __future__ import annotations

import pytest

from klavi_mock.testing import wait_for
from tests.conftest import API, VALID_CPF, bearer

LOGIN = {"username": "maria", "password": "s3nha"}


def start(klavi, code: str, link: dict | None = None) -> tuple[dict, dict, str]:
    link = link or klavi.create_link()
    response = klavi.consent_request(link["linkToken"], institutionCode=code)
    assert response.status_code == 200, response.text
    created = response.json()
    assert created["taskId"] and created["consentRedirectURL"] is None
    return link, created, created["taskId"]


def status(klavi, link: dict, task_id: str) -> dict:
    response = klavi.http.get(f"{API}/tasks/{task_id}/status", headers=bearer(link["linkToken"]))
    assert response.status_code == 200, response.text
    return response.json()


def answer(klavi, link: dict, task_id: str, **body):
    mfa_id = status(klavi, link, task_id)["mfaInfo"]["mfaId"]
    return klavi.http.post(
        f"{API}/tasks/{task_id}/mfa", headers=bearer(link["linkToken"]), json={"mfaId": mfa_id, **body}
    )


def test_a_login_only_institution_connects_and_its_report_gives_a_connection_key(hooked, client, receiver):
    link, created, task = start(hooked, "003")
    asked = status(hooked, link, task)
    assert asked["status"] == "needMFA" and asked["mfaInfo"]["mfaType"] == "basic"
    assert answer(hooked, link, task, **LOGIN).json() == {"message": "ok"}
    assert status(hooked, link, task) == {"code": 200, "message": "ok", "status": "success"}
    assert hooked.consent(created["consentId"])["status"] == "AUTHORISED"
    wait_for(lambda: [e for e in receiver.events() if e["eventName"] == "consent_authorised"], 10, "consent_authorised")
    statuses = client.get(f"{API}/links/institutions/status", headers=bearer(link["linkToken"])).json()
    assert {"institutionCode": "003", "status": "success"}.items() <= next(
        s for s in statuses if s["institutionCode"] == "003"
    ).items()
    response = client.post(
        f"{API}/personal/institution-data",
        headers=bearer(hooked.access_token()),
        json={"taxId": VALID_CPF, "institutionCode": "003", "products": ["pf_checking_account"]},
    )
    assert response.status_code == 200, response.text
    report = wait_for(lambda: [r.json() for r in receiver.at("/reports")], 10, "the report")[0]
    [entry] = report["links"]
    assert entry["institutionCode"] == "003" and entry["connectionKey"].startswith("ck-")
    assert report["code"] == 200 and report["checkingAccounts"]


def test_every_mfa_type_in_turn(hooked):
    link, created, task = start(hooked, "389")  # login, multichoice, contact, questions
    assert answer(hooked, link, task, **LOGIN).status_code == 200
    asked = status(hooked, link, task)["mfaInfo"]
    assert asked["mfaType"] == "multichoice" and [c["value"] for c in asked["multichoices"]] == ["1", "2"]
    assert answer(hooked, link, task, switchVerificationType="2").status_code == 200
    asked = status(hooked, link, task)["mfaInfo"]
    assert asked["mfaType"] == "contact" and asked["contact"]
    assert answer(hooked, link, task, code="123456").status_code == 200
    asked = status(hooked, link, task)["mfaInfo"]
    assert asked["mfaType"] == "questions" and asked["questions"][0]["options"]
    assert answer(hooked, link, task, code=asked["questions"][0]["options"][0]["value"]).status_code == 200
    assert status(hooked, link, task)["status"] == "success"
    assert hooked.consent(created["consentId"])["status"] == "AUTHORISED"


@pytest.mark.parametrize(
    "password, code, message",
    [
        ("wrong-password", 402, "User credential error"),
        ("blocked", 408, "Account or password blocked"),
        ("too-many-attempts", 406, "Wrong password input too many times"),
    ],
)
def test_sandbox_passwords_fail_the_task_with_open_data_codes(hooked, client, receiver, password, code, message):
    link, created, task = start(hooked, "003")
    assert answer(hooked, link, task, username="maria", password=password).status_code == 200
    failed = status(hooked, link, task)
    assert failed["status"] == "fail" and failed["code"] == code and failed["message"].startswith(message)
    assert hooked.consent(created["consentId"])["status"] == "ERROR"
    state = client.get(f"/__mock/consents/{created['consentId']}").json()
    assert state["statusReason"]["code"] == "OPEN_DATA_CONNECTION_FAILED"
    wait_for(lambda: [e for e in receiver.events() if e["eventName"] == "consent_error"], 10, "consent_error")


def test_a_wrong_token_fails_and_answers_are_checked(hooked):
    link, _, task = start(hooked, "021")  # login, then a contact code
    missing = answer(hooked, link, task, username="maria")
    assert missing.status_code == 400 and "body.password" in missing.json()["message"]
    wrong_id = hooked.http.post(
        f"{API}/tasks/{task}/mfa", headers=bearer(link["linkToken"]), json={"mfaId": 1, **LOGIN}
    )
    assert wrong_id.status_code == 400 and "body.mfaId" in wrong_id.json()["message"]
    assert answer(hooked, link, task, **LOGIN).status_code == 200
    assert answer(hooked, link, task, code="000000").status_code == 200
    assert status(hooked, link, task)["code"] == 402
    again = hooked.http.post(
        f"{API}/tasks/{task}/mfa", headers=bearer(link["linkToken"]), json={"mfaId": 1, "code": "1"}
    )
    assert again.status_code == 416 and again.json()["statusCode"] == 4001


def test_a_connection_key_updates_without_a_login(hooked, client, receiver):
    link, _, task = start(hooked, "003")
    answer(hooked, link, task, **LOGIN)
    client.post(
        f"{API}/personal/institution-data",
        headers=bearer(hooked.access_token()),
        json={"taxId": VALID_CPF, "institutionCode": "003", "products": ["pf_checking_account"]},
    )
    key = wait_for(lambda: [r.json() for r in receiver.at("/reports")], 10, "the report")[0]["links"][0][
        "connectionKey"
    ]
    update = hooked.create_link(connectionKey=key)
    _, created, again = start(hooked, "003", update)
    assert status(hooked, update, again)["status"] == "success"  # no MFA asked
    assert hooked.consent(created["consentId"])["status"] == "AUTHORISED"
    before = client.get("/__mock/consents").json()
    elsewhere = hooked.consent_request(update["linkToken"], institutionCode="021")
    assert elsewhere.status_code == 416 and elsewhere.json()["statusCode"] == 4004
    assert client.get("/__mock/consents").json() == before  # nothing half-made
    unknown = client.post(f"{API}/links", headers=bearer(hooked.access_token()), json={"connectionKey": "ck-nope"})
    assert (
        unknown.status_code == 416
        and unknown.json()["statusCode"] == 4001
        and "connectionKey" in unknown.json()["message"]
    )
