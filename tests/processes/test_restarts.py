"""Real `klavi-mock serve` processes on a state file: killed with -9 or stopped with SIGTERM
in the middle of deliveries, then started again on the same file."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest

from klavi_mock.testing import Receiver, delivery_log, wait_for
from tests.servers import free_port, serve_process

KEYS = {"accessKey": "sandbox-access-key", "secretKey": "sandbox-secret-key"}
CPF = "52998224725"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def run_flow(base: str, receiver: Receiver) -> dict:
    """The API-only flow up to a report request; returns the ids and tokens it made."""
    api = f"{base}/data/v1"
    hooks = {"eventsUrl": receiver.url("/events"), "productsCallbackURL": receiver.url("/reports")}
    assert httpx.put(f"{base}/__mock/tenants/sandbox-app/webhooks", json=hooks).status_code == 200
    access = httpx.post(f"{api}/auth", json=KEYS).json()["accessToken"]
    link = httpx.post(f"{api}/links", json={"externalInfo": {"flow": "restart"}}, headers=bearer(access)).json()
    consent = httpx.post(
        f"{api}/consents",
        headers=bearer(link["linkToken"]),
        json={
            "externalTrackId": "restart-1",
            "personalTaxId": CPF,
            "institutionCode": "341",
            "redirectURL": "https://partner.example.com/return",
        },
    ).json()
    back = httpx.get(consent["consentRedirectURL"] + "&decision=approve")
    assert back.status_code == 302 and "consent_id=" in back.headers["location"]
    report = httpx.post(
        f"{api}/personal/institution-data",
        headers=bearer(access),
        json={"taxId": CPF, "products": ["pf_checking_account"], "institutionCode": "341"},
    )
    assert report.status_code == 200, report.text
    return {"access": access, "link": link, "consent": consent, "requestId": report.json()["requestId"]}


def deliveries(base: str) -> list[dict]:
    with httpx.Client(base_url=base) as http:
        return delivery_log(http)


EXPECTED_EVENTS = {"link_created", "consent_authorised", "product_request_received", "product_generated_success"}


def test_after_kill_9_everything_is_there_and_pending_deliveries_go_out(tmp_path, receiver):
    state = str(tmp_path / "state.sqlite")
    receiver.hang_seconds = 30  # every delivery is stuck in flight, or queued behind one that is
    with serve_process("--state-file", state) as (base, process):
        made = run_flow(base, receiver)
        wait_for(lambda: receiver.at("/events") and receiver.at("/reports"), what="the first attempts")
        assert all(d["status"] == "pending" for d in deliveries(base))
        process.kill()  # SIGKILL: no shutdown of any kind
        process.wait(timeout=10)

    receiver.hang_seconds = 0
    received_before = len(receiver.received)
    with serve_process("--state-file", state) as (base, process):
        api = f"{base}/data/v1"
        wait_for(
            lambda: all(d["status"] == "delivered" for d in deliveries(base)),
            timeout=30,
            what="every pending delivery delivered after the restart",
        )
        after = receiver.received[received_before:]
        names = {event["eventName"] for r in after if r.path == "/events" for event in r.json()}
        assert names == EXPECTED_EVENTS
        assert [r.json()["requestId"] for r in after if r.path == "/reports"] == [made["requestId"]]
        # Tokens, link and consent of the killed process, as they were.
        consent = httpx.get(f"{api}/consents/{made['consent']['consentId']}", headers=bearer(made["access"]))
        assert consent.status_code == 200 and consent.json()["status"] == "AUTHORISED"
        institutions = httpx.get(f"{api}/links/institutions", headers=bearer(made["link"]["linkToken"]))
        assert institutions.status_code == 200
        process.terminate()
        assert "1 links, 1 consents, " in process.communicate(timeout=15)[0]


def test_sigterm_stops_taking_requests_and_exits_in_bounded_time(tmp_path, receiver):
    state = str(tmp_path / "state.sqlite")
    receiver.hang_seconds = 60  # the receiver never answers while the mock shuts down
    with serve_process("--state-file", state) as (base, process):
        run_flow(base, receiver)
        wait_for(lambda: receiver.at("/events"), what="an attempt under way")
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        # Refused at once, while the process is still finishing (its delivery's grace).
        wait_for(lambda: _refused(base), timeout=5, what="new connections refused")
        assert process.poll() is None
        output = process.communicate(timeout=30)[0]
        stopped_after = time.monotonic() - started
    assert process.returncode in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it has shut down
    assert stopped_after < 15, f"took {stopped_after:.1f} s to stop"  # 5 s grace for deliveries, then out
    assert f"still pending at shutdown (kept in {state}, sent after the restart)" in output

    receiver.hang_seconds = 0
    with serve_process("--state-file", state) as (base, _):
        wait_for(
            lambda: all(d["status"] == "delivered" for d in deliveries(base)),
            timeout=30,
            what="the deliveries cut short, delivered after the restart",
        )
        assert {e["eventName"] for e in receiver.events("/events")} == EXPECTED_EVENTS


def test_sigterm_without_a_state_file_is_bounded_too_and_says_what_is_lost(receiver):
    receiver.hang_seconds = 60
    with serve_process() as (base, process):
        run_flow(base, receiver)
        wait_for(lambda: receiver.at("/events"), what="an attempt under way")
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=30)[0]
    assert process.returncode in (0, -signal.SIGTERM)
    assert "still pending at shutdown (dropped: run with --state-file to keep them)" in output


def test_a_second_process_on_the_same_state_file_is_refused(tmp_path):
    state = str(tmp_path / "state.sqlite")
    with serve_process("--state-file", state):
        result = subprocess.run(
            [sys.executable, "-m", "klavi_mock", "serve", "--port", str(free_port()), "--state-file", state],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 2
    assert f"state file {state} is in use by another klavi-mock process" in result.stderr


def _refused(base: str) -> bool:
    try:
        httpx.get(f"{base}/__mock/clock", timeout=0.5)
    except httpx.ConnectError:
        return True
    except httpx.TransportError:
        return False
    return False


@pytest.mark.parametrize("stop", ["kill -9", "SIGTERM"])
def test_under_load_nothing_answered_is_lost_and_every_promised_webhook_goes_out(tmp_path, receiver, stop):
    """Eight clients create links and consents as fast as they can; the process is stopped
    in the middle. Every link and consent answered 200 is there after the restart, and the
    link_created event of every such link reaches the receiver, before or after it."""
    state = str(tmp_path / "state.sqlite")
    answered_links: list[str] = []
    answered_consents: list[str] = []
    with serve_process("--state-file", state) as (base, process):
        api = f"{base}/data/v1"
        hooks = {"eventsUrl": receiver.url("/events")}
        assert httpx.put(f"{base}/__mock/tenants/sandbox-app/webhooks", json=hooks).status_code == 200
        access = httpx.post(f"{api}/auth", json=KEYS).json()["accessToken"]

        def client(number: int) -> None:
            with httpx.Client(timeout=5) as http:
                for round_ in range(10_000):
                    try:
                        link = http.post(f"{api}/links", json={}, headers=bearer(access))
                        if link.status_code != 200:
                            return
                        answered_links.append(link.json()["linkId"])
                        consent = http.post(
                            f"{api}/consents",
                            headers=bearer(link.json()["linkToken"]),
                            json={
                                "externalTrackId": f"load-{number}-{round_}",
                                "personalTaxId": CPF,
                                "institutionCode": "341",
                                "redirectURL": "https://partner.example.com/return",
                            },
                        )
                        if consent.status_code != 200:
                            return
                        answered_consents.append(consent.json()["consentId"])
                    except httpx.TransportError:
                        return  # the process went away mid-request: that one was never answered

        clients = [threading.Thread(target=client, args=(n,)) for n in range(8)]
        for thread in clients:
            thread.start()
        wait_for(lambda: len(answered_consents) >= 150, timeout=60, what="load under way")
        if stop == "kill -9":
            process.kill()
        else:
            process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        for thread in clients:
            thread.join(timeout=30)

    with serve_process("--state-file", state) as (base, _):
        kept_consents = {c["consentId"] for c in httpx.get(f"{base}/__mock/consents").json()}
        kept_links = {link["linkId"] for link in httpx.get(f"{base}/__mock/links").json()}
        assert set(answered_consents) <= kept_consents, (
            f"{len(set(answered_consents) - kept_consents)} answered consents lost"
        )
        assert set(answered_links) <= kept_links, f"{len(set(answered_links) - kept_links)} answered links lost"

        def announced() -> set[str]:
            return {e["payload"]["linkId"] for e in receiver.events("/events") if e["eventName"] == "link_created"}

        wait_for(lambda: set(answered_links) <= announced(), timeout=60, what="every answered link's link_created")
