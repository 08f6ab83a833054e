"""API-event webhooks to a real receiver on a loopback port: envelope, signature, retries,
the delivery log, redelivery, redirects, timeouts and For-FI partners."""

import re
import time

import pytest
from starlette.testclient import TestClient

from klavi_mock.app import create_app
from klavi_mock.config import Settings, Tenant
from klavi_mock.testing import Receiver, delivery_log, wait_for
from klavi_mock.webhooks import dispatcher as dispatcher_module
from klavi_mock.webhooks.signing import encode_body, sign, verify_signature
from tests.conftest import API
from tests.contract import assert_conforms
from tests.worlds import SANDBOX_KEYS, TEST_HOSTS, in_process

SECRET = "sandbox-secret-key"


def deliveries(client, **params):
    return delivery_log(client, **params)


def delivered(client, **params):
    return [d for d in deliveries(client, **params) if d["status"] == "delivered"]


def test_link_created_is_sent_signed_in_klavis_envelope(hooked, client, receiver):
    link = hooked.create_link(personalTaxId="52998224725", externalInfo={"myTraceId": "t-1"})
    [request] = wait_for(lambda: receiver.at("/events"), what="link_created")
    [event] = request.json()
    assert event["partnerAppId"] == "sandbox-app" and event["eventType"] == "api"
    assert event["eventName"] == "link_created"
    assert re.fullmatch(r"\d{13}-[0-9a-f]{24}", event["eventId"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", event["eventTime"])
    assert event["payload"] == {"personalTaxId": "52998224725", "businessTaxId": "", "linkId": link["linkId"]}
    assert event["externalInfo"] == {"myTraceId": "t-1"}
    assert request.headers["content-type"] == "application/json"
    assert verify_signature(request.body, request.headers["x-klavi-signature"], SECRET)
    assert not verify_signature(request.body, request.headers["x-klavi-signature"], "other-secret-key")
    assert request.headers["x-klavi-timestamp"].isdigit()
    assert_conforms(request)
    # Compact JSON: what JavaScript's JSON.stringify(parsed) gives, so either way of checking agrees.
    assert request.body == encode_body(request.json())


def test_consent_events_follow_the_journey(hooked, client, receiver):
    created = hooked.create_consent()
    hooked.follow(created["consentRedirectURL"] + "&decision=approve")
    authorised = wait_for(lambda: [e for e in receiver.events() if e["eventName"] == "consent_authorised"])[0]
    consents = authorised["payload"]["consents"]
    assert consents["consentId"] == created["consentId"] and consents["status"] == "AUTHORISED"
    assert consents["permissionsGranted"] == consents["permissionsApply"]
    client.delete(
        f"/data/v1/consents/{created['consentId']}/revoke", headers={"Authorization": f"Bearer {hooked.access_token()}"}
    )
    revoked = wait_for(lambda: [e for e in receiver.events() if e["eventName"] == "consent_revoked"])[0]
    assert revoked["payload"]["reason"]["code"] == "REVOKED_BY_PARTNER"
    for request in receiver.at("/events"):
        assert_conforms(request)


@pytest.mark.parametrize(
    "tax_id, event",
    [
        ("00000000191", "consent_rejected"),
        ("00000000353", "consent_error"),
    ],
)
def test_failed_journeys_send_their_event_with_a_reason(hooked, receiver, tax_id, event):
    created = hooked.create_consent(personalTaxId=tax_id)
    hooked.follow(created["consentRedirectURL"])
    sent = wait_for(lambda: [e for e in receiver.events() if e["eventName"] == event])[0]
    assert sent["payload"]["consents"]["consentId"] == created["consentId"]
    assert_conforms(receiver.at("/events")[-1])
    assert sent["payload"]["reason"]["code"] in ("CUSTOMER_MANUALLY_REJECTED", "CONSENT_TECHNICAL_ISSUE")


def test_clock_driven_changes_send_events_too(hooked, receiver):
    created = hooked.create_consent(personalTaxId="00000000515")  # expires-soon
    hooked.follow(created["consentRedirectURL"] + "&decision=approve")
    hooked.advance(300)
    wait_for(lambda: [e for e in receiver.events() if e["eventName"] == "consent_expired"], what="consent_expired")


def test_a_receiver_failing_twice_gets_the_event_on_the_third_attempt(hooked, client, receiver):
    receiver.scripts["/events"] = [500, 500]
    hooked.create_link()
    [delivery] = wait_for(lambda: delivered(client, name="link_created"))
    assert [a["statusCode"] for a in delivery["attempts"]] == [500, 500, 200]
    assert len(receiver.at("/events")) == 3
    assert all(a["latencyMs"] >= 0 and a["url"] == receiver.url("/events") for a in delivery["attempts"])
    assert '"status": 500' in delivery["attempts"][0]["responseExcerpt"]


def test_a_receiver_down_gets_everything_after_retries_and_redelivery(hooked, client, receiver):
    url = receiver.url("/events")
    receiver.stop()
    hooked.create_link()
    hooked.create_link()
    failed = wait_for(
        lambda: [d for d in deliveries(client, name="link_created") if d["status"] == "failed"],
        timeout=20,
        what="retries to run out",
    )
    assert len(failed[0]["attempts"]) == 6  # the first try and 5 retries
    assert all(a["statusCode"] is None and a["error"] for a in failed[0]["attempts"])
    gaps = [a["at"] for a in failed[0]["attempts"]]
    assert gaps == sorted(gaps)
    back = Receiver(port=int(url.rsplit(":", 1)[1].split("/")[0]))
    try:
        # The second event was still in its retries: it arrives by itself now the receiver is back.
        wait_for(
            lambda: all(d["status"] in ("delivered", "failed") for d in deliveries(client, name="link_created")),
            timeout=20,
        )
        for delivery in deliveries(client, name="link_created", status="failed"):
            assert client.post(f"/__mock/webhooks/{delivery['deliveryId']}/redeliver").json()["status"] == "pending"
        wait_for(lambda: len(delivered(client, name="link_created")) == 2, what="redelivery")
        assert sorted(e["payload"]["linkId"] for e in back.events()) == sorted(
            d["body"][0]["payload"]["linkId"] for d in deliveries(client, name="link_created")
        )
    finally:
        back.stop()


def test_without_an_events_url_nothing_is_dropped(klavi, client, receiver):
    klavi.create_link()
    [delivery] = deliveries(client, name="link_created")
    assert delivery["status"] == "undeliverable" and delivery["destination"] is None
    client.put("/__mock/tenants/sandbox-app/webhooks", json={"eventsUrl": receiver.url("/events")})
    assert client.post(f"/__mock/webhooks/{delivery['deliveryId']}/redeliver").json()["destination"] == receiver.url(
        "/events"
    )
    wait_for(lambda: receiver.at("/events"))


def test_up_to_three_redirects_are_followed(hooked, client, receiver):
    client.put("/__mock/tenants/sandbox-app/webhooks", json={"eventsUrl": receiver.url("/redirect/3")})
    hooked.create_link()
    wait_for(lambda: delivered(client, name="link_created"))
    assert len(receiver.at("/landed")) == 1


def test_more_than_three_redirects_fail_the_attempt(hooked, client, receiver):
    client.put("/__mock/tenants/sandbox-app/webhooks", json={"eventsUrl": receiver.url("/redirect/4")})
    hooked.create_link()
    delivery = wait_for(lambda: [d for d in deliveries(client) if d["attempts"]])[0]
    assert delivery["attempts"][0]["error"] == "more than 3 redirects"


def test_a_receiver_that_does_not_answer_in_time_is_retried(monkeypatch, settings, receiver):
    monkeypatch.setattr(dispatcher_module, "TIMEOUT", 0.3)  # Klavi waits 10 s; the test need not
    receiver.hang_seconds = 1.0
    with in_process(settings) as client:
        client.put("/__mock/tenants/sandbox-app/webhooks", json={"eventsUrl": receiver.url("/events")})
        client.post(
            "/__mock/webhooks/fire", json={"eventName": "product_request_received", "payload": {"requestId": "r1"}}
        )
        delivery = wait_for(lambda: [d for d in deliveries(client) if d["attempts"]])[0]
        assert delivery["attempts"][0]["error"] == "no answer within 0.3 s"


def test_for_fi_partners_get_link_action_status(receiver):
    tenant = Tenant(
        app_id="bank-app",
        access_key="bank-key",
        secret_key="bank-secret",
        events_url=receiver.url("/events"),
        for_fi=True,
    )
    with in_process(
        Settings(strict=True, tenants=[tenant], allowed_hosts=TEST_HOSTS), follow_redirects=False
    ) as client:
        from tests.conftest import Klavi

        klavi = Klavi(client)
        keys = {"accessKey": "bank-key", "secretKey": "bank-secret"}
        created = klavi.create_consent(klavi.create_link(klavi.access_token(keys))["linkToken"])
        client.post(f"/__mock/consents/{created['consentId']}/force", json={"status": "AUTHORISED"})
        event = wait_for(lambda: [e for e in receiver.events() if e["eventName"] == "link_action_status"])[0]
        assert event["payload"]["actionStatus"] == "consent_authorised"
        assert event["payload"]["institutionCode"] == "341"
        assert not [e for e in receiver.events() if e["eventName"] == "consent_authorised"]
        assert_conforms(receiver.at("/events")[-1])
        request = receiver.at("/events")[-1]
        assert verify_signature(request.body, request.headers["x-klavi-signature"], "bank-secret")


def test_any_event_can_be_fired_on_demand(hooked, client, receiver):
    created = hooked.create_consent()
    response = client.post(
        "/__mock/webhooks/fire", json={"eventName": "consent_revoked", "consentId": created["consentId"]}
    )
    assert response.status_code == 200 and response.json()["name"] == "consent_revoked"
    event = wait_for(lambda: [e for e in receiver.events() if e["eventName"] == "consent_revoked"])[0]
    assert event["payload"]["consents"]["consentId"] == created["consentId"]
    missing = client.post("/__mock/webhooks/fire", json={"eventName": "product_generated_success"})
    assert (
        missing.status_code == 400
        and missing.json()["message"] == "body: give consentId, linkId or payload, so the event has a payload"
    )
    assert (
        client.post("/__mock/webhooks/fire", json={"eventName": "consent_error", "consentId": "nope"}).status_code
        == 404
    )


def test_the_verify_endpoint_checks_a_signature(client):
    body = '[{"eventName":"link_created"}]'
    good = sign(body.encode(), SECRET)
    assert client.post("/__mock/webhooks/verify", json={"body": body, "signature": good}).json() == {
        "valid": True,
        "expected": good,
    }
    assert client.post("/__mock/webhooks/verify", json={"body": body, "signature": "0" * 64}).json()["valid"] is False


def test_tenant_webhook_urls_are_checked(client):
    bad = client.put("/__mock/tenants/sandbox-app/webhooks", json={"eventsUrl": "not-a-url"})
    assert bad.status_code == 400 and "body.eventsUrl" in bad.json()["message"]
    mixed = client.put(
        "/__mock/tenants/sandbox-app/webhooks",
        json={"productsCallbackURL": {"all": "http://a.example.com", "pf_loans": "http://b.example.com"}},
    )
    assert mixed.status_code == 416
    assert client.put("/__mock/tenants/nobody/webhooks", json={}).status_code == 404


def test_a_non_ascii_signature_is_simply_invalid(client):
    response = client.post("/__mock/webhooks/verify", json={"body": "[]", "signature": "é\u0080"})
    assert response.status_code == 200 and response.json()["valid"] is False
    assert not verify_signature(b"[]", "é", SECRET)


def test_a_reset_while_an_attempt_is_under_way_leaves_no_ghost_delivery(hooked, client, receiver):
    receiver.hang_seconds = 0.5
    receiver.scripts["/events"] = [500]  # the attempt under way fails: it would be retried
    hooked.create_link()
    wait_for(lambda: receiver.at("/events"), what="the attempt under way")
    assert client.post("/__mock/reset").status_code == 200
    time.sleep(1.5)  # the attempt ends, and its retry would have gone by now
    assert len(receiver.at("/events")) == 1
    assert deliveries(client) == []


def test_stopping_lets_an_attempt_under_way_finish(settings, receiver):
    receiver.hang_seconds = 1.0  # well within the 5 s of grace
    app = create_app(settings)
    with TestClient(app) as client:
        client.put("/__mock/tenants/sandbox-app/webhooks", json={"eventsUrl": receiver.url("/events")})
        token = client.post(f"{API}/auth", json=SANDBOX_KEYS).json()["accessToken"]
        client.post(f"{API}/links", json={}, headers={"Authorization": f"Bearer {token}"})
        wait_for(lambda: receiver.at("/events"), what="the attempt under way")
    # Leaving the block ran the app's shutdown, which waited for the answer.
    [delivery] = app.state.sandbox.store.list_deliveries()
    assert delivery.status == "delivered" and len(delivery.attempts) == 1
