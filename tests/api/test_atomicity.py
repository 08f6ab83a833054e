"""A request that fails changes nothing: every mutating operation, made to fail after it
has done all its work, leaves the state seen through /__mock, the webhook log, the
receiver and the state file exactly as they were; and the 5xx is in the conformance report.
A state-file commit that fails (a full disk) answers 503 the same way, and the mock
recovers when the space comes back."""

from __future__ import annotations

import sqlite3
import time

import pytest
from starlette.testclient import TestClient

from klavi_mock.app import create_app
from klavi_mock.config import Settings
from klavi_mock.domain import reports
from klavi_mock.sandbox import report_building as reporting
from klavi_mock.storage.protocol import StorageError
from klavi_mock.testing import delivery_log, wait_for
from klavi_mock.web.apis.control import handlers as admin_module
from klavi_mock.web.apis.data_v1.handlers import HANDLERS
from tests.conftest import API, VALID_CNPJ, VALID_CPF, Klavi, bearer


class Injected(RuntimeError):
    """The failure the tests inject."""


def fail_after(real):
    """A handler (or domain step) that does all its work, then fails."""
    if hasattr(real, "__code__") and real.__code__.co_flags & 0x80:  # a coroutine function

        async def failing(*args, **kwargs):
            await real(*args, **kwargs)
            raise Injected("injected after the work was done")
    else:

        def failing(*args, **kwargs):
            real(*args, **kwargs)
            raise Injected("injected after the work was done")

    return failing


def observable(http: TestClient) -> dict:
    """Everything the control API shows of the state."""
    seen = {path: http.get(path).json() for path in ("/__mock/consents", "/__mock/links", "/__mock/tenants")}
    seen["deliveries"] = delivery_log(http)
    seen["clockOffset"] = http.get("/__mock/clock").json()["offsetSeconds"]
    return seen


def rows(path) -> dict:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {table: sorted(db.execute(f"SELECT id, data FROM {table}")) for table in tables}
    finally:
        db.close()


class World:
    """A sandbox with something of everything: a link, a pending and an authorised consent,
    an Open Data task waiting for MFA, a delivery in the log."""

    def __init__(self, http: TestClient, receiver) -> None:
        self.http = http
        self.klavi = Klavi(http)
        assert (
            http.put(
                "/__mock/tenants/sandbox-app/webhooks",
                json={"eventsUrl": receiver.url("/events"), "productsCallbackURL": receiver.url("/reports")},
            ).status_code
            == 200
        )
        self.access = self.klavi.access_token()
        self.link = self.klavi.create_link(self.access, personalTaxId=VALID_CPF)
        authorised = self.klavi.create_consent(self.link["linkToken"])
        self.klavi.follow(authorised["consentRedirectURL"] + "&decision=approve")
        self.authorised = authorised["consentId"]
        self.pending = self.klavi.create_consent(self.link["linkToken"])
        company_link = self.klavi.create_link(self.access, businessTaxId=VALID_CNPJ)
        company = self.klavi.create_consent(company_link["linkToken"], businessTaxId=VALID_CNPJ)
        self.klavi.follow(company["consentRedirectURL"] + "&decision=approve")
        task = http.post(
            "/__mock/tasks", json={"linkId": self.link["linkId"], "institutionCode": "389", "status": "needMFA"}
        )
        assert task.status_code == 200, task.text
        self.task_id = task.json()["taskId"]
        self.mfa_id = http.get(f"{API}/tasks/{self.task_id}/status", headers=bearer(self.link["linkToken"])).json()[
            "mfaInfo"
        ]["mfaId"]
        self.delivery = delivery_log(http)[0]["deliveryId"]
        # Every webhook delivered, so nothing changes under the test but the test itself.
        wait_for(lambda: all(d["status"] == "delivered" for d in delivery_log(http)), what="every delivery delivered")


def report_body(world: World, tax_id: str = VALID_CPF) -> dict:
    return {"taxId": tax_id, "institutionCode": "341", "products": ["all"]}


