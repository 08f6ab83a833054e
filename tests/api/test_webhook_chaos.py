"""Webhook chaos per tenant: each mode on its own, seen at a real receiver and in the log;
the seed makes it repeatable; reset, the config file and a state file keep or clear it."""

from __future__ import annotations

import time

import pytest

from klavi_mock.config import Settings
from klavi_mock.testing import delivery_log, wait_for
from klavi_mock.webhooks.signing import verify_signature
from tests.conftest import API, VALID_CPF, Klavi, authorise, bearer
from tests.worlds import in_process, tenant, world_settings

SECRET = "sandbox-secret-key"


def make_settings(**fields) -> Settings:
    return world_settings(tenants=[tenant("sandbox-app", secret_key=SECRET, **fields)])


@pytest.fixture
def mock(receiver):
    with in_process(make_settings(), follow_redirects=False) as http:
        assert (
            http.put(
                "/__mock/tenants/sandbox-app/webhooks",
                json={"eventsUrl": receiver.url("/events"), "productsCallbackURL": receiver.url("/reports")},
            ).status_code
            == 200
        )
        yield http


def chaos(http, **modes) -> dict:
    response = http.put("/__mock/tenants/sandbox-app/chaos", json=modes)
    assert response.status_code == 200, response.text
    return response.json()


def fire(http, count: int = 1, consent_id: str | None = None) -> None:
    for n in range(count):
        body = {"eventName": "consent_authorised", "externalInfo": {"n": n}}
        body.update({"consentId": consent_id} if consent_id else {"payload": {"n": n}})
        assert http.post("/__mock/webhooks/fire", json=body).status_code == 200


def settled(http) -> None:
    wait_for(lambda: not delivery_log(http, status="pending"), 20, "every delivery")


def test_duplicate_sends_an_event_twice_with_the_same_event_id(mock, receiver):
    chaos(mock, duplicate=1)
    fire(mock)
    settled(mock)
    first, second = receiver.events()
    assert first == second and first["eventId"]
    copy = next(d for d in delivery_log(mock) if "duplicate" in d["chaos"])
    assert copy["chaos"]["duplicate"] in {d["deliveryId"] for d in delivery_log(mock)}


def test_report_twice_sends_a_report_twice(mock, receiver):
    klavi = Klavi(mock)
    authorise(klavi, personalTaxId=VALID_CPF)
    chaos(mock, reportTwice=1)
    response = mock.post(
        f"{API}/personal/user-data",
        headers=bearer(klavi.access_token()),
        json={"taxId": VALID_CPF, "products": ["pf_checking_account"]},
    )
    assert response.status_code == 200
    settled(mock)
    reports = [r.json() for r in receiver.at("/reports")]
    assert len(reports) == 2 and reports[0] == reports[1]
    assert len([e for e in receiver.events() if e["eventName"] == "product_generated_success"]) == 1


def test_out_of_order_lets_later_events_about_the_consent_overtake(mock, receiver):
    klavi = Klavi(mock)
    consent = authorise(klavi, personalTaxId=VALID_CPF)
    settled(mock)
    receiver.received.clear()
    chaos(mock, outOfOrder=1, outOfOrderSeconds=0.5)
    fire(mock, 1, consent)
    chaos(mock)  # the next ones behave
    mock.post("/__mock/webhooks/fire", json={"eventName": "consent_revoked", "consentId": consent})
    settled(mock)
    assert [e["eventName"] for e in receiver.events()] == ["consent_revoked", "consent_authorised"]


def test_delay_holds_the_first_attempt(mock, receiver):
    chaos(mock, delay=1, delaySeconds=0.6)
    started = time.monotonic()
    fire(mock)
    [delivery] = delivery_log(mock)
    assert delivery["chaos"] == {"delay": 0.6}
    settled(mock)
    assert time.monotonic() - started >= 0.55


def test_batch_puts_several_events_in_one_array(mock, receiver):
    chaos(mock, batch=1, batchSeconds=0.5, batchSize=3)
    fire(mock, 4)
    settled(mock)
    bodies = [r.json() for r in receiver.at("/events")]
    assert [[e["externalInfo"]["n"] for e in body] for body in bodies] == [[0, 1, 2], [3]]
    assert sorted(d["chaos"]["batch"] for d in delivery_log(mock)) == [1, 3]


def test_bad_and_missing_signatures_and_a_stale_timestamp(mock, receiver):
    chaos(mock, badSignature=1)
    fire(mock)
    settled(mock)
    chaos(mock, missingSignature=1)
    fire(mock)
    settled(mock)
    chaos(mock, staleTimestamp=1)
    fire(mock)
    settled(mock)
    bad, missing, stale = receiver.at("/events")
    assert not verify_signature(bad.body, bad.headers["X-Klavi-Signature"], SECRET)
    assert "X-Klavi-Signature" not in missing.headers
    assert verify_signature(stale.body, stale.headers["X-Klavi-Signature"], SECRET)
    assert time.time() - int(stale.headers["X-Klavi-Timestamp"]) > 3500
    assert abs(time.time() - int(bad.headers["X-Klavi-Timestamp"])) < 300


