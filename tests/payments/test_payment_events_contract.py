"""Payment events against the `webhooks:` section of openapi/klavi-payments.yaml: what the
mock sends (Webhooks.emit_payment, then each payments flow's own events) and that the check
itself refuses an off-spec event."""

from __future__ import annotations

from klavi_mock.testing import delivery_log
from tests.contract import event_problems
from tests.worlds import in_process, world_settings


def _emitted(http, name: str, payload: dict) -> list:
    sandbox = http.app.state.sandbox
    sandbox.webhooks.emit_payment("sandbox-app", name, payload, f"payment:{name}")
    sandbox.store.commit()
    [delivery] = [d for d in delivery_log(http) if d["name"] == name]
    return delivery["body"]


def test_an_emitted_payment_event_is_klavis_envelope_with_event_type_payment():
    with in_process(world_settings()) as http:
        body = _emitted(http, "payment_status_changed", {"id": "p-1", "status": "STARTED"})
    assert body[0]["eventType"] == "payment" and body[0]["externalInfo"] == {}
    assert event_problems(body) == []


def test_the_check_refuses_an_off_spec_payment_event():
    with in_process(world_settings()) as http:
        [event] = _emitted(http, "automatic_consent_status_changed", {"id": "c-1"})
    assert any("eventName" in p for p in event_problems([{**event, "eventName": "payment_made"}]))
    assert any("eventId" in p for p in event_problems([{**event, "eventId": "nope"}]))
    # A payment event name in a data-API envelope is checked against klavi.yaml: refused.
    assert event_problems([{**event, "eventType": "api"}])
