"""Automatic Pix survives a restart: on `--state-file` (and on `--database-url`, shared),
a new process finds the consents and payments, the bank page still opens, and what was due
on the clock (the authorisation window, a scheduled charge's settlement) still happens."""

from __future__ import annotations

from pathlib import Path

import pytest

from klavi_mock.config import Settings
from tests.payments.autopix import AutoPix
from tests.postgres import database_for
from tests.worlds import in_process, world_settings


def _settings(kind: str, where: Path) -> Settings:
    if kind == "state-file":
        return world_settings(state_file=str(where / "state.sqlite"))
    return world_settings(database_url=database_for(where))


@pytest.mark.parametrize("kind", ["state-file", "database-url"])
def test_consents_and_payments_and_their_jobs_survive_a_restart(kind: str, tmp_path: Path) -> None:
    settings = _settings(kind, tmp_path)
    with in_process(settings, follow_redirects=False) as first:
        pix = AutoPix(first)
        consent = pix.authorised(firstPayment=None)
        payment = pix.scheduled(consent["id"], days=2, clientRequestId="kept-charge")
        waiting = pix.create()
        before = (pix.consent(consent["id"]), pix.payment(consent["id"], payment["id"]), pix.consent(waiting["id"]))

    with in_process(settings, follow_redirects=False) as second:
        pix = AutoPix(second)
        assert (
            pix.consent(consent["id"]),
            pix.payment(consent["id"], payment["id"]),
            pix.consent(waiting["id"]),
        ) == before
        replay = pix.charge(consent["id"], days=2, clientRequestId="kept-charge")
        assert replay.status_code == 200 and replay.json()["id"] == payment["id"]  # still idempotent
        assert pix.bank(waiting).status_code == 200  # the consent URL still opens
        pix.to_settlement_of(payment)  # past the window too
        assert pix.payment(consent["id"], payment["id"])["status"] == "PAYMENT_COMPLETED"
        assert pix.consent(waiting["id"])["status"] == "EXPIRED"


def test_two_instances_on_one_database_share_consents_payments_and_their_keys(tmp_path: Path) -> None:
    settings = _settings("database-url", tmp_path)
    with in_process(settings, follow_redirects=False) as one, in_process(settings, follow_redirects=False) as two:
        first, second = AutoPix(one), AutoPix(two)
        consent = first.create(firstPayment=None)
        assert second.bank(consent, "approve").status_code == 302  # the payer's browser reached the other one
        assert first.consent(consent["id"])["status"] == "CONSENT_AUTHORIZED"
        payment = second.scheduled(consent["id"], days=2, clientRequestId="shared-key")
        replay = first.charge(consent["id"], days=2, clientRequestId="shared-key")
        assert replay.status_code == 200 and replay.json()["id"] == payment["id"]
        cancelled = first.post(
            f"/consents/{consent['id']}/payments/{payment['id']}/cancel",
            {"cancelledBy": "76109277673", "identifierType": "CPF"},
        )
        assert cancelled.status_code == 200
        assert second.payment(consent["id"], payment["id"])["status"] == "CANCELED"
