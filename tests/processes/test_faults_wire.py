"""The fault rules that need the connection, against a real uvicorn (klavi-mock's own
protocol, as `klavi-mock serve` runs it): a dropped connection, a request never answered,
a truncated body, a delay; and what the conformance report says the client did next."""

from __future__ import annotations

import time

import httpx
import pytest

from klavi_mock.config import Settings
from tests.conftest import VALID_CPF
from tests.worlds import SANDBOX_KEYS, in_thread


@pytest.fixture(scope="module")
def base_url():
    with in_thread(Settings()) as url:
        yield url


@pytest.fixture
def http(base_url):
    with httpx.Client(base_url=base_url, timeout=10) as client:
        assert client.post("/__mock/reset", json={}).status_code == 200
        yield client


def token(http: httpx.Client) -> str:
    return http.post("/data/v1/auth", json=SANDBOX_KEYS).json()["accessToken"]


def create_link(http: httpx.Client, access_token: str, **kwargs) -> httpx.Response:
    return http.post(
        "/data/v1/links",
        json={"personalTaxId": VALID_CPF},
        headers={"Authorization": f"Bearer {access_token}"},
        **kwargs,
    )


def add(http: httpx.Client, **rule) -> dict:
    response = http.post("/__mock/faults", json=rule)
    assert response.status_code == 200, response.text
    return response.json()


def reactions(http: httpx.Client) -> list[dict]:
    return http.get("/__mock/conformance", params={"appId": "sandbox-app"}).json()["tenants"][0]["faults"]["items"]


def test_drop_closes_the_connection_without_an_answer(http):
    access = token(http)
    add(http, operationId="createLink", fault="drop", times=1)
    with pytest.raises(httpx.RemoteProtocolError):
        create_link(http, access)
    assert http.get("/__mock/links").json() == []  # nothing was created
    assert create_link(http, access).status_code == 200  # the client's retry, on a new connection
    [item] = reactions(http)
    assert item["action"] == "drop" and item["status"] is None
    assert item["reaction"]["outcome"] == "retried" and item["reaction"]["retryStatus"] == 200


def test_timeout_holds_the_request_then_closes(http):
    access = token(http)
    add(http, operationId="createLink", fault="timeout", timeoutSeconds=0.5, times=1)
    started = time.monotonic()
    with pytest.raises(httpx.RemoteProtocolError):
        create_link(http, access)
    assert 0.5 <= time.monotonic() - started < 10
    assert http.get("/__mock/links").json() == []


def test_a_client_that_times_out_first_sees_a_read_timeout(http):
    access = token(http)
    add(http, operationId="createLink", fault="timeout", timeoutSeconds=60, times=1)
    with pytest.raises(httpx.ReadTimeout):
        create_link(http, access, timeout=httpx.Timeout(10, read=0.3))
    assert create_link(http, access).status_code == 200
    [item] = reactions(http)
    assert item["action"] == "timeout" and item["reaction"]["retried"] is True
    assert item["reaction"]["retriedAfterSeconds"] >= 0  # counted from when the client hung up: it retried at once


def test_truncate_sends_less_than_its_content_length(http):
    access = token(http)
    add(http, operationId="createLink", fault="truncate")
    with http.stream(
        "POST", "/data/v1/links", json={"personalTaxId": VALID_CPF}, headers={"Authorization": f"Bearer {access}"}
    ) as response:
        assert response.status_code == 200
        declared = int(response.headers["content-length"])
        with pytest.raises(httpx.RemoteProtocolError):
            response.read()
    assert declared > 0
    assert http.get("/__mock/links").json() == []
    [item] = reactions(http)
    assert item["action"] == "truncate" and item["status"] == 200 and item["reaction"]["outcome"] == "waiting"


def test_malformed_over_the_wire_is_not_json(http):
    access = token(http)
    add(http, operationId="createLink", fault="malformed")
    response = create_link(http, access)
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()


