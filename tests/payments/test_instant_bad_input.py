"""Bad input to POST /instant/payments: 400 in Klavi's shape naming the field, never a 500,
and nothing created."""

from __future__ import annotations

import pytest

from klavi_mock.domain.pix import crc16, make_br_code
from tests.payments.instant import CREDITOR, Payer, body
from tests.worlds import in_process, world_settings

GOOD_CODE = make_br_code("44471172000119", "Klavi", "Sao Paulo", "1333.00")
BAD_CRC = GOOD_CODE[:-4] + ("0000" if not GOOD_CODE.endswith("0000") else "FFFF")


def creditor(**fields) -> dict:
    return {**CREDITOR, **fields}


CASES = [
    ("cpf", body(payer="7610927767"), "body.customer.identifier"),
    (
        "cnpj",
        body(customer={"identifierType": "CNPJ", "identifier": "4447117200011", "name": "X"}),
        "body.customer.identifier",
    ),
    (
        "holder cnpj",
        body(
            "PIX_MANU",
            creditorAccount=creditor(holder={"identifierType": "CNPJ", "identifier": "444711720001", "name": "K"}),
        ),
        "body.creditorAccount.holder.identifier",
    ),
    ("ispb", body("PIX_MANU", creditorAccount=creditor(ispb="8765432")), "body.creditorAccount.ispb"),
    (
        "account type",
        body("PIX_MANU", creditorAccount=creditor(accountType="CHECKING")),
        "body.creditorAccount.accountType",
    ),
    ("pix key", body("PIX_DICT", proxy="not a key"), "body.proxy"),
    ("phone key without +55", body("PIX_DICT", proxy="5511999999999"), "body.proxy"),
    ("no key for PIX_DICT", body("PIX_DICT", proxy=None), "body.proxy"),
    ("no creditor for PIX_MANU", body("PIX_MANU", creditorAccount=None), "body.creditorAccount"),
    ("br code crc", body("PIX_QRCODE", qrCode=BAD_CRC), "body.qrCode: CRC (field 63)"),
    ("br code structure", body("PIX_QRCODE", qrCode="hello"), "body.qrCode"),
    (
        "br code amount",
        body("PIX_QRCODE", amount="10.00"),
        "body.amount: 10.00 differs from the amount the qrCode fixes",
    ),
    ("amount zero", body(amount="0.00"), "body.amount"),
    ("amount shape", body(amount="1333"), "body.amount"),
    ("currency", body(currency="USD"), "body.currency"),
    ("date shape", body(date="01/07/2025"), "body.date"),
    ("date in the past", body(date="2020-01-01"), "body.date: 2020-01-01 is in the past"),
    ("init type", body(initType="PIX_BOLETO"), "body.initType"),
    (
        "company payer without loggedUserCpf",
        body(customer={"identifierType": "CNPJ", "identifier": "44471172000119", "name": "Klavi"}),
        "body.loggedUserCpf: is required when customer.identifierType is CNPJ",
    ),
    ("redirect url", body(redirectUrl="javascript:alert(1)"), "body.redirectUrl"),
]


@pytest.mark.parametrize(("name", "request_body", "where"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_a_400_naming_the_field(client, name, request_body, where):
    payer = Payer(client)
    response = payer.create(request_body)
    assert response.status_code == 400, response.text
    answer = response.json()
    assert answer["statusCode"] == 400 and answer["error"] == "Bad Request"
    assert where in answer["message"], answer["message"]
    sent = client.get("/__mock/webhooks", params={"name": "payment_status_changed"}).json()
    assert sent["items"] == []  # nothing was created, so nothing announced


def test_wrong_check_digits_are_tolerated_unless_strict_tax_ids():
    request = body(payer="12345678901")  # the concepts page's customer
    with in_process(world_settings()) as http:
        assert Payer(http).create(request).status_code == 201
    with in_process(world_settings(strict_tax_ids=True)) as http:
        response = Payer(http).create(request)
    assert response.status_code == 400
    assert response.json()["message"].startswith("body.customer.identifier: check digits invalid")


def test_a_qr_code_of_another_scheme_or_a_pix_cobranca_is_a_business_error(client):
    payer = Payer(client)
    other = "000201" + "27300012BR.COM.OUTRO011001234567895204000053039865802BR5901X6001Y6304"
    not_pix = payer.create(body("PIX_QRCODE", qrCode=other + crc16(other)))
    assert not_pix.status_code == 416
    assert not_pix.json()["statusCode"] == 4101 and not_pix.json()["error"] == "QRCode not related Pix"
    charge = (
        "00020101021226550014BR.GOV.BCB.PIX2533pix.example.com/qr/v2/cobv/abc123"
        "5204000053039865802BR5905Klavi6002SP62070503***6304"
    )
    cobranca = payer.create(body("PIX_QRCODE", qrCode=charge + crc16(charge)))
    assert cobranca.status_code == 416 and cobranca.json()["statusCode"] == 4102
