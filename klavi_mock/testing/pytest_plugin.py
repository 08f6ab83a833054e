"""The klavi_mock pytest fixture, for partners' own test suites (installed with klavi-mock
through the pytest11 entry point).

    def test_my_client_links_a_user(klavi_mock):
        client = MyKlaviClient(klavi_mock.api_url, klavi_mock.access_key, klavi_mock.secret_key,
                               webhook_url=klavi_mock.receiver.url("/events"))
        consent = client.connect_user(cpf=klavi_mock.tax_id("default"), bank="341")
        klavi_mock.answer_at_bank(consent.id, "approve")
        klavi_mock.wait_for_event("consent_authorised", consent_id=consent.id)

The mock runs once per session on a free loopback port (a real server any HTTP client can
reach), or is one already running (`--klavi-mock-url` / `KLAVI_MOCK_URL`: a container in
CI); each test starts from a clean state. A test whose client broke the contract (a request
the spec refuses) fails with the conformance report; runtime conditions a correct client
recovers from (an expired token's 401, a fault rule's 429 or 5xx) are not violations. Mark
the test with `@pytest.mark.klavi_mock_allow_violations` when breaking it is the point.

Configuration, highest first: the command line (`--klavi-mock-config`, `--klavi-mock-url`,
`--klavi-mock-strict-tax-ids`, `--klavi-mock-admin-token`), the ini file (`klavi_mock_config`,
`klavi_mock_url`, `klavi_mock_strict_tax_ids`, `klavi_mock_admin_token`), the `KLAVI_MOCK_*`
variables `klavi-mock serve` reads, the config file; or override the `klavi_mock_settings`
fixture (session scope) to return your own `Settings`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Generator, Iterator
from datetime import datetime
from typing import Any, Concatenate, ParamSpec, TypeVar
from urllib.parse import urlencode, urlsplit

import anyio.to_thread
import httpx
import pytest

from klavi_mock.app import create_app
from klavi_mock.config import Settings, settings_from
from klavi_mock.qa.conformance import render_text
from klavi_mock.testing.helpers import Receiver, delivery_log, serve_in_thread, wait_for

ACCESS_KEY, SECRET_KEY, APP_ID = "sandbox-access-key", "sandbox-secret-key", "sandbox-app"
URL_VARIABLE = "KLAVI_MOCK_URL"
P = ParamSpec("P")
R = TypeVar("R")


class KlaviContractViolation(AssertionError):
    """The client under test sent requests that openapi/klavi.yaml does not allow."""


def _ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _violations(report: dict[str, Any], app_id: str | None = None) -> list[str]:
    """Every refused deviation in a conformance report that is not a runtime condition a
    correct client recovers from (an expired token), as readable lines."""
    lines = []
    for tenant in report["tenants"]:
        if app_id is not None and tenant["appId"] != app_id:
            continue
        for operation, fields in tenant["violations"].items():
            for items in fields.values():
                lines += [
                    f"{operation}: {i['problem']} (×{i['count']})"
                    for i in items
                    if not i["tolerated"] and not i.get("recoverable")
                ]
    return lines


def _mentions(event: Any, *ids: str | None) -> bool:
    text = json.dumps(event)
    return all(f'"{i}"' in text for i in ids if i)


def _ordering_key(consent_id: str | None, link_id: str | None) -> dict[str, str]:
    if consent_id:
        return {"orderingKey": f"consent:{consent_id}"}
    if link_id:
        return {"orderingKey": f"link:{link_id}"}
    return {}


def _bank_answer(decision: str, lgpd: str, permissions: list[str] | None) -> dict[str, Any]:
    if decision not in ("approve", "deny") or lgpd not in ("accept", "decline"):
        raise ValueError("decision is approve or deny; lgpd is accept or decline")
    body: dict[str, Any] = {"decision": decision}
    if decision == "approve":
        body["lgpd"] = lgpd
    if permissions is not None:
        body["permissions"] = permissions
    return body


def _tax_id(personas: list[dict], name: str) -> str:
    for persona in personas:
        if name in (persona["id"], persona["title"]):
            tax_id = persona.get("personalTaxId") or persona.get("businessTaxId")
            if tax_id:
                return str(tax_id)
            raise AssertionError(f"persona {name!r} has no tax id of its own (any valid tax id takes it)")
    raise AssertionError(f"no persona {name!r}; the personas are: {', '.join(p['id'] for p in personas)}")


class KlaviMock:
    """The running mock, its credentials, a webhook receiver, and helpers to steer it."""

    def __init__(
        self,
        base_url: str,
        receiver: Receiver,
        app_id: str = APP_ID,
        access_key: str = ACCESS_KEY,
        secret_key: str = SECRET_KEY,
        admin_token: str | None = None,
        external: bool = False,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_url = f"{self.base_url}/data/v1"
        self.access_key, self.secret_key, self.app_id = access_key, secret_key, app_id
        self.receiver = receiver
        self.external = external  # a mock that was already running (--klavi-mock-url)
        self.allow_violations = False
        self.headers = {"X-Mock-Admin-Token": admin_token} if admin_token else {}
        self._http = httpx.Client(base_url=self.base_url, timeout=15, headers=self.headers)

    # -- control -----------------------------------------------------------------------

    def _admin(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(method, f"/__mock{path}", **kwargs)
        if response.status_code >= 400:
            raise AssertionError(f"klavi-mock control API {method} {path}: {response.status_code} {response.text}")
        return response.json()

    def reset(self) -> None:
        """Everything a test can set, back as the session began: links, consents, faults,
        chaos, the clock (on the wall clock), the tenant's webhook URLs (the receiver) and
        report delivery, the conformance report, and the receiver's log, scripts and hang."""
        self._admin("POST", "/reset", json={"rewindClock": True})  # tenants back as configured, too
        self._admin(
            "PUT",
            f"/tenants/{self.app_id}/webhooks",
            json={
                "eventsUrl": self.receiver.url("/events"),
                "productsCallbackURL": {"all": self.receiver.url("/reports")},
                "paymentsUrl": self.receiver.url("/payments"),
            },
        )
        self.receiver.reset()

    def advance(self, seconds: float) -> str:
        """Move the mock's clock forward; what falls due (expiries, retries) happens now.
        See settle() to also drive webhook retry chains to their end."""
        return self._admin("POST", "/clock/advance", json={"seconds": seconds})["now"]

    def settle(self, seconds: float = 0, timeout: float = 30, max_steps: int = 100) -> str:
        """Advance the clock by `seconds`, then keep advancing to each pending delivery's next
        attempt until none is pending (each retry is scheduled from the last failure, so one
        advance does not reach the end of a chain). Returns the mock's time."""
        now = self.advance(seconds) if seconds > 0 else self.now()
        deadline = time.monotonic() + timeout
        for _ in range(max_steps):
            pending = self.deliveries(status="pending", appId=self.app_id)
            if not pending:
                return now
            step = _next_step(pending, _ts(self.now()))
            if step is None:  # an attempt under way: wait for its answer
                if time.monotonic() > deadline:
                    raise AssertionError(f"deliveries still pending after {timeout} s: {pending}")
                time.sleep(0.05)
                continue
            now = self.advance(step)
        raise AssertionError(f"deliveries still pending after {max_steps} clock moves")

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

    def tax_id(self, persona: str) -> str:
        """The CPF (or CNPJ) that takes the persona `persona` (its id or title)."""
        return _tax_id(self.personas(), persona)

    # -- the user at the bank --------------------------------------------------------

    def answer_at_bank(
        self, consent_id: str, decision: str = "approve", lgpd: str = "accept", permissions: list[str] | None = None
    ) -> dict:
        """The user's answer at the bank (approve or deny) and at Klavi's LGPD step (accept or
        decline), without a browser; returns {consent, returnURL, waiting}."""
        return self._admin("POST", f"/consents/{consent_id}/bank", json=_bank_answer(decision, lgpd, permissions))

    def _journey(self, consent_redirect_url: str, query: str) -> str:
        """Walk the bank pages like `curl -L`; return where the user is sent back to."""
        url = f"{consent_redirect_url}{'&' if '?' in consent_redirect_url else '?'}{query}"
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

    def approve(self, consent_redirect_url: str, permissions: list[str] | None = None, lgpd: str = "accept") -> str:
        """The user opens consentRedirectURL, approves at the bank and accepts (or declines)
        the LGPD step; returns the partner URL the browser would land on."""
        query = {"decision": "approve", "lgpd": lgpd, **({"permissions": ",".join(permissions)} if permissions else {})}
        return self._journey(consent_redirect_url, urlencode(query))

    def deny(self, consent_redirect_url: str) -> str:
        return self._journey(consent_redirect_url, "decision=deny")

    def basic_link_url(self, **query: str) -> str:
        """The tenant's Basic WhiteLabel URL (personal_tax_id=..., redirect_url=...)."""
        return f"{self.api_url}/basic-links/{self.app_id}" + (f"?{urlencode(query)}" if query else "")

    def tracking_events(self, link_id: str | None = None, name: str | None = None) -> list[dict]:
        """The web tracking events the hosted pages emitted, oldest first (the server's view:
        all but page_duration)."""
        filters = {k: v for k, v in (("linkId", link_id), ("eventName", name)) if v}
        return self._admin("GET", "/tracking-events", params=filters)

    # -- webhooks ----------------------------------------------------------------------

    def events(self, name: str | None = None, consent_id: str | None = None, link_id: str | None = None) -> list[dict]:
        """The events the receiver got, oldest first (those named `name`, about a consent or link)."""
        return [
            e
            for e in self.receiver.events("/events")
            if (name is None or e["eventName"] == name) and _mentions(e, consent_id, link_id)
        ]

    def reports(self, product: str | None = None) -> list[dict]:
        return [r.json() for r in self.receiver.at("/reports") if product is None or r.json()["productName"] == product]

    def deliveries(self, consent_id: str | None = None, link_id: str | None = None, **filters: str) -> list[dict]:
        """The mock's webhook log (every attempt of every delivery), newest first; filters as
        GET /__mock/webhooks: appId, kind, name, status, requestId, orderingKey."""
        return delivery_log(self._http, **_ordering_key(consent_id, link_id), **filters)

    def requests(self, **filters: Any) -> list[dict]:
        """The request journal: the client's requests to the Klavi API and the answers
        (tokens masked), newest first; filters as GET /__mock/requests: appId, operationId,
        method, status, pathPrefix, limit."""
        return self._admin("GET", "/requests", params=filters)["items"]

    def wait_for_event(
        self, name: str, consent_id: str | None = None, link_id: str | None = None, timeout: float = 10
    ) -> dict:
        """The newest `name` event the receiver got (about this consent or link), once there is one."""
        about = f" about {consent_id or link_id}" if consent_id or link_id else ""
        return wait_for(lambda: self.events(name, consent_id, link_id), timeout, what=f"the {name} webhook{about}")[-1]

    def wait_for_delivery(
        self,
        name: str | None = None,
        consent_id: str | None = None,
        link_id: str | None = None,
        status: str = "delivered",
        timeout: float = 10,
    ) -> dict:
        """The newest delivery in the mock's log (named `name`, about this consent or link)
        once one has `status` (delivered, failed, undeliverable, pending)."""
        filters = {"status": status, "appId": self.app_id, **({"name": name} if name else {})}
        return wait_for(
            lambda: self.deliveries(consent_id, link_id, **filters),
            timeout,
            what=f"a {status} delivery {name or ''} {consent_id or link_id or ''}".rstrip(),
        )[0]

    def wait_for_report(self, product: str, timeout: float = 10) -> dict:
        return wait_for(lambda: self.reports(product), timeout, what=f"the {product} report")[-1]

    def redeliver(self, delivery_id: str | None = None, status: str = "failed", **filters: str) -> dict:
        """Send one delivery again (`delivery_id`), or every delivery with `status` that
        matches `filters` (appId, kind, name, requestId), with fresh retries."""
        if delivery_id is not None:
            return self._admin("POST", f"/webhooks/{delivery_id}/redeliver")
        return self._admin("POST", "/webhooks/redeliver", json={"status": status, **filters})

    def chaos(self, **modes: Any) -> dict:
        """The tenant's webhook chaos (duplicate=1, badSignature=0.5, seed=7, ...; as PUT
        /__mock/tenants/{appId}/chaos); chaos() with no mode clears it."""
        if not modes:
            return self._admin("DELETE", f"/tenants/{self.app_id}/chaos")
        return self._admin("PUT", f"/tenants/{self.app_id}/chaos", json=modes)

    def report_delivery(
        self,
        mode: str | None = None,
        activated_products: list[str] | None = None,
        encrypt_sensitive_fields: bool | None = None,
        *,
        all_products: bool = False,
    ) -> dict:
        """How the tenant's reports are delivered: on-request, automatic or manual; which
        products it activated (all_products=True: every one); the "CPF encoded" variant."""
        body: dict[str, Any] = {}
        if mode is not None:
            body["reportDelivery"] = mode
        if activated_products is not None or all_products:
            body["activatedProducts"] = None if all_products else activated_products
        if encrypt_sensitive_fields is not None:
            body["encryptSensitiveFields"] = encrypt_sensitive_fields
        return self._admin("PUT", f"/tenants/{self.app_id}/reports", json=body)

    # -- faults ------------------------------------------------------------------------

    @contextlib.contextmanager
    def fault(self, **rule: Any) -> Iterator[dict]:
        """Make matching Klavi API requests fail while the block runs (fields as in
        POST /__mock/faults, e.g. operationId="createConsent", status=429, retryAfterSeconds=2,
        times=1); yields the rule. Every rule also ends with the test (reset)."""
        created = self.add_fault(**rule)
        try:
            yield created
        finally:
            self.remove_fault(created["faultId"])

    def remove_fault(self, fault_id: str) -> None:
        """End a fault rule now (one already gone, e.g. used up by `times`, is fine)."""
        self._http.delete(f"/__mock/faults/{fault_id}")

    def add_fault(self, **rule: Any) -> dict:
        """A fault rule until the test ends (fields as in POST /__mock/faults)."""
        return self._admin("POST", "/faults", json=rule)

    def fault_reactions(self) -> list[dict]:
        """Each injected fault of the sandbox tenant and how the client reacted (newest last)."""
        tenants = self._admin("GET", "/conformance", params={"appId": self.app_id})["tenants"]
        return tenants[0]["faults"]["items"] if tenants else []

    # -- conformance -------------------------------------------------------------------

    def conformance(self) -> dict:
        return self._admin("GET", "/conformance")

    def violations(self) -> list[str]:
        """Every refused deviation of the client under test, as readable lines (runtime
        conditions a correct client recovers from, such as an expired token, left out)."""
        return _violations(self.conformance())

    def assert_conforms(self) -> None:
        """Fail (with the conformance report alone) if the client broke the contract."""
        report = self.conformance()
        if _violations(report):
            pytest.fail(violation_text(report), pytrace=False)

    def close(self) -> None:
        self._http.close()

    # -- payments (the payments API, /payment) -----------------------------------------------

    @property
    def payments_url(self) -> str:
        """The payments API's base URL, e.g. http://127.0.0.1:<port>/payment."""
        return f"{self.base_url}/payment"

    def payment_token(self) -> str:
        """A payments accessToken (POST /payment/customer/v1/auth with the tenant's keys)."""
        keys = {"accessKey": self.access_key, "secretKey": self.secret_key}
        response = self._http.post("/payment/customer/v1/auth", json=keys)
        if response.status_code != 200:
            raise AssertionError(f"POST /payment/customer/v1/auth: {response.status_code} {response.text}")
        return response.json()["accessToken"]

    def approve_payment(self, redirect_url: str, **query: str) -> str:
        """The payer approves at the bank, without a browser: an instant payment or an
        Automatic Pix consent (their redirectConsentURL), a WhiteLabel payment (its paymentURL,
        with institutionId="341"); returns the partner URL the browser lands on."""
        return self._journey(redirect_url, urlencode({"decision": "approve", **query}))

    def refuse_payment(self, redirect_url: str, **query: str) -> str:
        """The payer refuses at the bank (as approve_payment); the partner URL landed on."""
        return self._journey(redirect_url, urlencode({"decision": "deny", **query}))

    def payment_events(self, name: str | None = None, resource_id: str | None = None) -> list[dict]:
        """The payment events the receiver got (at the tenant's paymentsUrl), oldest first:
        those named `name`, about the payment or consent `resource_id` (a charge's events are
        about its consent too)."""
        return [
            e
            for e in self.receiver.events("/payments")
            if (name is None or e["eventName"] == name)
            and (resource_id is None or resource_id in (e["payload"].get("id"), e["payload"].get("consentId")))
        ]

    def wait_for_payment_event(
        self, name: str, resource_id: str | None = None, status: str | None = None, timeout: float = 10
    ) -> dict:
        """The newest `name` payment event (about `resource_id`; whose payload has `status`),
        once there is one."""

        def found() -> list[dict]:
            events = self.payment_events(name, resource_id)
            return [e for e in events if status is None or e["payload"].get("status") == status]

        about = f" about {resource_id}" if resource_id else ""
        return wait_for(found, timeout, what=f"the {name} webhook{about}{f' with {status}' if status else ''}")[-1]