def test_retry_after_is_counted_from_the_answer_not_from_the_delay_before_it(http):
    access = token(http)
    add(http, operationId="createLink", delayMs=1200, status=429, retryAfterSeconds=1, times=1)
    assert create_link(http, access).status_code == 429
    assert (
        create_link(http, access).status_code == 200
    )  # at once: Retry-After ignored, though 1.2 s passed since the request
    [item] = reactions(http)
    assert item["reaction"]["honouredRetryAfter"] is False  # counted from the arrival, it would look honoured


def test_a_delay_before_a_status(http):
    access = token(http)
    add(http, operationId="createLink", delayMs=300, status=503, retryAfterSeconds=2)
    started = time.monotonic()
    response = create_link(http, access)
    assert 0.3 <= time.monotonic() - started < 10
    assert response.status_code == 503 and response.headers["retry-after"] == "2"
    assert response.json()["statusCode"] == 503
    [item] = reactions(http)
    assert item["action"] == "delay 300 ms + status 503"


def test_a_delay_only_fault_is_reported_as_answered(http):
    access = token(http)
    add(http, operationId="createLink", delayMs=100, times=1)
    assert create_link(http, access).status_code == 200
    [item] = reactions(http)
    assert item["status"] is None and item["reaction"]["outcome"] == "answered"
    assert len(http.get("/__mock/links").json()) == 1  # a delay changes nothing about the answer


def test_429_over_the_wire_and_a_client_that_honours_retry_after(http):
    access = token(http)
    add(http, operationId="createLink", status=429, retryAfterSeconds=1, times=1)
    response = create_link(http, access)
    assert response.status_code == 429
    time.sleep(int(response.headers["retry-after"]))  # a well-behaved client
    assert create_link(http, access).status_code == 200
    [item] = reactions(http)
    assert item["reaction"]["honouredRetryAfter"] is True
    assert http.get("/__mock/conformance").json()["tenants"][0]["faults"]["retryAfterIgnored"] == 0


def test_a_faulted_post_auth_followed_by_a_retry(http):
    add(http, operationId="createAccessToken", fault="drop", times=1)
    with pytest.raises(httpx.RemoteProtocolError):
        http.post("/data/v1/auth", json=SANDBOX_KEYS)
    assert http.post("/data/v1/auth", json=SANDBOX_KEYS).status_code == 200
    tenants = {t["appId"]: t for t in http.get("/__mock/conformance").json()["tenants"]}
    [item] = tenants["(unauthenticated)"]["faults"]["items"]
    assert item["reaction"]["outcome"] == "retried"


def test_klavi_mock_serve_takes_fault_rules_from_its_config_file(tmp_path):
    from tests.servers import serve_process

    config = tmp_path / "mock.yaml"
    config.write_text(
        "faults:\n  - {operationId: createLink, fault: drop, times: 1}\n"
        "  - {operationId: createLink, status: 4003, message: consents exceed the limit}\n"
    )
    with serve_process("--config", str(config)) as (base, _), httpx.Client(base_url=base, timeout=10) as http:
        assert [rule["faultId"] for rule in http.get("/__mock/faults").json()] == ["config-1", "config-2"]
        access = token(http)
        with pytest.raises(httpx.RemoteProtocolError):
            create_link(http, access)
        refused = create_link(http, access)
        assert refused.status_code == 416 and refused.json() == {
            "statusCode": 4003,
            "error": "Invalid consent request",
            "message": "consents exceed the limit",
        }


def test_klavi_mock_serve_refuses_a_bad_rule_in_its_config_file(tmp_path):
    import subprocess
    import sys

    config = tmp_path / "mock.yaml"
    config.write_text("faults:\n  - {operationId: createLink, fault: explode}\n")
    result = subprocess.run(
        [sys.executable, "-m", "klavi_mock", "serve", "--config", str(config), "--port", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "faults[0].fault" in result.stderr
