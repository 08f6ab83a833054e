"""The QA tools over the payments contract: the conformance report's coverage per contract,
fault rules matching payments operations and paths, the journal recording payments requests,
an expired payments token counted as recoverable."""

from __future__ import annotations

from klavi_mock.qa.conformance import is_recoverable, render_text
from tests.conftest import API, bearer
from tests.payments import instant
from tests.worlds import SANDBOX_KEYS

PAYMENT_AUTH = "/payment/customer/v1/auth"


def report(client, app_id="sandbox-app") -> dict:
    response = client.get("/__mock/conformance", params={"appId": app_id})
    assert response.status_code == 200, response.text
    [tenant] = response.json()["tenants"]
    return tenant


def payments_token(client) -> str:
    response = client.post(PAYMENT_AUTH, json=SANDBOX_KEYS)
    assert response.status_code == 200, response.text
    return response.json()["accessToken"]


# -- conformance: coverage per contract -------------------------------------------------------


def test_a_data_only_client_is_not_reported_missing_the_payments_contract(klavi, client):
    klavi.create_link()
    tenant = report(client)
    data, payments = tenant["contracts"]["data"], tenant["contracts"]["payments"]
    assert data["called"] is True and data["exercised"] == 2 and "createConsent" in data["notExercised"]
    assert payments["called"] is False and payments["exercised"] == 0
    assert payments["notExercised"] and payments["operations"] == len(payments["notExercised"])
    assert "createPaymentAccessToken" not in tenant["notExercised"]
    assert tenant["notExercised"] == data["notExercised"]
    assert "  coverage: data 2/" in render_text({"tenants": [tenant]})
    assert ", payments not called" in render_text({"tenants": [tenant]})


def test_a_payments_only_client_is_covered_on_the_payments_contract_alone(client):
    payments_token(client)
    payments_token(client)
    tenant = report(client)
    assert tenant["operations"]["createPaymentAccessToken"] == {"calls": 2, "statuses": {"200": 2}}
    payments, data = tenant["contracts"]["payments"], tenant["contracts"]["data"]
    assert payments["called"] is True and payments["exercised"] == 1
    assert "createPaymentAccessToken" not in payments["notExercised"]
    assert data["called"] is False and "createLink" in data["notExercised"]
    # notExercised: the payments operations left, none of the data API's.
    assert tenant["notExercised"] == payments["notExercised"]
    assert "createLink" not in tenant["notExercised"]


def test_a_client_of_both_contracts_gets_both_in_not_exercised(klavi, client):
    klavi.access_token()
    payments_token(client)
    tenant = report(client)
    assert all(item["called"] for item in tenant["contracts"].values())
    data, payments = tenant["contracts"]["data"], tenant["contracts"]["payments"]
    assert tenant["notExercised"] == data["notExercised"] + payments["notExercised"]


def test_a_payments_violation_is_grouped_under_its_operation_and_field(client):
    response = client.post(PAYMENT_AUTH, json={"accessKey": "sandbox-access-key", "secretKey": 7})
    assert response.status_code == 400
    # Refused before the handler reads the accessKey: no tenant yet.
    tenant = report(client, "(unauthenticated)")
    assert "body.secretKey" in tenant["violations"]["createPaymentAccessToken"]
    assert tenant["violationCount"] == 1


def test_the_expired_payments_tokens_message_is_recoverable():
    assert is_recoverable(
        "header.Authorization: the payments accessToken expired at 2026-01-01T00:30:00Z; "
        "get a new one from POST /payment/customer/v1/auth"
    )
    assert not is_recoverable("header.Authorization: a payments accessToken was sent; this operation takes ...")


# -- fault rules --------------------------------------------------------------------------------


def add_fault(client, **rule) -> dict:
    response = client.post("/__mock/faults", json=rule)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_fault_rule_names_a_payments_operation_and_fires_on_it(client):
    rule = add_fault(client, operationId="createPaymentAccessToken", status=503, retryAfterSeconds=2, times=1)
    faulted = client.post(PAYMENT_AUTH, json=SANDBOX_KEYS)
    assert faulted.status_code == 503 and faulted.headers["retry-after"] == "2"
    assert faulted.json()["statusCode"] == 503 and rule["faultId"] in faulted.json()["message"]
    assert client.post(PAYMENT_AUTH, json=SANDBOX_KEYS).status_code == 200
    # The data API's auth is another operation: untouched.
    assert client.post(f"{API}/auth", json=SANDBOX_KEYS).status_code == 200
    listed = client.get(f"/__mock/faults/{rule['faultId']}").json()
    assert listed["matched"] == 1 and listed["fired"] == 1


