"""The Store contract for Automatic Pix consents and payments (protocol.py's `automatic pix`
block), for every backend (conftest.BACKENDS): found by id only for their tenant, by
clientRequestId and by the consent URL's ticket; a failed unit leaves nothing; a commit
survives a restart; a reset forgets them; a concurrent change is refused on PostgreSQL."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta, timezone

import pytest

from klavi_mock.domain import automatic_pix as ap
from klavi_mock.storage.postgres import PostgresStore
from klavi_mock.storage.protocol import ConflictError, Store
from tests.storage.conftest import Backend
from tests.storage.test_store_contract import ids, unit
from tests.unit.test_automatic_pix import body

NOW = datetime(2025, 5, 12, 15, 0, tzinfo=timezone.utc)
_numbers = itertools.count(1)


def a_consent(tenant: str = "app-a", client_request_id: str | None = None) -> ap.AutomaticConsent:
    request = body(clientRequestId=client_request_id or f"consent-{next(_numbers)}")
    consent = ap.new_consent(tenant_id=tenant, body=request, persona_id="happy-path", now=NOW)
    consent.move_to(ap.AWAITING_AUTHORIZATION, NOW)
    consent.move_to(ap.AUTHORIZED, NOW)
    return consent


def a_payment(consent: ap.AutomaticConsent, days: int = 3, client_request_id: str | None = None) -> ap.AutomaticPayment:
    charge = {
        "clientRequestId": client_request_id or f"charge-{next(_numbers)}",
        "date": (date(2025, 5, 12) + timedelta(days=days)).isoformat(),
        "amount": "90.00",
    }
    return ap.charge(consent, charge, [], NOW)


def test_consents_and_payments_are_found_by_the_lookups_the_api_needs(store: Store) -> None:
    mine, theirs = a_consent("app-a", "same-key"), a_consent("app-b", "same-key")
    store.add_automatic_consent(mine)
    store.add_automatic_consent(theirs)
    assert store.get_automatic_consent("app-a", mine.id) == mine
    assert store.get_automatic_consent("app-b", mine.id) is None
    assert store.get_automatic_consent(None, theirs.id) == theirs
    assert store.automatic_consent_with_request("app-a", "same-key") == mine
    assert store.automatic_consent_with_request("app-b", "same-key") == theirs
    assert store.automatic_consent_with_request("app-a", "other") is None
    assert store.automatic_consent_with_ticket(mine.ticket) == mine
    assert ids(store.list_automatic_consents("app-a")) == [mine.id]
    assert ids(store.list_automatic_consents()) == [mine.id, theirs.id]

    first, second = a_payment(mine, 3, "pay-key"), a_payment(mine, 5)
    other = a_payment(theirs, 3, "pay-key")
    for payment in (first, second, other):
        store.add_automatic_payment(payment)
    assert store.get_automatic_payment("app-a", first.id) == first
    assert store.get_automatic_payment("app-b", first.id) is None
    assert store.automatic_payment_with_request("app-a", "pay-key") == first
    assert store.automatic_payment_with_request("app-b", "pay-key") == other
    assert ids(store.list_automatic_payments(mine.id)) == [first.id, second.id]
    assert ids(store.list_automatic_payments()) == [first.id, second.id, other.id]


def test_an_update_is_kept_and_a_failed_unit_leaves_nothing(backend: Backend) -> None:
    store = backend.open()
    consent = a_consent()
    store.add_automatic_consent(consent)
    payment = a_payment(consent)
    store.add_automatic_payment(payment)
    store.commit()
    with unit() as failing:
        with store.updating(payment):
            payment.move_to(ap.CANCELED, NOW, "CANCELADO_RECEBEDOR")
        store.add_automatic_payment(a_payment(consent, 5, "rolled-back"))
        store.add_automatic_consent(a_consent(client_request_id="rolled-back-consent"))
        failing.rolled_back()

    def as_before(store: Store) -> None:
        assert store.get_automatic_payment(None, payment.id).status == ap.PAYMENT_SCHEDULED
        assert store.automatic_payment_with_request("app-a", "rolled-back") is None
        assert store.automatic_consent_with_request("app-a", "rolled-back-consent") is None
        assert ids(store.list_automatic_payments(consent.id)) == [payment.id]

    as_before(store)
    with store.updating(payment):
        payment.move_to(ap.CANCELED, NOW, "CANCELADO_RECEBEDOR")
    store.commit()
    assert store.get_automatic_payment(None, payment.id).status == ap.CANCELED
    if backend.durable:
        again = backend.reopen(store)
        assert again.get_automatic_payment(None, payment.id).status == ap.CANCELED


def test_what_was_committed_is_found_again_after_a_restart(backend: Backend) -> None:
    store = backend.open()
    consent = a_consent(client_request_id="kept")
    store.add_automatic_consent(consent)
    payment = a_payment(consent, client_request_id="kept-payment")
    store.add_automatic_payment(payment)
    store.commit()
    again = backend.reopen(store)
    assert again.get_automatic_consent("app-a", consent.id) == consent
    assert again.automatic_consent_with_request("app-a", "kept") == consent
    assert again.automatic_consent_with_ticket(consent.ticket) == consent
    assert again.automatic_payment_with_request("app-a", "kept-payment") == payment
    assert again.get_automatic_payment("app-a", payment.id).created_at == NOW


def test_a_reset_forgets_them(backend: Backend) -> None:
    store = backend.open()
    consent = a_consent()
    store.add_automatic_consent(consent)
    store.add_automatic_payment(a_payment(consent))
    store.commit()
    store.reset()
    store.commit()

    def empty(seen: Store) -> None:
        assert seen.list_automatic_consents() == [] and seen.list_automatic_payments() == []
        assert seen.automatic_consent_with_ticket(consent.ticket) is None

    empty(store)
    if backend.durable:
        empty(backend.reopen(store))


def test_a_change_to_a_payment_changed_since_it_was_read_is_refused(backend: Backend) -> None:
    if backend.name != "postgres":
        pytest.skip("only a shared store sees another process's change")
    first, second = backend.open(), backend.open()
    assert isinstance(first, PostgresStore)
    consent = a_consent()
    first.add_automatic_consent(consent)
    payment = a_payment(consent)
    first.add_automatic_payment(payment)
    mine, theirs = first.get_automatic_payment(None, payment.id), second.get_automatic_payment(None, payment.id)
    assert mine is not None and theirs is not None
    with second.updating(theirs):  # another instance, first
        theirs.move_to(ap.CANCELED, NOW, "CANCELADO_RECEBEDOR")
    with pytest.raises(ConflictError), first.updating(mine):
        mine.move_to(ap.PAYMENT_SETTLEMENT_PROCESSING, NOW)
    assert first.get_automatic_payment(None, payment.id).status == ap.CANCELED
