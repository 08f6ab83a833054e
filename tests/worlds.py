"""One factory for test worlds: the settings every in-process world starts from, and the
mock built from them, in-process (Starlette's TestClient) or under uvicorn in a thread.

    with in_process(world_settings(admin_token="t")) as http: ...
    with in_thread(world_settings()) as base_url: ...

Real `klavi-mock serve` processes are `tests/servers.py`'s."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from starlette.testclient import TestClient

from klavi_mock.app import create_app
from klavi_mock.config import Settings, Tenant
from klavi_mock.testing import serve_in_thread

# Starlette's TestClient addresses the app as "testserver": the control API must answer it.
TEST_HOSTS = ("testserver",)
TOKEN_SECRET = "test-token-secret-32-characters!"
SANDBOX_KEYS = {"accessKey": "sandbox-access-key", "secretKey": "sandbox-secret-key"}
OTHER_KEYS = {"accessKey": "other-access-key", "secretKey": "other-secret-key"}


def tenant(app_id: str = "sandbox-app", **fields: Any) -> Tenant:
    """A test tenant: sandbox-app (or other-app) with its keys, and any other field given."""
    keys = SANDBOX_KEYS if app_id == "sandbox-app" else OTHER_KEYS
    values = {"access_key": keys["accessKey"], "secret_key": keys["secretKey"], **fields}
    return Tenant(app_id=app_id, **values)


def world_settings(**overrides: Any) -> Settings:
    """Strict mode (every response checked against the spec), the test host allowed, a fixed
    token secret and two tenants (sandbox-app, other-app), with `overrides` on top."""
    values: dict[str, Any] = {
        "strict": True,
        "allowed_hosts": TEST_HOSTS,
        "token_secret": TOKEN_SECRET,
        "tenants": [tenant("sandbox-app"), tenant("other-app")],
    }
    return Settings(**{**values, **overrides})


def in_process(settings: Settings | None = None, **client: Any) -> TestClient:
    """The mock in-process, driven over HTTP (use it as a context manager: that runs the
    app's lifespan). `client` goes to the TestClient (follow_redirects, raise_server_exceptions...)."""
    return TestClient(create_app(settings or world_settings()), **client)


def in_thread(settings: Settings | None = None) -> AbstractContextManager[str]:
    """The mock under a real uvicorn in a background thread; its base URL."""
    return serve_in_thread(create_app(settings or world_settings()))


__all__ = [
    "OTHER_KEYS",
    "SANDBOX_KEYS",
    "TEST_HOSTS",
    "TOKEN_SECRET",
    "in_process",
    "in_thread",
    "tenant",
    "world_settings",
]
