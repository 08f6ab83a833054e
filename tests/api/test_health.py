"""GET /__mock/health in-process, strict: its answer is the contract's (mock-admin.yaml, Health)."""

from __future__ import annotations

from klavi_mock import __version__
from klavi_mock.config import Settings
from tests.worlds import in_process


def test_health_answers_as_the_contract_says(client):
    response = client.get("/__mock/health")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.json()["status"] == "ok" and response.json()["version"] == __version__


def test_health_needs_no_admin_token_when_the_rest_does():
    with in_process(Settings(admin_token="secret-admin-token")) as http:
        assert http.get("/__mock/health").status_code == 200
        assert http.get("/__mock/clock").status_code == 401
        assert http.get("/__mock/clock", headers={"X-Mock-Admin-Token": "secret-admin-token"}).status_code == 200