def _next_step(pending: list[dict], now: float) -> float | None:
    """How far to move the clock to the earliest pending delivery's next attempt, or None
    while one is due already (being sent)."""
    ahead = [_ts(d["nextAttemptAt"]) - now for d in pending]
    if any(seconds <= 0 for seconds in ahead):
        return None
    return min(ahead) + 0.001


def violation_text(report: dict[str, Any]) -> str:
    return (
        "KlaviContractViolation: the client under test broke the Klavi API contract:\n"
        + "\n".join(f"  ✗ {line}" for line in _violations(report))
        + "\n\n"
        + render_text(report)
    )


def _in_a_thread(
    method: Callable[Concatenate[KlaviMock, P], R],
) -> Callable[Concatenate[AsyncKlaviMock, P], Coroutine[Any, Any, R]]:
    """`method` as a coroutine that runs it in a worker thread, so the event loop (the test's
    own server, its other tasks) keeps running while the helper waits on HTTP or sleeps."""

    @functools.wraps(method)
    async def run(self: AsyncKlaviMock, *args: P.args, **kwargs: P.kwargs) -> R:
        return await anyio.to_thread.run_sync(functools.partial(method, self.sync, *args, **kwargs))

    return run


class AsyncKlaviMock:
    """KlaviMock's helpers as coroutines, for async test suites (`klavi_mock_async`): each
    runs the synchronous helper in a worker thread (anyio's, which works under pytest-asyncio
    and anyio alike), one implementation for both. `events`, `reports` and
    `basic_link_url` do no I/O and stay plain methods."""

    def __init__(self, mock: KlaviMock) -> None:
        self.sync = mock
        self.base_url, self.api_url = mock.base_url, mock.api_url
        self.access_key, self.secret_key, self.app_id = mock.access_key, mock.secret_key, mock.app_id
        self.receiver = mock.receiver
        self.events, self.reports, self.basic_link_url = mock.events, mock.reports, mock.basic_link_url
        self.payments_url, self.payment_events = mock.payments_url, mock.payment_events

    reset = _in_a_thread(KlaviMock.reset)
    advance = _in_a_thread(KlaviMock.advance)
    settle = _in_a_thread(KlaviMock.settle)
    now = _in_a_thread(KlaviMock.now)
    consent = _in_a_thread(KlaviMock.consent)
    force = _in_a_thread(KlaviMock.force)
    use_persona = _in_a_thread(KlaviMock.use_persona)
    personas = _in_a_thread(KlaviMock.personas)
    tax_id = _in_a_thread(KlaviMock.tax_id)
    answer_at_bank = _in_a_thread(KlaviMock.answer_at_bank)
    approve = _in_a_thread(KlaviMock.approve)
    deny = _in_a_thread(KlaviMock.deny)
    tracking_events = _in_a_thread(KlaviMock.tracking_events)
    deliveries = _in_a_thread(KlaviMock.deliveries)
    requests = _in_a_thread(KlaviMock.requests)
    wait_for_event = _in_a_thread(KlaviMock.wait_for_event)
    wait_for_delivery = _in_a_thread(KlaviMock.wait_for_delivery)
    wait_for_report = _in_a_thread(KlaviMock.wait_for_report)
    redeliver = _in_a_thread(KlaviMock.redeliver)
    chaos = _in_a_thread(KlaviMock.chaos)
    report_delivery = _in_a_thread(KlaviMock.report_delivery)
    add_fault = _in_a_thread(KlaviMock.add_fault)
    fault_reactions = _in_a_thread(KlaviMock.fault_reactions)
    conformance = _in_a_thread(KlaviMock.conformance)
    violations = _in_a_thread(KlaviMock.violations)
    assert_conforms = _in_a_thread(KlaviMock.assert_conforms)
    # -- payments --
    payment_token = _in_a_thread(KlaviMock.payment_token)
    approve_payment = _in_a_thread(KlaviMock.approve_payment)
    refuse_payment = _in_a_thread(KlaviMock.refuse_payment)
    wait_for_payment_event = _in_a_thread(KlaviMock.wait_for_payment_event)

    @contextlib.asynccontextmanager
    async def fault(self, **rule: Any) -> AsyncIterator[dict]:
        """As KlaviMock.fault: matching requests fail while the block runs."""
        created = await self.add_fault(**rule)
        try:
            yield created
        finally:
            await anyio.to_thread.run_sync(self.sync.remove_fault, created["faultId"])


