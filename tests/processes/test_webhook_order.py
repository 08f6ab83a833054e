"""Webhook delivery at scale: the order a receiver may rely on, concurrency per URL, the paged
delivery log and its retention, redelivering in bulk, a dispatcher that sleeps when it may
send nothing, and report generation that does not stall other requests."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from starlette.testclient import TestClient

from klavi_mock.config import Settings, Tenant
from klavi_mock.sandbox import report_building as reporting
from klavi_mock.testing import Receiver, delivery_log, wait_for
from tests.conftest import API, VALID_CPF, Klavi, authorise, bearer
from tests.servers import serve_process
from tests.worlds import TEST_HOSTS, in_process, in_thread

CONSENTS = 12
ROUNDS = 6


def settings_with(**values) -> Settings:
    return Settings(
        strict=True,
        allowed_hosts=TEST_HOSTS,
        token_secret="test-token-secret-32-characters!",
        tenants=[Tenant(app_id="sandbox-app", access_key="sandbox-access-key", secret_key="sandbox-secret-key")],
        **values,
    )


def hook(http, receiver: Receiver) -> None:
    response = http.put(
        "/__mock/tenants/sandbox-app/webhooks",
        json={"eventsUrl": receiver.url("/events"), "productsCallbackURL": receiver.url("/reports")},
    )
    assert response.status_code == 200, response.text


def fire_interleaved(http, consent_ids: list[str]) -> None:
    """ROUNDS events about each consent, interleaved; externalInfo.n numbers each consent's."""
    for n in range(ROUNDS):
        for consent_id in consent_ids:
            response = http.post(
                "/__mock/webhooks/fire",
                json={"eventName": "consent_authorised", "consentId": consent_id, "externalInfo": {"n": n}},
            )
            assert response.status_code == 200, response.text


def arrival_order(receiver: Receiver) -> dict[str, list[int]]:
    """Per consent, the n of each event in the order the receiver accepted them (2xx)."""
    order: dict[str, list[int]] = {}
    for event in receiver.events("/events", answered=200):
        if "n" in event.get("externalInfo", {}):
            order.setdefault(event["payload"]["consents"]["consentId"], []).append(event["externalInfo"]["n"])
    return order


@pytest.fixture
def world(receiver):
    """An app with CONSENTS authorised consents; webhooks to `receiver`; the log emptied."""

    def make(**settings):
        http = in_process(settings_with(**settings), follow_redirects=False)
        http.__enter__()
        hook(http, receiver)
        klavi = Klavi(http)
        link = klavi.create_link()["linkToken"]
        consents = [authorise(klavi, link, personalTaxId=VALID_CPF) for _ in range(CONSENTS)]
        wait_for(lambda: not delivery_log(http, status="pending"), what="the flows' own webhooks")
        receiver.received.clear()
        receiver.peak_concurrency = 0
        made.append(http)
        return http, consents

    made: list[TestClient] = []
    yield make
    for http in made:
        http.__exit__(None, None, None)


def test_events_about_one_consent_arrive_in_order_while_others_go_in_parallel(world, receiver):
    http, consents = world()
    receiver.hang_seconds = 0.03
    receiver.scripts["/events"] = [500, 503, 500, 500, 502]  # the first few attempts fail: retries
    fire_interleaved(http, consents)
    wait_for(lambda: sum(map(len, arrival_order(receiver).values())) == CONSENTS * ROUNDS, 30, "every event accepted")
    assert arrival_order(receiver) == {consent: list(range(ROUNDS)) for consent in consents}
    assert 1 < receiver.peak_concurrency <= 8, "unrelated deliveries to one URL go in parallel, up to 8"
    retried = [d for d in delivery_log(http, name="consent_authorised") if len(d["attempts"]) > 1]
    assert len(retried) == 5 and all(d["status"] == "delivered" for d in retried)


def test_concurrency_1_keeps_strict_per_url_order(world, receiver):
    http, consents = world(webhook_concurrency=1)
    receiver.hang_seconds = 0.005
    receiver.scripts["/events"] = [500]  # the first event's retry holds back every later one
    fire_interleaved(http, consents)
    wait_for(lambda: sum(map(len, arrival_order(receiver).values())) == CONSENTS * ROUNDS, 30, "every event accepted")
    accepted = [
        (e["externalInfo"]["n"], e["payload"]["consents"]["consentId"])
        for e in receiver.events("/events", answered=200)
    ]
    fired = [(n, consent) for n in range(ROUNDS) for consent in consents]
    assert accepted == fired
    assert receiver.peak_concurrency == 1


def test_the_concurrency_limit_is_a_setting(world, receiver):
    http, consents = world(webhook_concurrency=3)
    receiver.hang_seconds = 0.05
    fire_interleaved(http, consents)
    wait_for(lambda: sum(map(len, arrival_order(receiver).values())) == CONSENTS * ROUNDS, 30, "every event accepted")
    assert receiver.peak_concurrency == 3


