"""The Pix validators (klavi_mock/domain/pix.py) with the docs' own examples; each refusal
names its field."""

from __future__ import annotations

from decimal import Decimal

import pytest

from klavi_mock.domain import pix
from klavi_mock.errors import BusinessRuleError, InvalidRequest

# The API reference's long example (the Banco Central manual's): a static code with a key,
# a second merchant account (BR.COM.OUTRO), field 62 with a txid and field 80/81 templates.
MANUAL_EXAMPLE = (
    "00020104141234567890123426660014BR.GOV.BCB.PIX014466756C616E6F32303139406578616D706C652E636F6D"
    "27300012BR.COM.OUTRO011001234567895204000053039865406123.455802BR5915NOMEDORECEBEDOR6008BRASILIA"
    "61087007490062530515RP12345678-201950300017BR.GOV.BCB.BRCODE01051.0.080450014BR.GOV.BCB.PIX0123"
    "PADRAO.URL.PIX/0123ABCD81390012BR.COM.OUTRO01190123.ABCD.3456.WXYZ6304EB76"
)
# The concepts page's PIX_QRCODE example (CPF key 76109277673, 1333.00, merchant Klavi);
# the page cuts it off before its CRC, so the CRC here is computed.
CONCEPTS_BODY = (
    "00020126330014BR.GOV.BCB.PIX01117610927767352040000530398654071333.005802BR5905Klavi601444471172000119"
    + "62070503***6304"
)
CONCEPTS_EXAMPLE = CONCEPTS_BODY + pix.crc16(CONCEPTS_BODY)


def refused(call, *args) -> str:
    with pytest.raises(InvalidRequest) as caught:
        call(*args)
    return caught.value.message


def test_the_manual_example_parses_with_its_crc():
    code = pix.parse_br_code("body.qrCode", MANUAL_EXAMPLE)
    assert pix.crc16(MANUAL_EXAMPLE[:-4]) == "EB76"
    assert code.amount == Decimal("123.45")
    assert (code.merchant_name, code.merchant_city, code.txid) == ("NOMEDORECEBEDOR", "BRASILIA", "RP12345678-2019")
    assert not code.dynamic


def test_the_concepts_example_parses():
    code = pix.parse_br_code("body.qrCode", CONCEPTS_EXAMPLE)
    assert (code.key, code.amount, code.merchant_name) == ("76109277673", Decimal("1333.00"), "Klavi")


def test_a_wrong_crc_is_named():
    bad = MANUAL_EXAMPLE[:-4] + "EB77"
    assert refused(pix.parse_br_code, "body.qrCode", bad) == (
        "body.qrCode: CRC (field 63) is EB77, but the code's content gives EB76"
    )


@pytest.mark.parametrize(
    ("code", "problem"),
    [
        ("hello", "must start with 000201"),
        ("0002016304ABCD", "CRC (field 63) is ABCD"),
        (pix.make_br_code("76109277673", "Klavi", "SP").replace("BR.GOV.BCB.PIX", "BR.GOV.BCB.PIY"), "CRC"),
    ],
)
def test_broken_codes_are_refused(code, problem):
    assert problem in refused(pix.parse_br_code, "body.qrCode", code)


def test_a_code_without_a_pix_account_or_with_another_currency():
    body = "000201" + "27300012BR.COM.OUTRO011001234567895204000053039865802BR5901X6001Y6304"
    with pytest.raises(BusinessRuleError) as caught:
        pix.parse_br_code("q", body + pix.crc16(body))
    assert caught.value.code == 4101 and caught.value.message.startswith("q: the QR code is not a Pix QR code")
    usd = pix.make_br_code("76109277673", "Klavi", "SP").replace("5303986", "5303840")
    usd = usd[:-4] + pix.crc16(usd[:-4])
    assert refused(pix.parse_br_code, "q", usd) == 'q: currency (field 53) must be 986 (BRL), not "840"'


def test_a_pix_cobranca_is_business_code_4102():
    body = (
        "00020101021226550014BR.GOV.BCB.PIX2533pix.example.com/qr/v2/cobv/abc123"
        "52040000530398658"
        "02BR5905Klavi6002SP62070503***6304"
    )
    with pytest.raises(BusinessRuleError) as caught:
        pix.parse_br_code("q", body + pix.crc16(body))
    assert caught.value.code == 4102


