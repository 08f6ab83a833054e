"""What any request gets before a handler runs: routes, methods, bodies, 501s, no 500s."""

import pytest

from tests.conftest import API, bearer
from tests.worlds import in_process


def test_an_unknown_path_is_a_404_naming_the_valid_routes(client):
    response = client.get(f"{API}/institutions")
    assert response.status_code == 404
    body = response.json()
    assert body["statusCode"] == 404 and body["error"] == "Not Found"
    assert body["message"].startswith("no route GET /data/v1/institutions; the routes are: ")
    assert "GET /data/v1/links/institutions" in body["message"]
    assert "/__mock" not in body["message"]  # inside the API, only API routes are listed


def test_outside_the_api_the_404_lists_the_control_api_too(client):
    message = client.get("/nothing-here").json()["message"]
    assert "POST /data/v1/auth" in message and "GET /__mock/clock" in message


def test_a_wrong_method_is_a_405_with_allow(client):
    response = client.put(f"{API}/consents")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert response.json()["message"] == "PUT is not allowed on /data/v1/consents; use GET, POST"


@pytest.fixture
def app_with_list_consents_not_served(monkeypatch, settings):
    """The 501 mechanism, shown on an operation taken off the served list for the test."""

    from klavi_mock import app as app_module

    handlers = {k: v for k, v in app_module.HANDLERS.items() if k != "listConsents"}
    monkeypatch.setattr(app_module, "HANDLERS", handlers)
    monkeypatch.setattr(app_module, "NOT_SERVED", app_module.NOT_SERVED | {"listConsents"})
    with in_process(settings) as http:
        yield http


def test_an_operation_not_served_yet_answers_501_naming_itself(app_with_list_consents_not_served):
    from tests.conftest import Klavi

    client = app_with_list_consents_not_served
    response = client.get(f"{API}/consents", headers=bearer(Klavi(client).access_token()))
    assert response.status_code == 501
    assert response.json()["message"].startswith("listConsents (GET /consents) is in the spec but")


def test_an_operation_not_served_yet_still_checks_token_and_request(app_with_list_consents_not_served):
    from tests.conftest import Klavi

    client = app_with_list_consents_not_served
    assert client.get(f"{API}/consents").status_code == 401
    response = client.get(
        f"{API}/consents", params={"personalTaxId": "123"}, headers=bearer(Klavi(client).access_token())
    )
    assert response.status_code == 400
    assert response.json()["message"].startswith("query.personalTaxId: must be a CPF")


@pytest.mark.parametrize(
    "content",
    [b"[]", b"null", b'"text"', b"1e999999", b'{"accessKey": "\\ud800"}', '{"a": "ç"}'.encode("latin-1"), b"\xff\xfe"],
)
def test_odd_json_bodies_are_400_never_500(client, content):
    response = client.post(f"{API}/auth", content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["statusCode"] == 400


def test_the_error_lists_several_problems_at_once(klavi, client):
    response = client.post(
        f"{API}/links",
        headers=bearer(klavi.access_token()),
        json={
            "personalTaxId": 1,
            "email": [],
            "phone": {},
            "redirectURL": 2,
            "externalInfo": 3,
            "institutionCode": 4,
        },
    )
    message = response.json()["message"]
    assert message.count("; ") == 5 and message.endswith("and 1 more")


def test_cors_lets_a_browser_front_end_call_with_its_link_token(client):
    response = client.options(
        f"{API}/links/institutions",
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] in ("*", "http://localhost:3000")


def test_json_with_charset_is_fine(client):
    response = client.post(
        f"{API}/auth",
        content=b'{"accessKey":"sandbox-access-key","secretKey":"sandbox-secret-key"}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 200


def test_the_contracts_can_be_downloaded(client):
    response = client.get("/__mock/openapi/klavi.yaml")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/yaml")
    assert b"operationId: createAccessToken" in response.content
    assert client.get("/__mock/openapi/secrets.txt").status_code == 400


def test_a_trailing_slash_is_an_unknown_route_not_a_redirect(client):
    response = client.get(f"{API}/consents/", follow_redirects=False)
    assert response.status_code == 404 and response.json()["statusCode"] == 404
    assert "no route GET /data/v1/consents/" in response.json()["message"]
