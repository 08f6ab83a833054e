"""Every Automatic Pix status change is a signed webhook to the tenant's paymentsUrl, its
payload the resource exactly as its GET answers it, in order for each consent and payment."""

from __future__ import annotations

from klavi_mock.testing.helpers import wait_for
from klavi_mock.webhooks.signing import verify_signature
from tests.contract import event_problems
from tests.payments.autopix import AutoPix
from tests.worlds import in_process, tenant, world_settings


def test_each_status_change_is_sent_signed_with_the_get_body(receiver) -> None:
    settings = world_settings(tenants=[tenant("sandbox-app", payments_url=receiver.url("/payments"))])
    with in_process(settings, follow_redirects=False) as http:
        pix = AutoPix(http)
        consent = pix.create(firstPayment=None)
        pix.bank(consent, "approve")
        payment = pix.scheduled(consent["id"], days=2)
        pix.to_settlement_of(payment)
        final_consent, final_payment = pix.consent(consent["id"]), pix.payment(consent["id"], payment["id"])
        events = wait_for(
            lambda: (found := receiver.events("/payments")) and len(found) >= 6 and found,
            what="the consent's three and the payment's three events",
        )
        for delivery in receiver.at("/payments"):
            assert verify_signature(delivery.body, delivery.headers["x-klavi-signature"], "sandbox-secret-key")
    assert {e["eventType"] for e in events} == {"payment"}
    assert event_problems(events) == []  # each against the contract's webhooks: section
    consent_events = [e["payload"] for e in events if e["eventName"] == "automatic_consent_status_changed"]
    payment_events = [e["payload"] for e in events if e["eventName"] == "automatic_payment_status_changed"]
    assert [p["status"] for p in consent_events] == ["STARTED", "CONSENT_AWAITING_AUTHORIZATION", "CONSENT_AUTHORIZED"]
    assert [p["status"] for p in payment_events] == [
        "PAYMENT_SCHEDULED",
        "PAYMENT_SETTLEMENT_PROCESSING",
        "PAYMENT_COMPLETED",
    ]
    assert consent_events[-1] == final_consent and payment_events[-1] == final_payment