def test_a_report_requests_events_and_reports_keep_their_order(world, receiver):
    http, _ = world()
    receiver.hang_seconds = 0.01
    klavi = Klavi(http)
    response = http.post(
        f"{API}/personal/user-data",
        headers=bearer(klavi.access_token()),
        json={"taxId": VALID_CPF, "products": ["pf_checking_account", "pf_credit_card", "pf_loans"]},
    )
    assert response.status_code == 200, response.text
    request_id = response.json()["requestId"]
    wait_for(lambda: not delivery_log(http, requestId=request_id, status="pending"), 20, "the request's webhooks")
    events = [
        e["eventName"] for e in receiver.events("/events", answered=200) if e["payload"].get("requestId") == request_id
    ]
    assert events[0] == "product_request_received" and events[1:] == ["product_generated_success"] * 3
    logged = delivery_log(http, requestId=request_id)
    assert {d["orderingKey"] for d in logged} == {f"request:{request_id}"}
    products = [r.json()["productName"] for r in receiver.at("/reports")]
    assert products == ["pf_checking_account", "pf_credit_card", "pf_loans"]


def test_the_log_is_read_a_page_at_a_time_with_a_stable_cursor_and_counts(world, receiver):
    http, consents = world()
    before = len(delivery_log(http))
    fire_interleaved(http, consents)  # 72 more
    wait_for(lambda: not delivery_log(http, status="pending"), 20, "the events")
    everything = delivery_log(http)
    assert len(everything) == before + CONSENTS * ROUNDS
    first = http.get("/__mock/webhooks", params={"limit": 30}).json()
    assert [d["deliveryId"] for d in first["items"]] == [d["deliveryId"] for d in everything[:30]]
    assert first["counts"] == {"pending": 0, "delivered": len(everything), "failed": 0, "undeliverable": 0}
    # New deliveries arrive; the next page carries on where the first ended.
    fire_interleaved(http, consents[:1])
    second = http.get("/__mock/webhooks", params={"limit": 30, "cursor": first["nextCursor"]}).json()
    assert [d["deliveryId"] for d in second["items"]] == [d["deliveryId"] for d in everything[30:60]]
    # Filters apply before the limit; counts leave the status filter out.
    page = http.get(
        "/__mock/webhooks", params={"orderingKey": f"consent:{consents[0]}", "status": "delivered", "limit": 4}
    ).json()
    assert len(page["items"]) == 4 and all(d["orderingKey"] == f"consent:{consents[0]}" for d in page["items"])
    wait_for(lambda: not delivery_log(http, status="pending"), 20, "the last events")
    rest = delivery_log(http, orderingKey=f"consent:{consents[0]}")
    assert len(rest) == 2 * ROUNDS + 1  # its authorisation, and the events fired twice
    last = http.get("/__mock/webhooks", params={"limit": 1000}).json()
    assert last["nextCursor"] is None


@pytest.mark.parametrize(
    "params, field",
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"cursor": "nope"}, "cursor"),
        ({"cursor": "c" + "9" * 30}, "cursor"),
    ],
)
def test_bad_paging_parameters_are_refused_naming_the_field(client, params, field):
    response = client.get("/__mock/webhooks", params=params)
    assert response.status_code == 400
    assert response.json()["statusCode"] == 400 and field in response.json()["message"]


def test_delivered_bodies_beyond_the_retention_bound_are_forgotten_but_failures_never(world, receiver, tmp_path):
    http, consents = world(webhook_retention=10)
    fire_interleaved(http, consents)
    wait_for(lambda: not delivery_log(http, status="pending"), 20, "the events")
    counts = http.get("/__mock/webhooks", params={"limit": 1}).json()["counts"]
    assert counts["delivered"] == 10
    kept = delivery_log(http)  # the last delivered: of the last rounds fired
    assert len(kept) == 10 and all(d["body"][0]["externalInfo"].get("n", -1) >= ROUNDS - 2 for d in kept)
    # An undeliverable one (no URL) is kept, however many are delivered after it.
    assert http.put("/__mock/tenants/sandbox-app/webhooks", json={"eventsUrl": None}).status_code == 200
    http.post("/__mock/webhooks/fire", json={"eventName": "consent_revoked", "consentId": consents[0]})
    hook(http, receiver)
    fire_interleaved(http, consents)
    wait_for(lambda: not delivery_log(http, status="pending"), 20, "the events")
    assert [d["name"] for d in delivery_log(http, status="undeliverable")] == ["consent_revoked"]
    assert http.get("/__mock/webhooks", params={"limit": 1}).json()["counts"]["delivered"] == 10


