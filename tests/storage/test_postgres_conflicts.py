"""No lost updates over one PostgreSQL database: two transactions (two requests, on one
instance or two) that read the same object and both change it do not both win. The
second's update is refused with ConflictError and the row stays as the first wrote it;
outside a unit (the ticker, the dispatcher) the same holds, one call at a time."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from pathlib import Path

import pytest

from klavi_mock import unit_of_work
from klavi_mock.domain.consents import AUTHORISED, AWAITING_AUTHORISATION, REJECTED, REVOKED
from klavi_mock.storage.postgres import PostgresStore
from klavi_mock.storage.protocol import ConflictError
from tests.postgres import database_for
from tests.storage.test_store_contract import NOW, a_consent, a_delivery, a_link, attempt


@pytest.fixture
def two(tmp_path: Path) -> Iterator[tuple[PostgresStore, PostgresStore]]:
    """Two instances over one database."""
    url = database_for(tmp_path)
    a, b = PostgresStore(url, pool_size=4), PostgresStore(url, pool_size=4)
    yield a, b
    a.close()
    b.close()


class Request:
    """A unit of work in a context of its own, as a request on the event loop has."""

    def __init__(self) -> None:
        self.context = contextvars.copy_context()
        self.unit = self.context.run(lambda: unit_of_work.begin()[0])

    def run(self, work, *args):
        return self.context.run(work, *args)

    def commit(self, store: PostgresStore) -> None:
        self.run(store.commit)
        self.run(self.unit.committed)

    def roll_back(self) -> None:
        self.run(self.unit.rolled_back)


def _stored_consent(store: PostgresStore) -> str:
    consent = a_consent(a_link())
    store.add_consent(consent)  # outside a unit: committed at once
    return consent.id


def _change(store: PostgresStore, consent_id: str, status: str, reason: str | None = None) -> None:
    consent = store.get_consent(None, consent_id)
    assert consent is not None
    with store.updating(consent):
        consent.move_to(status, NOW, reason)


@pytest.mark.parametrize("instances", ["one instance", "two instances"])
def test_the_second_of_two_changes_to_one_consent_is_refused_not_lost(two, instances) -> None:
    a, b = two
    other = a if instances == "one instance" else b
    consent_id = _stored_consent(a)
    first, second = Request(), Request()
    mine = first.run(a.get_consent, None, consent_id)
    theirs = second.run(other.get_consent, None, consent_id)
    assert mine is not theirs  # each unit has its own copy, read at the same version

    first.run(lambda: _change_object(a, mine, AUTHORISED))
    first.commit(a)
    with pytest.raises(ConflictError, match=f"consent {consent_id} was changed concurrently"):
        second.run(lambda: _change_object(other, theirs, REJECTED))
    second.roll_back()

    for store in (a, b):
        kept = store.get_consent(None, consent_id)
        assert kept is not None and kept.status == AUTHORISED
    # Read again, the change goes through.
    again = Request()
    again.run(_change, other, consent_id, REVOKED, "REVOKED_BY_PARTNER")
    again.commit(other)
    assert a.get_consent(None, consent_id).status == REVOKED


def _change_object(store: PostgresStore, consent, status: str) -> None:
    with store.updating(consent):
        consent.move_to(status, NOW, None)


def test_a_row_another_open_transaction_changed_is_a_conflict_at_once(two) -> None:
    a, b = two
    consent_id = _stored_consent(a)
    first, second = Request(), Request()
    first.run(_change, a, consent_id, AUTHORISED)  # written, not committed: the row is locked
    with pytest.raises(ConflictError):  # no wait (it would hold the event loop)
        second.run(_change, b, consent_id, REJECTED)
    second.roll_back()
    assert b.get_consent(None, consent_id).status == AWAITING_AUTHORISATION  # nothing committed yet
    first.commit(a)
    assert b.get_consent(None, consent_id).status == AUTHORISED


def test_a_unit_that_handles_a_conflict_goes_on(two) -> None:
    # (the consent jobs run inside a request's unit on a clock move: one that meets a
    # change is put back, and the rest of the unit must still commit)
    a, b = two
    consent_id = _stored_consent(a)
    holder, other = Request(), Request()
    holder.run(_change, a, consent_id, AUTHORISED)  # the row is locked by an open transaction
    with pytest.raises(ConflictError):
        other.run(_change, b, consent_id, REJECTED)
    link = a_link("app-b")
    other.run(b.add_link, link)
    other.commit(b)
    holder.roll_back()
    assert a.get_link(None, link.id) is not None
    assert a.get_consent(None, consent_id).status == AWAITING_AUTHORISATION


def test_a_refused_unit_keeps_nothing_it_did(two) -> None:
    a, b = two
    consent_id = _stored_consent(a)
    loser = Request()
    theirs = loser.run(b.get_consent, None, consent_id)
    link = a_link("app-b")
    loser.run(b.add_link, link)
    _change(a, consent_id, AUTHORISED)  # outside a unit: committed at once
    with pytest.raises(ConflictError):
        loser.run(lambda: _change_object(b, theirs, REJECTED))
    loser.roll_back()
    assert b.get_link(None, link.id) is None
    assert b.get_consent(None, consent_id).status == AUTHORISED


def test_outside_a_unit_a_stale_object_is_refused_and_read_again_goes_through(two) -> None:
    a, b = two
    delivery = a_delivery(a)
    a.add_delivery(delivery)
    [claimed] = a.claim_due(NOW, 10)  # the dispatcher of A attempts it...
    held = b.get_delivery(delivery.id)  # ...while B's control API redelivers it
    assert held is not None
    with b.updating(held):
        held.next_attempt_at = NOW
    with pytest.raises(ConflictError):
        attempt(a, claimed, 200)
    a.release(claimed)
    fresh = a.get_delivery(delivery.id)
    assert fresh is not None and fresh.attempts == [] and not fresh.in_flight
    [claimed] = a.claim_due(NOW, 10)
    attempt(a, claimed, 200)
    assert b.get_delivery(delivery.id).status == "delivered"