# operationId -> the request that performs it, given the world.
API_CALLS = {
    "createLink": lambda w: w.http.post(f"{API}/links", json={"personalTaxId": VALID_CPF}, headers=bearer(w.access)),
    "openBasicLink": lambda w: w.http.get(f"{API}/basic-links/sandbox-app?personal_tax_id={VALID_CPF}"),
    "createConsent": lambda w: w.klavi.consent_request(w.link["linkToken"]),
    "revokeConsent": lambda w: w.http.delete(f"{API}/consents/{w.authorised}/revoke", headers=bearer(w.access)),
    "requestPersonalInstitutionReport": lambda w: w.http.post(
        f"{API}/personal/institution-data",
        json={"taxId": VALID_CPF, "institutionCode": "341", "products": ["all"]},
        headers=bearer(w.access),
    ),
    "requestPersonalUserReport": lambda w: w.http.post(
        f"{API}/personal/user-data", json={"taxId": VALID_CPF, "products": ["all"]}, headers=bearer(w.access)
    ),
    "requestBusinessInstitutionReport": lambda w: w.http.post(
        f"{API}/business/institution-data",
        json={"taxId": VALID_CNPJ, "institutionCode": "341", "products": ["all"]},
        headers=bearer(w.access),
    ),
    "requestBusinessUserReport": lambda w: w.http.post(
        f"{API}/business/user-data", json={"taxId": VALID_CNPJ, "products": ["all"]}, headers=bearer(w.access)
    ),
    "submitTaskMfa": lambda w: w.http.post(
        f"{API}/tasks/{w.task_id}/mfa", json={"mfaId": w.mfa_id, "code": "1"}, headers=bearer(w.link["linkToken"])
    ),
}
ADMIN_CALLS = {
    "advanceClock": lambda w: w.http.post("/__mock/clock/advance", json={"seconds": 400 * 86400}),
    "resetState": lambda w: w.http.post("/__mock/reset"),
    "forceConsentStatus": lambda w: w.http.post(
        f"/__mock/consents/{w.pending['consentId']}/force", json={"status": "AUTHORISED"}
    ),
    "setConsentPersona": lambda w: w.http.post(
        f"/__mock/consents/{w.pending['consentId']}/persona", json={"persona": "bank-denies"}
    ),
    "setTenantWebhooks": lambda w: w.http.put(
        "/__mock/tenants/sandbox-app/webhooks", json={"eventsUrl": "http://127.0.0.1:9/elsewhere"}
    ),
    "fireWebhookEvent": lambda w: w.http.post(
        "/__mock/webhooks/fire", json={"eventName": "consent_revoked", "consentId": w.authorised}
    ),
    "redeliverWebhook": lambda w: w.http.post(f"/__mock/webhooks/{w.delivery}/redeliver"),
    "createTask": lambda w: w.http.post(
        "/__mock/tasks", json={"linkId": w.link["linkId"], "institutionCode": "389", "status": "success"}
    ),
}
# The bank pages: the lifecycle step each one takes, and the request.
BANK_CALLS = {
    "open the consentRedirectURL and approve": (
        "open_redirect",
        lambda w: w.http.get(w.pending["consentRedirectURL"] + "&decision=approve"),
    ),
    "approve at the bank": (
        "decide_at_bank",
        lambda w: w.http.get(w.pending["consentRedirectURL"] + "&decision=approve"),
    ),
    "accept the LGPD consent": (
        "decide_lgpd",
        lambda w: w.http.get(w.pending["consentRedirectURL"] + "&decision=approve"),
    ),
    "pick an institution on the hosted link page": (
        "create",
        lambda w: w.http.post(w.link["linkURL"], data={"institutionCode": "341", "confirm": "1"}),
    ),
}


@pytest.fixture(params=["memory", "state-file"])
def app_and_state(request, settings: Settings, tmp_path):
    state_file = tmp_path / "state.sqlite" if request.param == "state-file" else None
    if state_file:
        settings.state_file = str(state_file)
    app = create_app(settings)
    with TestClient(app, follow_redirects=False, raise_server_exceptions=False) as http:
        yield app, http, state_file


