"""Fault rules through the control API, in-process: matching, triggers, the status actions
in Klavi's error shape, malformed bodies, no state changed, reset, the config file, and
what the conformance report says about the client's reaction. The faults that need the
connection (drop, timeout, truncate) are in test_faults_wire.py, against a real server."""

from __future__ import annotations

import json
import time

import pytest
from starlette.testclient import TestClient

from klavi_mock.config import ConfigError, Settings, parse_config
from klavi_mock.qa.faults.rules import parse_rule
from tests.conftest import API, VALID_CPF, bearer
from tests.worlds import SANDBOX_KEYS, TEST_HOSTS, in_process


def add(client: TestClient, **rule) -> dict:
    response = client.post("/__mock/faults", json=rule)
    assert response.status_code == 200, response.text
    return response.json()


def create_link(client: TestClient, token: str):
    return client.post(f"{API}/links", json={"personalTaxId": VALID_CPF}, headers=bearer(token))


def faults_of(client: TestClient, app_id: str = "sandbox-app") -> dict:
    return client.get("/__mock/conformance", params={"appId": app_id}).json()["tenants"][0]["faults"]


def deliveries(client: TestClient) -> list:
    """GET /__mock/webhooks: today's bare array or the page object of issue 11."""
    body = client.get("/__mock/webhooks").json()
    return body["items"] if isinstance(body, dict) else body


# -- the control API ---------------------------------------------------------------------


def test_a_rule_is_listed_fetched_and_removed(client):
    rule = add(client, operationId="createLink", status=503, name="links down")
    assert rule["faultId"].startswith("flt_") and rule["source"] == "api" and rule["active"] is True
    assert rule["action"] == "status 503" and rule["remaining"] is None
    assert [r["faultId"] for r in client.get("/__mock/faults").json()] == [rule["faultId"]]
    assert client.get(f"/__mock/faults/{rule['faultId']}").json()["name"] == "links down"
    assert client.delete(f"/__mock/faults/{rule['faultId']}").json()["faultId"] == rule["faultId"]
    missing = client.get(f"/__mock/faults/{rule['faultId']}")
    assert missing.status_code == 404 and rule["faultId"] in missing.json()["message"]


def test_clear_removes_every_rule(client):
    add(client, status=500)
    add(client, fault="malformed")
    assert client.delete("/__mock/faults").json() == {"message": "ok"}
    assert client.get("/__mock/faults").json() == []


@pytest.mark.parametrize(
    "rule, field",
    [
        ({"status": 418}, "body.status"),
        ({"operationId": "noSuchOperation", "status": 500}, "body.operationId"),
        ({"fault": "explode"}, "body.fault"),
        ({"status": 500, "fault": "drop"}, "status or fault, not both"),
        ({"name": "no action"}, "give an action"),
        ({"status": 500, "retryAfterSeconds": 3}, "body.status"),
        ({"fault": "drop", "timeoutSeconds": 3}, "body.fault"),
        ({"status": 500, "seed": 3}, "body.probability: is required when seed is present"),
        ({"status": 500, "probability": 1.5}, "body.probability"),
        ({"status": 500, "everyNth": 0}, "body.everyNth"),
        ({"status": 500, "colour": "red"}, "colour"),
    ],
)
def test_a_bad_rule_is_refused_naming_the_field(client, rule, field):
    response = client.post("/__mock/faults", json=rule)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["statusCode"] == 400 and field in body["message"]


def test_the_book_holds_at_most_100_rules(client):
    for _ in range(100):
        add(client, status=500, appId="nobody")
    response = client.post("/__mock/faults", json={"status": 500})
    assert response.status_code == 409 and "at most 100" in response.json()["message"]


# -- what goes on the wire -------------------------------------------------------------------


@pytest.mark.parametrize(
    "status, error",
    [
        (401, "Unauthorized"),
        (403, "Forbidden"),
        (500, "Internal Server Error"),
        (502, "Bad Gateway"),
        (503, "Service Unavailable"),
        (504, "Gateway Timeout"),
    ],
)
def test_a_status_is_answered_in_klavis_error_shape(client, klavi, status, error):
    token = klavi.access_token()
    rule = add(client, operationId="createLink", status=status)
    response = create_link(client, token)
    assert response.status_code == status
    body = response.json()
    assert body["statusCode"] == status and body["error"] == error and rule["faultId"] in body["message"]
    assert "retry-after" not in response.headers