def test_retention_applies_to_the_state_file_too(receiver, tmp_path):
    state = str(tmp_path / "state.sqlite")
    with in_process(settings_with(state_file=state, webhook_retention=5)) as http:
        hook(http, receiver)
        for _ in range(12):
            assert (
                http.post(
                    "/__mock/webhooks/fire", json={"eventName": "link_created", "payload": {"linkId": "x"}}
                ).status_code
                == 200
            )
        wait_for(lambda: not delivery_log(http, status="pending"), 20, "the events")
        kept = [d["deliveryId"] for d in delivery_log(http)]
    assert len(kept) == 5
    with in_process(settings_with(state_file=state, webhook_retention=5)) as http:
        assert [d["deliveryId"] for d in delivery_log(http)] == kept


def test_undeliverable_ones_are_redelivered_in_bulk_in_their_order(world, receiver):
    http, consents = world()
    assert http.put("/__mock/tenants/sandbox-app/webhooks", json={"eventsUrl": None}).status_code == 200
    fire_interleaved(http, consents)
    assert len(delivery_log(http, status="undeliverable")) == CONSENTS * ROUNDS
    hook(http, receiver)
    response = http.post("/__mock/webhooks/redeliver", json={"status": "undeliverable", "kind": "event"})
    assert response.status_code == 200
    assert response.json() == {"redelivered": CONSENTS * ROUNDS, "undeliverable": 0}
    wait_for(lambda: sum(map(len, arrival_order(receiver).values())) == CONSENTS * ROUNDS, 30, "every event accepted")
    assert arrival_order(receiver) == {consent: list(range(ROUNDS)) for consent in consents}
    refused = http.post("/__mock/webhooks/redeliver", json={"status": "pending"})
    assert refused.status_code == 400 and "status" in refused.json()["message"]


def _cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115
    return (int(fields[11]) + int(fields[12])) / 100  # utime + stime, in clock ticks of 1/100 s


def test_a_hanging_receiver_leaves_the_dispatcher_asleep(receiver):
    """2,000 deliveries owed to a receiver that never answers: every slot is taken, the rest
    wait, and the mock sleeps (the old dispatcher spun at 100 % of a core)."""
    receiver.hang_seconds = 60
    with (
        serve_process("--no-access-log", "--log-level", "warning") as (base, process),
        httpx.Client(base_url=base) as http,
    ):
        hook(http, receiver)
        with ThreadPoolExecutor(8) as pool:
            list(
                pool.map(
                    lambda _: http.post(
                        "/__mock/webhooks/fire", json={"eventName": "link_created", "payload": {"linkId": "x"}}
                    ).raise_for_status(),
                    range(2000),
                )
            )
        wait_for(lambda: receiver.concurrent == 8, 10, "8 attempts under way")
        start, wall = _cpu_seconds(process.pid), time.monotonic()
        time.sleep(3)
        used = (_cpu_seconds(process.pid) - start) / (time.monotonic() - wall)
        assert used < 0.2, f"the mock used {used:.0%} of a core with nothing it could send"
        assert http.get("/__mock/webhooks", params={"limit": 1}).json()["counts"]["pending"] == 2000


def test_building_reports_does_not_stall_other_requests(monkeypatch, receiver):
    """While a report request's reports are being built, the mock answers other requests,
    and the report request itself: Klavi answers requestId at once and builds later."""
    building, release = threading.Event(), threading.Event()
    real_build = reporting.build_report

    def slow_build(name, **kwargs):
        building.set()
        release.wait(10)
        return real_build(name, **kwargs)

    monkeypatch.setattr(reporting, "build_report", slow_build)
    with in_thread(settings_with()) as base, httpx.Client(base_url=base, timeout=15) as http:
        klavi = Klavi(http)
        consent = authorise_over(http, klavi)
        assert consent
        with ThreadPoolExecutor(1) as pool:
            asked = pool.submit(
                http.post,
                f"{API}/personal/user-data",
                headers=bearer(klavi.access_token()),
                json={"taxId": VALID_CPF, "products": ["pf_checking_account"]},
            )
            try:
                assert building.wait(10)
                answered = httpx.get(f"{base}/__mock/clock", timeout=3)  # would time out on a blocked loop
                assert answered.status_code == 200
                assert asked.result(timeout=5).status_code == 200  # answered while its report is held
            finally:
                release.set()


def authorise_over(http: httpx.Client, klavi: Klavi) -> str:
    """authorise() for a client on a real socket: redirects followed while they stay on the mock."""
    created = klavi.create_consent(personalTaxId=VALID_CPF)
    response = http.get(created["consentRedirectURL"] + "&decision=approve")
    while response.is_redirect and response.next_request.url.host == http.base_url.host:
        response = http.send(response.next_request)
    assert response.is_redirect and "error" not in str(response.next_request.url)
    return created["consentId"]
