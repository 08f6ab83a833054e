"""Issue 23, item 7: applications of one partner. Klavi's docs say products "may be requested
by different applications, disregarding the original application to which the user gave
consent": an application of the same partner (the config file's `partner`) may request
reports on a consent; another partner's applications still get 4001."""

from __future__ import annotations

import pytest

from klavi_mock.config import Tenant
from klavi_mock.testing import Receiver, wait_for
from tests.conftest import API, VALID_CPF, Klavi, authorise, bearer
from tests.worlds import OTHER_KEYS, SANDBOX_KEYS, in_process, tenant, world_settings

SISTER_KEYS = {"accessKey": "sister-access-key", "secretKey": "sister-secret-key"}


@pytest.fixture
def world():
    settings = world_settings(
        tenants=[
            tenant("sandbox-app", partner="acme"),
            Tenant(
                app_id="sister-app",
                access_key=SISTER_KEYS["accessKey"],
                secret_key=SISTER_KEYS["secretKey"],
                partner="acme",
            ),
            tenant("other-app"),
        ]
    )
    receiver = Receiver()
    with in_process(settings, follow_redirects=False) as http:
        for app in ("sandbox-app", "sister-app", "other-app"):
            hooks = {
                "eventsUrl": receiver.url(f"/{app}/events"),
                "productsCallbackURL": receiver.url(f"/{app}/reports"),
            }
            assert http.put(f"/__mock/tenants/{app}/webhooks", json=hooks).status_code == 200
        yield http, receiver
    receiver.stop()


def token(http, keys) -> dict:
    return bearer(http.post(f"{API}/auth", json=keys).json()["accessToken"])


def test_an_app_of_the_same_partner_gets_reports_on_the_consent(world):
    http, receiver = world
    consent_id = authorise(Klavi(http))  # given to sandbox-app
    tenants = {t["appId"]: t["partner"] for t in http.get("/__mock/tenants").json()}
    assert tenants == {"sandbox-app": "acme", "sister-app": "acme", "other-app": "other-app"}
    for body in (
        {"taxId": VALID_CPF, "institutionCode": "341", "products": ["pf_checking_account"]},
        {"taxId": VALID_CPF, "institutionCode": "341", "consentIds": [consent_id], "products": ["pf_checking_account"]},
    ):
        asked = http.post(f"{API}/personal/institution-data", headers=token(http, SISTER_KEYS), json=body)
        assert asked.status_code == 200, asked.text
    reports = wait_for(
        lambda: len(receiver.at("/sister-app/reports")) >= 2 and receiver.at("/sister-app/reports"), 20, "2 reports"
    )
    for received in reports:
        report = received.json()
        assert report["links"][0]["consents"][0]["consentId"] == consent_id
    # the sister app's own events and URLs, none of the consent's application
    names = [e["eventName"] for e in receiver.events("/sister-app/events")]
    assert names.count("product_request_received") == 2 and not receiver.at("/sandbox-app/reports")


def test_another_partner_stays_isolated(world):
    http, _ = world
    consent_id = authorise(Klavi(http))
    for body in (
        {"taxId": VALID_CPF, "institutionCode": "341", "products": ["pf_checking_account"]},
        {"taxId": VALID_CPF, "institutionCode": "341", "consentIds": [consent_id], "products": ["pf_checking_account"]},
    ):
        refused = http.post(f"{API}/personal/institution-data", headers=token(http, OTHER_KEYS), json=body)
        assert refused.status_code == 416 and refused.json()["statusCode"] == 4001, refused.text


def test_the_consent_itself_stays_its_applications(world):
    http, _ = world
    consent_id = authorise(Klavi(http))
    assert http.get(f"{API}/consents/{consent_id}", headers=token(http, SANDBOX_KEYS)).status_code == 200
    # reading or revoking it is its own application's business (mock choice)
    assert http.get(f"{API}/consents/{consent_id}", headers=token(http, SISTER_KEYS)).status_code == 404
    assert http.delete(f"{API}/consents/{consent_id}/revoke", headers=token(http, SISTER_KEYS)).status_code == 404


def test_a_tenant_is_its_own_partner_by_default():
    with in_process(world_settings()) as http:
        assert {t["appId"]: t["partner"] for t in http.get("/__mock/tenants").json()} == {
            "sandbox-app": "sandbox-app",
            "other-app": "other-app",
        }


def test_a_bad_partner_in_the_config_is_refused():
    from klavi_mock.config import ConfigError, parse_config

    with pytest.raises(ConfigError, match="partner"):
        parse_config({"tenants": [{"appId": "a", "accessKey": "k", "secretKey": "s", "partner": ""}]}, "f")