def test_a_fault_rule_matches_a_path_under_payment(client):
    add_fault(client, path="/payment/customer/*", status=429, times=2)
    assert client.post(f"{API}/auth", json=SANDBOX_KEYS).status_code == 200
    answers = [client.post(PAYMENT_AUTH, json=SANDBOX_KEYS) for _ in range(3)]
    assert [a.status_code for a in answers] == [429, 429, 200]
    assert answers[0].headers["retry-after"] == "1"


def test_a_fault_rule_naming_no_klavi_operation_is_refused_listing_both_contracts(client):
    response = client.post("/__mock/faults", json={"operationId": "createPayment3000", "status": 500})
    assert response.status_code == 400
    message = response.json()["message"]
    assert message.startswith('body.operationId: must be one of "createAccessToken"')
    assert '"createPaymentAccessToken"' in message and message.endswith('; got "createPayment3000"')
    assert client.get("/__mock/faults").json() == []


def test_a_data_api_business_code_on_a_payments_operation_is_refused(client):
    response = client.post("/__mock/faults", json={"operationId": "createInstantPayment", "status": 4006})
    assert response.status_code == 400
    assert response.json()["message"] == (
        "body: status 4001-4009 is a business code of the data API: a rule on a payments operation gives an HTTP status"
    )
    assert client.post("/__mock/faults", json={"operationId": "createLink", "status": 4006}).status_code == 200


def test_a_payments_fault_and_the_clients_retry_are_in_the_conformance_report(client):
    add_fault(client, operationId="createPaymentAccessToken", status=500, times=1)
    assert client.post(PAYMENT_AUTH, json=SANDBOX_KEYS).status_code == 500
    assert client.post(PAYMENT_AUTH, json=SANDBOX_KEYS).status_code == 200
    everyone = client.get("/__mock/conformance").json()["tenants"]
    items = [item for tenant in everyone for item in tenant.get("faults", {}).get("items", [])]
    assert [item["operationId"] for item in items] == ["createPaymentAccessToken"]
    assert items[0]["reaction"]["outcome"] == "retried"


# -- the journal --------------------------------------------------------------------------------


def test_the_journal_records_payments_requests_masked(client):
    token = payments_token(client)
    client.post(PAYMENT_AUTH, json={**SANDBOX_KEYS, "secretKey": "wrong"})
    entries = client.get("/__mock/requests").json()["items"]
    assert [(e["operationId"], e["status"]) for e in entries] == [
        ("createPaymentAccessToken", 401),
        ("createPaymentAccessToken", 200),
    ]
    ok = entries[1]
    assert ok["method"] == "POST" and ok["path"] == PAYMENT_AUTH and ok["appId"] == "sandbox-app"
    text = str(entries)
    assert token not in text and SANDBOX_KEYS["secretKey"] not in text
    filtered = client.get("/__mock/requests", params={"operationId": "createPaymentAccessToken", "status": 401})
    assert [e["status"] for e in filtered.json()["items"]] == [401]


# -- over the payments endpoints ----------------------------------------------------------------


def test_an_expired_payments_tokens_401_on_a_payments_operation_is_recoverable(client):
    token = payments_token(client)
    payment = client.post(instant.PAYMENTS, json=instant.body(), headers=bearer(token))
    assert payment.status_code == 201, payment.text
    client.post("/__mock/clock/advance", json={"seconds": 1801})
    expired = client.get(f"{instant.PAYMENTS}/{payment.json()['id']}", headers=bearer(token))
    assert expired.status_code == 401 and "payments accessToken expired at" in expired.json()["message"]
    fresh = client.get(f"{instant.PAYMENTS}/{payment.json()['id']}", headers=bearer(payments_token(client)))
    assert fresh.status_code == 200
    tenant = report(client)
    items = [item for group in tenant["violations"]["getInstantPayment"].values() for item in group]
    assert [(item["recoverable"], item["count"]) for item in items] == [(True, 1)]
    assert tenant["violationCount"] == 0 and tenant["recoverableCount"] == 1
    payments = tenant["contracts"]["payments"]
    assert payments["exercised"] == 3 and "getAutomaticConsent" in payments["notExercised"]
    assert tenant["contracts"]["data"]["called"] is False


def test_a_fault_rule_fires_on_a_payment_creation_and_nothing_is_kept(client):
    token = payments_token(client)
    add_fault(client, operationId="createInstantPayment", status=503, times=1)
    payment = instant.body()
    assert client.post(instant.PAYMENTS, json=payment, headers=bearer(token)).status_code == 503
    # Nothing was created: the same clientRequestId makes the payment now (201, not 200).
    created = client.post(instant.PAYMENTS, json=payment, headers=bearer(token))
    assert created.status_code == 201, created.text
    assert client.post(instant.PAYMENTS, json=payment, headers=bearer(token)).status_code == 200