def test_429_carries_retry_after_default_one_second(client, klavi):
    token = klavi.access_token()
    add(client, operationId="createLink", status=429)
    response = create_link(client, token)
    assert response.status_code == 429 and response.headers["retry-after"] == "1"
    assert response.json() == {"statusCode": 429, "error": "Too Many Requests", "message": response.json()["message"]}


def test_503_may_carry_retry_after(client, klavi):
    token = klavi.access_token()
    add(client, operationId="createLink", status=503, retryAfterSeconds=7, message="down for maintenance")
    response = create_link(client, token)
    assert response.status_code == 503 and response.headers["retry-after"] == "7"
    assert response.json()["message"].startswith("down for maintenance")


@pytest.mark.parametrize("code", [4001, 4003, 4007, 4009])
def test_a_business_code_answers_416_with_the_code(client, klavi, code):
    token = klavi.access_token()
    add(client, operationId="createLink", status=code)
    response = create_link(client, token)
    assert response.status_code == 416
    assert response.json()["statusCode"] == code


def test_malformed_is_a_200_whose_body_is_not_json(client, klavi):
    token = klavi.access_token()
    add(client, operationId="createLink", fault="malformed")
    response = create_link(client, token)
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)


def test_connection_faults_answer_501_in_process(client, klavi):
    token = klavi.access_token()
    add(client, operationId="createLink", fault="drop")
    response = create_link(client, token)
    assert response.status_code == 501 and "klavi-mock serve" in response.json()["message"]


def test_a_delay_only_rule_answers_normally_after_the_delay(client, klavi):
    token = klavi.access_token()
    add(client, operationId="createLink", delayMs=150)
    started = time.monotonic()
    response = create_link(client, token)
    assert response.status_code == 200 and "linkId" in response.json()
    assert time.monotonic() - started >= 0.15


def test_the_control_api_is_never_faulted(client):
    add(client, status=500)  # matches every Klavi API request
    assert client.get("/__mock/clock").status_code == 200


# -- matching and triggers -------------------------------------------------------------------


def test_a_rule_matches_only_its_tenant_operation_method_and_path(client, klavi):
    sandbox = klavi.access_token()
    other = klavi.access_token({"accessKey": "other-access-key", "secretKey": "other-secret-key"})
    add(client, appId="other-app", operationId="createLink", method="POST", path="/data/v1/links", status=503)
    assert create_link(client, sandbox).status_code == 200
    assert create_link(client, other).status_code == 503
    add(client, path="/data/v1/consents*", status=500)
    assert create_link(client, sandbox).status_code == 200
    assert client.get(f"{API}/consents", headers=bearer(sandbox)).status_code == 500


def test_times_faults_the_next_n_then_stops(client, klavi):
    token = klavi.access_token()
    rule = add(client, operationId="createLink", status=500, times=2)
    assert [create_link(client, token).status_code for _ in range(4)] == [500, 500, 200, 200]
    listed = client.get(f"/__mock/faults/{rule['faultId']}").json()
    assert listed["fired"] == 2 and listed["remaining"] == 0 and listed["active"] is False


def test_every_nth_faults_each_nth_matching_request(client, klavi):
    token = klavi.access_token()
    add(client, operationId="createLink", status=502, everyNth=3)
    assert [create_link(client, token).status_code for _ in range(6)] == [200, 200, 502, 200, 200, 502]


def test_a_seeded_probability_fires_on_the_same_requests_every_run(client, klavi):
    token = klavi.access_token()

    def run() -> list[int]:
        rule = add(client, operationId="createLink", status=500, probability=0.5, seed=1234)
        statuses = [create_link(client, token).status_code for _ in range(20)]
        client.delete(f"/__mock/faults/{rule['faultId']}")
        return statuses

    first, second = run(), run()
    assert first == second and 500 in first and 200 in first


