"""The control API over payments, as QA drives it over HTTP: instant payments and Automatic
Pix consents listed (filtered by tenant and status) with their history, persona and levers;
the levers move them along the documented status machines only (a wrong move: 409 in
Klavi's error shape, nothing changed), each change sending its signed webhook as the API's
GET answers it; POST /__mock/reset forgets them."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from klavi_mock.testing.helpers import wait_for
from klavi_mock.webhooks.signing import verify_signature
from tests.payments.autopix import AutoPix
from tests.payments.instant import LINKS, Payer, body
from tests.postgres import database_for
from tests.worlds import SANDBOX_KEYS, in_process, tenant, world_settings

INSTANT = "/__mock/payments/instant"
AUTOMATIC = "/__mock/payments/automatic/consents"
REFUSING_PAYER = "00000020117"  # persona payer-refuses
ABANDONING_PAYER = "00000020389"  # persona payer-bank-timeout: the bank waits for its app


@pytest.fixture
def payer(client) -> Payer:
    return Payer(client)


@pytest.fixture
def autopix(client) -> AutoPix:
    return AutoPix(client)


def force(client, path: str, **body):
    return client.post(f"{path}/force", json=body)


def forced(client, path: str, **body) -> dict:
    response = force(client, path, **body)
    assert response.status_code == 200, response.text
    return response.json()


def events(client, name: str) -> list[dict]:
    """The payloads of every `name` webhook, oldest first."""
    answer = client.get("/__mock/webhooks", params={"name": name, "limit": 1000}).json()
    return [event["payload"] for d in reversed(answer["items"]) for event in d["body"]]


def refused(response, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()
    assert set(error) >= {"statusCode", "error", "message"} and error["statusCode"] == status
    for word in words:
        assert word in error["message"], error["message"]


# -- instant payments -------------------------------------------------------------------------


def test_instant_payments_are_listed_newest_first_and_filtered(client, payer):
    first = payer.created(body("PIX_MANU"))
    second = payer.created(body("PIX_DICT"))
    forced(client, f"{INSTANT}/{first['id']}", action="refuse")
    listed = client.get(INSTANT).json()
    assert [p["paymentId"] for p in listed] == [second["id"], first["id"]]
    state = listed[1]
    assert state["appId"] == "sandbox-app" and state["initType"] == "PIX_MANU" and state["amount"] == "1333.00"
    assert state["creditor"]["name"] == "Klavi" and state["payer"]["identifier"] == "76109277673"
    assert state["payment"]["id"] == first["id"] and state["payment"]["status"] == "CONSENT_REJECTED"
    assert [p["paymentId"] for p in client.get(INSTANT, params={"status": "CONSENT_REJECTED"}).json()] == [first["id"]]
    assert client.get(INSTANT, params={"appId": "nobody"}).json() == []
    refused(client.get(INSTANT, params={"status": "PAID"}), 400, "status")


def test_approve_then_complete_walks_the_documented_steps_each_with_its_webhook(client, payer):
    created = payer.created(body())
    state = client.get(f"{INSTANT}/{created['id']}").json()
    assert state["status"] == "CONSENT_AWAITING_AUTHORIZATION" and state["levers"] == [
        "approve",
        "refuse",
        "expire",
        "error",
    ]
    approved = forced(client, f"{INSTANT}/{created['id']}", action="approve")
    assert approved["status"] == "PAYMENT_PENDING" and "complete" in approved["levers"]
    assert approved["payment"]["endToEndId"].startswith("E")
    done = forced(client, f"{INSTANT}/{created['id']}", action="complete")
    assert done["status"] == "PAYMENT_COMPLETED" and done["levers"] == []
    assert [h["status"] for h in done["history"]] == [
        "CONSENT_AWAITING_AUTHORIZATION",
        "CONSENT_AUTHORIZED",
        "PAYMENT_PENDING",
        "PAYMENT_SETTLEMENT_PROCESSING",
        "PAYMENT_SETTLEMENT_DEBTOR_ACCOUNT",
        "PAYMENT_COMPLETED",
    ]
    sent = [p["status"] for p in events(client, "payment_status_changed") if p["id"] == created["id"]]
    assert sent == [h["status"] for h in done["history"]]
    assert payer.get(created["id"]) == events(client, "payment_status_changed")[-1]  # the payload is the GET
    payer.advance(60)  # the settlement jobs left on the clock find it completed
    assert payer.status(created["id"]) == "PAYMENT_COMPLETED"


def test_a_lever_the_status_does_not_take_is_409_and_changes_nothing(client, payer):
    created = payer.created(body())
    path = f"{INSTANT}/{created['id']}"
    refused(force(client, path, action="complete"), 409, "CONSENT_AWAITING_AUTHORIZATION", "complete")
    refused(force(client, path, action="cancel"), 409, "PAYMENT_SCHEDULED")
    forced(client, path, action="refuse")
    refused(force(client, path, action="approve"), 409, "CONSENT_REJECTED")
    assert payer.status(created["id"]) == "CONSENT_REJECTED"
    assert len([p for p in events(client, "payment_status_changed") if p["id"] == created["id"]]) == 2


def test_bad_lever_bodies_are_400_naming_the_field(client, payer):
    created = payer.created(body())
    path = f"{INSTANT}/{created['id']}"
    refused(force(client, path, action="pay"), 400, "action")
    refused(force(client, path), 400, "action")
    refused(force(client, path, action="refuse", reason="SALDO_INSUFICIENTE"), 400, "body.reason")
    refused(force(client, path, action="reject", reason="NOPE"), 400, "reason")
    refused(force(client, f"{INSTANT}/no-such-payment", action="refuse"), 404, "no-such-payment")
    refused(client.get(f"{INSTANT}/no-such-payment"), 404)
    assert payer.status(created["id"]) == "CONSENT_AWAITING_AUTHORIZATION"


def test_reject_with_a_reason_rehearses_a_failed_payment(client, payer):
    created = payer.created(body())
    forced(client, f"{INSTANT}/{created['id']}", action="approve")
    state = forced(client, f"{INSTANT}/{created['id']}", action="reject", reason="FALHA_INFRAESTRUTURA")
    assert state["status"] == "PAYMENT_REJECTED" and state["statusReason"]["code"] == "FALHA_INFRAESTRUTURA"
    assert payer.get(created["id"])["statusReason"]["code"] == "FALHA_INFRAESTRUTURA"
    payer.advance(60)
    assert payer.status(created["id"]) == "PAYMENT_REJECTED"


def test_expire_closes_the_open_window_now(client, payer):
    awaiting = payer.created(body())
    state = forced(client, f"{INSTANT}/{awaiting['id']}", action="expire")
    assert state["status"] == "CONSENT_REJECTED" and state["statusReason"]["code"] == "TEMPO_EXPIRADO_AUTORIZACAO"


def test_a_scheduled_payment_is_cancelled_or_completed_early(client, payer):
    later = in_two_days(client).isoformat()
    scheduled = payer.created(body(date=later))
    state = forced(client, f"{INSTANT}/{scheduled['id']}", action="approve")
    assert state["status"] == "PAYMENT_SCHEDULED" and state["levers"] == ["complete", "cancel"]
    cancelled = forced(client, f"{INSTANT}/{scheduled['id']}", action="cancel")
    assert cancelled["status"] == "CANCELED" and cancelled["statusReason"]["code"] == "CANCELADO_AGENDAMENTO"
    other = payer.created(body(date=later))
    forced(client, f"{INSTANT}/{other['id']}", action="approve")
    assert forced(client, f"{INSTANT}/{other['id']}", action="complete")["status"] == "PAYMENT_COMPLETED"
    payer.advance(3 * 86_400)  # its date comes: nothing more happens to either
    assert payer.status(scheduled["id"]) == "CANCELED" and payer.status(other["id"]) == "PAYMENT_COMPLETED"


def in_two_days(client) -> date:
    """The Brasília date two days ahead on the mock clock."""
    now = datetime.fromisoformat(client.get("/__mock/clock").json()["now"].replace("Z", "+00:00"))
    return now.astimezone(timezone(timedelta(hours=-3))).date() + timedelta(days=2)


def test_approve_leaves_the_persona_s_bank_to_decide(client, payer):
    refusing = payer.created(body(payer=REFUSING_PAYER))
    state = forced(client, f"{INSTANT}/{refusing['id']}", action="approve")
    assert state["persona"] == "payer-refuses" and state["status"] == "CONSENT_REJECTED"
    waiting = payer.created(body(payer=ABANDONING_PAYER))
    state = forced(client, f"{INSTANT}/{waiting['id']}", action="approve")
    assert state["status"] == "CONSENT_AWAITING_AUTHORIZATION"  # the app's confirmation never comes
    assert forced(client, f"{INSTANT}/{waiting['id']}", action="expire")["status"] == "CONSENT_REJECTED"


def test_a_whitelabel_link_not_started_is_expired_by_the_lever(client, payer):
    response = client.post(LINKS, json={**SANDBOX_KEYS, "payment": body()})
    assert response.status_code == 201, response.text
    payment_id = response.json()["id"]
    state = client.get(f"{INSTANT}/{payment_id}").json()
    assert state["whiteLabel"] is True and state["status"] == "PREPARING"
    assert state["levers"] == ["approve", "expire", "error"]
    expired = forced(client, f"{INSTANT}/{payment_id}", action="expire")
    assert expired["status"] == "EXPIRED" and expired["statusReason"]["code"] == "LINK_EXPIRADO"


def test_a_whitelabel_link_is_started_and_approved_by_the_lever(client):
    response = client.post(LINKS, json={**SANDBOX_KEYS, "payment": body()})
    assert response.status_code == 201, response.text
    link = response.json()
    state = forced(client, f"{INSTANT}/{link['id']}", action="approve")
    assert state["status"] == "PAYMENT_PENDING"
    assert [h["status"] for h in state["history"]] == [
        "PREPARING",
        "CONSENT_AWAITING_AUTHORIZATION",
        "CONSENT_AUTHORIZED",
        "PAYMENT_PENDING",
    ]
    assert (
        client.get(link["paymentURL"].replace("http://testserver", "")).status_code == 410
    )  # its one initiation is used


# -- Automatic Pix ----------------------------------------------------------------------------


def test_automatic_consents_are_listed_with_their_payments_and_time_lines(client, autopix):
    consent = autopix.authorised()
    charge = autopix.scheduled(consent["id"])
    other = autopix.create()
    listed = client.get(AUTOMATIC).json()
    assert [c["consentId"] for c in listed] == [other["id"], consent["id"]]
    state = listed[1]
    assert state["status"] == "CONSENT_AUTHORIZED" and state["levers"] == ["revoke"]
    assert state["creditor"]["name"] == "Loja Exemplo" and state["payer"]["identifier"] == "76109277673"
    assert state["recurrence"]["interval"] == "MONTHLY" and state["recurrence"]["maximumVariableAmount"] == "100.01"
    assert [t["status"] for t in state["timeline"]] == [
        "STARTED",
        "CONSENT_AWAITING_AUTHORIZATION",
        "CONSENT_AUTHORIZED",
    ]
    first, second = state["payments"]
    assert first["firstPayment"] is True and second["paymentId"] == charge["id"]
    assert second["status"] == "PAYMENT_SCHEDULED" and second["levers"] == ["complete", "reject", "cancel", "error"]
    assert [t["status"] for t in second["timeline"]] == ["PAYMENT_SCHEDULED"]
    assert state["consent"] == autopix.consent(consent["id"])
    assert [c["consentId"] for c in client.get(AUTOMATIC, params={"status": "STARTED"}).json()] == [other["id"]]
    assert client.get(f"{AUTOMATIC}/{consent['id']}").json()["consentId"] == consent["id"]
    refused(client.get(f"{AUTOMATIC}/nope"), 404)


def test_consent_levers_approve_refuse_and_revoke_at_the_bank(client, autopix):
    waiting = autopix.create()
    approved = forced(client, f"{AUTOMATIC}/{waiting['id']}", action="approve")
    assert approved["status"] == "CONSENT_AUTHORIZED" and approved["payments"][0]["firstPayment"] is True
    charge = autopix.scheduled(waiting["id"])
    revoked = forced(client, f"{AUTOMATIC}/{waiting['id']}", action="revoke")
    assert revoked["status"] == "CONSENT_REVOKED" and revoked["statusReason"]["code"] == "REVOGADO_USUARIO"
    assert autopix.payment(waiting["id"], charge["id"])["status"] == "CANCELED"
    sent = [p["status"] for p in events(client, "automatic_consent_status_changed") if p["id"] == waiting["id"]]
    assert sent[-1] == "CONSENT_REVOKED" and autopix.consent(waiting["id"])["status"] == "CONSENT_REVOKED"
    refused(force(client, f"{AUTOMATIC}/{waiting['id']}", action="revoke"), 409, "CONSENT_REVOKED")
    other = autopix.create()
    assert forced(client, f"{AUTOMATIC}/{other['id']}", action="refuse")["status"] == "CONSENT_REJECTED"
    refused(force(client, f"{AUTOMATIC}/{other['id']}", action="revoke", reason="X"), 400, "reason")


def test_automatic_payment_levers(client, autopix):
    consent = autopix.authorised()
    path = f"{AUTOMATIC}/{consent['id']}/payments"
    rejected = autopix.scheduled(consent["id"])
    state = forced(client, f"{path}/{rejected['id']}", action="reject")
    assert state["status"] == "PAYMENT_REJECTED" and state["statusReason"]["code"] == "SALDO_INSUFICIENTE"
    assert [t["status"] for t in state["timeline"]] == [
        "PAYMENT_SCHEDULED",
        "PAYMENT_SETTLEMENT_PROCESSING",
        "PAYMENT_REJECTED",
    ]
    retry = autopix.post(
        f"/consents/{consent['id']}/payments/{rejected['id']}/retry",
        {"clientRequestId": "retry-1", "date": rejected["date"]},
    )
    assert retry.status_code == 201, retry.text  # a rejection for want of funds is retried
    done = forced(client, f"{path}/{retry.json()['id']}", action="complete")
    assert done["status"] == "PAYMENT_COMPLETED" and done["payment"]["endToEndId"].startswith("E")
    assert autopix.payment(consent["id"], retry.json()["id"]) == done["payment"]
    refused(force(client, f"{path}/{retry.json()['id']}", action="cancel"), 409, "PAYMENT_COMPLETED")
    refused(force(client, f"{AUTOMATIC}/other-consent/payments/{retry.json()['id']}", action="cancel"), 404)


# -- reset ------------------------------------------------------------------------------------


def test_reset_forgets_payments_and_automatic_consents(client, payer, autopix):
    payer.created(body())
    autopix.authorised()
    assert client.get(INSTANT).json() and client.get(AUTOMATIC).json()
    assert client.post("/__mock/reset", json={}).status_code == 200
    assert client.get(INSTANT).json() == [] and client.get(AUTOMATIC).json() == []


@pytest.mark.parametrize("backend", ["state-file", "postgres"])
def test_levers_and_reset_on_durable_storage(tmp_path, backend):
    """The levers' changes are kept like the API's (a restart shows them), and a reset
    forgets payments on a state file and on PostgreSQL too."""
    durable = (
        {"state_file": tmp_path / "state.sqlite"}
        if backend == "state-file"
        else {"database_url": database_for(tmp_path)}
    )
    settings = world_settings(**durable)
    with in_process(settings, follow_redirects=False) as http:
        payer, autopix = Payer(http), AutoPix(http)
        paid = payer.created(body())
        forced(http, f"{INSTANT}/{paid['id']}", action="approve")
        consent = autopix.create()
        forced(http, f"{AUTOMATIC}/{consent['id']}", action="approve")
        charge = autopix.scheduled(consent["id"])
        forced(http, f"{AUTOMATIC}/{consent['id']}/payments/{charge['id']}", action="reject")
    with in_process(settings, follow_redirects=False) as http:
        payer, autopix = Payer(http), AutoPix(http)
        assert payer.status(paid["id"]) in ("PAYMENT_PENDING", "PAYMENT_SETTLEMENT_PROCESSING")  # settling again
        assert forced(http, f"{INSTANT}/{paid['id']}", action="complete")["status"] == "PAYMENT_COMPLETED"
        assert autopix.payment(consent["id"], charge["id"])["statusReason"]["code"] == "SALDO_INSUFICIENTE"
        assert forced(http, f"{AUTOMATIC}/{consent['id']}", action="revoke")["status"] == "CONSENT_REVOKED"
        assert http.post("/__mock/reset", json={}).status_code == 200
    with in_process(settings, follow_redirects=False) as http:
        assert http.get(INSTANT).json() == [] and http.get(AUTOMATIC).json() == []


def test_what_a_lever_does_reaches_the_partner_as_signed_webhooks_in_order(receiver):
    settings = world_settings(tenants=[tenant("sandbox-app", payments_url=receiver.url("/payments"))])
    with in_process(settings, follow_redirects=False) as http:
        payer, autopix = Payer(http), AutoPix(http)
        created = payer.created(body())
        forced(http, f"{INSTANT}/{created['id']}", action="approve")
        forced(http, f"{INSTANT}/{created['id']}", action="reject", reason="VALOR_ACIMA_LIMITE")
        consent = autopix.create()
        forced(http, f"{AUTOMATIC}/{consent['id']}", action="refuse")
        final = payer.get(created["id"]), autopix.consent(consent["id"])
        deliveries = wait_for(lambda: len(receiver.at("/payments")) >= 7 and receiver.at("/payments"), what="7 events")
    seen: dict[str, list[str]] = {}
    for delivery in deliveries:
        assert verify_signature(delivery.body, delivery.headers["x-klavi-signature"], "sandbox-secret-key")
        (event,) = delivery.json()
        assert event["eventType"] == "payment"
        seen.setdefault(event["eventName"], []).append(event["payload"]["status"])
    assert seen == {
        "payment_status_changed": [
            "CONSENT_AWAITING_AUTHORIZATION",
            "CONSENT_AUTHORIZED",
            "PAYMENT_PENDING",
            "PAYMENT_REJECTED",
        ],
        "automatic_consent_status_changed": ["STARTED", "CONSENT_AWAITING_AUTHORIZATION", "CONSENT_REJECTED"],
    }
    last = {d.json()[0]["eventName"]: d.json()[0]["payload"] for d in deliveries}
    assert (last["payment_status_changed"], last["automatic_consent_status_changed"]) == final


def test_the_time_line_counts_each_change_once_under_webhook_chaos(client, autopix):
    """Duplicated and batched events (a tenant's webhook chaos) still make one entry per
    status change, in order."""
    chaos = client.put("/__mock/tenants/sandbox-app/chaos", json={"duplicate": 1, "batch": 1, "seed": 7})
    assert chaos.status_code == 200, chaos.text
    consent = autopix.create()
    forced(client, f"{AUTOMATIC}/{consent['id']}", action="approve")
    state = client.get(f"{AUTOMATIC}/{consent['id']}").json()
    assert [t["status"] for t in state["timeline"]] == [
        "STARTED",
        "CONSENT_AWAITING_AUTHORIZATION",
        "CONSENT_AUTHORIZED",
    ]
    [first] = state["payments"]
    statuses = [t["status"] for t in first["timeline"]]  # due today: it may be settling already
    assert statuses[0] == "PAYMENT_PENDING" and len(set(statuses)) == len(statuses)


def test_approve_answers_for_a_payer_already_on_the_bank_page(client, payer):
    created = payer.created(body())
    page = payer.at_bank(created["redirectConsentURL"].replace("http://testserver", ""))
    assert page.status_code == 200  # the payer is looking at Autorizar / Recusar
    assert forced(client, f"{INSTANT}/{created['id']}", action="approve")["status"] == "PAYMENT_PENDING"
    assert client.get(f"{INSTANT}/{created['id']}").json()["payment"].get("redirectConsentURL") is None


def test_a_clock_move_lists_the_payment_changes_it_made(client, payer, autopix):
    paid = payer.created(body())
    forced(client, f"{INSTANT}/{paid['id']}", action="approve")
    waiting = autopix.create()
    moved = client.post("/__mock/clock/advance", json={"seconds": 3600})
    assert moved.status_code == 200, moved.text
    fell = [i for i in moved.json()["fellDue"] if i["kind"] != "webhook"]
    assert [(i["kind"], i["paymentId"], i["what"]) for i in fell if i["kind"] == "payment"] == [
        ("payment", paid["id"], "instant payment PAYMENT_PENDING → PAYMENT_SETTLEMENT_PROCESSING"),
        ("payment", paid["id"], "instant payment PAYMENT_SETTLEMENT_PROCESSING → PAYMENT_SETTLEMENT_DEBTOR_ACCOUNT"),
        ("payment", paid["id"], "instant payment PAYMENT_SETTLEMENT_DEBTOR_ACCOUNT → PAYMENT_COMPLETED"),
    ]
    [expired] = [i for i in fell if i["kind"] == "automatic_consent"]
    assert expired["consentId"] == waiting["id"] and expired["paymentId"] is None
    assert expired["what"] == "Automatic Pix consent → EXPIRED (TEMPO_EXPIRADO_AUTORIZACAO)"
    assert [i["dueAt"] for i in fell] == sorted(i["dueAt"] for i in fell)
    again = client.post("/__mock/clock/advance", json={"seconds": 60}).json()["fellDue"]
    assert [i for i in again if i["kind"] != "webhook"] == []  # nothing more fell due