def _prove_nothing_applied(http, state_file, receiver, monkeypatch, inject, act, operation: str) -> None:
    world = World(http, receiver)
    inject()
    received = len(receiver.received)
    before = observable(http)
    on_disk = rows(state_file) if state_file else None

    response = act(world)

    assert response.status_code == 500, response.text
    assert response.json()["statusCode"] == 500 and "internal error" in response.json()["message"]
    assert observable(http) == before, f"{operation} failed but changed the state"
    if state_file:
        assert rows(state_file) == on_disk, f"{operation} failed but wrote to the state file"
    # A request that succeeds afterwards has its webhook delivered; the failed one's never is.
    monkeypatch.undo()
    assert (
        http.post(
            "/__mock/webhooks/fire", json={"eventName": "link_created", "linkId": world.link["linkId"]}
        ).status_code
        == 200
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(receiver.received) <= received:
        time.sleep(0.02)
    assert [r.json()[0]["eventName"] for r in receiver.received[received:]] == ["link_created"]
    return world


@pytest.mark.parametrize("operation", sorted(API_CALLS))
def test_a_failed_api_request_changes_nothing(app_and_state, receiver, monkeypatch, operation):
    app, http, state_file = app_and_state
    inject = lambda: monkeypatch.setitem(HANDLERS, operation, fail_after(HANDLERS[operation]))  # noqa: E731
    _prove_nothing_applied(http, state_file, receiver, monkeypatch, inject, API_CALLS[operation], operation)
    report = http.get("/__mock/conformance").json()
    tenant = next(t for t in report["tenants"] if t["appId"] == "sandbox-app") if "tenants" in report else report
    assert "500" in str(tenant["operations"][operation]), tenant["operations"][operation]


@pytest.mark.parametrize("operation", sorted(ADMIN_CALLS))
def test_a_failed_control_request_changes_nothing(app_and_state, receiver, monkeypatch, operation):
    app, http, state_file = app_and_state
    handlers = admin_module.ADMIN_HANDLERS
    inject = lambda: monkeypatch.setitem(handlers, operation, fail_after(handlers[operation]))  # noqa: E731
    _prove_nothing_applied(http, state_file, receiver, monkeypatch, inject, ADMIN_CALLS[operation], operation)


@pytest.mark.parametrize("page", sorted(BANK_CALLS))
def test_a_failed_bank_page_changes_nothing(app_and_state, receiver, monkeypatch, page):
    app, http, state_file = app_and_state
    step, act = BANK_CALLS[page]
    lifecycle = app.state.sandbox.consents
    inject = lambda: monkeypatch.setattr(lifecycle, step, fail_after(getattr(lifecycle, step)))  # noqa: E731
    _prove_nothing_applied(http, state_file, receiver, monkeypatch, inject, act, page)


def test_a_report_that_cannot_be_built_ends_as_a_failed_report(app_and_state, receiver, monkeypatch):
    """The request is answered before its reports are built (Klavi answers requestId at
    once), so a report that fails to build cannot undo it: it goes as a failed report
    (code 5000, no data) with product_generated_failed, and the others as usual."""
    app, http, state_file = app_and_state
    failing = "pf_credit_card"

    def build_or_fail(name, **kwargs):
        if name == failing and kwargs["code"] < 5000:
            raise FileNotFoundError("seed.yaml")
        return reports.build_report(name, **kwargs)

    monkeypatch.setattr(reporting, "build_report", build_or_fail)
    world = World(http, receiver)
    response = http.post(f"{API}/personal/institution-data", json=report_body(world), headers=bearer(world.access))
    assert response.status_code == 200, response.text
    request_id = response.json()["requestId"]
    products = http.get("/__mock/reports").json()[0]["products"]
    assert failing in products and len(products) > 1

    def generated():
        log = [d for d in delivery_log(http) if d["requestId"] == request_id and d["kind"] == "event"][::-1]
        return len(log) == 1 + len(products) and log

    events = wait_for(generated)
    assert events[0]["name"] == "product_request_received"
    failed = [e for e in events if e["name"] == "product_generated_failed"]
    assert len(failed) == 1 and len(events) - 2 == len([e for e in events if e["name"] == "product_generated_success"])
    report = wait_for(lambda: [r for r in receiver.at("/reports") if r.json()["productName"] == failing])[0].json()
    assert report["code"] == 5000 and report["requestId"] == request_id


def test_a_full_disk_answers_503_and_keeps_nothing_then_recovers(settings, tmp_path, receiver, monkeypatch):
    settings.state_file = str(tmp_path / "state.sqlite")
    app = create_app(settings)
    with TestClient(app, follow_redirects=False) as http:
        world = World(http, receiver)
        store = app.state.sandbox.store
        before, on_disk = observable(http), rows(settings.state_file)
        real_commit = store.commit

        def disk_full():
            raise StorageError(f"could not write the state file {settings.state_file}: database or disk is full")

        monkeypatch.setattr(store, "commit", disk_full)
        for _ in range(3):
            response = world.klavi.consent_request(world.link["linkToken"], externalTrackId="after-the-disk-filled")
            assert response.status_code == 503, response.text
            assert response.json() == {
                "statusCode": 503,
                "error": "Service Unavailable",
                "message": response.json()["message"],
            }
            assert "disk" in response.json()["message"] and "nothing was changed" in response.json()["message"]
        assert observable(http) == before
        assert (
            http.get(f"{API}/links/institutions", headers=bearer(world.link["linkToken"])).status_code == 200
        )  # still serving

        monkeypatch.setattr(store, "commit", real_commit)  # space is back
        response = world.klavi.consent_request(world.link["linkToken"], externalTrackId="after-the-disk-filled")
        assert response.status_code == 200, response.text
        consent_id = response.json()["consentId"]
        assert consent_id in str(rows(settings.state_file)["consents"]) and rows(settings.state_file) != on_disk
