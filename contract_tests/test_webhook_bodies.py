"""Every webhook body the mock produces, checked against the `webhooks:` section of
openapi/klavi.yaml: each persona's consent journey, a report request for every product
(personal and business), clock-driven changes, and For-FI events. Bodies are read from the
delivery log, so no receiver is needed (the receivers of tests/ check the same bodies on
the wire)."""

import pytest

from klavi_mock.config import Settings, Tenant
from klavi_mock.domain.reports import products_for
from klavi_mock.spec.operations import load_spec
from klavi_mock.testing import delivery_log
from tests.contract import webhook_problems
from tests.worlds import TEST_HOSTS, in_process

KEYS = {"accessKey": "sandbox-access-key", "secretKey": "sandbox-secret-key"}
API = "/data/v1"


def journey(client, tax_field, tax_id, decision="approve"):
    access = client.post(f"{API}/auth", json=KEYS).json()["accessToken"]
    link = client.post(
        f"{API}/links", json={"externalInfo": {"trace": "ç-1"}}, headers={"Authorization": f"Bearer {access}"}
    ).json()
    created = client.post(
        f"{API}/consents",
        headers={"Authorization": f"Bearer {link['linkToken']}"},
        json={
            "externalTrackId": f"t-{tax_id}-{decision}",
            tax_field: tax_id,
            "institutionCode": "341",
            "redirectURL": "https://partner.example.com/back",
        },
    )
    if created.status_code == 200:
        client.get(created.json()["consentRedirectURL"] + f"&decision={decision}", follow_redirects=False)
    return access


def open_data_report(client):
    access = client.post(f"{API}/auth", json=KEYS).json()["accessToken"]
    link = client.post(f"{API}/links", json={}, headers={"Authorization": f"Bearer {access}"}).json()
    token = {"Authorization": f"Bearer {link['linkToken']}"}
    task = client.post(
        f"{API}/consents",
        headers=token,
        json={
            "externalTrackId": "open-data",
            "personalTaxId": "52998224725",
            "institutionCode": "003",
            "redirectURL": "https://partner.example.com/back",
        },
    ).json()["taskId"]
    mfa = client.get(f"{API}/tasks/{task}/status", headers=token).json()["mfaInfo"]["mfaId"]
    client.post(f"{API}/tasks/{task}/mfa", headers=token, json={"mfaId": mfa, "username": "u", "password": "p"})
    client.post(
        f"{API}/personal/institution-data",
        headers={"Authorization": f"Bearer {access}"},
        json={"taxId": "52998224725", "institutionCode": "003", "products": ["pf_checking_account"]},
    )


@pytest.fixture(scope="module")
def delivered_bodies():
    tenants = [
        Tenant(app_id="sandbox-app", access_key=KEYS["accessKey"], secret_key=KEYS["secretKey"]),
        Tenant(app_id="fi-app", access_key="fi-key", secret_key="fi-secret", for_fi=True),
    ]
    with in_process(Settings(strict=True, tenants=tenants, allowed_hosts=TEST_HOSTS)) as client:
        personas = client.get("/__mock/personas").json()
        for persona in personas:
            for field in ("personalTaxId", "businessTaxId"):
                tax_id = persona.get(field) or ("52998224725" if field == "personalTaxId" else "11222333000181")
                access = journey(client, field, tax_id)
                person, prefix = ("personal", "pf") if field == "personalTaxId" else ("business", "pj")
                for level, path in (("institution", "institution-data"), ("user", "user-data")):
                    body = {"taxId": tax_id, "products": products_for(prefix, level)}
                    if level == "institution":
                        body["institutionCode"] = "341"
                    client.post(f"{API}/{person}/{path}", json=body, headers={"Authorization": f"Bearer {access}"})
        journey(client, "personalTaxId", "11144477735", decision="deny")
        # The CPF-encoded variant, and reports from an Open Data connection (with its connectionKey).
        assert (
            client.put("/__mock/tenants/sandbox-app/reports", json={"encryptSensitiveFields": True}).status_code == 200
        )
        for field, tax_id, prefix in (
            ("personalTaxId", "52998224725", "pf"),
            ("businessTaxId", "11222333000181", "pj"),
        ):
            access = journey(client, field, tax_id)
            person = "personal" if prefix == "pf" else "business"
            client.post(
                f"{API}/{person}/user-data",
                json={"taxId": tax_id, "products": products_for(prefix, "institution")},
                headers={"Authorization": f"Bearer {access}"},
            )
        assert (
            client.put("/__mock/tenants/sandbox-app/reports", json={"encryptSensitiveFields": False}).status_code == 200
        )
        open_data_report(client)
        client.post(
            "/__mock/clock/advance", json={"seconds": 400 * 86400}
        )  # expiries, scripted revocations, slow reports
        # For-FI: link_action_status
        access = client.post(f"{API}/auth", json={"accessKey": "fi-key", "secretKey": "fi-secret"}).json()[
            "accessToken"
        ]
        link = client.post(f"{API}/links", json={}, headers={"Authorization": f"Bearer {access}"}).json()
        created = client.post(
            f"{API}/consents",
            headers={"Authorization": f"Bearer {link['linkToken']}"},
            json={
                "externalTrackId": "fi-1",
                "personalTaxId": "52998224725",
                "institutionCode": "341",
                "redirectURL": "https://partner.example.com/back",
            },
        ).json()
        client.get(created["consentRedirectURL"] + "&decision=approve", follow_redirects=False)
        yield delivery_log(client)


def test_every_kind_of_delivery_was_produced(delivered_bodies):
    names = {d["name"] for d in delivered_bodies}
    expected_events = set(
        load_spec("klavi.yaml").resolved["components"]["schemas"]["ApiEvent"]["properties"]["eventName"]["enum"]
    )
    assert expected_events <= names, expected_events - names
    assert set(products_for("pf", "institution") + products_for("pj", "user")) <= names


def test_every_delivered_body_matches_the_spec(delivered_bodies):
    off_spec = {}
    for delivery in delivered_bodies:
        webhook = "apiEvents" if delivery["kind"] == "event" else delivery["name"]
        problems = webhook_problems(webhook, delivery["body"])
        if problems:
            off_spec[f"{delivery['name']} ({delivery['deliveryId']})"] = problems[:3]
    assert not off_spec, off_spec
    assert len(delivered_bodies) > 300
    reports = [d["body"] for d in delivered_bodies if d["kind"] == "report"]
    assert any(not r["enquiryCpf"].isdigit() and r["enquiryCpf"] for r in reports)  # the encrypted variant was checked
    assert any("connectionKey" in link for r in reports for link in r["links"])  # and an Open Data report
