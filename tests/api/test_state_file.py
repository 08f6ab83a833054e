"""`--state-file`: the state in SQLite, the same in every way but that it survives a restart.

In-process: an app on a state file is used, shut down, and a new app opened on the same
file must answer exactly as the first would have. (tests/processes/test_restarts.py does the same
with real processes, kill -9 and SIGTERM included.)
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from klavi_mock.app import create_app
from klavi_mock.config import ConfigError, Settings, Tenant
from klavi_mock.testing import delivery_log, wait_for
from tests.conftest import API, PARTNER_RETURN, VALID_CPF, Klavi, bearer, query_of
from tests.pages.test_bank_flow import form_action
from tests.worlds import TEST_HOSTS, in_process


@pytest.fixture
def state_file(tmp_path):
    return str(tmp_path / "state.sqlite")


def settings_on(state_file: str, **extra) -> Settings:
    """No tokenSecret configured: the state file must keep the one tokens were signed with."""
    tenants = [Tenant(app_id="sandbox-app", access_key="sandbox-access-key", secret_key="sandbox-secret-key")]
    return Settings(strict=True, state_file=state_file, tenants=tenants, allowed_hosts=TEST_HOSTS, **extra)


def serve(state_file: str, **extra) -> TestClient:
    return in_process(settings_on(state_file, **extra), follow_redirects=False)


def approve(klavi: Klavi, consent: dict) -> str:
    response, left_for = klavi.follow(consent["consentRedirectURL"] + "&decision=approve")
    assert left_for and left_for.startswith(PARTNER_RETURN), response.text
    return left_for


def test_links_consents_tokens_and_reports_survive_a_restart(state_file, receiver):
    with serve(state_file) as first:
        klavi = Klavi(first)
        access = klavi.access_token()
        first.put(
            "/__mock/tenants/sandbox-app/webhooks",
            json={"eventsUrl": receiver.url("/events"), "productsCallbackURL": receiver.url("/reports")},
        )
        link = klavi.create_link(access, externalInfo={"trace": "t-1"})
        authorised = klavi.create_consent(link["linkToken"], externalTrackId="kept-1")
        approve(klavi, authorised)
        pending = klavi.create_consent(link["linkToken"], externalTrackId="kept-2", personalTaxId="11144477735")
        report = first.post(
            f"{API}/personal/institution-data",
            headers=bearer(access),
            json={"taxId": VALID_CPF, "products": ["pf_checking_account"], "institutionCode": "341"},
        )
        assert report.status_code == 200
        wait_for(lambda: receiver.at("/reports"), what="the report")
        before = {path: first.get(path).json() for path in ("/__mock/consents", "/__mock/links", "/__mock/tenants")}
        log_before = delivery_log(first)

    with serve(state_file) as second:
        for path, seen in before.items():
            assert second.get(path).json() == seen, path
        assert [d["deliveryId"] for d in delivery_log(second)] == [d["deliveryId"] for d in log_before]
        # The tokens of the first process still work: same tenant, same link.
        got = second.get(f"{API}/consents/{authorised['consentId']}", headers=bearer(access))
        assert got.status_code == 200 and got.json()["status"] == "AUTHORISED"
        assert second.get(f"{API}/links/institutions", headers=bearer(link["linkToken"])).status_code == 200
        listed = second.get(f"{API}/consents", params={"linkId": link["linkId"]}, headers=bearer(access)).json()
        assert {c["consentId"] for c in listed} == {authorised["consentId"], pending["consentId"]}
        # The unique externalTrackId is still taken.
        assert Klavi(second).consent_request(link["linkToken"], externalTrackId="kept-1").status_code == 409
        # The report request is still known: its deliveries carry its requestId.
        request_id = report.json()["requestId"]
        assert delivery_log(second, requestId=request_id)
        # A new delivery is numbered after the stored ones.
        fired = second.post(
            "/__mock/webhooks/fire", json={"eventName": "consent_revoked", "consentId": authorised["consentId"]}
        )
        assert fired.json()["deliveryId"] not in {d["deliveryId"] for d in log_before}


def test_the_bank_journey_continues_after_a_restart(state_file):
    with serve(state_file) as first:
        consent = Klavi(first).create_consent()
        page = first.get(consent["consentRedirectURL"])  # the bank page: the ticket is used now
        assert page.status_code == 200
    with serve(state_file) as second:
        klavi = Klavi(second)
        # The redirect URL stays single-use, and the open bank page goes on where it was.
        assert second.get(consent["consentRedirectURL"]).status_code != 200
        lgpd, _ = klavi.follow(form_action(page.text), "POST", {"decision": "approve", "permissions": ["ACCOUNTS_ALL"]})
        assert lgpd.status_code == 200, lgpd.text
        _, left_for = klavi.follow(form_action(lgpd.text), "POST", {"decision": "accept"})
        assert query_of(left_for)["consent_id"] == consent["consentId"]
        assert klavi.consent(consent["consentId"])["status"] == "AUTHORISED"


def test_the_clock_and_what_is_due_on_it_survive(state_file):
    with serve(state_file) as first:
        klavi = Klavi(first)
        link = klavi.create_link()
        waiting = klavi.create_consent(link["linkToken"])
        soon = klavi.create_consent(link["linkToken"], personalTaxId="00000000515")  # expires-soon: EXPIRED 5 min after
        approve(klavi, soon)
        revoked = klavi.create_consent(link["linkToken"], personalTaxId="00000000604")  # revoked 2 min after
        approve(klavi, revoked)
        klavi.advance(30)
        offset = first.get("/__mock/clock").json()["offsetSeconds"]
    with serve(state_file) as second:
        klavi = Klavi(second)
        assert second.get("/__mock/clock").json()["offsetSeconds"] == offset
        assert klavi.consent(soon["consentId"])["status"] == "AUTHORISED"
        klavi.advance(120)
        assert klavi.consent(revoked["consentId"])["status"] == "REVOKED"
        assert klavi.consent(soon["consentId"])["status"] == "AUTHORISED"
        klavi.advance(200)
        assert klavi.consent(soon["consentId"])["status"] == "EXPIRED"
        assert klavi.consent(waiting["consentId"])["status"] == "AWAITING_AUTHORISATION"
        klavi.advance(3600)
        assert klavi.consent(waiting["consentId"])["status"] == "REJECTED"


def test_forced_states_personas_tasks_and_tenant_webhooks_survive(state_file):
    with serve(state_file) as first:
        klavi = Klavi(first)
        link = klavi.create_link()
        forced = klavi.create_consent(link["linkToken"])
        assert first.post(f"/__mock/consents/{forced['consentId']}/force", json={"status": "ERROR"}).status_code == 200
        scripted = klavi.create_consent(link["linkToken"])
        assert (
            first.post(f"/__mock/consents/{scripted['consentId']}/persona", json={"persona": "bank-denies"}).status_code
            == 200
        )
        task = first.post(
            "/__mock/tasks", json={"linkId": link["linkId"], "institutionCode": "389", "status": "needMFA"}
        )
        assert task.status_code == 200, task.text
        hooks = {"eventsUrl": "http://127.0.0.1:9/events", "productsCallbackURL": {"all": "http://127.0.0.1:9/reports"}}
        first.put("/__mock/tenants/sandbox-app/webhooks", json=hooks)
    with serve(state_file) as second:
        assert second.get(f"/__mock/consents/{forced['consentId']}").json()["status"] == "ERROR"
        assert second.get(f"/__mock/consents/{scripted['consentId']}").json()["persona"] == "bank-denies"
        _, left_for = Klavi(second).follow(scripted["consentRedirectURL"])
        assert query_of(left_for)["error"] == "access_denied"
        status = second.get(f"{API}/tasks/{task.json()['taskId']}/status", headers=bearer(link["linkToken"]))
        assert status.status_code == 200 and status.json()["status"] == "needMFA"
        tenant = second.get("/__mock/tenants").json()[0]
        assert (tenant["eventsUrl"], tenant["productsCallbackURL"]) == (
            hooks["eventsUrl"],
            hooks["productsCallbackURL"],
        )


def test_a_reset_is_kept_too(state_file):
    with serve(state_file) as first:
        Klavi(first).create_consent()
        assert first.post("/__mock/reset").status_code == 200
        link = Klavi(first).create_link()
    with serve(state_file) as second:
        assert second.get("/__mock/consents").json() == []
        assert [x["linkId"] for x in second.get("/__mock/links").json()] == [link["linkId"]]


def test_a_rejected_request_writes_nothing(state_file):
    with serve(state_file) as first:
        klavi = Klavi(first)
        link = klavi.create_link()
        before = _rows(state_file)
        assert klavi.consent_request(link["linkToken"], institutionCode="999").status_code == 416
        assert klavi.consent_request(link["linkToken"], personalTaxId="123").status_code == 400
        assert first.post(f"{API}/links", json={}, headers=bearer("forged")).status_code == 401
        assert _rows(state_file) == before


def test_a_configured_token_secret_wins_over_the_stored_one(state_file):
    with serve(state_file) as first:
        access = Klavi(first).access_token()
    with serve(state_file, token_secret="another-secret-of-at-least-32-chars") as second:
        assert second.get(f"{API}/refresh", headers=bearer(access)).status_code == 401
        assert second.get(f"{API}/refresh", headers=bearer(Klavi(second).access_token())).status_code == 200


def test_one_process_per_state_file(state_file):
    with serve(state_file), pytest.raises(ConfigError, match="in use by another klavi-mock"):
        create_app(settings_on(state_file))


def test_a_file_that_is_not_a_state_file_is_refused(tmp_path):
    junk = tmp_path / "notes.txt"
    junk.write_text("not a database, just text that is long enough to have a header " * 10)
    with pytest.raises(ConfigError, match="is not an SQLite database"):
        create_app(settings_on(str(junk)))
    with pytest.raises(ConfigError, match="cannot be opened"):
        create_app(settings_on(str(tmp_path / "no-such-dir" / "state.sqlite")))


def test_the_state_file_is_plain_json_rows(state_file):
    with serve(state_file) as first:
        consent = Klavi(first).create_consent()
    with sqlite3.connect(state_file) as db:
        (data,) = db.execute("SELECT data FROM consents WHERE id = ?", (consent["consentId"],)).fetchone()
    assert '"status": "AWAITING_AUTHORISATION"' in data and '"institution_code": "341"' in data


def _rows(state_file: str) -> dict[str, list]:
    with sqlite3.connect(state_file) as db:
        return {
            table: db.execute(f"SELECT id, data FROM {table} ORDER BY id").fetchall()
            for table in ("links", "consents", "deliveries", "report_requests", "tasks")
        }


def test_a_change_is_on_disk_before_its_answer_arrives(state_file):
    # No lifespan (no `with`): no ticker or dispatcher commits, only the answer's own.
    client = serve(state_file)
    access = client.post(
        f"{API}/auth", json={"accessKey": "sandbox-access-key", "secretKey": "sandbox-secret-key"}
    ).json()["accessToken"]
    link = client.post(f"{API}/links", json={}, headers=bearer(access)).json()
    rows = _rows(state_file)
    assert [row[0] for row in rows["links"]] == [link["linkId"]]
    assert len(rows["deliveries"]) == 1  # its link_created event, in the same transaction


def test_checkpoints_move_the_log_into_the_file_in_the_background(state_file, tmp_path):
    with serve(state_file) as client:
        link = Klavi(client).create_link()

        def in_the_file_itself() -> bool:
            copy = tmp_path / "copy.sqlite"  # the database file alone, without its -wal
            copy.write_bytes(Path(state_file).read_bytes())
            with sqlite3.connect(copy) as db:
                return bool(
                    db.execute("SELECT 1 FROM sqlite_master WHERE name = 'links'").fetchone()
                    and db.execute("SELECT 1 FROM links WHERE id = ?", (link["linkId"],)).fetchone()
                )

        wait_for(in_the_file_itself, timeout=10, what="a checkpoint by the ticker")


def test_a_row_edited_into_nonsense_is_named_at_start_up(state_file):
    with serve(state_file) as client:
        consent = Klavi(client).create_consent()
    with sqlite3.connect(state_file) as db:
        db.execute("UPDATE consents SET data = '{\"id\": 1}' WHERE id = ?", (consent["consentId"],))
    with pytest.raises(ConfigError, match=f"consents row '{consent['consentId']}' cannot be read"):
        create_app(settings_on(state_file))
    # Refusing it let go of the file: fixed, it opens in this same process.
    with sqlite3.connect(state_file) as db:
        db.execute("DELETE FROM consents")
    with serve(state_file) as client:
        assert client.get("/__mock/consents").json() == []
