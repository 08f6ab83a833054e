"""No web page can steer the mock: the control API sends no CORS headers, refuses other
sites' pages and Host names that are not the mock's own, and the HTML pages cannot be
framed or made to run script from elsewhere."""

from __future__ import annotations

import httpx
import pytest

from klavi_mock.config import Settings
from tests.conftest import API, VALID_CPF
from tests.servers import serve_process
from tests.worlds import in_process

EVIL = "https://evil.example"


def test_another_sites_page_cannot_read_the_tenants_from_a_real_serve():
    """The issue's own reproduction: curl -H 'Origin: https://evil.example' .../__mock/tenants."""
    with serve_process() as (base, _):
        response = httpx.get(f"{base}/__mock/tenants", headers={"Origin": EVIL})
        assert response.status_code == 403
        assert "access-control-allow-origin" not in response.headers
        assert "sandbox-secret-key" not in response.text
        assert response.json()["statusCode"] == 403 and "other sites" in response.json()["message"]
        # The same call from a back end or curl (no Origin) works.
        assert httpx.get(f"{base}/__mock/tenants").json()[0]["secretKey"] == "sandbox-secret-key"


def test_a_cors_preflight_to_the_control_api_is_not_allowed(client):
    preflight = client.options("/__mock/reset", headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-methods" not in preflight.headers


def test_a_simple_cross_site_post_cannot_reset_the_state(klavi, client):
    link = klavi.create_link()
    response = client.post("/__mock/reset", headers={"Origin": EVIL, "Content-Type": "text/plain"})
    assert response.status_code == 403
    assert [x["linkId"] for x in client.get("/__mock/links").json()] == [link["linkId"]]


def test_the_klavi_api_still_answers_a_browser_front_end(client):
    preflight = client.options(
        f"{API}/links/institutions",
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] in (
        "*",
        "http://localhost:3000",
    )


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8080", "10.1.2.3", "rebound.attacker.test:80"])
def test_a_host_that_is_not_the_mocks_is_refused(host):
    with in_process(Settings(strict=True)) as http:
        response = http.get("/__mock/tenants", headers={"Host": host})
        assert response.status_code == 403, response.text
        assert host in response.json()["message"] and "--allow-host" in response.json()["message"]


@pytest.mark.parametrize("host", ["localhost", "localhost:8080", "127.0.0.1:8080", "127.5.6.7", "[::1]:8080", "::1"])
def test_loopback_names_are_answered(host):
    with in_process(Settings(strict=True)) as http:
        assert http.get("/__mock/tenants", headers={"Host": host}).status_code == 200


def test_the_public_url_host_and_allowed_hosts_are_answered():
    settings = Settings(strict=True, public_url="http://mock.internal:8080", allowed_hosts=("klavi-mock",))
    with in_process(settings) as http:
        assert http.get("/__mock/tenants", headers={"Host": "mock.internal:8080"}).status_code == 200
        assert http.get("/__mock/tenants", headers={"Host": "klavi-mock"}).status_code == 200
        assert http.get("/__mock/tenants", headers={"Host": "other"}).status_code == 403
        # The page's own origin is not another site.
        same = http.get(
            "/__mock/tenants", headers={"Host": "mock.internal:8080", "Origin": "http://mock.internal:8080"}
        )
        assert same.status_code == 200


def test_with_an_admin_token_any_host_may_ask_with_the_token():
    with in_process(Settings(strict=True, admin_token="s3cret")) as http:
        assert http.get("/__mock/tenants", headers={"Host": "mock.example"}).status_code == 401
        assert (
            http.get("/__mock/tenants", headers={"Host": "mock.example", "X-Mock-Admin-Token": "s3cret"}).status_code
            == 200
        )


def test_the_klavi_api_answers_any_host():
    with in_process(Settings(strict=True)) as http:
        response = http.post(
            f"{API}/auth",
            headers={"Host": "api.partner.test"},
            json={"accessKey": "sandbox-access-key", "secretKey": "sandbox-secret-key"},
        )
        assert response.status_code == 200


def test_bank_and_link_pages_cannot_be_framed_or_run_foreign_script(klavi, client):
    link = klavi.create_link(personalTaxId=VALID_CPF)
    consent = klavi.create_consent(link["linkToken"])
    for url in (link["linkURL"], consent["consentRedirectURL"]):
        page = client.get(url)
        assert page.headers["content-type"].startswith("text/html")
        policy = page.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy and "default-src 'self'" in policy
        assert page.headers["x-frame-options"] == "DENY"
        assert "<script>" not in page.text  # no inline script: the policy would block it
    assert "content-security-policy" not in client.get("/__mock/clock").headers  # JSON is not a page
