"""The klavi_mock pytest fixture, for partners' own test suites (installed with klavi-mock
through the pytest11 entry point; nothing to configure).

    def test_my_client_links_a_user(klavi_mock):
        client = MyKlaviClient(klavi_mock.api_url, klavi_mock.access_key, klavi_mock.secret_key,
                               webhook_url=klavi_mock.receiver.url("/events"))
        consent = client.connect_user(cpf="52998224725", bank="341")
        klavi_mock.approve(consent.redirect_url)
        klavi_mock.wait_for_event("consent_authorised")

The mock runs once per session on a free loopback port (a real server any HTTP client can
reach); each test starts from a clean state. A test whose client broke the contract (a
request the spec refuses) fails with the list of violations; mark the test with
`@pytest.mark.klavi_mock_allow_violations` when that is what it is testing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from klavi_mock.app import create_app
from klavi_mock.config import Settings
from klavi_mock.qa.conformance import render_text
from klavi_mock.testing.helpers import Receiver, delivery_log, serve_in_thread, wait_for

ACCESS_KEY, SECRET_KEY, APP_ID = "sandbox-access-key", "sandbox-secret-key", "sandbox-app"


class KlaviContractViolation(AssertionError):
    """The client under test sent requests that openapi/klavi.yaml does not allow."""


class KlaviMock:
    """The running mock, its credentials, a webhook receiver, and helpers to steer it."""

    def __init__(self, base_url: str, receiver: Receiver) -> None:
        self.base_url = base_url
        self.api_url = f"{base_url}/data/v1"
        self.access_key, self.secret_key, self.app_id = ACCESS_KEY, SECRET_KEY, APP_ID
        self.receiver = receiver
        self.allow_violations = False
        self._http = httpx.Client(base_url=base_url, timeout=15)

    # -- control -----------------------------------------------------------------------

    def _admin(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(method, f"/__mock{path}", **kwargs)
        if response.status_code >= 400:
            raise AssertionError(f"klavi-mock control API {method} {path}: {response.status_code} {response.text}")
        return response.json()

    def reset(self) -> None:
        self._admin("POST", "/reset", json={"rewindClock": True})  # each test starts on the wall clock
        self._admin(
            "PUT",
            f"/tenants/{self.app_id}/webhooks",
            json={
                "eventsUrl": self.receiver.url("/events"),
                "productsCallbackURL": {"all": self.receiver.url("/reports")},
            },
        )
        self.receiver.received.clear()

    def advance(self, seconds: float) -> str:
        """Move the mock's clock forward; what falls due (expiries, retries) happens now."""
        return self._admin("POST", "/clock/advance", json={"seconds": seconds})["now"]

    def now(self) -> str:
        return self._admin("GET", "/clock")["now"]

    def consent(self, consent_id: str) -> dict:
        """The consent as the control API sees it (status, persona, why)."""
        return self._admin("GET", f"/consents/{consent_id}")

    def force(self, consent_id: str, status: str) -> dict:
        return self._admin("POST", f"/consents/{consent_id}/force", json={"status": status})

    def use_persona(self, consent_id: str, persona: str) -> dict:
        return self._admin("POST", f"/consents/{consent_id}/persona", json={"persona": persona})

    def personas(self) -> list[dict]:
        return self._admin("GET", "/personas")

    # -- the user at the bank --------------------------------------------------------

    def _journey(self, consent_redirect_url: str, query: str) -> str:
        """Walk the bank pages like `curl -L`; return where the user is sent back to."""
        url = f"{consent_redirect_url}&{query}"
        mock = urlsplit(self.base_url).netloc
        response = self._http.get(url)
        while response.is_redirect:
            url = response.headers["location"]
            if urlsplit(url).netloc != mock:
                return url
            response = self._http.get(url)
        raise AssertionError(
            f"the bank journey did not return to the partner ({response.status_code}): {response.text[:300]}"
        )

    def approve(self, consent_redirect_url: str, permissions: list[str] | None = None) -> str:
        """The user approves at the bank and accepts the LGPD consent; returns the partner URL
        the browser would land on (with link_id, consent_id, ...)."""
        query = "decision=approve" + (f"&permissions={','.join(permissions)}" if permissions else "")
        return self._journey(consent_redirect_url, query)

    def deny(self, consent_redirect_url: str) -> str:
        return self._journey(consent_redirect_url, "decision=deny")

    def basic_link_url(self, **query: str) -> str:
        """The tenant's Basic WhiteLabel URL (personal_tax_id=..., redirect_url=...)."""
        from urllib.parse import urlencode

        return f"{self.api_url}/basic-links/{self.app_id}" + (f"?{urlencode(query)}" if query else "")

    def tracking_events(self, link_id: str | None = None, name: str | None = None) -> list[dict]:
        """The web tracking events the hosted pages emitted, oldest first (the server's view:
        all but page_duration)."""
        filters = {k: v for k, v in (("linkId", link_id), ("eventName", name)) if v}
        return self._admin("GET", "/tracking-events", params=filters)

    # -- webhooks ----------------------------------------------------------------------

    def events(self, name: str | None = None) -> list[dict]:
        return [e for e in self.receiver.events("/events") if name is None or e["eventName"] == name]

    def reports(self, product: str | None = None) -> list[dict]:
        return [r.json() for r in self.receiver.at("/reports") if product is None or r.json()["productName"] == product]

    def deliveries(self, **filters: str) -> list[dict]:
        """The mock's webhook log (every attempt of every delivery), newest first; filters as
        GET /__mock/webhooks: appId, kind, name, status, requestId, orderingKey."""
        return delivery_log(self._http, **filters)

    def requests(self, **filters: Any) -> list[dict]:
        """The request journal: the client's requests to the Klavi API and the answers
        (tokens masked), newest first; filters as GET /__mock/requests: appId, operationId,
        method, status, pathPrefix, limit."""
        return self._admin("GET", "/requests", params=filters)["items"]

    def wait_for_event(self, name: str, timeout: float = 10) -> dict:
        return wait_for(lambda: self.events(name), timeout, what=f"the {name} webhook")[-1]

    def wait_for_report(self, product: str, timeout: float = 10) -> dict:
        return wait_for(lambda: self.reports(product), timeout, what=f"the {product} report")[-1]

    # -- faults ------------------------------------------------------------------------

    @contextlib.contextmanager
    def fault(self, **rule: Any) -> Iterator[dict]:
        """Make matching Klavi API requests fail while the block runs (fields as in
        POST /__mock/faults, e.g. operationId="createConsent", status=429, retryAfterSeconds=2,
        times=1); yields the rule. Every rule also ends with the test (reset)."""
        created = self._admin("POST", "/faults", json=rule)
        try:
            yield created
        finally:
            self._http.delete(f"/__mock/faults/{created['faultId']}")

    def fault_reactions(self) -> list[dict]:
        """Each injected fault of the sandbox tenant and how the client reacted (newest last)."""
        tenants = self._admin("GET", "/conformance", params={"appId": self.app_id})["tenants"]
        return tenants[0]["faults"]["items"] if tenants else []

    # -- conformance -------------------------------------------------------------------

    def conformance(self) -> dict:
        return self._admin("GET", "/conformance")

    def violations(self) -> list[str]:
        """Every refused deviation of the client under test, as readable lines."""
        lines = []
        for tenant in self.conformance()["tenants"]:
            for operation, fields in tenant["violations"].items():
                for items in fields.values():
                    lines += [f"{operation}: {i['problem']} (×{i['count']})" for i in items if not i["tolerated"]]
        return lines

    def close(self) -> None:
        self._http.close()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "klavi_mock_allow_violations: the test means to send requests the Klavi spec refuses"
    )
    config.addinivalue_line(
        "markers", "klavi_mock_fault(**rule): a fault rule (as POST /__mock/faults takes it) for the whole test"
    )


@pytest.fixture(scope="session")
def _klavi_mock_session() -> Iterator[KlaviMock]:

    receiver = Receiver()
    with serve_in_thread(create_app(Settings())) as base_url:
        mock = KlaviMock(base_url, receiver)
        try:
            yield mock
        finally:
            mock.close()
            receiver.stop()


@pytest.fixture
def klavi_mock(_klavi_mock_session: KlaviMock, request: pytest.FixtureRequest) -> KlaviMock:
    """A running klavi-mock with clean state; see KlaviMock for what it offers."""
    mock = _klavi_mock_session
    mock.reset()
    for marker in request.node.iter_markers("klavi_mock_fault"):
        mock._admin("POST", "/faults", json=marker.kwargs)
    mock.allow_violations = request.node.get_closest_marker("klavi_mock_allow_violations") is not None
    return mock


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item):
    """After a test that used klavi_mock: fail it if its client broke the contract."""
    outcome = yield
    mock = getattr(item, "funcargs", {}).get("klavi_mock")
    if mock is None or mock.allow_violations or outcome.excinfo is not None:
        return
    if mock.violations():
        outcome.force_exception(
            KlaviContractViolation(
                "the client under test broke the Klavi API contract:\n" + render_text(mock.conformance())
            )
        )
