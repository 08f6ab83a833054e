"""Request size limit and the control API's token."""

import subprocess
import sys

import pytest

from klavi_mock.config import ConfigError, Settings, check_exposure
from tests.conftest import API, bearer
from tests.servers import free_port
from tests.worlds import SANDBOX_KEYS, in_process


def test_a_body_over_the_limit_is_413_in_klavis_shape(settings):
    settings.max_body_bytes = 1000
    with in_process(settings) as client:
        response = client.post(
            f"{API}/auth",
            content=b'{"accessKey": "' + b"x" * 2000 + b'"}',
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 413
        assert response.json() == {
            "statusCode": 413,
            "error": "Request Entity Too Large",
            "message": "the body is 2017 bytes; klavi-mock takes at most 1000",
        }
        assert client.post(f"{API}/auth", json=SANDBOX_KEYS).status_code == 200


def test_a_streamed_body_over_the_limit_is_413_too(settings):
    settings.max_body_bytes = 1000

    def chunks():
        for _ in range(10):
            yield b"x" * 200

    with in_process(settings) as client:
        response = client.post(f"{API}/auth", content=chunks(), headers={"Content-Type": "application/json"})
        assert response.status_code == 413 and "over 1000 bytes" in response.json()["message"]


def test_a_huge_form_post_to_the_bank_is_refused(settings):
    settings.max_body_bytes = 1000
    with in_process(settings) as client:
        response = client.post(
            "/bank/authorize",
            content=b"ticket=" + b"x" * 5000,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert response.status_code == 413


@pytest.fixture
def guarded(settings):
    settings.admin_token = "s3cret-admin"
    with in_process(settings) as client:
        yield client


def test_with_a_token_the_control_api_wants_it(guarded):
    response = guarded.post("/__mock/clock/advance", json={"seconds": 60})
    assert response.status_code == 401 and "X-Mock-Admin-Token is missing" in response.json()["message"]
    wrong = guarded.get("/__mock/clock", headers={"X-Mock-Admin-Token": "guess"})
    assert wrong.status_code == 401 and "is wrong" in wrong.json()["message"]
    assert guarded.get("/__mock/clock").status_code == 401
    assert guarded.get("/__mock/clock", headers={"X-Mock-Admin-Token": "s3cret-admin"}).status_code == 200
    assert guarded.get("/__mock/clock", headers={"X-Mock-Admin-Token": "s3cret-admin"}).json()["offsetSeconds"] == 0


def test_the_klavi_api_does_not_need_the_admin_token(guarded):
    token = guarded.post(f"{API}/auth", json=SANDBOX_KEYS).json()["accessToken"]
    assert guarded.post(f"{API}/links", json={}, headers=bearer(token)).status_code == 200


def test_listening_beyond_loopback_needs_a_token():
    with pytest.raises(ConfigError, match="give --admin-token"):
        check_exposure(Settings(host="0.0.0.0"))
    check_exposure(Settings(host="0.0.0.0", admin_token="t"))
    check_exposure(Settings(host="127.0.0.1"))
    result = subprocess.run(
        [sys.executable, "-m", "klavi_mock", "serve", "--host", "0.0.0.0", "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and "X-Mock-Admin-Token" in result.stderr
