"""Instant payments in every backend (conftest.BACKENDS): found by id (only for their
tenant), by clientRequestId, by the redirect ticket, the bank flow and the WhiteLabel link
token; a failed unit leaves nothing; a commit survives a restart."""

from __future__ import annotations

from datetime import datetime, timezone

from klavi_mock.domain.payments import CONSENT_AUTHORIZED, CONSENT_AWAITING_AUTHORIZATION, PREPARING, new_payment
from klavi_mock.storage.protocol import Store
from tests.storage.conftest import Backend
from tests.storage.test_store_contract import unit

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)


def a_payment(tenant: str = "app-a", request_id: str = "order-1", **fields):
    request = {"clientRequestId": request_id, "initType": "PIX_DICT", "proxy": "76109277673", "amount": "10.00"}
    return new_payment(tenant_id=tenant, request={**request, **fields}, persona_id="happy-path", now=NOW)


def test_instant_payments_are_found_by_the_lookups_the_api_needs(store: Store) -> None:
    mine, theirs = a_payment(), a_payment("app-b")
    store.add_instant_payment(mine)
    store.add_instant_payment(theirs)
    assert store.get_instant_payment("app-a", mine.id) is mine or store.get_instant_payment("app-a", mine.id) == mine
    assert store.get_instant_payment("app-b", mine.id) is None
    assert store.get_instant_payment(None, theirs.id) == theirs
    assert store.instant_payment_with_request_id("app-a", "order-1") == mine
    assert store.instant_payment_with_request_id("app-b", "order-1") == theirs
    assert store.instant_payment_with_request_id("app-a", "order-2") is None
    assert store.instant_payment_with_ticket(mine.ticket) == mine
    with store.updating(mine):
        mine.flow_token = "flow-1"
        mine.move_to(CONSENT_AUTHORIZED, NOW)
    assert store.instant_payment_with_flow("flow-1").status == CONSENT_AUTHORIZED
    assert [p.id for p in store.list_instant_payments("app-a")] == [mine.id]
    assert [p.id for p in store.list_instant_payments()] == [mine.id, theirs.id]


def test_a_whitelabel_payment_is_found_by_its_link_token(store: Store) -> None:
    payment = a_payment()
    payment.status, payment.link_token = PREPARING, "link-token-1"
    store.add_instant_payment(payment)
    assert store.instant_payment_with_link_token("link-token-1") == payment
    assert store.instant_payment_with_link_token("other") is None


def test_a_failed_unit_leaves_no_payment_and_no_change(backend: Backend) -> None:
    store = backend.open()
    kept = a_payment()
    store.add_instant_payment(kept)
    store.commit()
    with unit() as failing:
        store.add_instant_payment(a_payment(request_id="rolled-back"))
        with store.updating(kept):
            kept.flow_token = "flow-rolled-back"
            kept.move_to(CONSENT_AUTHORIZED, NOW)
        failing.rolled_back()

    def nothing_of_the_unit(store: Store) -> None:
        assert store.instant_payment_with_request_id("app-a", "rolled-back") is None
        assert store.instant_payment_with_flow("flow-rolled-back") is None
        assert store.get_instant_payment(None, kept.id).status == CONSENT_AWAITING_AUTHORIZATION
        assert [p.id for p in store.list_instant_payments()] == [kept.id]

    nothing_of_the_unit(store)
    store.commit()
    if backend.durable:
        nothing_of_the_unit(backend.reopen(store))


def test_a_committed_payment_is_found_again_after_a_restart_and_a_reset_forgets_it(backend: Backend) -> None:
    store = backend.open()
    payment = a_payment(customer={"identifierType": "CPF", "identifier": "76109277673", "name": "Zé"})
    store.add_instant_payment(payment)
    with store.updating(payment):
        payment.flow_token = "flow-kept"
        payment.move_to(CONSENT_AUTHORIZED, NOW)
    store.commit()
    again = backend.reopen(store) if backend.durable else store
    found = again.instant_payment_with_flow("flow-kept")
    assert found == payment and found.created_at == NOW and found.request == payment.request
    assert again.instant_payment_with_request_id("app-a", "order-1") == payment
    again.reset()
    again.commit()
    assert again.list_instant_payments() == [] and again.instant_payment_with_ticket(payment.ticket) is None
