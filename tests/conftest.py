"""Shared fixtures: the mock in-process (strict: every response is checked against the
spec), driven over HTTP by Starlette's TestClient the way a client would."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from mock_server.app import create_app
from mock_server.config import Settings, Tenant

API = "/data/v1"
SANDBOX_KEYS = {"accessKey": "sandbox-access-key", "secretKey": "sandbox-secret-key"}
VALID_CPF = "52998224725"
VALID_CNPJ = "11222333000181"


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


@pytest.fixture
def settings() -> Settings:
    return Settings(strict=True, tenants=[
        Tenant(app_id="sandbox-app", access_key="sandbox-access-key", secret_key="sandbox-secret-key"),
        Tenant(app_id="other-app", access_key="other-access-key", secret_key="other-secret-key"),
    ])


@pytest.fixture
def client(settings: Settings):
    with TestClient(create_app(settings)) as http:
        yield http


@pytest.fixture
def klavi(client: TestClient) -> Klavi:
    return Klavi(client)
