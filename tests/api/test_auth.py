"""POST /auth, GET /refresh, and what every protected endpoint does with tokens."""

import jwt
import pytest

from tests.conftest import API, bearer
from tests.worlds import SANDBOX_KEYS


def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_auth_returns_a_jwt_access_token_for_1800_seconds(client):
    response = client.post(f"{API}/auth", json=SANDBOX_KEYS)
    assert response.status_code == 200
    body = response.json()
    assert body["expireIn"] == 1800
    token = claims(body["accessToken"])
    assert token["typ"] == "access"
    assert token["sub"] == "sandbox-app"
    assert token["exp"] - token["iat"] == 1800


def test_wrong_keys_get_klavis_documented_401(client):
    response = client.post(f"{API}/auth", json={"accessKey": "sandbox-access-key", "secretKey": "nope"})
    assert response.status_code == 401
    assert response.json() == {"statusCode": 401, "error": "Unauthorized", "message": "Invalid accessKey or secretKey"}


def test_one_tenants_secret_does_not_open_another(client):
    response = client.post(f"{API}/auth", json={"accessKey": "sandbox-access-key", "secretKey": "other-secret-key"})
    assert response.status_code == 401


def test_each_configured_tenant_logs_in_as_itself(klavi):
    token = klavi.access_token({"accessKey": "other-access-key", "secretKey": "other-secret-key"})
    assert claims(token)["sub"] == "other-app"


@pytest.mark.parametrize(
    "body, message",
    [
        ({"accessKey": "k"}, "body.secretKey: is required"),
        ({}, "body.accessKey: is required; body.secretKey: is required"),
        ({"accessKey": 1, "secretKey": "s"}, "body.accessKey: must be a string, not number 1"),
        ({"accessKey": "", "secretKey": "s"}, "body.accessKey: must not be empty"),
    ],
)
def test_malformed_auth_bodies_name_the_field(client, body, message):
    response = client.post(f"{API}/auth", json=body)
    assert response.status_code == 400
    assert response.json() == {"statusCode": 400, "error": "Bad Request", "message": message}


def test_a_body_that_is_not_json_is_refused(client):
    response = client.post(f"{API}/auth", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["message"].startswith("body: is not valid JSON (")


def test_a_form_body_gets_415(client):
    response = client.post(f"{API}/auth", data={"accessKey": "a", "secretKey": "b"})
    assert response.status_code == 415
    assert "Content-Type: application/json" in response.json()["message"]


def test_refresh_gives_a_new_token_and_the_old_one_keeps_working(klavi, client):
    old = klavi.access_token()
    response = client.get(f"{API}/refresh", headers=bearer(old))
    assert response.status_code == 200
    new = response.json()["accessToken"]
    assert new != old and response.json()["expireIn"] == 1800
    assert client.post(f"{API}/links", json={}, headers=bearer(old)).status_code == 200
    assert client.post(f"{API}/links", json={}, headers=bearer(new)).status_code == 200


def test_the_access_token_expires_with_the_clock(klavi, client):
    token = klavi.access_token()
    # The mock clock is wall time plus an offset: a few seconds of slack for a loaded machine.
    klavi.advance(1795)
    assert client.get(f"{API}/refresh", headers=bearer(token)).status_code == 200
    klavi.advance(5)
    response = client.get(f"{API}/refresh", headers=bearer(token))
    assert response.status_code == 401
    assert "accessToken expired at" in response.json()["message"]
    assert "POST /auth" in response.json()["message"]


def test_a_refreshed_token_lives_1800_seconds_from_the_refresh(klavi, client):
    token = klavi.access_token()
    klavi.advance(1000)
    refreshed = client.get(f"{API}/refresh", headers=bearer(token)).json()["accessToken"]
    klavi.advance(1000)
    assert client.get(f"{API}/refresh", headers=bearer(token)).status_code == 401
    assert client.get(f"{API}/refresh", headers=bearer(refreshed)).status_code == 200


def test_a_link_token_where_an_access_token_is_needed_says_so(klavi, client):
    link_token = klavi.create_link()["linkToken"]
    response = client.post(f"{API}/links", json={}, headers=bearer(link_token))
    assert response.status_code == 401
    assert response.json()["message"] == (
        "POST /links takes the accessToken returned by POST /auth (or GET /refresh), but a linkToken was sent; "
        "send Authorization: Bearer <accessToken>"
    )


def test_an_access_token_where_a_link_token_is_needed_says_so(klavi, client):
    response = client.get(f"{API}/links/institutions", headers=bearer(klavi.access_token()))
    assert response.status_code == 401
    message = response.json()["message"]
    assert "GET /links/institutions takes the linkToken returned by POST /links" in message
    assert "an accessToken was sent" in message


@pytest.mark.parametrize(
    "header, fragment",
    [
        (None, "missing Authorization header"),
        ("Basic abc", "must be 'Bearer <token>'"),
        ("Bearer ", "must be 'Bearer <token>'"),
        ("Bearer not-a-jwt", "not a valid JWT"),
    ],
)
def test_missing_or_malformed_authorization_is_401(client, header, fragment):
    headers = {"Authorization": header} if header is not None else {}
    response = client.get(f"{API}/refresh", headers=headers)
    assert response.status_code == 401
    assert fragment in response.json()["message"]
    assert response.json()["error"] == "Unauthorized"


def test_a_tampered_token_is_401(klavi, client):
    header, payload, signature = klavi.access_token().split(".")
    forged = jwt.encode(
        {**claims(f"{header}.{payload}.{signature}"), "sub": "other-app"},
        "a-guessed-secret-of-32-bytes-long",
        algorithm="HS256",
    )
    response = client.get(f"{API}/refresh", headers=bearer(forged))
    assert response.status_code == 401
    assert "signature is not valid" in response.json()["message"]


def test_a_token_for_an_unconfigured_tenant_is_401(settings, client):
    token = jwt.encode(
        {"sub": "ghost-app", "typ": "access", "exp": 4102444800}, settings.token_secret, algorithm="HS256"
    )
    response = client.get(f"{API}/refresh", headers=bearer(token))
    assert response.status_code == 401
    assert "ghost-app" in response.json()["message"]


def test_one_tenant_never_reaches_another_tenants_link(settings, klavi, client):
    link_id = klavi.create_link()["linkId"]
    # A well-signed link token naming another tenant and this link: the link is not found
    # for that tenant, so the token is refused.
    token = jwt.encode(
        {"sub": "other-app", "typ": "link", "lnk": link_id, "exp": 4102444800}, settings.token_secret, algorithm="HS256"
    )
    response = client.get(f"{API}/links/institutions", headers=bearer(token))
    assert response.status_code == 401
    other = klavi.access_token({"accessKey": "other-access-key", "secretKey": "other-secret-key"})
    assert client.get("/__mock/links", params={"appId": "other-app"}).json() == []
    assert klavi.create_link(other)["linkId"] != link_id
