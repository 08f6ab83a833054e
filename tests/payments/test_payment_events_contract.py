"""Payment events against the `webhooks:` section of openapi/klavi-payments.yaml: what the
mock sends (Webhooks.emit_payment, then each payments flow's own events) and that the check
itself refuses an off-spec event."""

from __future__ import annotations

from klavi_mock.testing import delivery_log
from tests.contract import event_problems
from tests.payments import instant
from tests.payments.autopix import AutoPix
from tests.worlds import in_process, world_settings

PAYMENT_EVENTS = {"payment_status_changed", "automatic_consent_status_changed", "automatic_payment_status_changed"}


def _emitted(http, name: str, payload: dict) -> list:
    sandbox = http.app.state.sandbox
    sandbox.webhooks.emit_payment("sandbox-app", name, payload, f"payment:{name}")
    sandbox.store.commit()
    [delivery] = [d for d in delivery_log(http) if d["name"] == name]
    return delivery["body"]


def test_every_payment_event_of_every_flow_conforms_to_the_spec():
    """Instant payments approved (settled on the clock) and refused; an Automatic Pix consent
    authorised, a charge settled, another cancelled, the consent cancelled: every event."""
    with in_process(world_settings(), follow_redirects=False) as http:
        payer = instant.Payer(http)
        for init_type, decision in (("PIX_MANU", "approve"), ("PIX_QRCODE", "approve"), ("PIX_DICT", "deny")):
            created = payer.created(instant.body(init_type))
            payer.at_bank(created["redirectConsentURL"], decision)
        payer.advance(10)
        pix = AutoPix(http)
        consent = pix.create(interval="WEEKLY")
        pix.bank(consent, "approve")
        settled, cancelled = pix.scheduled(consent["id"], days=2), pix.scheduled(consent["id"], days=9)
        pix.to_settlement_of(settled)
        cancel = {"cancelledBy": "11222333000181", "identifierType": "CNPJ"}
        assert pix.post(f"/consents/{consent['id']}/payments/{cancelled['id']}/cancel", cancel).status_code == 200
        assert pix.post(f"/consents/{consent['id']}/cancel", cancel).status_code == 200
        bodies = [d["body"] for d in delivery_log(http) if d["name"] in PAYMENT_EVENTS]
    events = [event for body in bodies for event in body]
    assert {e["eventName"] for e in events} == PAYMENT_EVENTS
    statuses = {e["payload"]["status"] for e in events}
    assert {"PAYMENT_COMPLETED", "CONSENT_REJECTED", "CONSENT_REVOKED", "CANCELED"} <= statuses, statuses
    for body in bodies:
        assert event_problems(body) == [], body


def test_the_check_refuses_an_off_spec_payment_event():
    with in_process(world_settings()) as http:
        [event] = _emitted(http, "automatic_consent_status_changed", {"id": "c-1"})
    # The payload is the consent as its GET answers it: a bare id is not one.
    assert any(p.startswith("0/payload") for p in event_problems([event]))
    assert any("eventName" in p for p in event_problems([{**event, "eventName": "payment_made"}]))
    assert any("eventId" in p for p in event_problems([{**event, "eventId": "nope"}]))
    # A payment event name in a data-API envelope is checked against klavi.yaml: refused.
    assert event_problems([{**event, "eventType": "api"}])
