"""Concurrency: 200 complete API-only flows at once leave the mock's state consistent.

Against a real `klavi-mock serve` process and a real webhook receiver on loopback, 200 flows
run together from asyncio (auth -> link -> institutions -> consent -> bank approval ->
report request), all 200 in flight at the same time. Afterwards this proves:

- no consent is lost or duplicated: exactly 200 consents exist, all AUTHORISED, with 200
  distinct ids, each carrying the externalTrackId, CPF and link its flow sent;
- no event is sent twice or skipped: each flow's receiver got exactly one link_created,
  consent_authorised, product_request_received and product_generated_success event and one
  pf_checking_account report, matched to it by linkId / consentId / requestId and by the
  flow's externalInfo (nothing crossed between flows); every eventId is unique; the totals
  are exactly 200 x 4 events and 200 reports; every delivery in the log is `delivered` after
  exactly one attempt (so the receiver kept up and nothing was retried); deliveries to one
  URL arrived in the order they were logged; every signature verifies;
- creation is atomic: 50 concurrent POST /consents with one externalTrackId give exactly one
  200 and 49 409s, and one stored consent;
- the consentRedirectURL is single-use under concurrency: of 20 simultaneous approvals
  exactly one reaches the partner, the consent is AUTHORISED once and announced once;
- on a --state-file, the 200 flows' consents, links and delivery log come back exactly as
  they were after a kill -9 and a restart.

Waits are generous (the mock delivers to one URL one at a time, in order) and nothing is
asserted on time.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import uuid
from collections import Counter, defaultdict

import httpx
import pytest

from klavi_mock.domain.taxid import is_valid_cpf, make_cpf
from klavi_mock.testing import Receiver, delivery_log, wait_for
from klavi_mock.webhooks.signing import verify_signature
from tests.conftest import query_of
from tests.servers import serve_process

FLOWS = 200
SECRET = "sandbox-secret-key"
KEYS = {"accessKey": "sandbox-access-key", "secretKey": SECRET}
PARTNER_RETURN = "https://partner.example.com/return"
EVENTS_PER_FLOW = ("link_created", "consent_authorised", "product_request_received", "product_generated_success")
PRODUCT = "pf_checking_account"
WAIT = 180.0  # seconds: generous, never asserted on


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def cpf(n: int) -> str:
    """A distinct valid CPF per n, outside the personas' 000000xxx range (happy-path)."""
    value = make_cpf(f"{310000000 + n:09d}")
    assert is_valid_cpf(value)
    return value


