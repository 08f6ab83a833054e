"""Shared fixtures: the mock in-process (strict: every response is checked against the
spec), driven over HTTP by Starlette's TestClient the way a client would."""

from __future__ import annotations

import itertools
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.testclient import TestClient

from klavi_mock.config import Settings
from klavi_mock.testing import Receiver
from tests.worlds import SANDBOX_KEYS, in_process, world_settings

API = "/data/v1"
VALID_CPF = "52998224725"
VALID_CNPJ = "11222333000181"
PARTNER_RETURN = "https://partner.example.com/return"
_track_ids = itertools.count(1)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Klavi:
    """A tiny Klavi client over the test transport, for the steps tests don't examine."""

    def __init__(self, http: TestClient) -> None:
        self.http = http

    def access_token(self, keys: dict | None = None) -> str:
        response = self.http.post(f"{API}/auth", json=keys or SANDBOX_KEYS)
        assert response.status_code == 200, response.text
        return response.json()["accessToken"]

    def create_link(self, access_token: str | None = None, **body) -> dict:
        response = self.http.post(f"{API}/links", json=body, headers=bearer(access_token or self.access_token()))
        assert response.status_code == 200, response.text
        return response.json()

    def advance(self, seconds: float) -> None:
        assert self.http.post("/__mock/clock/advance", json={"seconds": seconds}).status_code == 200

    def consent_request(self, link_token: str, **body):
        payload = {
            "externalTrackId": f"track-{next(_track_ids)}",
            "institutionCode": "341",
            "redirectURL": PARTNER_RETURN,
            "validityPeriod": 12,
            **body,
        }
        if "personalTaxId" not in payload and "businessTaxId" not in payload:
            payload["personalTaxId"] = VALID_CPF
        payload = {k: v for k, v in payload.items() if v is not None}
        return self.http.post(f"{API}/consents", json=payload, headers=bearer(link_token))

    def create_consent(self, link_token: str | None = None, **body) -> dict:
        response = self.consent_request(link_token or self.create_link()["linkToken"], **body)
        assert response.status_code == 200, response.text
        return response.json()

    def consent(self, consent_id: str) -> dict:
        response = self.http.get(f"{API}/consents/{consent_id}", headers=bearer(self.access_token()))
        assert response.status_code == 200, response.text
        return response.json()

    def follow(self, url: str, method: str = "GET", data: dict | None = None):
        """Follow redirects like a browser while they stay on the mock; returns the last
        mock response and, if the journey left the mock, the URL it left for."""
        response = self.http.request(method, url, data=data, follow_redirects=False)
        while response.is_redirect:
            location = response.headers["location"]
            if urlsplit(location).netloc != "testserver":
                return response, location
            response = self.http.get(location, follow_redirects=False)
        return response, None


def authorise(klavi: Klavi, link_token: str | None = None, **consent) -> str:
    """A consent approved at the bank and at the LGPD step; its id."""
    created = klavi.create_consent(link_token, **consent)
    _, left = klavi.follow(created["consentRedirectURL"] + "&decision=approve")
    assert "error" not in left
    return created["consentId"]


def ask(klavi: Klavi, path: str, **body):
    """POST `body` to an API path with a fresh accessToken."""
    return klavi.http.post(f"{API}{path}", json=body, headers=bearer(klavi.access_token()))


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@pytest.fixture
def settings() -> Settings:
    return world_settings()


@pytest.fixture
def client(settings: Settings):
    with in_process(settings, follow_redirects=False) as http:
        yield http


@pytest.fixture
def klavi(client: TestClient) -> Klavi:
    return Klavi(client)


@pytest.fixture
def receiver():
    """A real webhook receiver on a loopback port."""
    server = Receiver()
    yield server
    server.stop()


@pytest.fixture
def hooked(klavi, client, receiver) -> Klavi:
    """The sandbox tenant sends its events to the receiver's /events and reports to /reports."""
    response = client.put(
        "/__mock/tenants/sandbox-app/webhooks",
        json={"eventsUrl": receiver.url("/events"), "productsCallbackURL": receiver.url("/reports")},
    )
    assert response.status_code == 200 and response.json()["eventsUrl"] == receiver.url("/events")
    return klavi
