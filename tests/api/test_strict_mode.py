"""Strict mode (on in every test here) turns an off-spec response into a loud failure."""

import pytest
from starlette.responses import JSONResponse

from klavi_mock.config import Settings
from klavi_mock.web.apis.data_v1 import handlers as api
from tests.conftest import API
from tests.worlds import SANDBOX_KEYS, TEST_HOSTS, in_process


async def token_without_expiry(call):
    return JSONResponse({"accessToken": "x"})


async def undeclared_status(call):
    return JSONResponse({"statusCode": 418, "error": "I'm a teapot", "message": "no"}, status_code=418)


@pytest.mark.parametrize(
    "handler, message",
    [
        (token_without_expiry, "createAccessToken answered 200 off-spec: response.expireIn: is required"),
        (undeclared_status, "createAccessToken answered 418, which the spec does not declare"),
    ],
)
def test_an_off_spec_response_fails_loudly(monkeypatch, handler, message):
    monkeypatch.setitem(api.HANDLERS, "createAccessToken", handler)
    with (
        in_process(Settings(strict=True, allowed_hosts=TEST_HOSTS), raise_server_exceptions=True) as client,
        pytest.raises(AssertionError, match=message),
    ):
        client.post(f"{API}/auth", json=SANDBOX_KEYS)


def test_outside_strict_mode_the_response_goes_out(monkeypatch):
    monkeypatch.setitem(api.HANDLERS, "createAccessToken", token_without_expiry)
    with in_process(Settings(strict=False, allowed_hosts=TEST_HOSTS)) as client:
        assert client.post(f"{API}/auth", json=SANDBOX_KEYS).json() == {"accessToken": "x"}


def test_a_bug_in_a_handler_is_a_klavi_shaped_500_without_traceback(monkeypatch):
    async def broken(call):
        raise KeyError("boom")

    monkeypatch.setitem(api.HANDLERS, "createAccessToken", broken)
    with in_process(Settings(allowed_hosts=TEST_HOSTS), raise_server_exceptions=False) as client:
        response = client.post(f"{API}/auth", json=SANDBOX_KEYS)
    assert response.status_code == 500
    assert response.json() == {
        "statusCode": 500,
        "error": "Internal Server Error",
        "message": "klavi-mock hit an internal error (KeyError); see its log",
    }
