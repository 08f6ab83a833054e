"""Instant payments on a team sandbox (PostgreSQL): two mocks sharing one database; the
payment one creates is authorised at the other's bank page, settles on either's clock, and
its idempotency key holds across both. Skipped without PostgreSQL binaries (tests/postgres.py)."""

from __future__ import annotations

from tests.payments.instant import Payer, body
from tests.postgres import database_for
from tests.worlds import in_process, world_settings


def test_two_instances_share_instant_payments(tmp_path):
    settings = world_settings(database_url=database_for(tmp_path))
    with in_process(settings, follow_redirects=False) as one, in_process(settings, follow_redirects=False) as two:
        first, second = Payer(one), Payer(two)
        request = body("PIX_MANU")
        created = first.created(request)
        assert second.create(request).json()["id"] == created["id"]  # the same clientRequestId, seen by both
        answered = second.at_bank(created["redirectConsentURL"].replace("http://testserver", ""), "approve")
        assert second.returned(answered)["status"] == "PAYMENT_PENDING"
        assert first.status(created["id"]) == "PAYMENT_PENDING"
        first.advance(
            3
        )  # the clock is shared; the job is the second instance's (it approved), run before its next request
        assert second.status(created["id"]) == "PAYMENT_COMPLETED"