def test_a_seed_makes_the_chaos_repeatable(receiver):
    def run() -> list[dict]:
        with in_process(make_settings()) as http:
            http.put("/__mock/tenants/sandbox-app/webhooks", json={"eventsUrl": receiver.url("/events")})
            chaos(http, duplicate=0.5, badSignature=0.5, seed=42)
            fire(http, 20)
            return [d["chaos"] for d in delivery_log(http) if "duplicate" not in d["chaos"]]

    first, second = run(), run()
    assert first == second
    assert 0 < sum("badSignature" in c for c in first) < 20  # some struck, some did not


def test_reset_clears_it_and_get_shows_it(mock, receiver):
    shown = chaos(mock, duplicate=0.25, seed=3)
    assert shown["duplicate"] == 0.25 and shown["seed"] == 3 and shown["badSignature"] == 0
    assert mock.get("/__mock/tenants/sandbox-app/chaos").json() == shown
    assert mock.post("/__mock/reset", json={}).status_code == 200
    assert mock.get("/__mock/tenants/sandbox-app/chaos").json()["duplicate"] == 0  # none configured
    assert mock.delete("/__mock/tenants/sandbox-app/chaos").status_code == 200


@pytest.mark.parametrize(
    "body, field", [({"duplicate": 2}, "duplicate"), ({"bogus": 1}, "bogus"), ({"batchSize": 1}, "batchSize")]
)
def test_bad_chaos_is_refused_naming_the_field(mock, body, field):
    response = mock.put("/__mock/tenants/sandbox-app/chaos", json=body)
    assert response.status_code == 400 and field in response.json()["message"]
    assert mock.put("/__mock/tenants/nobody/chaos", json={}).status_code == 404


def test_the_config_file_sets_it_and_a_state_file_keeps_it(receiver, tmp_path):
    state = str(tmp_path / "state.sqlite")
    with in_process(Settings(**{**vars(make_settings(webhook_chaos={"duplicate": 1})), "state_file": state})) as http:
        assert http.get("/__mock/tenants/sandbox-app/chaos").json()["duplicate"] == 1
        chaos(http, badSignature=1)
    with in_process(Settings(**{**vars(make_settings()), "state_file": state})) as http:
        kept = http.get("/__mock/tenants/sandbox-app/chaos").json()
        assert kept["badSignature"] == 1 and kept["duplicate"] == 0


def test_a_config_file_with_bad_chaos_is_refused_naming_the_field():
    from klavi_mock.config import ConfigError, parse_config

    tenant = {"appId": "a", "accessKey": "k", "secretKey": "s"}
    assert parse_config({"tenants": [{**tenant, "webhookChaos": {"batch": 0.5, "seed": 1}}]}, "f")["tenants"][
        0
    ].webhook_chaos
    with pytest.raises(ConfigError, match="webhookChaos.duplicate"):
        parse_config({"tenants": [{**tenant, "webhookChaos": {"duplicate": 2}}]}, "f")


def test_the_conformance_report_says_how_the_receiver_met_the_chaos(mock, receiver):
    """A receiver that checks nothing: it acknowledges a bad signature (wrong) and a
    duplicate (right); one that refuses a missing signature is right."""
    chaos(mock, badSignature=1, duplicate=1)
    fire(mock)
    settled(mock)
    receiver.scripts["/events"] = [401] * 6  # refuses the next delivery and its retries
    chaos(mock, missingSignature=1)
    fire(mock)
    mock.post("/__mock/clock/advance", json={"seconds": 60})  # its retries fall due at once
    wait_for(lambda: delivery_log(mock, status="failed"), 20, "the refused one to fail")
    [tenant] = mock.get("/__mock/conformance", params={"appId": "sandbox-app"}).json()["tenants"]
    report = tenant["webhookChaos"]
    assert report["badSignature"] == {
        "sent": 2,
        "acknowledged": 2,
        "refused": 0,
        "expected": "refuse",
        "verdict": "wrong",
    }
    assert report["duplicate"]["verdict"] == "ok" and report["duplicate"]["acknowledged"] == 1
    assert report["missingSignature"] == {
        "sent": 1,
        "acknowledged": 0,
        "refused": 1,
        "expected": "refuse",
        "verdict": "ok",
    }
    from klavi_mock.qa.conformance import render_text

    assert "✗ badSignature" in render_text({"tenants": [tenant]})


def test_reset_brings_back_the_configured_chaos(receiver):
    with in_process(make_settings(webhook_chaos={"duplicate": 1, "seed": 5})) as http:
        chaos(http, badSignature=1)
        assert http.post("/__mock/reset", json={}).status_code == 200
        now = http.get("/__mock/tenants/sandbox-app/chaos").json()
        assert now["duplicate"] == 1 and now["badSignature"] == 0
