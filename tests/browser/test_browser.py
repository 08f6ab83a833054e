"""The consent journey in a real browser: headless Chromium (Playwright, sync API) against the
mock served by uvicorn on a free loopback port, ending on a tiny local "partner" page.

Skipped when Chromium (/usr/bin/chromium) or the playwright package is missing. Screenshots
of the bank and LGPD pages go to the system temp directory, never into the repository.
"""

from __future__ import annotations

import contextlib
import http.server
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from klavi_mock.config import Settings
from tests.browsers import Page
from tests.conftest import API, VALID_CPF, bearer
from tests.worlds import SANDBOX_KEYS, in_thread

ITAU = "341"
DENYING_BANK_CPF = "00000000191"  # persona: the bank refuses without showing a page
SCREENSHOTS = Path(tempfile.gettempdir())


# -- servers --------------------------------------------------------------------------


def serve_mock():
    """The mock under a real uvicorn in a background thread; yields its base URL."""
    return in_thread(Settings(strict=True))


class _PartnerHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        body = b"<!doctype html><title>Partner</title><p>partner landing</p>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # keep test output quiet
        pass


@contextlib.contextmanager
def serve_partner() -> Iterator[str]:
    """The partner's redirectURL target: answers 200 "partner landing" to any GET."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _PartnerHandler)
    thread = threading.Thread(target=server.serve_forever, name="partner", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# -- fixtures -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mock_url() -> Iterator[str]:
    with serve_mock() as url:
        yield url


# -- helpers --------------------------------------------------------------------------


def access_token(api: httpx.Client) -> str:
    response = api.post(f"{API}/auth", json=SANDBOX_KEYS)
    assert response.status_code == 200, response.text
    return response.json()["accessToken"]


def create_consent(api: httpx.Client, redirect_url: str, personal_tax_id: str = VALID_CPF) -> dict:
    """auth -> link -> consent; returns the consent response plus the ids used."""
    token = access_token(api)
    link = api.post(f"{API}/links", json={}, headers=bearer(token))
    assert link.status_code == 200, link.text
    track_id = f"browser-{uuid.uuid4()}"
    consent = api.post(
        f"{API}/consents",
        headers=bearer(link.json()["linkToken"]),
        json={
            "externalTrackId": track_id,
            "personalTaxId": personal_tax_id,
            "institutionCode": ITAU,
            "redirectURL": redirect_url,
            "validityPeriod": 12,
        },
    )
    assert consent.status_code == 200, consent.text
    return {**consent.json(), "linkId": link.json()["linkId"], "externalTrackId": track_id, "accessToken": token}


def get_consent(api: httpx.Client, created: dict) -> dict:
    response = api.get(f"{API}/consents/{created['consentId']}", headers=bearer(created["accessToken"]))
    assert response.status_code == 200, response.text
    return response.json()


def landed_query(page: Page, partner_url: str) -> dict[str, str]:
    """Wait until the browser is on the partner's page; its query, one value per key."""
    page.wait_for_url(lambda url: url.startswith(partner_url + "/"))
    assert "partner landing" in page.content()
    query = parse_qs(urlsplit(page.url).query, keep_blank_values=True)
    assert all(len(values) == 1 for values in query.values()), query
    return {key: values[0] for key, values in query.items()}


def open_bank_page(page: Page, created: dict) -> None:
    response = page.goto(created["consentRedirectURL"])
    assert response is not None and response.status == 200
    page.get_by_role("button", name="Autorizar").wait_for()


# -- tests ----------------------------------------------------------------------------


def test_approve_at_the_bank_and_accept_lgpd(page: Page, api: httpx.Client, mock_url: str, partner_url: str):
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    created = create_consent(api, f"{partner_url}/klavi/callback")

    open_bank_page(page, created)
    header = page.locator(".bank-header__name")
    assert "Itaú" in header.inner_text()
    assert "***.982.247-**" in page.locator("main").inner_text()
    investments = page.locator('input[name="permissions"][value="INVESTMENTS_ALL"]')
    assert investments.is_checked()
    investments.uncheck()
    assert not investments.is_checked()
    page.screenshot(path=str(SCREENSHOTS / "klavi-mock-bank.png"), full_page=True)

    page.get_by_role("button", name="Autorizar").click()
    page.wait_for_url(lambda url: url.startswith(f"{mock_url}/bank/flow/") and url.endswith("/lgpd"))
    accept = page.get_by_role("button", name="Aceitar")
    accept.wait_for()
    shown = page.locator(".granted__item").evaluate_all("items => items.map(i => i.dataset.code)")
    assert "INVESTMENTS_ALL" not in shown and "ACCOUNTS_ALL" in shown
    page.screenshot(path=str(SCREENSHOTS / "klavi-mock-lgpd.png"), full_page=True)

    accept.click()
    query = landed_query(page, partner_url)
    assert urlsplit(page.url).path == "/klavi/callback"
    assert query["consent_id"] == created["consentId"]
    assert query["link_id"] == created["linkId"]
    assert query["external_track_id"] == created["externalTrackId"]
    assert "external_info" in query
    assert "error" not in query and "error_description" not in query

    consent = get_consent(api, created)
    assert consent["status"] == "AUTHORISED"
    assert "INVESTMENTS_ALL" not in consent["permissionsGranted"]
    assert "ACCOUNTS_ALL" in consent["permissionsGranted"]

    # The pages load nothing from outside: every request went to the mock or the partner.
    assert requested, "the page made no requests at all?"
    allowed = (mock_url + "/", partner_url + "/")
    outside = [url for url in requested if not url.startswith(allowed)]
    assert not outside, f"requests outside 127.0.0.1: {outside}"
    assert any(url.startswith(f"{mock_url}/assets/") for url in requested), requested  # css/logo served locally


def test_deny_at_the_bank(page: Page, api: httpx.Client, partner_url: str):
    created = create_consent(api, f"{partner_url}/klavi/callback")
    open_bank_page(page, created)
    page.get_by_role("button", name="Recusar").click()

    query = landed_query(page, partner_url)
    assert query["error"] == "access_denied"
    assert query["error_description"]
    assert query["consent_id"] == created["consentId"]
    assert get_consent(api, created)["status"] == "REJECTED"


def test_decline_lgpd(page: Page, api: httpx.Client, partner_url: str):
    created = create_consent(api, f"{partner_url}/klavi/callback")
    open_bank_page(page, created)
    page.get_by_role("button", name="Autorizar").click()
    page.get_by_role("button", name="Aceitar").wait_for()
    page.get_by_role("button", name="Recusar").click()

    query = landed_query(page, partner_url)
    assert query["error"] == "lgpd_declined"
    assert query["error_description"]
    assert query["consent_id"] == created["consentId"]
    assert get_consent(api, created)["status"] == "REJECTED"


def test_bank_persona_that_denies_redirects_straight_back(page: Page, api: httpx.Client, partner_url: str):
    created = create_consent(api, f"{partner_url}/klavi/callback", personal_tax_id=DENYING_BANK_CPF)
    page.goto(created["consentRedirectURL"])

    query = landed_query(page, partner_url)
    assert query["error"] == "access_denied"
    assert get_consent(api, created)["status"] == "REJECTED"


def test_opening_the_redirect_url_twice_shows_link_already_used(page: Page, api: httpx.Client, partner_url: str):
    created = create_consent(api, f"{partner_url}/klavi/callback")
    open_bank_page(page, created)

    response = page.goto(created["consentRedirectURL"])
    assert response is not None and response.status == 410
    assert page.get_by_role("heading", level=1).inner_text() == "Link já utilizado"
    assert page.get_by_role("button", name="Autorizar").count() == 0