# -- configuration and fixtures ------------------------------------------------------------

OPTIONS = (  # (ini name, flag, help, kind)
    ("klavi_mock_url", "--klavi-mock-url", "use the klavi-mock running at this URL (also KLAVI_MOCK_URL)", "string"),
    ("klavi_mock_config", "--klavi-mock-config", "klavi-mock's config file (tenants, faults...)", "string"),
    ("klavi_mock_strict_tax_ids", "--klavi-mock-strict-tax-ids", "refuse CPFs/CNPJs with bad check digits", "bool"),
    ("klavi_mock_admin_token", "--klavi-mock-admin-token", "the control API's admin token (external mode)", "string"),
    ("klavi_mock_app_id", "--klavi-mock-app-id", "the tenant the tests use (default: the first)", "string"),
    (
        "klavi_mock_receiver_host",
        "--klavi-mock-receiver-host",
        "the webhook receiver's listen address (default 127.0.0.1; 0.0.0.0 for a mock in a container)",
        "string",
    ),
    (
        "klavi_mock_receiver_public_host",
        "--klavi-mock-receiver-public-host",
        "the host name the mock reaches the receiver by (e.g. host.docker.internal; default the listen address)",
        "string",
    ),
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("klavi-mock")
    for ini, flag, help_text, kind in OPTIONS:
        if kind == "bool":
            group.addoption(flag, action="store_true", default=None, dest=ini, help=help_text)
            parser.addini(ini, help_text, type="bool", default=None)
        else:
            group.addoption(flag, default=None, dest=ini, help=help_text)
            parser.addini(ini, help_text, default=None)


def option(config: pytest.Config, name: str) -> Any:
    """A plugin option: the command line, else the ini file (None when neither gives it)."""
    value = config.getoption(name, default=None)
    if value is None:
        value = config.getini(name)
    return value if value not in ("", []) else None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "klavi_mock_allow_violations: the test means to send requests the Klavi spec refuses"
    )
    config.addinivalue_line(
        "markers", "klavi_mock_fault(**rule): a fault rule (as POST /__mock/faults takes it) for the whole test"
    )


