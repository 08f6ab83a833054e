"""The Store protocol's contract (klavi_mock/storage/protocol.py), the same tests for every
backend (conftest.BACKENDS): what is stored is found again, by the lookups the API needs and
only by its own tenant; ids come from the store; a failed unit of work leaves nothing; a
commit survives a restart; the outbox's ordering rules; paging; reset; meta values."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import pytest

from klavi_mock import unit_of_work
from klavi_mock.domain.consents import AUTHORISED, AWAITING_AUTHORISATION, Consent, new_consent
from klavi_mock.domain.deliveries import DELIVERED, FAILED, PENDING, UNDELIVERABLE, Attempt, Delivery, new_delivery
from klavi_mock.domain.institutions import InstitutionCatalog
from klavi_mock.domain.links import Link, new_link
from klavi_mock.domain.report_requests import ReportRequest
from klavi_mock.domain.reports import report_id
from klavi_mock.domain.tasks import SUCCESS, login_task, new_task
from klavi_mock.resources import fixtures_dir
from klavi_mock.storage.protocol import DeliveryFilter, Store
from tests.storage.conftest import Backend

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)
INSTITUTIONS = InstitutionCatalog.from_file(fixtures_dir() / "institutions.yaml")
_track_ids = itertools.count(1)


# -- making things to store ---------------------------------------------------------------


def a_link(tenant: str = "app-a") -> Link:
    return new_link(tenant, {"externalInfo": {"who": tenant}}, NOW, INSTITUTIONS)


def a_consent(link: Link, track_id: str | None = None) -> Consent:
    request = {
        "externalTrackId": track_id or f"track-{next(_track_ids)}",
        "personalTaxId": "52998224725",
        "institutionCode": "341",
        "redirectURL": "https://partner.example.com/return",
    }
    return new_consent(
        tenant_id=link.tenant_id,
        link_id=link.id,
        request=request,
        permissions=["ACCOUNTS_ALL"],
        persona_id="happy-path",
        now=NOW,
    )


def a_report_request(tenant: str = "app-a", tax_id: str = "52998224725", minutes: int = 0) -> ReportRequest:
    return ReportRequest(
        id=f"req-{next(_track_ids)}",
        tenant_id=tenant,
        person="pf",
        level="user",
        tax_id=tax_id,
        products=["pf_accounts", "pf_credit_cards"],
        consent_ids=[],
        created_at=NOW + timedelta(minutes=minutes),
    )


def a_delivery(
    store: Store,
    tenant: str = "app-a",
    key: str | None = "consent:1",
    url: str | None = "http://receiver.example/events",
    due: datetime = NOW,
    name: str = "consent_authorised",
) -> Delivery:
    return new_delivery(
        id=store.next_delivery_id(NOW),
        tenant_id=tenant,
        kind="event",
        name=name,
        body=b'[{"eventName": "x"}]',
        destination=url,
        now=NOW,
        not_before=due,
        ordering_key=key,
    )


def attempt(store: Store, delivery: Delivery, status_code: int, at: datetime = NOW) -> None:
    """What the dispatcher does with a claimed delivery."""
    with store.updating(delivery):
        delivery.record(
            Attempt(len(delivery.attempts) + 1, at, delivery.destination or "", status_code, 1.0, None, ""), at
        )
    store.attempted(delivery)


@contextmanager
def unit() -> Iterator[unit_of_work.Unit]:
    """A unit of work, as a request has; the test ends it with committed() or rolled_back()."""
    current, token = unit_of_work.begin()
    try:
        yield current
    finally:
        unit_of_work.end(token)


def ids(objects: list) -> list[str]:
    return [o.id for o in objects]


# -- links, consents, tasks, report requests -------------------------------------------------


def test_links_are_found_by_id_only_for_their_tenant(store: Store) -> None:
    mine, theirs = a_link("app-a"), a_link("app-b")
    store.add_link(mine)
    store.add_link(theirs)
    assert store.get_link("app-a", mine.id) == mine
    assert store.get_link("app-b", mine.id) is None
    assert store.get_link(None, theirs.id) == theirs
    assert store.get_link(None, "no-such-link") is None
    assert ids(store.list_links("app-a")) == [mine.id]
    assert ids(store.list_links()) == [mine.id, theirs.id]


def test_consents_are_found_by_the_lookups_the_api_needs(store: Store) -> None:
    link, other = a_link("app-a"), a_link("app-b")
    first, second, elsewhere = a_consent(link, "t-1"), a_consent(link, "t-2"), a_consent(other, "t-1")
    for consent in (first, second, elsewhere):
        store.add_consent(consent)
    assert store.get_consent("app-a", first.id) == first
    assert store.get_consent("app-b", first.id) is None
    assert store.get_consent(None, elsewhere.id) == elsewhere
    assert store.consent_with_track_id("app-a", "t-1") == first
    assert store.consent_with_track_id("app-b", "t-1") == elsewhere
    assert store.consent_with_track_id("app-a", "t-3") is None
    assert store.consent_with_ticket(second.ticket) == second
    assert store.consent_with_ticket("no-such-ticket") is None
    assert ids(store.list_consents("app-a")) == [first.id, second.id]
    assert ids(store.list_consents()) == [first.id, second.id, elsewhere.id]
    assert ids(store.list_consents("app-a", first.tax_id)) == [first.id, second.id]
    assert ids(store.list_consents("app-b", first.tax_id)) == [elsewhere.id]
    assert store.list_consents("app-a", "00000000000") == []

    assert store.consent_with_flow("flow-1") is None
    with store.updating(second):
        second.flow_token = "flow-1"
    assert store.consent_with_flow("flow-1") == second


def test_an_update_is_seen_by_every_later_read(store: Store) -> None:
    consent = a_consent(a_link())
    store.add_consent(consent)
    with store.updating(consent):
        consent.move_to(AUTHORISED, NOW, None)
    assert store.get_consent(None, consent.id).status == AUTHORISED
    assert [c.status for c in store.list_consents("app-a")] == [AUTHORISED]


def test_open_data_tasks_by_id_link_and_connection_key(store: Store) -> None:
    link, other = a_link("app-a"), a_link("app-b")
    connected = login_task("app-a", link.id, "021", "consent-1", connection_key="ck-1")
    made = new_task("app-a", link.id, "021", SUCCESS)
    elsewhere = new_task("app-b", other.id, "021", SUCCESS)
    for task in (connected, made, elsewhere):
        store.add_task(task)
    assert store.get_task(made.id) == made
    assert store.get_task("no-such-task") is None
    assert ids(store.list_tasks(link.id)) == [connected.id, made.id]
    assert ids(store.list_tasks()) == [connected.id, made.id, elsewhere.id]
    assert store.task_with_connection("app-a", "ck-1") == connected
    assert store.task_with_connection("app-b", "ck-1") is None
    with store.updating(made):
        made.connection_key = "ck-2"
    assert store.task_with_connection("app-a", "ck-2") == made


def test_report_requests_by_product_report_id_and_newest_first(store: Store) -> None:
    older, newer = a_report_request(minutes=0), a_report_request(minutes=5)
    theirs = a_report_request("app-b", tax_id="11222333000181", minutes=10)
    for request in (older, newer, theirs):
        store.add_report_request(request)
    assert store.get_report_request(older.id) == older
    assert store.report_of(report_id(newer.id, "pf_credit_cards")) == (newer, "pf_credit_cards")
    assert store.report_of("no-such-report") is None
    assert ids(store.list_report_requests()) == [theirs.id, newer.id, older.id]
    assert ids(store.list_report_requests("app-a")) == [newer.id, older.id]
    assert ids(store.list_report_requests(tax_id="11222333000181")) == [theirs.id]


def test_owed_report_requests_are_the_unbuilt_ones_made_before_a_time_oldest_first(store: Store) -> None:
    built, late, early, recent = (a_report_request(minutes=m) for m in (0, 5, 1, 30))
    for request in (late, early, recent):
        request.built = False
    for request in (built, late, early, recent):
        store.add_report_request(request)
    assert ids(store.owed_report_requests(NOW + timedelta(minutes=10))) == [early.id, late.id]
    assert ids(store.owed_report_requests()) == [early.id, late.id, recent.id]  # at start-up: all of them
    with store.updating(early):
        early.built = True
    assert ids(store.owed_report_requests(NOW + timedelta(minutes=10))) == [late.id]
    assert store.owed_report_requests(NOW) == []


# -- ids ---------------------------------------------------------------------------------


def test_delivery_ids_come_from_the_store_unique_and_in_order_even_after_a_reset(store: Store) -> None:
    made = [store.next_delivery_id(NOW) for _ in range(50)]
    assert len(set(made)) == 50
    seqs = [Delivery(i, "t", "event", "n", b"", NOW, None, NOW).seq for i in made]
    assert seqs == sorted(seqs)
    store.reset()
    assert Delivery(store.next_delivery_id(NOW), "t", "event", "n", b"", NOW, None, NOW).seq > seqs[-1]


def test_two_stores_number_on_their_own(backend: Backend) -> None:
    """No counter shared between stores (a module-level one was): each numbers from its own state."""
    store = backend.open()
    first = store.next_delivery_id(NOW)
    store.add_delivery(a_delivery(store))
    assert first.startswith("dlv_000001_")


# -- units of work -----------------------------------------------------------------------------


def test_a_failed_unit_leaves_nothing(backend: Backend) -> None:
    store = backend.open()
    kept = a_consent(a_link())
    store.add_consent(kept)
    store.set_meta("clock_offset", 5.0)
    store.commit()

    with unit() as failing:
        link = a_link()
        store.add_link(link)
        consent = a_consent(link, "rolled-back")
        store.add_consent(consent)
        store.add_task(login_task("app-a", link.id, "021", consent.id, connection_key="ck-9"))
        request = a_report_request()
        store.add_report_request(request)
        delivery = a_delivery(store)
        store.add_delivery(delivery)
        store.set_meta("clock_offset", 99.0)
        store.set_meta("new_key", "x")
        with store.updating(kept):
            kept.move_to(AUTHORISED, NOW, None)
            kept.flow_token = "flow-rolled-back"
        failing.rolled_back()

    def nothing_of_the_unit(store: Store) -> None:
        assert store.list_links() == [] and store.get_link(None, link.id) is None
        assert ids(store.list_consents()) == [kept.id]
        assert ids(store.list_consents("app-a", kept.tax_id)) == [kept.id]
        assert store.consent_with_track_id("app-a", "rolled-back") is None
        assert store.get_consent(None, kept.id).status == AWAITING_AUTHORISATION
        assert store.consent_with_flow("flow-rolled-back") is None
        assert store.list_tasks() == [] and store.task_with_connection("app-a", "ck-9") is None
        assert store.list_report_requests() == [] and store.report_of(report_id(request.id, "pf_accounts")) is None
        assert store.list_deliveries() == [] and store.get_delivery(delivery.id) is None
        assert store.outbox_size() == 0 and store.claim_due(NOW, 10) == []
        assert store.delivery_counts() == {PENDING: 0, DELIVERED: 0, FAILED: 0, UNDELIVERABLE: 0}
        assert store.get_meta("clock_offset") == 5.0 and store.get_meta("new_key") is None

    nothing_of_the_unit(store)
    store.commit()
    if backend.durable:
        nothing_of_the_unit(backend.reopen(store))


def test_a_delivery_reaches_the_outbox_only_when_its_unit_commits(store: Store) -> None:
    with unit() as request:
        delivery = a_delivery(store)
        store.add_delivery(delivery)
        assert store.get_delivery(delivery.id) == delivery  # in the log at once
        assert not store.in_outbox(delivery.id) and store.claim_due(NOW, 10) == []
        store.commit()
        request.committed()
    assert store.in_outbox(delivery.id) and store.outbox_size() == 1
    assert ids(store.claim_due(NOW, 10)) == [delivery.id]


def test_a_reset_in_a_failed_unit_gives_everything_back(backend: Backend) -> None:
    store = backend.open()
    link = a_link()
    store.add_link(link)
    delivery = a_delivery(store)
    store.add_delivery(delivery)
    store.commit()
    with unit() as failing:
        store.reset()
        assert store.list_links() == []
        failing.rolled_back()
    assert ids(store.list_links()) == [link.id]
    assert store.in_outbox(delivery.id)
    store.commit()
    if backend.durable:
        again = backend.reopen(store)
        assert ids(again.list_links()) == [link.id] and again.in_outbox(delivery.id)


# -- durability ------------------------------------------------------------------------------


def test_what_was_committed_is_found_again_after_a_restart(backend: Backend) -> None:
    store = backend.open()
    link = a_link()
    store.add_link(link)
    consent = a_consent(link, "kept")
    store.add_consent(consent)
    with store.updating(consent):
        consent.flow_token = "flow-kept"
    task = login_task("app-a", link.id, "021", consent.id, connection_key="ck-kept")
    store.add_task(task)
    request = a_report_request()
    store.add_report_request(request)
    sent, owed = a_delivery(store, key="consent:sent"), a_delivery(store, key="consent:owed")
    store.add_delivery(sent)
    store.add_delivery(owed)
    [claimed] = store.claim_due(NOW, 1)
    attempt(store, claimed, 200)
    store.set_meta("tenant_webhooks", {"app-a": {"events_url": "http://x.example"}})
    store.commit()

    again = backend.reopen(store)
    assert again.get_link("app-a", link.id) == link
    assert again.get_consent("app-a", consent.id) == consent
    assert again.consent_with_track_id("app-a", "kept") == consent
    assert again.consent_with_ticket(consent.ticket) == consent
    assert again.consent_with_flow("flow-kept") == consent
    assert again.task_with_connection("app-a", "ck-kept") == task
    assert again.report_of(report_id(request.id, "pf_accounts")) == (request, "pf_accounts")
    assert again.get_delivery(sent.id).status == DELIVERED and len(again.get_delivery(sent.id).attempts) == 1
    assert ids(again.claim_due(NOW, 10)) == [owed.id]  # the pending one is owed still
    assert again.delivery_counts() == {PENDING: 1, DELIVERED: 1, FAILED: 0, UNDELIVERABLE: 0}
    assert again.get_meta("tenant_webhooks") == {"app-a": {"events_url": "http://x.example"}}
    newer = again.next_delivery_id(NOW)
    assert Delivery(newer, "t", "event", "n", b"", NOW, None, NOW).seq > owed.seq


def test_what_was_not_committed_is_not_found_after_a_restart(backend: Backend) -> None:
    if backend.kind.commits_at_once:
        pytest.skip(f"{backend.name} commits each change made outside a unit at once")
    store = backend.open()
    store.add_link(a_link())
    store.commit()
    store.add_link(a_link())  # never committed: the process is killed here
    assert len(backend.reopen(store, crash=True).list_links()) == 1


def test_what_a_unit_did_not_commit_is_not_found_after_a_restart(backend: Backend) -> None:
    store = backend.open()
    store.add_link(a_link())
    store.commit()
    with unit():
        store.add_link(a_link())  # the request's unit never commits: the process is killed here
        assert len(store.list_links()) == 2
        again = backend.reopen(store, crash=True)
    assert len(again.list_links()) == 1


# -- the outbox ---------------------------------------------------------------------------------


def test_one_ordering_key_goes_one_at_a_time_in_creation_order(store: Store) -> None:
    first, second = a_delivery(store, key="consent:1"), a_delivery(store, key="consent:1")
    store.add_delivery(first)
    store.add_delivery(second)
    assert ids(store.claim_due(NOW, 10)) == [first.id]  # the second waits behind it
    attempt(store, first, 500)  # a retry holds back the later ones
    assert store.claim_due(NOW, 10) == []
    retry_at = store.next_due()
    assert retry_at is not None and retry_at > NOW
    assert ids(store.claim_due(retry_at, 10)) == [first.id]
    attempt(store, first, 200, at=retry_at)
    assert ids(store.claim_due(retry_at, 10)) == [second.id]


def test_different_keys_go_in_parallel_each_when_due(store: Store) -> None:
    later = a_delivery(store, key="consent:later", due=NOW + timedelta(seconds=30))
    soon = a_delivery(store, key="consent:soon", due=NOW + timedelta(seconds=10))
    now_ = a_delivery(store, key="consent:now", due=NOW)
    for delivery in (later, soon, now_):
        store.add_delivery(delivery)
    assert store.next_due() == NOW
    assert ids(store.claim_due(NOW, 10)) == [now_.id]  # not before its time
    assert store.next_due() == NOW + timedelta(seconds=10)
    assert ids(store.claim_due(NOW + timedelta(seconds=15), 10)) == [soon.id]
    assert ids(store.claim_due(NOW + timedelta(minutes=1), 10)) == [later.id]
    assert store.next_due() is None


def test_of_the_heads_due_at_once_a_url_gets_the_oldest_first(store: Store) -> None:
    made = [a_delivery(store, key=f"consent:{n}", due=NOW + timedelta(seconds=10 - n)) for n in range(4)]
    for delivery in made:
        store.add_delivery(delivery)
    assert ids(store.claim_due(NOW + timedelta(minutes=1), 2)) == ids(made[:2])  # room for two: by creation
    assert ids(store.claim_due(NOW + timedelta(minutes=1), 10)) == ids(made[2:])


def test_each_url_gets_at_most_its_concurrency(backend: Backend) -> None:
    store = backend.open(webhook_concurrency=2)
    here = [a_delivery(store, key=f"consent:{n}") for n in range(3)]
    there = a_delivery(store, key="consent:there", url="http://other.example/events")
    for delivery in (*here, there):
        store.add_delivery(delivery)
    assert ids(store.claim_due(NOW, 10)) == [here[0].id, here[1].id, there.id]
    attempt(store, here[0], 200)
    assert ids(store.claim_due(NOW, 10)) == [here[2].id]


def test_with_a_concurrency_of_one_a_url_gets_strict_order(backend: Backend) -> None:
    store = backend.open(webhook_concurrency=1)
    first, second = a_delivery(store, key="consent:1"), a_delivery(store, key="consent:2")
    store.add_delivery(first)
    store.add_delivery(second)
    assert ids(store.claim_due(NOW, 10)) == [first.id]
    attempt(store, first, 500)
    assert store.claim_due(NOW, 10) == []  # the retry holds back the other key too


def test_a_released_delivery_goes_again_and_one_with_nowhere_to_go_never_waits(store: Store) -> None:
    delivery, nowhere = a_delivery(store), a_delivery(store, key="consent:2", url=None)
    store.add_delivery(delivery)
    store.add_delivery(nowhere)
    assert nowhere.status == UNDELIVERABLE and not store.in_outbox(nowhere.id)
    [claimed] = store.claim_due(NOW, 10)
    assert claimed.in_flight
    store.release(claimed)
    assert not claimed.in_flight and claimed.status == PENDING
    assert ids(store.claim_due(NOW, 10)) == [delivery.id]


def test_a_failed_delivery_leaves_the_outbox_and_a_redelivery_brings_it_back(store: Store) -> None:
    delivery = a_delivery(store)
    store.add_delivery(delivery)
    at = NOW
    while delivery.status == PENDING:
        [claimed] = store.claim_due(at, 10)
        attempt(store, claimed, 500, at=at)
        at = store.next_due() or at
    assert delivery.status == FAILED and not store.in_outbox(delivery.id) and store.outbox_size() == 0
    with store.updating(delivery):
        delivery.redeliver(at, "http://receiver.example/again")
    store.requeue(delivery)
    assert ids(store.claim_due(at, 10)) == [delivery.id]
    assert store.delivery_counts()[PENDING] == 1


# -- the log: paging, filters, counts -------------------------------------------------------


def test_the_log_pages_newest_first_by_cursor(store: Store) -> None:
    made = [a_delivery(store, tenant="app-a" if n % 2 else "app-b", key=f"consent:{n}") for n in range(25)]
    for delivery in made:
        store.add_delivery(delivery)
    newest_first = list(reversed(made))
    page = store.page_deliveries(DeliveryFilter(), 10)
    assert ids(page.items) == ids(newest_first[:10]) and page.next_before is not None
    page = store.page_deliveries(DeliveryFilter(), 10, page.next_before)
    assert ids(page.items) == ids(newest_first[10:20])
    page = store.page_deliveries(DeliveryFilter(), 10, page.next_before)
    assert ids(page.items) == ids(newest_first[20:]) and page.next_before is None

    mine = [d for d in newest_first if d.tenant_id == "app-a"]
    page = store.page_deliveries(DeliveryFilter(tenant_id="app-a"), 5)
    assert ids(page.items) == ids(mine[:5])
    assert ids(store.page_deliveries(DeliveryFilter(tenant_id="app-a"), 50, page.next_before).items) == ids(mine[5:])
    assert store.page_deliveries(DeliveryFilter(tenant_id="app-c"), 5).items == []
    assert ids(store.list_deliveries(DeliveryFilter(tenant_id="app-a"))) == ids(list(reversed(mine)))


def test_the_log_counts_by_status_with_the_control_apis_filters(store: Store) -> None:
    ok, bad = a_delivery(store, key="consent:ok"), a_delivery(store, tenant="app-b", key="consent:bad", name="x")
    nowhere = a_delivery(store, key="consent:nowhere", url=None)
    for delivery in (ok, bad, nowhere):
        store.add_delivery(delivery)
    for claimed in store.claim_due(NOW, 10):
        attempt(store, claimed, 200 if claimed is ok else 500)
    assert store.delivery_counts() == {PENDING: 1, DELIVERED: 1, FAILED: 0, UNDELIVERABLE: 1}
    assert store.delivery_counts(DeliveryFilter(tenant_id="app-a")) == {
        PENDING: 0,
        DELIVERED: 1,
        FAILED: 0,
        UNDELIVERABLE: 1,
    }
    assert ids(store.list_deliveries(DeliveryFilter(status=PENDING))) == [bad.id]
    assert ids(store.list_deliveries(DeliveryFilter(name="x", tenant_id="app-b"))) == [bad.id]
    assert ids(store.list_deliveries(DeliveryFilter(ordering_key="consent:ok"))) == [ok.id]


# -- reset and meta ------------------------------------------------------------------------------


def test_a_reset_forgets_everything_but_the_meta_values(backend: Backend) -> None:
    store = backend.open()
    link = a_link()
    store.add_link(link)
    store.add_consent(a_consent(link))
    store.add_task(new_task("app-a", link.id, "021", SUCCESS))
    store.add_report_request(a_report_request())
    store.add_delivery(a_delivery(store))
    store.set_meta("clock_offset", 60.0)
    store.commit()
    store.reset()

    def empty(store: Store) -> None:
        assert store.list_links() == [] and store.list_consents() == [] and store.list_tasks() == []
        assert store.list_consents("app-a", a_consent(link).tax_id) == []
        assert store.list_report_requests() == [] and store.list_deliveries() == []
        assert store.outbox_size() == 0 and store.next_due() is None
        assert store.get_meta("clock_offset") == 60.0

    empty(store)
    store.commit()
    if backend.durable:
        empty(backend.reopen(store))


def test_meta_values(backend: Backend) -> None:
    store = backend.open()
    assert store.get_meta("no-such-key") is None  # (a database seeds its token secret: its first migration)
    store.set_meta("token_secret", "s3cret")
    store.set_meta("tenant_chaos", {"app-a": {"duplicate": 1, "seed": 7}})
    assert store.get_meta("token_secret") == "s3cret"
    with unit() as failing:
        store.set_meta("token_secret", "other")
        failing.rolled_back()
    assert store.get_meta("token_secret") == "s3cret"
    store.commit()
    if backend.durable:
        again = backend.reopen(store)
        assert again.get_meta("token_secret") == "s3cret"
        assert again.get_meta("tenant_chaos") == {"app-a": {"duplicate": 1, "seed": 7}}


def test_exclusive_work_is_one_process_at_a_time(backend: Backend) -> None:
    """A store another process shares (the same database) is refused while one does it; a
    store of its own always gets it."""
    store = backend.open()
    if not store.shared:
        with store.exclusive("consent-jobs") as mine:
            assert mine
        return
    other = backend.open()  # another process's, on the same database
    with store.exclusive("consent-jobs") as mine:
        assert mine
        with other.exclusive("consent-jobs") as theirs:
            assert not theirs
        with other.exclusive("something-else") as unrelated:
            assert unrelated
    with other.exclusive("consent-jobs") as theirs:
        assert theirs  # released at the end
    with unit() as request:
        with store.exclusive("consent-jobs") as mine:
            assert mine
        with other.exclusive("consent-jobs") as theirs:
            assert not theirs  # held until the unit ends
        store.commit()
        request.committed()
    with other.exclusive("consent-jobs") as theirs:
        assert theirs


def test_consents_by_tax_id(store: Store) -> None:
    link = a_link()
    mine, other = a_consent(link, "t-mine"), a_consent(link, "t-other")
    other.personal_tax_id = "11144477735"
    for consent in (mine, other):
        store.add_consent(consent)
    assert ids(store.list_consents("app-a", mine.tax_id)) == [mine.id]
    assert ids(store.list_consents(None, "11144477735")) == [other.id]
    assert store.list_consents("app-b", mine.tax_id) == []


def test_a_clients_json_keeps_its_key_order(backend: Backend) -> None:
    """externalInfo comes back as the client sent it (Klavi echoes it in redirects and events)."""
    store = backend.open()
    link = new_link("app-a", {"externalInfo": {"zeta": 1, "alpha": {"y": 2, "b": 3}}}, NOW, INSTITUTIONS)
    store.add_link(link)
    store.commit()
    found = backend.reopen(store) if backend.durable else store
    info = found.get_link("app-a", link.id).external_info
    assert list(info) == ["zeta", "alpha"] and list(info["alpha"]) == ["y", "b"]
