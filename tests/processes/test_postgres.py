"""The team sandbox: real `klavi-mock serve` processes over one PostgreSQL database
(tests/postgres.py starts a throwaway server). What one instance is told, every other
knows; each webhook goes out once; an instance killed mid-delivery loses nothing; the
database's schema is migrated, a newer one refused, and a database that goes away answers
503 until it is back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest

from klavi_mock.testing import Receiver, delivery_log, wait_for
from tests.postgres import database_for, server
from tests.processes.test_restarts import CPF, EXPECTED_EVENTS, KEYS, bearer
from tests.servers import free_port, serve_process

# The schema version this klavi-mock ships (its numbered migrations: 1, 2, ... LATEST).
LATEST = len(list((Path(__file__).resolve().parents[2] / "klavi_mock/storage/postgres_migrations").glob("[0-9]*.sql")))


@pytest.fixture
def database(tmp_path) -> str:
    return database_for(tmp_path)


def on(base: str, url: str) -> str:
    """A URL one instance handed out, sent to another instance."""
    parts = urlsplit(url)
    return f"{base}{parts.path}" + (f"?{parts.query}" if parts.query else "")


def deliveries(base: str) -> list[dict]:
    with httpx.Client(base_url=base) as http:
        return delivery_log(http)


def event_ids(receiver: Receiver) -> Counter:
    return Counter(event["eventId"] for r in receiver.at("/events") for event in r.json())


def a_consent(base: str, track_id: str, redirect_url: str = "https://partner.example.com/return") -> tuple[str, dict]:
    """Through one instance: an accessToken, a link and a consent at 341 waiting at the bank."""
    access = httpx.post(f"{base}/data/v1/auth", json=KEYS).json()["accessToken"]
    link = httpx.post(f"{base}/data/v1/links", json={}, headers=bearer(access)).json()
    consent = httpx.post(
        f"{base}/data/v1/consents",
        headers=bearer(link["linkToken"]),
        json={"externalTrackId": track_id, "personalTaxId": CPF, "institutionCode": "341", "redirectURL": redirect_url},
    ).json()
    return access, consent


def test_two_instances_share_one_sandbox(database, receiver):
    with serve_process("--database-url", database) as (a, _), serve_process("--database-url", database) as (b, _):
        hooks = {"eventsUrl": receiver.url("/events"), "productsCallbackURL": receiver.url("/reports")}
        assert httpx.put(f"{a}/__mock/tenants/sandbox-app/webhooks", json=hooks).status_code == 200
        assert httpx.get(f"{b}/__mock/tenants").json()[0]["eventsUrl"] == hooks["eventsUrl"]

        # A token from A works on B, and the flow goes back and forth.
        access = httpx.post(f"{a}/data/v1/auth", json=KEYS).json()["accessToken"]
        link = httpx.post(f"{b}/data/v1/links", json={"externalInfo": {"team": 1}}, headers=bearer(access)).json()
        consent = httpx.post(
            f"{a}/data/v1/consents",
            headers=bearer(link["linkToken"]),
            json={
                "externalTrackId": "team-1",
                "personalTaxId": CPF,
                "institutionCode": "341",
                "redirectURL": "https://partner.example.com/return",
            },
        ).json()
        back = httpx.get(on(b, consent["consentRedirectURL"]) + "&decision=approve")
        assert back.status_code == 302 and "consent_id=" in back.headers["location"]
        seen = httpx.get(f"{a}/data/v1/consents/{consent['consentId']}", headers=bearer(access))
        assert seen.status_code == 200 and seen.json()["status"] == "AUTHORISED"
        assert [c["consentId"] for c in httpx.get(f"{b}/__mock/consents").json()] == [consent["consentId"]]
        report = httpx.post(
            f"{b}/data/v1/personal/institution-data",
            headers=bearer(access),
            json={"taxId": CPF, "products": ["pf_checking_account"], "institutionCode": "341"},
        )
        assert report.status_code == 200, report.text

        # Each webhook delivered once, by one of the two.
        # (the reports are built after the answer: wait for their events too)
        wait_for(
            lambda: (
                {e["eventName"] for e in receiver.events("/events")} == EXPECTED_EVENTS
                and all(d["status"] == "delivered" for d in deliveries(a))
            ),
            timeout=30,
            what="every event, every delivery delivered",
        )
        assert all(count == 1 for count in event_ids(receiver).values()), event_ids(receiver)
        assert [r.json()["requestId"] for r in receiver.at("/reports")] == [report.json()["requestId"]]

        # Revoked through A, seen revoked through B; its event goes out once.
        revoked = httpx.delete(f"{a}/data/v1/consents/{consent['consentId']}/revoke", headers=bearer(access))
        assert revoked.status_code == 200, revoked.text
        seen = httpx.get(f"{b}/data/v1/consents/{consent['consentId']}", headers=bearer(access))
        assert seen.json()["status"] == "REVOKED"
        wait_for(
            lambda: any(e["eventName"] == "consent_revoked" for e in receiver.events("/events")),
            what="consent_revoked",
        )
        wait_for(lambda: all(d["status"] == "delivered" for d in deliveries(b)), what="every delivery delivered")
        assert [e["eventName"] for e in receiver.events("/events")].count("consent_revoked") == 1
        assert all(count == 1 for count in event_ids(receiver).values()), event_ids(receiver)

        # The clock, the fault rules and the webhook chaos set on one apply on the other.
        before = httpx.get(f"{b}/__mock/clock").json()["offsetSeconds"]
        assert httpx.post(f"{a}/__mock/clock/advance", json={"seconds": 120}).status_code == 200
        assert httpx.get(f"{b}/__mock/clock").json()["offsetSeconds"] == before + 120
        chaos = httpx.put(f"{b}/__mock/tenants/sandbox-app/chaos", json={"duplicate": 1, "seed": 7})
        assert chaos.status_code == 200
        assert httpx.get(f"{a}/__mock/tenants/sandbox-app/chaos").json()["duplicate"] == 1
        fault = httpx.post(f"{a}/__mock/faults", json={"operationId": "createLink", "status": 503}).json()
        links_before = len(httpx.get(f"{a}/__mock/links").json())
        refused = httpx.post(f"{b}/data/v1/links", json={}, headers=bearer(access))
        assert refused.status_code == 503
        assert len(httpx.get(f"{a}/__mock/links").json()) == links_before  # the failed request changed nothing
        assert httpx.delete(f"{b}/__mock/faults/{fault['faultId']}").status_code == 200
        assert httpx.post(f"{a}/data/v1/links", json={}, headers=bearer(access)).status_code == 200

    # Restarted: everything is there.
    with serve_process("--database-url", database) as (c, process):
        seen = httpx.get(f"{c}/data/v1/consents/{consent['consentId']}", headers=bearer(access))
        assert seen.status_code == 200 and seen.json()["status"] == "REVOKED"
        process.terminate()
        assert "2 links, 1 consents, " in process.communicate(timeout=15)[0]


def test_time_driven_work_runs_once_whichever_instance_holds_it(database, receiver):
    """A consent's 60-minute window closes once, though both instances know of it (the one
    that made it, and one started after, which schedules every stored consent's jobs)."""
    with serve_process("--database-url", database) as (a, _):
        hooks = {"eventsUrl": receiver.url("/events"), "productsCallbackURL": receiver.url("/reports")}
        assert httpx.put(f"{a}/__mock/tenants/sandbox-app/webhooks", json=hooks).status_code == 200
        access, consent = a_consent(a, "window", "https://partner.example.com/r")
        with serve_process("--database-url", database) as (b, _):
            assert httpx.post(f"{a}/__mock/clock/advance", json={"seconds": 2 * 3600}).status_code == 200
            wait_for(
                lambda: (
                    receiver.events("/events")
                    and any(e["eventName"] == "consent_rejected" for e in receiver.events("/events"))
                ),
                what="the window closed",
            )
            # B's ticker has the same job: it ran it after A (the consent had moved on), or not at all.
            wait_for(lambda: httpx.get(f"{b}/__mock/clock").json()["offsetSeconds"] >= 7200, what="B caught up")
            time.sleep(2.5)  # B's ticker looks twice (once a second)
            rejected = [d for d in deliveries(b) if d["name"] == "consent_rejected"]
            assert len(rejected) == 1 and rejected[0]["orderingKey"].endswith(consent["consentId"])
            assert httpx.get(f"{b}/__mock/consents/{consent['consentId']}").json()["status"] == "REJECTED"