@pytest.fixture(scope="session")
def klavi_mock_settings(pytestconfig: pytest.Config) -> Settings:
    """The Settings the session's mock is served with: the plugin's options over the
    KLAVI_MOCK_* variables over the config file. Override this fixture (session scope) to
    build your own (tenants, faults, strict tax ids...). Unused in external mode."""
    flags: dict[str, Any] = {
        "config": option(pytestconfig, "klavi_mock_config"),
        "strict_tax_ids": option(pytestconfig, "klavi_mock_strict_tax_ids"),
        "admin_token": option(pytestconfig, "klavi_mock_admin_token"),
    }
    environ = {k: v for k, v in os.environ.items() if k != URL_VARIABLE}
    return settings_from(flags, environ)


@pytest.fixture(scope="session")
def _klavi_mock_session(pytestconfig: pytest.Config, request: pytest.FixtureRequest) -> Iterator[KlaviMock]:
    url = option(pytestconfig, "klavi_mock_url") or os.environ.get(URL_VARIABLE) or None
    wanted_app = option(pytestconfig, "klavi_mock_app_id")
    receiver = Receiver(
        host=option(pytestconfig, "klavi_mock_receiver_host") or "127.0.0.1",
        public_host=option(pytestconfig, "klavi_mock_receiver_public_host"),
    )
    try:
        if url:  # external mode: a mock that already runs, reset over the control API
            token = option(pytestconfig, "klavi_mock_admin_token") or os.environ.get("KLAVI_MOCK_ADMIN_TOKEN")
            probe = KlaviMock(url, receiver, admin_token=token, external=True)
            tenants = probe._admin("GET", "/tenants")
            probe.close()
            tenant = next((t for t in tenants if wanted_app in (None, t["appId"])), None)
            if tenant is None:
                raise pytest.UsageError(f"klavi-mock at {url} has no tenant {wanted_app!r}")
            mock = KlaviMock(
                url, receiver, tenant["appId"], tenant["accessKey"], tenant["secretKey"], token, external=True
            )
            try:
                yield mock
            finally:
                mock.close()
            return
        settings: Settings = request.getfixturevalue("klavi_mock_settings")
        tenant_obj = next((t for t in settings.tenants if wanted_app in (None, t.app_id)), None)
        if tenant_obj is None:
            raise pytest.UsageError(f"klavi-mock's settings have no tenant {wanted_app!r}")
        with serve_in_thread(create_app(settings)) as base_url:
            mock = KlaviMock(
                base_url,
                receiver,
                tenant_obj.app_id,
                tenant_obj.access_key,
                tenant_obj.secret_key,
                settings.admin_token,
            )
            try:
                yield mock
            finally:
                mock.close()
    finally:
        receiver.stop()


@pytest.fixture
def klavi_mock(_klavi_mock_session: KlaviMock, request: pytest.FixtureRequest) -> KlaviMock:
    """A running klavi-mock with clean state; see KlaviMock for what it offers."""
    mock = _klavi_mock_session
    mock.reset()
    for marker in request.node.iter_markers("klavi_mock_fault"):
        mock.add_fault(**marker.kwargs)
    mock.allow_violations = request.node.get_closest_marker("klavi_mock_allow_violations") is not None
    return mock


@pytest.fixture
def klavi_mock_async(klavi_mock: KlaviMock) -> AsyncKlaviMock:
    """klavi_mock's helpers as coroutines, for async tests (pytest-asyncio, anyio)."""
    return AsyncKlaviMock(klavi_mock)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, None]:
    """After a test that used klavi_mock: fail it, with the conformance report alone, if its
    client broke the contract."""
    outcome = yield
    mock = getattr(item, "funcargs", {}).get("klavi_mock")
    if mock is None or mock.allow_violations or outcome.excinfo is not None:
        return
    report = mock.conformance()
    if _violations(report):
        outcome.force_exception(pytest.fail.Exception(violation_text(report), pytrace=False))
