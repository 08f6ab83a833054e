"""Automatic and manual report delivery, activated products, and downloading a report by
its productReportId, as a partner (and its receiver) would see them."""

from __future__ import annotations

import pytest

from klavi_mock.config import ConfigError, Settings, parse_config
from klavi_mock.testing import delivery_log, wait_for
from tests.conftest import API, VALID_CNPJ, VALID_CPF, authorise, bearer
from tests.worlds import in_process

ACTIVATED = ["pf_checking_account", "pf_credit_card", "pj_checking_account"]


def products(http, **body):
    response = http.put("/__mock/tenants/sandbox-app/reports", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def settled(http):
    wait_for(lambda: delivery_log(http) and not delivery_log(http, status="pending"), 20, "the webhooks")


def test_automatic_delivery_sends_the_activated_reports_when_a_consent_is_authorised(hooked, client, receiver):
    tenant = products(client, reportDelivery="automatic", activatedProducts=ACTIVATED)
    assert tenant["reportDelivery"] == "automatic" and tenant["activatedProducts"] == ACTIVATED
    consent = authorise(hooked, personalTaxId=VALID_CPF)
    wait_for(lambda: len(receiver.at("/reports")) == 2, 20, "two reports")
    settled(client)
    reports = {r.json()["productName"]: r.json() for r in receiver.at("/reports")}
    assert set(reports) == {"pf_checking_account", "pf_credit_card"}  # the pj_ one is not a person's
    assert all([c["consentId"] for link in r["links"] for c in link["consents"]] == [consent] for r in reports.values())
    names = [e["eventName"] for e in receiver.events()]
    assert names.index("consent_authorised") < names.index("product_request_received")  # one line: the consent's
    assert {d["orderingKey"] for d in delivery_log(client) if d["name"].startswith("product_")} == {
        f"consent:{consent}"
    }
    assert names.count("product_generated_success") == 2
    [received] = [e for e in receiver.events() if e["eventName"] == "product_request_received"]
    assert received["payload"]["consentIds"] == [consent] and received["payload"]["products"] == [
        "pf_checking_account",
        "pf_credit_card",
    ]
    # The same report can be downloaded later, byte for byte the same JSON.
    for report in reports.values():
        assert client.get(f"/__mock/reports/{report['productReportId']}").json() == report


def test_manual_delivery_sends_the_events_and_keeps_the_reports_for_download(hooked, client, receiver):
    products(client, reportDelivery="manual", activatedProducts=["pj_checking_account"])
    consent = authorise(hooked, businessTaxId=VALID_CNPJ, personalTaxId=None)
    wait_for(lambda: [e for e in receiver.events() if e["eventName"] == "product_generated_success"], 20, "the event")
    settled(client)
    assert receiver.at("/reports") == []
    [success] = [e for e in receiver.events() if e["eventName"] == "product_generated_success"]
    report = client.get(f"/__mock/reports/{success['payload']['productReportId']}").json()
    assert report["productName"] == "pj_checking_account" and report["enquiryCnpj"] == VALID_CNPJ
    assert [c["consentId"] for link in report["links"] for c in link["consents"]] == [consent]
    # Revoking the consent later does not change the report that was made.
    client.post(f"/__mock/consents/{consent}/status", json={"status": "REVOKED"})
    assert client.get(f"/__mock/reports/{success['payload']['productReportId']}").json() == report


def test_on_request_delivery_sends_nothing_until_asked(hooked, client, receiver):
    authorise(hooked, personalTaxId=VALID_CPF)
    settled(client)
    assert not [e for e in receiver.events() if e["eventName"].startswith("product_")]


def test_a_product_the_partner_did_not_activate_is_refused_with_4002(hooked, client):
    products(client, activatedProducts=["pf_checking_account"])
    authorise(hooked, personalTaxId=VALID_CPF)
    token = bearer(hooked.access_token())
    refused = client.post(
        f"{API}/personal/institution-data",
        headers=token,
        json={"taxId": VALID_CPF, "institutionCode": "341", "products": ["pf_loans"]},
    )
    assert refused.status_code == 416 and refused.json()["statusCode"] == 4002
    assert "pf_loans" in refused.json()["message"] and "activated" in refused.json()["message"]
    everything = client.post(
        f"{API}/personal/institution-data",
        headers=token,
        json={"taxId": VALID_CPF, "institutionCode": "341", "products": ["all"]},
    )
    assert everything.status_code == 200
    request_id = everything.json()["requestId"]
    wait_for(lambda: delivery_log(client, requestId=request_id, kind="report"), 20, "the report")
    assert [d["name"] for d in delivery_log(client, requestId=request_id, kind="report")] == ["pf_checking_account"]
    # null activates every product again
    assert products(client, activatedProducts=None)["activatedProducts"] is None
    again = client.post(
        f"{API}/personal/institution-data",
        headers=token,
        json={"taxId": VALID_CPF, "institutionCode": "341", "products": ["pf_loans"]},
    )
    assert again.status_code == 200


def test_an_unknown_report_id_is_a_klavi_404(client):
    response = client.get("/__mock/reports/0b5c7c38-0000-0000-0000-000000000000")
    assert response.status_code == 404 and "productReportId" in response.json()["message"]


@pytest.mark.parametrize(
    "body, field",
    [({"reportDelivery": "sometimes"}, "reportDelivery"), ({"activatedProducts": ["pf_nothing"]}, "activatedProducts")],
)
def test_bad_product_settings_are_refused_naming_the_field(client, body, field):
    response = client.put("/__mock/tenants/sandbox-app/reports", json=body)
    assert response.status_code == 400 and field in response.json()["message"]


def test_the_config_file_and_a_state_file_keep_the_settings(settings, tmp_path, receiver):
    tenant = {"appId": "a", "accessKey": "k", "secretKey": "s"}
    parsed = parse_config(
        {"tenants": [{**tenant, "reportDelivery": "automatic", "activatedProducts": ["pf_funds"]}]}, "f"
    )
    assert parsed["tenants"][0].report_delivery == "automatic" and parsed["tenants"][0].activated_products == (
        "pf_funds",
    )
    with pytest.raises(ConfigError, match="reportDelivery"):
        parse_config({"tenants": [{**tenant, "reportDelivery": "push"}]}, "f")
    state = Settings(**{**vars(settings), "state_file": str(tmp_path / "state.sqlite")})
    with in_process(state) as http:
        products(http, reportDelivery="manual", activatedProducts=["pf_funds"])
    with in_process(state) as http:
        kept = next(t for t in http.get("/__mock/tenants").json() if t["appId"] == "sandbox-app")
        assert kept["reportDelivery"] == "manual" and kept["activatedProducts"] == ["pf_funds"]


def test_encrypted_sensitive_fields_give_the_cpf_encoded_variant_a_partner_can_decrypt(hooked, client, receiver):
    from klavi_mock.domain.encryption import decrypt_field

    assert client.put("/__mock/tenants/sandbox-app/reports", json={"encryptSensitiveFields": True}).json()[
        "encryptSensitiveFields"
    ]
    authorise(hooked, personalTaxId=VALID_CPF)
    token = bearer(hooked.access_token())
    response = client.post(
        f"{API}/personal/institution-data",
        headers=token,
        json={"taxId": VALID_CPF, "institutionCode": "341", "products": ["pf_checking_account"]},
    )
    assert response.status_code == 200
    [report] = [r.json() for r in wait_for(lambda: receiver.at("/reports"), 20, "the report")]
    assert report["enquiryCpf"] != VALID_CPF
    assert decrypt_field(report["enquiryCpf"], "sandbox-secret-key") == VALID_CPF
    assert "partieCnpjCpf" not in receiver.at("/reports")[0].body.decode()
    assert report["checkingAccounts"]  # the rest is there
    assert client.get(f"/__mock/reports/{report['productReportId']}").json() == report  # deterministic
    with pytest.raises(ValueError):
        decrypt_field(report["enquiryCpf"], "another-secret")


def test_the_decryption_recipe_in_the_readme_works_with_plain_cryptography():
    """The recipe in docs/reference/encrypted-fields.md (for partners who do not use klavi-mock's helper)."""
    import base64
    import hashlib
    import hmac
    from datetime import datetime, timezone

    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    from klavi_mock.domain.encryption import encrypt_field

    token = encrypt_field(VALID_CPF, "sandbox-secret-key", datetime(2026, 1, 2, tzinfo=timezone.utc))
    secret = "sandbox-secret-key"
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    mac_key = hashlib.sha256(b"mac:" + secret.encode()).digest()
    assert hmac.compare_digest(hmac.new(mac_key, raw[:-32], hashlib.sha256).digest(), raw[-32:])
    key = hashlib.sha256(secret.encode()).digest()
    decryptor = Cipher(algorithms.AES(key), modes.CBC(raw[5:21])).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    plain = unpadder.update(decryptor.update(raw[21:-32]) + decryptor.finalize()) + unpadder.finalize()
    assert plain.decode() == VALID_CPF


def test_reset_brings_back_the_configured_report_settings(client):
    products(client, reportDelivery="manual", activatedProducts=["pf_funds"], encryptSensitiveFields=True)
    assert client.post("/__mock/reset", json={}).status_code == 200
    tenant = next(t for t in client.get("/__mock/tenants").json() if t["appId"] == "sandbox-app")
    assert (tenant["reportDelivery"], tenant["activatedProducts"], tenant["encryptSensitiveFields"]) == (
        "on-request",
        None,
        False,
    )
