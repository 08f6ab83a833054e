"""The WhiteLabel payment link (payment-links -> paymentURL -> the payer's bank -> the
partner's redirectUrl), its one payment initiation, and instant payments kept across a
restart on a state file (their jobs on the clock too)."""

from __future__ import annotations

from tests.conftest import query_of
from tests.payments.instant import LINKS, RETURN, Payer, body
from tests.worlds import SANDBOX_KEYS, in_process, world_settings


def local(url: str) -> str:
    return url.replace("http://testserver", "")


def a_link(client, **payment) -> dict:
    request = body(**payment)
    request.pop("institutionId")
    response = client.post(LINKS, json={**SANDBOX_KEYS, "payment": request})
    assert response.status_code == 201, response.text
    return response.json()


def test_the_link_journey_picks_the_institution_and_ends_at_the_partner(client):
    link = a_link(client)
    assert (
        link["paymentURL"].startswith("http://testserver/payments/start?v=")
        and link["accessToken"] in link["paymentURL"]
    )
    payer = Payer(client)
    assert payer.status(link["id"]) == "PREPARING"
    start = client.get(local(link["paymentURL"]))
    assert start.status_code == 200 and "Escolha o seu banco" in start.text and "R$ 1.333,00" in start.text
    chosen = client.post(
        "/payments/start", data={"v": link["accessToken"], "institutionId": "341"}, follow_redirects=False
    )
    assert chosen.status_code == 303
    bank = client.get(local(chosen.headers["location"]))
    assert bank.status_code == 200 and "Itaú" in bank.text and "Confirme o pagamento Pix" in bank.text
    answered = client.post(local(chosen.headers["location"]), data={"decision": "approve"}, follow_redirects=False)
    assert answered.status_code == 302 and answered.headers["location"].startswith(RETURN)
    assert query_of(answered.headers["location"])["status"] == "PAYMENT_PENDING"
    payer.advance(3)
    assert payer.get(link["id"])["institutionId"] == "341" and payer.status(link["id"]) == "PAYMENT_COMPLETED"


def test_one_access_token_is_valid_for_one_payment_initiation(client):
    link = a_link(client)
    done = client.get(local(link["paymentURL"]) + "&institutionId=341&decision=deny", follow_redirects=False)
    assert query_of(done.headers["location"])["status"] == "CONSENT_REJECTED"
    again = client.get(local(link["paymentURL"]))
    assert again.status_code == 410 and "Pagamento encerrado" in again.text


def test_a_link_nobody_starts_expires_after_60_minutes_and_wrong_keys_are_refused(client):
    link = a_link(client)
    payer = Payer(client)
    payer.advance(3600)
    found = payer.get(link["id"])
    assert (found["status"], found["statusReason"]["code"]) == ("EXPIRED", "LINK_EXPIRADO")
    wrong = client.post(LINKS, json={**SANDBOX_KEYS, "secretKey": "nope", "payment": body()})
    assert wrong.status_code == 401 and wrong.json()["message"] == "Invalid accessKey or secretKey"
    bad = client.post(LINKS, json={**SANDBOX_KEYS, "payment": body(amount="0.00")})
    assert bad.status_code == 400 and bad.json()["message"].startswith("body.payment.amount")


def test_the_same_link_request_answers_the_same_link(client):
    request = body()
    first = client.post(LINKS, json={**SANDBOX_KEYS, "payment": request})
    again = client.post(LINKS, json={**SANDBOX_KEYS, "payment": request})
    assert (first.status_code, again.status_code) == (201, 200) and first.json() == again.json()
    other = client.post(LINKS, json={**SANDBOX_KEYS, "payment": {**request, "amount": "2.00"}})
    assert other.status_code == 409 and other.json()["message"].startswith("body.payment.clientRequestId:")


def test_payments_and_their_jobs_survive_a_restart_on_a_state_file(tmp_path):
    settings = world_settings(state_file=tmp_path / "state.sqlite")
    with in_process(settings, follow_redirects=False) as http:
        payer = Payer(http)
        waiting = payer.created(body())
        paid = payer.created(body())
        payer.at_bank(local(paid["redirectConsentURL"]), "approve")
    with in_process(settings, follow_redirects=False) as http:
        payer = Payer(http)
        assert payer.status(waiting["id"]) == "CONSENT_AWAITING_AUTHORIZATION"
        again = payer.create(body(amount="1.00", clientRequestId=waiting["clientRequestId"]))
        assert again.status_code == 409  # the idempotency key is remembered
        payer.advance(3)
        assert payer.status(paid["id"]) == "PAYMENT_COMPLETED"  # its settlement went on
        payer.advance(3600)
        assert payer.status(waiting["id"]) == "CONSENT_REJECTED"  # its 60-minute window too