@pytest.fixture
def mock(receiver):
    """A real server process (no access log: its stdout is a pipe nobody reads while it runs)
    whose sandbox tenant sends events to the receiver's /events and reports to /reports."""
    with serve_process("--no-access-log", "--log-level", "warning") as (base, _process):
        answer = httpx.put(
            f"{base}/__mock/tenants/sandbox-app/webhooks",
            json={"eventsUrl": receiver.url("/events"), "productsCallbackURL": receiver.url("/reports")},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["eventsUrl"] == receiver.url("/events")
        yield base


_TLS = ssl.create_default_context()  # unused on http://, but each client would build its own


def async_client(connections: int = 1) -> httpx.AsyncClient:
    """Generous timeouts; idle connections dropped after 1 s, well before uvicorn closes
    them (5 s), so a request never races the server closing its keep-alive connection.
    One client per flow: httpcore's pool gets slow (quadratic) with hundreds of
    connections in one client, which made the test process, not the mock, the bottleneck."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(120.0),
        verify=_TLS,
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections, keepalive_expiry=1.0),
    )


def settled(base: str, events: int, reports: int, receiver: Receiver):
    """True once the receiver holds at least `events` events and `reports` reports and the
    mock has nothing pending (so a late duplicate would be counted too)."""
    if len(receiver.events("/events")) < events or len(receiver.at("/reports")) < reports:
        return False
    return not httpx.get(f"{base}/__mock/webhooks", params={"status": "pending", "limit": 1}).json()["items"]


# -- 200 concurrent flows -------------------------------------------------------------------


async def one_flow(api: str, n: int, run: str, together: asyncio.Barrier) -> dict:
    """One partner back end's whole API-only flow, with its own client. A flow that fails
    breaks the barrier, so the others stop instead of waiting for it forever."""
    try:
        async with async_client() as http:
            return await _flow_steps(http, api, n, run, together)
    except BaseException:
        await together.abort()
        raise


async def _flow_steps(http: httpx.AsyncClient, api: str, n: int, run: str, together: asyncio.Barrier) -> dict:
    tax_id, track, info = cpf(n), f"{run}-track-{n}", {"flow": f"flow-{n}", "run": run}
    auth = await http.post(f"{api}/auth", json=KEYS)
    assert auth.status_code == 200, auth.text
    access = auth.json()["accessToken"]

    link = await http.post(f"{api}/links", headers=bearer(access), json={"personalTaxId": tax_id, "externalInfo": info})
    assert link.status_code == 200, link.text
    link = link.json()

    institutions = await http.get(f"{api}/links/institutions", headers=bearer(link["linkToken"]))
    assert institutions.status_code == 200, institutions.text
    assert "341" in {i["institutionCode"] for i in institutions.json()}

    await together.wait()  # the 200 consents are asked for at once
    consent = await http.post(
        f"{api}/consents",
        headers=bearer(link["linkToken"]),
        json={
            "externalTrackId": track,
            "personalTaxId": tax_id,
            "institutionCode": "341",
            "redirectURL": PARTNER_RETURN,
            "validityPeriod": 12,
        },
    )
    assert consent.status_code == 200, consent.text
    consent = consent.json()

    bank = await http.get(consent["consentRedirectURL"] + "&decision=approve", follow_redirects=False)
    assert bank.status_code == 302, bank.text
    back = bank.headers["location"]
    assert back.startswith(PARTNER_RETURN + "?")
    assert query_of(back) == {
        "link_id": link["linkId"],
        "consent_id": consent["consentId"],
        "external_track_id": track,
        "external_info": json.dumps(info, separators=(",", ":")),
    }

    report = await http.post(
        f"{api}/personal/institution-data",
        headers=bearer(access),
        json={"taxId": tax_id, "products": [PRODUCT], "institutionCode": "341"},
    )
    assert report.status_code == 200, report.text
    assert report.json()["message"] == "ok"
    return {
        "n": n,
        "taxId": tax_id,
        "track": track,
        "info": info,
        "linkId": link["linkId"],
        "consentId": consent["consentId"],
        "requestId": report.json()["requestId"],
    }


async def run_flows(api: str, run: str) -> list[dict]:
    """The 200 flows at once. Each waits at the barrier after its third request, and the
    barrier opens only when all 200 wait there: so all 200 are in flight together, and
    their 200 consents, approvals and report requests reach the mock at the same moment."""
    together = asyncio.Barrier(FLOWS)
    results = await asyncio.gather(*(one_flow(api, n, run, together) for n in range(FLOWS)), return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:  # the flow that failed, not the ones it released from the barrier
        raise next((e for e in errors if not isinstance(e, asyncio.BrokenBarrierError)), errors[0])
    return results


def test_200_concurrent_flows_leave_consistent_state(mock, receiver):
    run = uuid.uuid4().hex[:8]
    flows = asyncio.run(run_flows(f"{mock}/data/v1", run))
    assert len(flows) == FLOWS
    assert len({f["consentId"] for f in flows}) == FLOWS
    assert len({f["requestId"] for f in flows}) == FLOWS

    # -- consents: none lost, none duplicated --------------------------------------------
    consents = httpx.get(f"{mock}/__mock/consents").json()
    assert len(consents) == FLOWS
    assert len({c["consentId"] for c in consents}) == FLOWS
    by_id = {c["consentId"]: c for c in consents}
    for flow in flows:
        stored = by_id[flow["consentId"]]
        assert stored["status"] == "AUTHORISED"
        assert stored["externalTrackId"] == flow["track"]
        assert stored["personalTaxId"] == flow["taxId"]
        assert stored["linkId"] == flow["linkId"]
        assert stored["redirectUsed"] is True
    assert sorted(c["externalTrackId"] for c in consents) == sorted(f["track"] for f in flows)
    links = httpx.get(f"{mock}/__mock/links").json()
    assert sorted(link["linkId"] for link in links) == sorted(f["linkId"] for f in flows)

    # -- webhooks: wait for all of them, then nothing sent twice or skipped ---------------
    wait_for(lambda: settled(mock, FLOWS * len(EVENTS_PER_FLOW), FLOWS, receiver), WAIT, "every webhook")
    requests = receiver.at("/events")
    for request in requests:
        assert verify_signature(request.body, request.headers["x-klavi-signature"], SECRET), request.body[:200]
    events = receiver.events("/events")
    reports = receiver.at("/reports")
    assert len(events) == FLOWS * len(EVENTS_PER_FLOW)
    assert len(reports) == FLOWS
    event_ids = [e["eventId"] for e in events]
    assert len(set(event_ids)) == len(event_ids)  # no event sent twice
    assert Counter(e["eventName"] for e in events) == {name: FLOWS for name in EVENTS_PER_FLOW}
    assert {e["partnerAppId"] for e in events} == {"sandbox-app"}

    by_link, by_consent, by_request = defaultdict(list), defaultdict(list), defaultdict(list)
    for event in events:
        payload = event["payload"]
        if event["eventName"] == "link_created":
            by_link[payload["linkId"]].append(event)
        elif event["eventName"] == "consent_authorised":
            by_consent[payload["consents"]["consentId"]].append(event)
        else:
            by_request[payload["requestId"]].append(event)
    report_of = defaultdict(list)
    for request in reports:
        assert verify_signature(request.body, request.headers["x-klavi-signature"], SECRET), request.body[:200]
        report_of[request.json()["requestId"]].append(request.json())

    for flow in flows:
        [link_created] = by_link[flow["linkId"]]
        assert link_created["payload"]["personalTaxId"] == flow["taxId"]
        assert link_created["externalInfo"] == flow["info"]
        [authorised] = by_consent[flow["consentId"]]
        assert authorised["payload"]["linkId"] == flow["linkId"]
        assert authorised["payload"]["personalTaxId"] == flow["taxId"]
        assert authorised["payload"]["consents"]["externalTrackId"] == flow["track"]
        assert authorised["payload"]["consents"]["status"] == "AUTHORISED"
        assert authorised["externalInfo"] == flow["info"]
        request_events = by_request[flow["requestId"]]
        assert sorted(e["eventName"] for e in request_events) == [
            "product_generated_success",
            "product_request_received",
        ]
        received = next(e for e in request_events if e["eventName"] == "product_request_received")
        success = next(e for e in request_events if e["eventName"] == "product_generated_success")
        assert received["payload"]["taxId"] == flow["taxId"] and received["payload"]["products"] == [PRODUCT]
        assert success["payload"]["productName"] == PRODUCT and success["payload"]["code"] == 200
        assert all(e["externalInfo"] == flow["info"] for e in request_events)
        [report] = report_of[flow["requestId"]]
        assert report["productName"] == PRODUCT and report["code"] == 200
        assert report["enquiryCpf"] == flow["taxId"]
        assert report["productReportId"] == success["payload"]["productReportId"]
        assert [c["consentId"] for link in report["links"] for c in link["consents"]] == [flow["consentId"]]
        assert report["externalInfo"] == flow["info"]
        assert report["checkingAccounts"]  # data, not an empty shell

    # -- the delivery log: every one delivered at the first attempt, in order per ordering key ----
    log = delivery_log(httpx.Client(base_url=mock))
    assert len(log) == FLOWS * (len(EVENTS_PER_FLOW) + 1)
    assert Counter(d["status"] for d in log) == {"delivered": len(log)}
    retried = [
        (d["deliveryId"], [(a["statusCode"], a["error"]) for a in d["attempts"]])
        for d in log
        if len(d["attempts"]) != 1
    ]
    assert not retried  # a retry would mean the receiver (or the mock) did not keep up
    assert all(d["attempts"][0]["statusCode"] == 200 for d in log)
    oldest_first = list(reversed(log))
    key_of = {d["body"][0]["eventId"]: d["orderingKey"] for d in oldest_first if d["kind"] == "event"}
    for key in set(key_of.values()):
        created = [d["body"][0]["eventId"] for d in oldest_first if d["kind"] == "event" and d["orderingKey"] == key]
        assert [event_id for event_id in event_ids if key_of[event_id] == key] == created, f"out of order: {key}"
    assert sorted(d["body"]["requestId"] for d in oldest_first if d["kind"] == "report") == sorted(
        r.json()["requestId"] for r in reports
    )


# -- concurrent duplicates and single-use redirects --------------------------------------------


async def create_many(api: str, tax_id: str, track: str, count: int) -> list[httpx.Response]:
    async with async_client(count) as http:
        access = (await http.post(f"{api}/auth", json=KEYS)).json()["accessToken"]
        link = (await http.post(f"{api}/links", headers=bearer(access), json={"personalTaxId": tax_id})).json()
        body = {
            "externalTrackId": track,
            "personalTaxId": tax_id,
            "institutionCode": "341",
            "redirectURL": PARTNER_RETURN,
            "validityPeriod": 12,
        }
        return await asyncio.gather(
            *(http.post(f"{api}/consents", headers=bearer(link["linkToken"]), json=body) for _ in range(count))
        )


def test_concurrent_duplicate_external_track_ids_create_one_consent(mock):
    track = f"dup-{uuid.uuid4().hex[:8]}"
    answers = asyncio.run(create_many(f"{mock}/data/v1", cpf(900), track, 50))
    statuses = Counter(a.status_code for a in answers)
    assert statuses == {200: 1, 409: 49}, statuses
    for answer in answers:
        if answer.status_code == 409:
            assert answer.json()["statusCode"] == 409 and track in answer.json()["message"]
    [created] = [a.json() for a in answers if a.status_code == 200]
    stored = httpx.get(f"{mock}/__mock/consents").json()
    assert [(c["consentId"], c["externalTrackId"]) for c in stored] == [(created["consentId"], track)]


async def approve_many(redirect_url: str, count: int) -> list[httpx.Response]:
    async with async_client(count) as http:
        return await asyncio.gather(
            *(http.get(redirect_url + "&decision=approve", follow_redirects=False) for _ in range(count))
        )


def test_concurrent_approvals_of_one_redirect_url_succeed_once(mock, receiver):
    api = f"{mock}/data/v1"
    [created] = [a.json() for a in asyncio.run(create_many(api, cpf(901), f"once-{uuid.uuid4().hex[:8]}", 1))]
    answers = asyncio.run(approve_many(created["consentRedirectURL"], 20))
    to_partner = [a for a in answers if a.status_code == 302]
    assert len(to_partner) == 1, Counter(a.status_code for a in answers)
    assert query_of(to_partner[0].headers["location"])["consent_id"] == created["consentId"]
    assert "error" not in query_of(to_partner[0].headers["location"])
    others = [a for a in answers if a is not to_partner[0]]
    assert [a.status_code for a in others] == [410] * 19
    assert all("Link já utilizado" in a.text for a in others)
    state = httpx.get(f"{mock}/__mock/consents/{created['consentId']}").json()
    assert state["status"] == "AUTHORISED"

    wait_for(lambda: settled(mock, 2, 0, receiver), WAIT, "link_created and consent_authorised")
    events = receiver.events("/events")
    assert sorted(e["eventName"] for e in events) == ["consent_authorised", "link_created"]
    assert len({e["eventId"] for e in events}) == 2


def test_200_concurrent_flows_on_a_state_file_are_all_there_after_kill_9(tmp_path, receiver):
    state = str(tmp_path / "state.sqlite")
    hooks = {"eventsUrl": receiver.url("/events"), "productsCallbackURL": receiver.url("/reports")}
    with serve_process("--no-access-log", "--log-level", "warning", "--state-file", state) as (base, process):
        assert httpx.put(f"{base}/__mock/tenants/sandbox-app/webhooks", json=hooks).status_code == 200
        flows = asyncio.run(run_flows(f"{base}/data/v1", uuid.uuid4().hex[:8]))
        wait_for(lambda: settled(base, FLOWS * len(EVENTS_PER_FLOW), FLOWS, receiver), WAIT, "every webhook")
        before = {path: httpx.get(f"{base}{path}").json() for path in ("/__mock/consents", "/__mock/links")}
        before["webhooks"] = delivery_log(httpx.Client(base_url=base))
        process.kill()
        process.wait(timeout=10)
    with serve_process("--no-access-log", "--log-level", "warning", "--state-file", state) as (base, _):
        after = {path: httpx.get(f"{base}{path}").json() for path in before if path != "webhooks"}
        after["webhooks"] = delivery_log(httpx.Client(base_url=base))
    assert after == before
    assert {c["consentId"] for c in after["/__mock/consents"]} == {f["consentId"] for f in flows}
    assert len(after["webhooks"]) == FLOWS * (len(EVENTS_PER_FLOW) + 1)