def leave_owed(database: str, request_ids: list[str], minutes_old: int = 0) -> int:
    """As if the instance that recorded these report requests had died before sending their
    reports: marked unbuilt, their reports and product_generated_* events gone, and made
    `minutes_old` minutes earlier. The number of requests changed."""
    with psycopg.connect(database, autocommit=True) as db:
        db.execute(
            "DELETE FROM deliveries WHERE request_id = ANY(%s) AND (kind = 'report' OR name LIKE 'product_generated_%%')",
            (request_ids,),
        )
        return db.execute(
            "UPDATE report_requests SET data = jsonb_set(data::jsonb, '{built}', 'false')::json,"
            " created_at = created_at - make_interval(mins => %s) WHERE id = ANY(%s)",
            (minutes_old, request_ids),
        ).rowcount


def test_owed_report_builds_resumed_by_two_workers_are_sent_once(database):
    """Report requests recorded but not built when their instance died are built again by
    each process that starts over the database (two workers forked at once here, so their
    builds overlap); only the first to finish sends each request's reports."""
    with serve_process("--database-url", database) as (a, _):
        access, consent = a_consent(a, "owed")
        assert httpx.get(on(a, consent["consentRedirectURL"]) + "&decision=approve").status_code == 302
        asked = [
            httpx.post(
                f"{a}/data/v1/personal/institution-data",
                headers=bearer(access),
                json={"taxId": CPF, "products": ["all"], "institutionCode": "341"},
            )
            for _ in range(3)
        ]
        assert all(r.status_code == 200 for r in asked), asked[0].text
        request_ids = [r.json()["requestId"] for r in asked]
    # (stopping, the instance finished its builds) As if it had died between recording the
    # requests and sending their reports:
    with psycopg.connect(database, autocommit=True) as db:
        sent = sorted(
            db.execute(
                "SELECT request_id, name FROM deliveries WHERE request_id = ANY(%s) AND kind = 'report'",
                (request_ids,),
            ).fetchall()
        )
    changed = leave_owed(database, request_ids)
    assert changed == 3 and {request for request, _ in sent} == set(request_ids)
    with serve_process("--database-url", database, "--workers", "2") as (b, _):

        def resent() -> list[dict]:
            return [d for d in deliveries(b) if d["requestId"] in request_ids]

        wait_for(lambda: len([d for d in resent() if d["kind"] == "report"]) >= len(sent), what="the owed reports")
        time.sleep(2)  # the slower worker's builds end too, and find each request built
        again = resent()
        assert sorted((d["requestId"], d["name"]) for d in again if d["kind"] == "report") == sent
        generated = [d for d in again if d["name"].startswith("product_generated_")]
        assert len(generated) == len(sent)


