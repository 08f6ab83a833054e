"""Report requests are answered before their reports are built (Klavi answers requestId at
once and builds later): the answer does not wait for the builder, the reports follow
their product_request_received, a reset drops what was owed, and a stop with a state file
loses nothing: what was not built is built after the restart. The control API's reads of
the webhook log wait for the builds under way, so they show what was asked before them."""

from __future__ import annotations

import threading

import pytest

from klavi_mock import app as app_module
from klavi_mock.domain import reports
from klavi_mock.sandbox import report_building as reporting
from klavi_mock.testing import delivery_log, wait_for
from tests.conftest import VALID_CPF, Klavi, ask, authorise
from tests.worlds import in_process

PRODUCTS = ["pf_checking_account", "pf_credit_card"]


@pytest.fixture
def held(monkeypatch):
    """The report builder, held until the test lets it go (set the event)."""
    release = threading.Event()

    def build_when_released(name, **kwargs):
        release.wait(30)
        return reports.build_report(name, **kwargs)

    monkeypatch.setattr(reporting, "build_report", build_when_released)
    yield release
    release.set()  # never leave the builder's one thread waiting


def hook(http, receiver) -> Klavi:
    response = http.put(
        "/__mock/tenants/sandbox-app/webhooks",
        json={"eventsUrl": receiver.url("/events"), "productsCallbackURL": receiver.url("/reports")},
    )
    assert response.status_code == 200
    return Klavi(http)


def request_reports(klavi: Klavi) -> str:
    response = ask(klavi, "/personal/institution-data", taxId=VALID_CPF, institutionCode="341", products=PRODUCTS)
    assert response.status_code == 200, response.text
    return response.json()["requestId"]


def events_of(http, request_id: str) -> list[str]:
    return [d["name"] for d in reversed(delivery_log(http, requestId=request_id, kind="event"))]


def test_the_answer_does_not_wait_for_the_reports(settings, receiver, held):
    with in_process(settings, follow_redirects=False) as http:
        klavi = hook(http, receiver)
        authorise(klavi)
        request_id = request_reports(klavi)  # answered while the builder is held
        received = wait_for(lambda: [e for e in receiver.events() if e["payload"].get("requestId") == request_id])
        assert [e["eventName"] for e in received] == ["product_request_received"]
        assert not receiver.at("/reports")
        held.set()
        names = wait_for(lambda: len(events_of(http, request_id)) == 3 and events_of(http, request_id))
        assert names == ["product_request_received", "product_generated_success", "product_generated_success"]
        arrived = wait_for(lambda: len(r := [x for x in receiver.at("/reports")]) == 2 and r)
        assert {r.json()["productName"] for r in arrived} == set(PRODUCTS)
        assert {r.json()["requestId"] for r in arrived} == {request_id}


def test_a_reset_while_building_sends_nothing_of_it(settings, receiver, held):
    with in_process(settings, follow_redirects=False) as http:
        klavi = hook(http, receiver)
        authorise(klavi)
        request_id = request_reports(klavi)
        assert http.post("/__mock/reset").status_code in (200, 204)
        held.set()
        assert not delivery_log(http, requestId=request_id)  # the log's reads wait for the builds under way
        assert not receiver.at("/reports")


def test_reports_owed_at_a_stop_are_built_after_the_restart(settings, receiver, held, tmp_path, monkeypatch):
    settings.state_file = str(tmp_path / "state.sqlite")
    monkeypatch.setattr(app_module, "REPORTS_GRACE", 0.2)  # the stop does not wait for the held builder
    with in_process(settings, follow_redirects=False) as http:
        klavi = hook(http, receiver)
        authorise(klavi)
        request_id = request_reports(klavi)
    monkeypatch.setattr(reporting, "build_report", reports.build_report)
    held.set()
    with in_process(settings, follow_redirects=False) as http:
        names = wait_for(lambda: len(events_of(http, request_id)) == 3 and events_of(http, request_id))
        assert names == ["product_request_received", "product_generated_success", "product_generated_success"]
        arrived = wait_for(lambda: len(r := [x for x in receiver.at("/reports")]) == 2 and r)
        assert {r.json()["requestId"] for r in arrived} == {request_id}
    # Built once: a second restart owes nothing more.
    with in_process(settings, follow_redirects=False) as http:
        assert len(events_of(http, request_id)) == 3
