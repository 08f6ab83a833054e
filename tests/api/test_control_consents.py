"""The control API's consent tools: list, inspect, force, reset."""

import pytest

from tests.conftest import API, bearer


def force(client, consent_id, status):
    return client.post(f"/__mock/consents/{consent_id}/force", json={"status": status})


@pytest.mark.parametrize("status", ["AUTHORISED", "REJECTED", "ERROR", "REVOKED"])
def test_a_pending_consent_can_be_forced(klavi, client, status):
    consent_id = klavi.create_consent()["consentId"]
    response = force(client, consent_id, status)
    assert response.status_code == 200 and response.json()["status"] == status
    assert klavi.consent(consent_id)["status"] == status


@pytest.mark.parametrize("status", ["EXPIRED", "REVOKED", "DELETED_BY_USER"])
def test_an_authorised_consent_can_be_forced_to_its_ends(klavi, client, status):
    consent_id = klavi.create_consent()["consentId"]
    force(client, consent_id, "AUTHORISED")
    assert force(client, consent_id, status).json()["statusReason"]["code"] == "FORCED"
    assert klavi.consent(consent_id)["status"] == status


def test_forcing_authorised_grants_what_the_persona_allows(klavi, client):
    consent_id = klavi.create_consent(personalTaxId="00000000787")["consentId"]  # partial-permissions
    assert force(client, consent_id, "AUTHORISED").json()["permissionsGranted"] == ["REGISTRATION_ALL", "ACCOUNTS_ALL"]


@pytest.mark.parametrize(
    "first, then", [("REJECTED", "AUTHORISED"), ("ERROR", "REVOKED"), ("AUTHORISED", "ERROR"), ("REVOKED", "EXPIRED")]
)
def test_illegal_moves_are_409_and_change_nothing(klavi, client, first, then):
    consent_id = klavi.create_consent()["consentId"]
    force(client, consent_id, first)
    response = force(client, consent_id, then)
    assert response.status_code == 409
    assert f"cannot become {then}" in response.json()["message"]
    assert klavi.consent(consent_id)["status"] == first


def test_forcing_an_unknown_status_or_consent_is_refused(klavi, client):
    consent_id = klavi.create_consent()["consentId"]
    bad = force(client, consent_id, "CONSUMED")
    assert bad.status_code == 400 and "body.status: must be one of" in bad.json()["message"]
    assert force(client, "no-such-consent", "REJECTED").status_code == 404


def test_the_control_api_lists_every_tenants_consents_with_details(klavi, client):
    mine = klavi.create_consent()["consentId"]
    other_token = klavi.access_token({"accessKey": "other-access-key", "secretKey": "other-secret-key"})
    theirs = klavi.create_consent(klavi.create_link(other_token)["linkToken"])["consentId"]
    listed = client.get("/__mock/consents").json()
    assert {c["consentId"] for c in listed} == {mine, theirs}
    assert [c["consentId"] for c in client.get("/__mock/consents", params={"appId": "other-app"}).json()] == [theirs]
    force(client, mine, "ERROR")
    assert [c["consentId"] for c in client.get("/__mock/consents", params={"status": "ERROR"}).json()] == [mine]
    state = client.get(f"/__mock/consents/{mine}").json()
    assert state["appId"] == "sandbox-app" and state["persona"] == "happy-path"
    assert state["redirectUsed"] is False and state["redirectURL"].startswith("https://")


def test_reset_forgets_consents_and_their_pending_timeouts(klavi, client):
    created = klavi.create_consent()
    assert client.post("/__mock/reset").status_code == 200
    assert client.get("/__mock/consents").json() == []
    klavi.advance(3600)  # the old consent's 60-minute job must not resurface
    assert client.get(f"{API}/consents", headers=bearer(klavi.access_token())).json() == []
    assert klavi.http.get(created["consentRedirectURL"]).status_code == 404