def test_a_running_instance_builds_a_request_another_instance_left_owed(database):
    """An instance killed between recording a report request and sending its reports
    leaves it owed; a running instance looks for such requests on its ticker and sends
    their reports, once, without a restart. A request only just made is left to the
    instance that made it."""
    with serve_process("--database-url", database) as (a, _):
        access, consent = a_consent(a, "left-owed")
        assert httpx.get(on(a, consent["consentRedirectURL"]) + "&decision=approve").status_code == 302
        asked = httpx.post(
            f"{a}/data/v1/personal/institution-data",
            headers=bearer(access),
            json={"taxId": CPF, "products": ["pf_checking_account"], "institutionCode": "341"},
        )
        assert asked.status_code == 200, asked.text
        request_id = asked.json()["requestId"]

        def reports() -> list[str]:
            return sorted(d["name"] for d in deliveries(a) if d["requestId"] == request_id and d["kind"] == "report")

        wait_for(reports, what="the reports")
        sent = reports()
        assert leave_owed(database, [request_id]) == 1  # as if another instance had died building it
        time.sleep(2.5)  # ticks go by: made only just now, it is still its own instance's to build
        assert reports() == []
        with psycopg.connect(database, autocommit=True) as db:
            db.execute(
                "UPDATE report_requests SET created_at = created_at - interval '1 minute' WHERE id = %s", (request_id,)
            )
        wait_for(reports, what="the owed reports")
        time.sleep(2.5)  # more ticks: it is built now, and sent only once
        assert reports() == sent
        generated = [
            d for d in deliveries(a) if d["requestId"] == request_id and d["name"].startswith("product_generated_")
        ]
        assert len(generated) == len(sent)


