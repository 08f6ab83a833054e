"""The klavi_mock fixture's payments helpers, as a partner's test suite uses them (run by
pytest's own pytester): a payments token, the payer approving or refusing at the bank without
a browser, waiting for a payment event; a payments request off the contract fails the test."""

pytest_plugins = ["pytester"]

PARTNER_TESTS = """
from datetime import datetime, timedelta, timezone

import httpx
import pytest

PAYMENT = {
    "institutionId": "c8f0bf49-4744-4933-8960-7add6e590841",
    "customer": {"identifierType": "CPF", "identifier": "76109277673", "name": "Klavi Test"},
    "initType": "PIX_DICT", "proxy": "44471172000119", "amount": "1333.00", "currency": "BRL",
    "redirectUrl": "https://partner.example.com/pix/return",
}


def pay(mock, request_id, **fields):
    return httpx.post(f"{mock.payments_url}/customer/v1/instant/payments",
                      json={**PAYMENT, "clientRequestId": request_id, **fields},
                      headers={"Authorization": f"Bearer {mock.payment_token()}"})


def test_an_approved_payment_settles_and_its_events_arrive(klavi_mock):
    payment = pay(klavi_mock, "order-1").json()
    back = klavi_mock.approve_payment(payment["redirectConsentURL"])
    assert back.startswith("https://partner.example.com/pix/return?") and "status=PAYMENT_PENDING" in back
    klavi_mock.advance(10)
    event = klavi_mock.wait_for_payment_event("payment_status_changed", payment["id"], status="PAYMENT_COMPLETED")
    assert event["eventType"] == "payment" and event["payload"]["clientRequestId"] == "order-1"
    statuses = [e["payload"]["status"] for e in klavi_mock.payment_events(resource_id=payment["id"])]
    assert statuses[-1] == "PAYMENT_COMPLETED" and "CONSENT_AWAITING_AUTHORIZATION" in statuses
    assert klavi_mock.events() == []  # payment events go to the paymentsUrl, not the data API's eventsUrl


def test_a_refused_payment(klavi_mock):
    payment = pay(klavi_mock, "order-2").json()
    back = klavi_mock.refuse_payment(payment["redirectConsentURL"])
    assert "status=CONSENT_REJECTED" in back
    klavi_mock.wait_for_payment_event("payment_status_changed", payment["id"], status="CONSENT_REJECTED")


def test_an_automatic_pix_consent_approved_at_the_bank(klavi_mock):
    today = datetime.now(timezone(timedelta(hours=-3))).date().isoformat()
    consent = httpx.post(f"{klavi_mock.payments_url}/customer/v1/automatic/consents",
        headers={"Authorization": f"Bearer {klavi_mock.payment_token()}"}, json={
        "clientRequestId": "consent-1", "institutionId": "c8f0bf49-4744-4933-8960-7add6e590841",
        "customer": {"identifierType": "CPF", "identifier": "76109277673", "name": "Joao Silva"},
        "redirectUrl": "https://partner.example.com/pix/return",
        "creditorAccount": {"ispb": "12345678", "issuer": "0001", "number": "324223", "accountType": "CACC",
            "holder": {"identifierType": "CNPJ", "identifier": "11222333000181", "name": "Loja Exemplo"}},
        "paymentMethodConfig": {"contractId": "EX1", "minimumVariableAmount": "80.01",
            "maximumVariableAmount": "100.01", "currency": "BRL", "interval": "WEEKLY",
            "referenceStartDate": today, "isRetryAccepted": True,
            "contractDebtor": {"identifierType": "CPF", "identifier": "76109277673", "name": "Joao Silva"}}}).json()
    back = klavi_mock.approve_payment(consent["redirectConsentURL"])
    assert "status=CONSENT_AUTHORIZED" in back
    event = klavi_mock.wait_for_payment_event("automatic_consent_status_changed", consent["id"], status="CONSENT_AUTHORIZED")
    assert event["payload"]["id"] == consent["id"]


def test_a_client_sending_a_bad_amount(klavi_mock):
    pay(klavi_mock, "order-3", amount="1333")


@pytest.mark.anyio
async def test_the_async_helpers(klavi_mock_async):
    token = await klavi_mock_async.payment_token()
    async with httpx.AsyncClient() as http:
        payment = (await http.post(f"{klavi_mock_async.payments_url}/customer/v1/instant/payments",
            json={**PAYMENT, "clientRequestId": "order-4"}, headers={"Authorization": f"Bearer {token}"})).json()
    await klavi_mock_async.refuse_payment(payment["redirectConsentURL"])
    await klavi_mock_async.wait_for_payment_event("payment_status_changed", payment["id"], status="CONSENT_REJECTED")
    assert klavi_mock_async.payment_events("payment_status_changed", payment["id"])


@pytest.fixture
def anyio_backend():
    return "asyncio"
"""


def test_the_fixture_drives_payments_and_fails_a_payments_request_off_the_contract(pytester):
    pytester.makepyfile(test_partner_payments=PARTNER_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    output = result.stdout.str()
    result.assert_outcomes(passed=4, failed=1)
    assert "test_a_client_sending_a_bad_amount" in output and "KlaviContractViolation" in output
    assert "createInstantPayment" in output and "body.amount" in output
