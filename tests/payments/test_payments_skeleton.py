"""The payments API's frame: its own /auth and token kind, its mount beside the data API, the
tenant's paymentsUrl and the payment event envelope, its contract served with the others."""

from __future__ import annotations

import yaml

from klavi_mock.testing.helpers import wait_for
from klavi_mock.webhooks.signing import verify_signature
from tests.conftest import bearer
from tests.worlds import SANDBOX_KEYS, in_process, tenant, world_settings

PAYMENT_AUTH = "/payment/customer/v1/auth"


def test_payments_auth_gives_a_token_and_its_expiry(client):
    response = client.post(PAYMENT_AUTH, json=SANDBOX_KEYS)
    assert response.status_code == 200
    body = response.json()
    assert body["expireIn"] == 1800 and body["accessToken"].count(".") == 2
    clock = client.get("/__mock/clock").json()
    assert body["expire"] > clock["now"][:19]


def test_payments_auth_refuses_wrong_keys_and_names_a_missing_field(client):
    wrong = client.post(PAYMENT_AUTH, json={**SANDBOX_KEYS, "secretKey": "nope"})
    assert wrong.status_code == 401 and wrong.json()["message"] == "Invalid accessKey or secretKey"
    missing = client.post(PAYMENT_AUTH, json={"accessKey": "sandbox-access-key"})
    assert missing.status_code == 400 and missing.json()["message"] == "body.secretKey: is required"


def test_a_payments_token_is_refused_by_the_data_api(client):
    token = client.post(PAYMENT_AUTH, json=SANDBOX_KEYS).json()["accessToken"]
    response = client.post("/data/v1/links", headers=bearer(token), json={})
    assert response.status_code == 401
    assert "payments accessToken was sent" in response.json()["message"]


def test_an_unknown_payments_path_is_a_404_in_klavis_shape_listing_the_api_routes(client):
    response = client.get("/payment/customer/v1/nothing-here")
    assert response.status_code == 404
    message = response.json()["message"]
    assert "POST /payment/customer/v1/auth" in message and "POST /data/v1/auth" in message
    assert "/__mock/" not in message


def test_the_payments_contract_is_served_beside_the_others(client):
    response = client.get("/__mock/openapi/klavi-payments.yaml")
    assert response.status_code == 200
    document = yaml.safe_load(response.text)
    assert document["paths"]["/customer/v1/auth"]["post"]["operationId"] == "createPaymentAccessToken"
    for_swagger = client.get("/__mock/docs/spec/klavi-payments.yaml").json()
    assert for_swagger["servers"][0]["url"] == "http://testserver/payment"
    assert "klavi-payments.yaml" in client.get("/__mock/docs?spec=klavi-payments.yaml").text


def test_payments_url_is_set_and_shown_by_the_control_api(client):
    response = client.put("/__mock/tenants/sandbox-app/webhooks", json={"paymentsUrl": "http://127.0.0.1:9/payments"})
    assert response.status_code == 200 and response.json()["paymentsUrl"] == "http://127.0.0.1:9/payments"
    bad = client.put("/__mock/tenants/sandbox-app/webhooks", json={"paymentsUrl": 3})
    assert bad.status_code == 400 and "paymentsUrl" in bad.json()["message"]
    listed = {t["appId"]: t for t in client.get("/__mock/tenants").json()}
    assert listed["sandbox-app"]["paymentsUrl"] == "http://127.0.0.1:9/payments"
    assert listed["other-app"]["paymentsUrl"] is None


def _emit(http, name: str = "payment_status_changed") -> None:
    sandbox = http.app.state.sandbox
    sandbox.webhooks.emit_payment("sandbox-app", name, {"paymentId": "p-1", "status": "STARTED"}, "payment:p-1")
    sandbox.store.commit()
    sandbox.wakeup.wake()


def test_a_payment_event_goes_signed_to_payments_url(receiver):
    settings = world_settings(
        tenants=[tenant("sandbox-app", events_url=receiver.url("/events"), payments_url=receiver.url("/payments"))]
    )
    with in_process(settings) as http:
        _emit(http)
        (delivery,) = wait_for(lambda: receiver.at("/payments"), what="the payment event")
    (event,) = delivery.json()
    assert event["eventType"] == "payment" and event["eventName"] == "payment_status_changed"
    assert event["payload"] == {"paymentId": "p-1", "status": "STARTED"}
    assert verify_signature(delivery.body, delivery.headers["x-klavi-signature"], "sandbox-secret-key")
    assert receiver.at("/events") == []


def test_without_payments_url_a_payment_event_goes_to_events_url(receiver):
    settings = world_settings(tenants=[tenant("sandbox-app", events_url=receiver.url("/events"))])
    with in_process(settings) as http:
        _emit(http, "automatic_consent_status_changed")
        (delivery,) = wait_for(lambda: receiver.at("/events"), what="the payment event")
    assert delivery.json()[0]["eventName"] == "automatic_consent_status_changed"


def test_a_redelivered_payment_event_goes_to_the_current_payments_url(receiver):
    settings = world_settings(tenants=[tenant("sandbox-app", events_url=receiver.url("/events"))])
    with in_process(settings, base_url="http://127.0.0.1") as http:
        _emit(http)
        wait_for(lambda: receiver.at("/events"), what="the payment event")
        http.put("/__mock/tenants/sandbox-app/webhooks", json={"paymentsUrl": receiver.url("/payments")})
        (logged,) = http.get("/__mock/webhooks", params={"name": "payment_status_changed"}).json()["items"]
        assert http.post(f"/__mock/webhooks/{logged['deliveryId']}/redeliver").status_code == 200
        (again,) = wait_for(lambda: receiver.at("/payments"), what="the redelivery")
    assert again.json()[0]["payload"]["paymentId"] == "p-1"