def test_reports_sent_on_authorisation_are_a_request_another_instance_builds_if_left_owed(database):
    """reportDelivery automatic: the authorisation records a report request in its own
    transaction, so an instance killed before it sends the reports leaves them owed, and a
    running instance sends them."""
    with serve_process("--database-url", database) as (a, _):
        settings = {"reportDelivery": "automatic", "activatedProducts": ["pf_checking_account"]}
        assert httpx.put(f"{a}/__mock/tenants/sandbox-app/reports", json=settings).status_code == 200
        access, consent = a_consent(a, "automatic-owed")
        assert httpx.get(on(a, consent["consentRedirectURL"]) + "&decision=approve").status_code == 302
        with psycopg.connect(database, autocommit=True) as db:  # recorded with the authorisation
            [(request_id,)] = db.execute(
                "SELECT id FROM report_requests WHERE data->>'consent_ids' LIKE %s", (f"%{consent['consentId']}%",)
            ).fetchall()

        def reports() -> list[str]:
            return sorted(d["name"] for d in deliveries(a) if d["requestId"] == request_id and d["kind"] == "report")

        wait_for(reports, what="the automatic report")
        assert reports() == ["pf_checking_account"]
        assert leave_owed(database, [request_id], minutes_old=1) == 1  # as if its instance had died building it
        wait_for(reports, what="the owed automatic report")
        time.sleep(2.5)  # more ticks: sent once
        assert reports() == ["pf_checking_account"]


def test_an_instance_killed_mid_delivery_loses_nothing(database, receiver):
    receiver.hang_seconds = 60  # the first instance's attempts never end
    with serve_process("--database-url", database) as (a, first):
        hooks = {"eventsUrl": receiver.url("/events"), "productsCallbackURL": receiver.url("/reports")}
        assert httpx.put(f"{a}/__mock/tenants/sandbox-app/webhooks", json=hooks).status_code == 200
        access = httpx.post(f"{a}/data/v1/auth", json=KEYS).json()["accessToken"]
        link = httpx.post(f"{a}/data/v1/links", json={"externalInfo": {"x": 1}}, headers=bearer(access)).json()
        wait_for(lambda: receiver.at("/events"), what="the attempt under way")
        first.kill()  # SIGKILL mid-delivery: its lease runs out, and another instance takes it
        first.wait(timeout=10)
    receiver.hang_seconds = 0
    with serve_process("--database-url", database) as (b, _):
        wait_for(
            lambda: [d["status"] for d in deliveries(b)] == ["delivered"],
            timeout=40,
            what="the delivery the killed instance held, delivered by the other",
        )
        [delivered] = deliveries(b)
        assert delivered["orderingKey"] == f"link:{link['linkId']}" and delivered["name"] == "link_created"
        # The killed instance's attempt, then the one after its lease ran out.
        assert len(delivered["attempts"]) == 1 and len(receiver.at("/events")) == 2


def test_sigterm_stops_an_instance_gracefully_and_the_other_delivers(database, receiver):
    receiver.hang_seconds = 60
    with serve_process("--database-url", database) as (a, first), serve_process("--database-url", database) as (b, _):
        hooks = {"eventsUrl": receiver.url("/events"), "productsCallbackURL": receiver.url("/reports")}
        assert httpx.put(f"{a}/__mock/tenants/sandbox-app/webhooks", json=hooks).status_code == 200
        access = httpx.post(f"{a}/data/v1/auth", json=KEYS).json()["accessToken"]
        httpx.post(f"{a}/data/v1/links", json={}, headers=bearer(access))
        wait_for(lambda: receiver.at("/events"), what="an attempt under way")
        receiver.hang_seconds = 0
        first.send_signal(signal.SIGTERM)
        output = first.communicate(timeout=30)[0]
        assert first.returncode in (0, -signal.SIGTERM)
        assert "Application shutdown complete" in output
        wait_for(
            lambda: [d["status"] for d in deliveries(b)] == ["delivered"], timeout=40, what="delivered by the other"
        )
        # The attempt cut short by the stop was released, not recorded: it went again, once.
        [delivered] = deliveries(b)
        assert len(delivered["attempts"]) == 1 and len(receiver.at("/events")) == 2


