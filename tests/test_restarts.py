"""Real `klavi-mock serve` processes on a state file: killed with -9 or stopped with SIGTERM
in the middle of deliveries, then started again on the same file."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import httpx

from mock_server.testing import Receiver, wait_for

from .servers import free_port, serve_process

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
    consent = httpx.post(f"{api}/consents", headers=bearer(link["linkToken"]), json={
        "externalTrackId": "restart-1", "personalTaxId": CPF, "institutionCode": "341",
        "redirectURL": "https://partner.example.com/return"}).json()
    back = httpx.get(consent["consentRedirectURL"] + "&decision=approve")
    assert back.status_code == 302 and "consent_id=" in back.headers["location"]
    report = httpx.post(f"{api}/personal/institution-data", headers=bearer(access),
                        json={"taxId": CPF, "products": ["pf_checking_account"], "institutionCode": "341"})
    assert report.status_code == 200, report.text
    return {"access": access, "link": link, "consent": consent, "requestId": report.json()["requestId"]}


def deliveries(base: str) -> list[dict]:
    return httpx.get(f"{base}/__mock/webhooks").json()


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
        wait_for(lambda: all(d["status"] == "delivered" for d in deliveries(base)), timeout=30,
                 what="every pending delivery delivered after the restart")
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
        wait_for(lambda: all(d["status"] == "delivered" for d in deliveries(base)), timeout=30,
                 what="the deliveries cut short, delivered after the restart")
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
        result = subprocess.run([sys.executable, "-m", "mock_server", "serve", "--port", str(free_port()), "--state-file", state],
                                capture_output=True, text=True, timeout=30)
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