def test_the_first_rule_that_fires_acts(client, klavi):
    token = klavi.access_token()
    add(client, operationId="createLink", status=503, times=1)
    add(client, operationId="createLink", status=504)
    assert [create_link(client, token).status_code for _ in range(2)] == [503, 504]


def test_post_auth_is_faulted_by_a_rule_with_no_app_id(client):
    add(client, operationId="createAccessToken", status=503, times=1)
    assert client.post(f"{API}/auth", json=SANDBOX_KEYS).status_code == 503
    assert client.post(f"{API}/auth", json=SANDBOX_KEYS).status_code == 200


# -- no state changed ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rule", [{"status": 429}, {"status": 500}, {"status": 4006}, {"status": 403}, {"fault": "malformed"}]
)
def test_a_faulted_request_changes_no_state(client, hooked, rule):
    token = hooked.access_token()
    add(client, operationId="createLink", **rule)
    create_link(client, token)
    assert client.get("/__mock/links").json() == []
    assert deliveries(client) == []  # no link_created webhook either
    client.delete("/__mock/faults")
    assert create_link(client, token).status_code == 200
    assert len(client.get("/__mock/links").json()) == 1


def test_a_faulted_revoke_leaves_the_consent_authorised(client, klavi):
    from tests.conftest import authorise

    consent_id = authorise(klavi)
    add(client, operationId="revokeConsent", status=503, retryAfterSeconds=5)
    response = client.delete(f"{API}/consents/{consent_id}/revoke", headers=bearer(klavi.access_token()))
    assert response.status_code == 503
    assert client.get(f"/__mock/consents/{consent_id}").json()["status"] == "AUTHORISED"
    client.delete("/__mock/faults")
    assert client.delete(f"{API}/consents/{consent_id}/revoke", headers=bearer(klavi.access_token())).status_code == 200
    assert client.get(f"/__mock/consents/{consent_id}").json()["status"] == "REVOKED"


def test_reset_removes_api_rules_and_restores_the_configured_ones():
    settings = Settings(
        strict=True,
        allowed_hosts=TEST_HOSTS,
        **parse_config({"faults": [{"operationId": "createLink", "status": 500, "times": 1}]}, "test"),
    )
    with in_process(settings) as client:
        [configured] = client.get("/__mock/faults").json()
        assert configured["faultId"] == "config-1" and configured["source"] == "config"
        token = client.post(f"{API}/auth", json=SANDBOX_KEYS).json()["accessToken"]
        assert create_link(client, token).status_code == 500
        add(client, status=503)
        assert client.post("/__mock/reset", json={}).status_code == 200
        [again] = client.get("/__mock/faults").json()
        assert again["faultId"] == "config-1" and again["fired"] == 0
        assert faults_of(client)["injected"] == 0
        assert create_link(client, token).status_code == 500  # the configured rule fires afresh


def test_a_bad_rule_in_the_config_file_names_it():
    with pytest.raises(ConfigError, match=r"mock\.yaml: faults\[1\]\.status"):
        parse_config({"faults": [{"status": 500}, {"status": 200}]}, "mock.yaml")


def test_the_config_file_and_the_control_api_take_the_same_rules():
    rule = parse_rule({"operationId": "createConsent", "status": 429, "retryAfterSeconds": 2}, "faults[0]")
    assert rule.retry_after == 2 and rule.http_status == 429


# -- the client's reaction, in the conformance report -----------------------------------------


def test_a_retry_too_soon_is_reported_as_ignoring_retry_after(client, klavi):
    token = klavi.access_token()
    add(client, operationId="createLink", status=429, retryAfterSeconds=30, times=1)
    create_link(client, token)
    create_link(client, token)
    report = faults_of(client)
    [item] = report["items"]
    assert item["operationId"] == "createLink" and item["status"] == 429 and item["retryAfterSeconds"] == 30
    assert item["reaction"]["outcome"] == "retried" and item["reaction"]["retryStatus"] == 200
    assert item["reaction"]["honouredRetryAfter"] is False
    assert report["retryAfterIgnored"] == 1