def test_migrate_then_a_newer_schema_is_refused(database):
    migrate = [sys.executable, "-m", "klavi_mock", "migrate", "--database-url", database]
    first = subprocess.run(migrate, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0 and f"migrated from schema 0 to {LATEST}" in first.stdout
    again = subprocess.run(migrate, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and "nothing to do" in again.stdout
    with psycopg.connect(database, autocommit=True) as db:
        db.execute("INSERT INTO schema_version (version) VALUES (99)")
    refused = subprocess.run(
        [sys.executable, "-m", "klavi_mock", "serve", "--port", str(free_port()), "--database-url", database],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1 and "newer klavi-mock (schema 99" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_instances_starting_at_once_migrate_once(database):
    migrate = [sys.executable, "-m", "klavi_mock", "migrate", "--database-url", database]
    both = [subprocess.Popen(migrate, stdout=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = [process.communicate(timeout=60)[0] for process in both]
    assert [process.returncode for process in both] == [0, 0, 0]
    assert sum(f"migrated from schema 0 to {LATEST}" in output for output in outputs) == 1, outputs
    with psycopg.connect(database) as db:
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(n,) for n in range(1, LATEST + 1)]


def test_a_database_that_is_down_at_start_is_one_line_and_exit_2():
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"
    for command in (["serve", "--port", str(free_port()), "--database-url", url], ["migrate", "--database-url", url]):
        result = subprocess.run(
            [sys.executable, "-m", "klavi_mock", *command], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 2, result
        assert result.stderr.count("\n") == 1 and "cannot reach database nothing on 127.0.0.1" in result.stderr
        assert "Traceback" not in result.stderr


def test_a_database_that_goes_away_answers_503_and_the_mock_recovers(database):
    name = urlsplit(database).path.lstrip("/")
    with serve_process("--database-url", database) as (a, _):
        access = httpx.post(f"{a}/data/v1/auth", json=KEYS).json()["accessToken"]
        assert httpx.post(f"{a}/data/v1/links", json={}, headers=bearer(access)).status_code == 200
        with psycopg.connect(server().url(), autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
            down = httpx.post(f"{a}/data/v1/links", json={}, headers=bearer(access))
            assert down.status_code == 503
            assert down.json()["statusCode"] == 503 and down.json()["error"] == "Service Unavailable"
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        wait_for(
            lambda: httpx.post(f"{a}/data/v1/links", json={}, headers=bearer(access)).status_code == 200,
            timeout=20,
            what="the mock recovered",
        )
        assert len(httpx.get(f"{a}/__mock/links").json()) == 2


def test_a_change_that_meets_another_answers_503_and_keeps_nothing(database, receiver):
    # Another instance's request is changing this consent (its row is locked, uncommitted):
    # a revoke at that moment is refused at once, in Klavi's shape, and leaves nothing.
    with serve_process("--database-url", database) as (a, _):
        hooks = {"eventsUrl": receiver.url("/events")}
        assert httpx.put(f"{a}/__mock/tenants/sandbox-app/webhooks", json=hooks).status_code == 200
        access, consent = a_consent(a, "race-1", "https://partner.example.com/return")
        assert httpx.get(consent["consentRedirectURL"] + "&decision=approve").status_code == 302
        revoke = f"{a}/data/v1/consents/{consent['consentId']}/revoke"
        events_before = {d["deliveryId"] for d in deliveries(a)}
        with psycopg.connect(database) as other:
            other.execute(
                "UPDATE consents SET version = version + 1 WHERE id = %s", (consent["consentId"],)
            )  # held open
            refused = httpx.delete(revoke, headers=bearer(access), timeout=10)
            assert refused.status_code == 503, refused.text
            body = refused.json()
            assert body["statusCode"] == 503 and body["error"] == "Service Unavailable"
            assert f"consent {consent['consentId']} was changed concurrently" in body["message"]
            assert "send the request again" in body["message"]
            other.rollback()
        seen = httpx.get(f"{a}/data/v1/consents/{consent['consentId']}", headers=bearer(access)).json()
        assert seen["status"] == "AUTHORISED"  # nothing of the refused revoke was kept
        assert {d["deliveryId"] for d in deliveries(a)} == events_before  # and no consent_revoked owed
        assert httpx.delete(revoke, headers=bearer(access)).status_code == 200  # sent again, it goes through
        owed = [d["name"] for d in deliveries(a) if d["deliveryId"] not in events_before]
        assert owed == ["consent_revoked"]
        assert (
            httpx.get(f"{a}/data/v1/consents/{consent['consentId']}", headers=bearer(access)).json()["status"]
            == "REVOKED"
        )


def test_a_consent_job_that_meets_a_change_runs_again(database):
    # The 60-minute window closes while another transaction is changing the consent: the
    # job gives way, and runs again on a later tick, on the consent as it then is.
    with serve_process("--database-url", database) as (a, _):
        access, consent = a_consent(a, "race-2", "https://partner.example.com/return")

        def status() -> str:  # through the control API (the access token expires with the move)
            [found] = [c for c in httpx.get(f"{a}/__mock/consents").json() if c["consentId"] == consent["consentId"]]
            return found["status"]

        with psycopg.connect(database) as other:
            other.execute("UPDATE consents SET version = version + 1 WHERE id = %s", (consent["consentId"],))
            moved = httpx.post(f"{a}/__mock/clock/advance", json={"seconds": 3700}, timeout=10)
            assert moved.status_code == 200, moved.text
            assert status() == "AWAITING_AUTHORISATION"
            other.rollback()
        wait_for(
            lambda: status() == "REJECTED",
            timeout=10,
            what="the window's job ran again",
        )


def test_workers_share_the_port_and_the_database(database, receiver):
    with serve_process("--database-url", database, "--workers", "2") as (a, process):
        access = httpx.post(f"{a}/data/v1/auth", json=KEYS).json()["accessToken"]
        for _ in range(20):  # new connections: the kernel spreads them over both workers
            with httpx.Client() as http:
                assert http.post(f"{a}/data/v1/links", json={}, headers=bearer(access)).status_code == 200
        assert len(httpx.get(f"{a}/__mock/links").json()) == 20
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=30)[0]
    assert process.returncode == 0
    assert "workers      2 processes" in output
    assert output.count("Application shutdown complete") == 2


def test_a_worker_that_dies_is_started_again(database):
    with serve_process("--database-url", database, "--workers", "2") as (a, process):
        workers = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
        assert len(workers) == 2
        os.kill(int(workers[0]), signal.SIGKILL)
        wait_for(
            lambda: (
                len(set(Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()) - {workers[0]})
                == 2
            ),
            what="the worker started again",
        )
        for _ in range(10):
            with httpx.Client() as http:
                assert http.get(f"{a}/__mock/health").status_code == 200
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=30)[0]
    assert process.returncode == 0 and "starting it again" in output


def test_workers_without_a_database_are_refused(tmp_path):
    for extra in ([], ["--state-file", str(tmp_path / "s.sqlite")]):
        result = subprocess.run(
            [sys.executable, "-m", "klavi_mock", "serve", "--port", str(free_port()), "--workers", "2", *extra],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 2 and result.stderr.count("\n") == 1
        assert "--workers 2 needs --database-url" in result.stderr


def test_health_says_postgres(database):
    with serve_process("--database-url", database) as (a, _):
        assert httpx.get(f"{a}/__mock/health").json()["storage"] == "postgres"


def test_the_default_install_never_imports_the_driver():
    """psycopg is loaded only for a database URL; without it, --database-url says what to install."""
    check = (
        "import sys; from klavi_mock.app import create_app; import klavi_mock.cli; create_app(); "
        "print('psycopg' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "False", result.stderr
    without = (
        "import sys; sys.modules['psycopg'] = None; from klavi_mock.cli import main; "
        f"raise SystemExit(main(['serve', '--port', '{free_port()}', '--database-url', 'postgresql://m@db/k']))"
    )
    result = subprocess.run([sys.executable, "-c", without], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "pip install 'klavi-mock[postgres]'" in result.stderr