def test_a_dynamic_code_has_a_url():
    body = (
        "00020101021226540014BR.GOV.BCB.PIX2532pix.example.com/qr/v2/cob/abc123"
        "52040000530398658"
        "02BR5905Klavi6002SP62070503***6304"
    )
    code = pix.parse_br_code("q", body + pix.crc16(body))
    assert code.dynamic and code.url == "pix.example.com/qr/v2/cob/abc123"


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        ("76109277673", "CPF"),
        ("44471172000119", "CNPJ"),
        ("+5511999999999", "PHONE"),
        ("fulano2019@example.com", "EMAIL"),
        ("123e4567-e12b-12d1-a456-426655440000", "EVP"),
    ],
)
def test_each_kind_of_pix_key(key, kind):
    assert pix.check_pix_key("body.proxy", key) == (kind, [])


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("11999999999x", "is not a Pix key"),
        ("5511999999999", "is not a Pix key"),
        ("a" * 70 + "@example.com", "at most 77"),
        ("", "is empty"),
        ("7610927767", "is not a Pix key"),
    ],
)
def test_bad_pix_keys_are_refused(key, problem):
    assert problem in refused(pix.check_pix_key, "body.proxy", key)


def test_a_cpf_key_with_wrong_check_digits_is_tolerated_unless_strict():
    assert pix.check_pix_key("body.proxy", "12345678901")[1] == [
        "body.proxy: check digits invalid: a real bank will not find this customer"
    ]
    assert "strictTaxIds" in refused(pix.check_pix_key, "body.proxy", "12345678901", True)


@pytest.mark.parametrize("amount", ["1333.00", "0.01", "9999999999999999.99"])
def test_amounts(amount):
    assert pix.check_amount("body.amount", amount) == Decimal(amount)


@pytest.mark.parametrize(
    ("amount", "problem"),
    [
        ("0.00", "greater than 0.00"),
        ("1333", "two decimals"),
        ("1333.0", "two decimals"),
        ("-1.00", "two decimals"),
        ("01.00", "two decimals"),
        (1333, "must be a string"),
    ],
)
def test_bad_amounts(amount, problem):
    assert problem in refused(pix.check_amount, "body.amount", amount)


def test_accounts_name_the_field():
    good = {
        "ispb": "87654321",
        "issuer": "1234",
        "number": "12345678",
        "accountType": "CACC",
        "holder": {"identifier": "44471172000119", "name": "Klavi", "identifierType": "CNPJ"},
    }
    assert pix.check_account("body.creditorAccount", good, holder=True) == []
    assert pix.check_account("body.creditorAccount", {**good, "issuer": "1"}, holder=True) == []  # 1 to 4 digits
    for name, value, problem in [
        ("ispb", "1234567", 'body.creditorAccount.ispb: "1234567" is not an ISPB'),
        ("issuer", "12345", 'body.creditorAccount.issuer: "12345" is not a branch code'),
        ("issuer", "12a", 'body.creditorAccount.issuer: "12a" is not a branch code'),
        ("number", "1234-5", 'body.creditorAccount.number: "1234-5" is not an account number'),
        ("accountType", "CHECKING", 'body.creditorAccount.accountType: "CHECKING" is not an account type'),
    ]:
        assert refused(
            lambda a: pix.check_account("body.creditorAccount", a, holder=True), {**good, name: value}
        ).startswith(problem)


def test_holders_cpf_and_cnpj():
    holder = {"identifierType": "CNPJ", "identifier": "4447117200011", "name": "Klavi"}
    assert refused(pix.check_person, "body.creditorAccount.holder", holder).startswith(
        'body.creditorAccount.holder.identifier: "4447117200011" is not a CNPJ'
    )
    holder = {"identifierType": "RG", "identifier": "123"}
    assert refused(pix.check_person, "body.customer", holder).startswith('body.customer.identifierType: "RG"')
    assert pix.check_person("body.customer", {"identifierType": "CPF", "identifier": "76109277673"}) == []


def test_currency_and_dates():
    assert pix.check_currency("body.currency", "BRL") == "BRL"
    assert "only BRL" in refused(pix.check_currency, "body.currency", "USD")
    assert pix.check_date("body.date", "2025-07-01").isoformat() == "2025-07-01"
    for bad in ("2025-02-30", "01/07/2025", "2025-7-1"):
        assert refused(pix.check_date, "body.date", bad).startswith(f'body.date: "{bad}" is not a date')