def test_a_retry_after_the_retry_after_is_reported_as_honoured(client, klavi):
    token = klavi.access_token()
    add(client, operationId="createLink", status=429, retryAfterSeconds=1, times=1)
    create_link(client, token)
    time.sleep(1.05)  # the client under test honours Retry-After
    create_link(client, token)
    [item] = faults_of(client)["items"]
    assert item["reaction"]["honouredRetryAfter"] is True and item["reaction"]["retriedAfterSeconds"] >= 1


def test_no_retry_within_give_up_seconds_is_reported_as_gave_up(client, klavi):
    token = klavi.access_token()
    add(client, operationId="createLink", status=500, times=1, giveUpSeconds=0.1)
    create_link(client, token)
    assert faults_of(client)["items"][0]["reaction"]["outcome"] in ("waiting", "gaveUp")
    time.sleep(0.2)
    report = faults_of(client)
    assert report["gaveUp"] == 1 and report["items"][0]["reaction"]["retried"] is False


def test_a_retry_faulted_again_is_reported_as_such(client, klavi):
    token = klavi.access_token()
    add(client, operationId="createLink", status=503, times=2)
    for _ in range(3):
        create_link(client, token)
    first, second = faults_of(client)["items"]
    assert first["reaction"]["retryStatus"] == "faulted" and second["reaction"]["retryStatus"] == 200


def test_a_new_token_before_the_retry_after_a_401_is_reported(client, klavi):
    token = klavi.access_token()
    add(client, operationId="createLink", status=401, times=1)
    create_link(client, token)
    fresh = klavi.access_token()  # the client re-authenticates
    create_link(client, fresh)
    add(client, operationId="createLink", status=403, times=1)
    create_link(client, fresh)
    create_link(client, fresh)  # retried with the same token
    first, second = faults_of(client)["items"]
    assert first["reaction"]["reauthenticated"] is True
    assert second["reaction"]["reauthenticated"] is False


def test_the_report_is_per_tenant_and_emptied_by_the_conformance_reset(client, klavi):
    other = klavi.access_token({"accessKey": "other-access-key", "secretKey": "other-secret-key"})
    add(client, appId="other-app", status=500)
    create_link(client, other)
    assert faults_of(client, "other-app")["injected"] == 1
    assert faults_of(client, "sandbox-app")["injected"] == 0
    client.post("/__mock/conformance/reset")
    assert faults_of(client, "other-app")["injected"] == 0


def test_the_conformance_text_lists_the_faults(client, klavi):
    from klavi_mock.qa.conformance import render_text

    token = klavi.access_token()
    add(client, operationId="createLink", status=429, retryAfterSeconds=30, times=1)
    create_link(client, token)
    create_link(client, token)
    text = render_text(client.get("/__mock/conformance").json())
    assert "faults injected: 1" in text and "ignored Retry-After" in text


@pytest.mark.parametrize(
    "rule, status, business_code, action",
    [
        ({"status": 4007}, 416, 4007, "status 4007"),
        ({"status": 502}, 502, None, "status 502"),
        ({"fault": "malformed"}, 200, None, "malformed"),
        ({"delayMs": 10, "status": 504}, 504, None, "delay 10 ms + status 504"),
    ],
)
def test_each_fault_is_in_the_report_as_it_was_sent(client, klavi, rule, status, business_code, action):
    token = klavi.access_token()
    created = add(client, operationId="createLink", times=1, **rule)
    create_link(client, token)
    [item] = faults_of(client)["items"]
    assert item["faultId"] == created["faultId"] and item["action"] == action
    assert item["status"] == status
    assert item["businessCode"] == business_code and item["path"] == "/data/v1/links" and item["method"] == "POST"


def test_a_request_that_arrived_before_the_fault_is_not_its_follow_up():
    from klavi_mock.qa.faults.reactions import ReactionLog
    from klavi_mock.qa.faults.rules import parse_rule

    log = ReactionLog(now=lambda: 100.0)
    fault = log.injected(parse_rule({"status": 500}), "acme", "createLink", "POST", "/data/v1/links", at=10.0)
    log.observed("acme", "createLink", 200, at=9.5)  # sent before, answered after (concurrent)
    assert fault.next_at is None
    log.observed("acme", "createLink", 200, at=12.0)
    assert fault.next_at == 12.0 and fault.view(100.0)["reaction"]["retriedAfterSeconds"] == 2.0
