"""Pix values as Open Finance Brasil and the Banco Central define them, checked one field
at a time; shared by instant payments and Automatic Pix.

Each check raises `InvalidRequest` naming the field (`where`, e.g.
`body.creditorAccount.ispb`) and the problem. The BR Code (the "Pix copia e cola" string
behind a QR code) is parsed as EMV TLV: its structure, its Pix merchant account template
and its CRC16-CCITT-FALSE (field 63) are checked.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from klavi_mock.domain.formats import CHECK_DIGITS_INVALID
from klavi_mock.domain.taxid import is_valid_cnpj, is_valid_cpf, is_well_formed_cnpj, is_well_formed_cpf
from klavi_mock.errors import BusinessRuleError, InvalidRequest

ACCOUNT_TYPES = ("CACC", "SVGS", "TRAN", "SLRY")  # OFB: checking, savings, payment (pre-paid), salary
IDENTIFIER_TYPES = ("CPF", "CNPJ")
CURRENCY = "BRL"
MAX_KEY_LENGTH = 77
MAX_BR_CODE_LENGTH = 512
PIX_GUI = "BR.GOV.BCB.PIX"

_ISPB = re.compile(r"^[0-9]{8}$")
_ISSUER = re.compile(r"^[0-9]{1,4}$")
_NUMBER = re.compile(r"^[0-9]{1,20}$")
_AMOUNT = re.compile(r"^(0|[1-9][0-9]{0,15})\.[0-9]{2}$")
_PHONE_KEY = re.compile(r"^\+55[1-9][0-9][0-9]{8,9}$")
_EMAIL_KEY = re.compile(r"^[a-zA-Z0-9.!#$&'*+/=?^_`{|}~-]+@[a-zA-Z0-9-]+(\.[a-zA-Z0-9-]+)+$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def _q(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _fail(where: str, problem: str) -> InvalidRequest:
    return InvalidRequest(f"{where}: {problem}")


def _text(where: str, value: object) -> str:
    if not isinstance(value, str):
        raise _fail(where, f"must be a string (got {_q(value)})")
    return value


# -- accounts -------------------------------------------------------------------------------


def check_ispb(where: str, value: object) -> str:
    """The SPI participant's ISPB: 8 digits (e.g. 00000000 for Banco do Brasil)."""
    if not _ISPB.match(_text(where, value)):
        raise _fail(where, f"{_q(value)} is not an ISPB (8 digits, e.g. 87654321)")
    return str(value)


def check_issuer(where: str, value: object) -> str:
    """The branch (agência) without its check digit: 1 to 4 digits (Open Finance Brasil's
    `issuer`, as the contract's pattern says; most banks' have 4)."""
    if not _ISSUER.match(_text(where, value)):
        raise _fail(where, f"{_q(value)} is not a branch code (1 to 4 digits without the check digit, e.g. 0001)")
    return str(value)


def check_account_number(where: str, value: object) -> str:
    if not _NUMBER.match(_text(where, value)):
        raise _fail(where, f"{_q(value)} is not an account number (1 to 20 digits, check digit included, no dash)")
    return str(value)


def check_account_type(where: str, value: object) -> str:
    if value not in ACCOUNT_TYPES:
        raise _fail(where, f"{_q(value)} is not an account type (one of {', '.join(ACCOUNT_TYPES)})")
    return str(value)


def check_tax_id(where: str, kind: object, value: object, strict: bool = False) -> str | None:
    """`value` as the CPF or CNPJ `kind` says. The shape is always checked; wrong check
    digits are refused when `strict` (strictTaxIds), else returned as a tolerated note
    (Klavi's own examples use 12345678901)."""
    if kind not in IDENTIFIER_TYPES:
        raise _fail(where.rsplit(".", 1)[0] + ".identifierType", f"{_q(kind)} is not one of CPF, CNPJ")
    text = _text(where, value)
    if kind == "CPF" and not is_well_formed_cpf(text):
        raise _fail(where, f"{_q(value)} is not a CPF (11 digits, no punctuation, e.g. 52998224725)")
    if kind == "CNPJ" and not is_well_formed_cnpj(text):
        raise _fail(where, f"{_q(value)} is not a CNPJ (14 characters, no punctuation, e.g. 11222333000181)")
    if (is_valid_cpf if kind == "CPF" else is_valid_cnpj)(text):
        return None
    if strict:
        raise _fail(where, f"{CHECK_DIGITS_INVALID} (klavi-mock is set to refuse them: strictTaxIds)")
    return f"{where}: {CHECK_DIGITS_INVALID}"


def check_account(where: str, account: object, *, holder: bool, strict: bool = False) -> list[str]:
    """A debtorAccount or creditorAccount (with its holder when `holder`); the tolerated notes."""
    if not isinstance(account, dict):
        raise _fail(where, "must be an object")
    for name in ("ispb", "number", "accountType"):
        if name not in account:
            raise _fail(f"{where}.{name}", "is required")
    check_ispb(f"{where}.ispb", account["ispb"])
    if account.get("issuer") is not None:
        check_issuer(f"{where}.issuer", account["issuer"])
    elif account["accountType"] != "TRAN":  # OFB: only a payment account may have no branch
        raise _fail(f"{where}.issuer", "is required unless accountType is TRAN")
    check_account_number(f"{where}.number", account["number"])
    check_account_type(f"{where}.accountType", account["accountType"])
    if not holder:
        return []
    person = account.get("holder")
    if not isinstance(person, dict):
        raise _fail(f"{where}.holder", "is required (identifierType, identifier, name)")
    return check_person(f"{where}.holder", person, strict=strict)


def check_person(where: str, person: object, *, strict: bool = False) -> list[str]:
    """A customer or a holder: identifierType CPF|CNPJ and its identifier."""
    if not isinstance(person, dict):
        raise _fail(where, "must be an object")
    if "identifierType" not in person:
        raise _fail(f"{where}.identifierType", "is required (CPF or CNPJ)")
    if "identifier" not in person:
        raise _fail(f"{where}.identifier", "is required")
    note = check_tax_id(f"{where}.identifier", person["identifierType"], person["identifier"], strict)
    return [note] if note else []


# -- Pix keys -------------------------------------------------------------------------------


def key_kind(value: str) -> str | None:
    """CPF, CNPJ, PHONE, EMAIL or EVP (a random key), by the key's shape; None: no kind."""
    if len(value) == 11 and value.isascii() and value.isdigit():
        return "CPF"
    if len(value) == 14 and value.isascii() and value.isdigit():
        return "CNPJ"
    if _PHONE_KEY.match(value):
        return "PHONE"
    if _EMAIL_KEY.match(value):
        return "EMAIL"
    try:
        if str(uuid.UUID(value)) == value.lower() and len(value) == 36:
            return "EVP"
    except ValueError:
        pass
    return None


def check_pix_key(where: str, value: object, strict: bool = False) -> tuple[str, list[str]]:
    """A Pix key (DICT): CPF or CNPJ digits, +55 E.164 phone, e-mail, or a random key
    (UUID); at most 77 characters. Its kind and the tolerated notes."""
    text = _text(where, value)
    if not text:
        raise _fail(where, "is empty")
    if len(text) > MAX_KEY_LENGTH:
        raise _fail(where, f"is {len(text)} characters long; a Pix key has at most {MAX_KEY_LENGTH}")
    kind = key_kind(text)
    if kind is None:
        raise _fail(
            where,
            f"{_q(value)} is not a Pix key: a CPF (11 digits) or CNPJ (14 digits) without punctuation, "
            "a phone in E.164 (+5511999999999), an e-mail, or a random key (a UUID)",
        )
    if kind in ("CPF", "CNPJ"):
        note = check_tax_id(where, kind, text, strict)
        return kind, [note] if note else []
    return kind, []


# -- amounts, currency, dates -------------------------------------------------------------


def check_amount(where: str, value: object) -> Decimal:
    """A positive amount with exactly two decimals, as a string: "1333.00"."""
    text = _text(where, value)
    if not _AMOUNT.match(text):
        raise _fail(where, f'{_q(value)} is not an amount (digits, a dot and two decimals, e.g. "1333.00")')
    amount = Decimal(text)
    if amount <= 0:
        raise _fail(where, f"{_q(value)} must be greater than 0.00")
    return amount


def check_currency(where: str, value: object) -> str:
    if value != CURRENCY:
        raise _fail(where, f"{_q(value)} is not a currency Pix takes (only BRL)")
    return CURRENCY


def check_date(where: str, value: object) -> date:
    """An ISO 8601 calendar date, YYYY-MM-DD."""
    text = _text(where, value)
    try:
        if not _DATE.match(text):
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise _fail(where, f"{_q(value)} is not a date (YYYY-MM-DD, e.g. 2025-07-01)") from None


# -- the BR Code ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BrCode:
    """What a payment needs from a BR Code."""

    key: str | None  # field 26.01 (static)
    url: str | None  # field 26.25 (dynamic: the payload's location)
    amount: Decimal | None  # field 54, when the code fixes it
    merchant_name: str
    merchant_city: str
    txid: str | None  # field 62.05

    @property
    def dynamic(self) -> bool:
        return self.url is not None


def crc16(data: str) -> str:
    """CRC16-CCITT-FALSE (poly 0x1021, init 0xFFFF), as 4 upper-case hex digits."""
    crc = 0xFFFF
    for byte in data.encode("utf-8"):
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return f"{crc:04X}"


def _tlv(where: str, text: str) -> list[tuple[str, str]]:
    """EMV TLV: a 2-digit id, a 2-digit length, the value."""
    fields, at = [], 0
    while at < len(text):
        head = text[at : at + 4]
        if len(head) < 4 or not head.isascii() or not head.isdigit():
            raise _fail(where, f"is not a BR Code: at character {at} expected a 2-digit id and a 2-digit length")
        size = int(head[2:])
        value = text[at + 4 : at + 4 + size]
        if len(value) < size:
            raise _fail(where, f"is not a BR Code: field {head[:2]} says {size} characters, {len(value)} are left")
        fields.append((head[:2], value))
        at += 4 + size
    return fields


def parse_br_code(where: str, value: object) -> BrCode:
    """The BR Code's structure (EMV MPM as the Banco Central's manual profiles it), its Pix
    merchant account (GUI BR.GOV.BCB.PIX with a key or a URL), currency 986, country BR and
    its CRC. The key inside is not required to be of a DICT kind (the manual's own example
    carries a hex string). A well-formed code of another scheme is Klavi's business error
    4101, a Pix Cobrança (a dynamic code at a `/cobv/` location) 4102; Pix Troco and Saque
    (4103, 4104) are told apart only by the dynamic payload, which the mock cannot fetch."""
    text = _text(where, value)
    if len(text) > MAX_BR_CODE_LENGTH:
        raise _fail(where, f"is {len(text)} characters long; a BR Code here has at most {MAX_BR_CODE_LENGTH}")
    if not text.startswith("000201"):
        raise _fail(where, "is not a BR Code: it must start with 000201 (payload format indicator 01)")
    if len(text) < 8 or text[-8:-4] != "6304":
        raise _fail(where, "is not a BR Code: it must end with its CRC, field 63 (6304 and 4 hex digits)")
    expected = crc16(text[:-4])
    if text[-4:].upper() != expected:
        raise _fail(where, f"CRC (field 63) is {text[-4:]}, but the code's content gives {expected}")
    fields = dict(_tlv(where, text))
    pix = None
    for tag in map(str, range(26, 52)):
        if tag in fields:
            inner = dict(_tlv(f"{where} (field {tag})", fields[tag]))
            if inner.get("00", "").upper() == PIX_GUI:
                pix = inner
                break
    if pix is None:  # a well-formed EMV code of another scheme (Klavi's business code 4101)
        raise BusinessRuleError(
            4101, f"{where}: the QR code is not a Pix QR code (no merchant account with GUI {PIX_GUI} in fields 26-51)"
        )
    key, url = pix.get("01"), pix.get("25")
    if not key and not url:
        raise _fail(where, "its Pix merchant account has neither a key (01) nor a URL (25)")
    if url and "/cobv/" in url.lower():  # the Banco Central's location of a charge with a due date
        raise BusinessRuleError(4102, f"{where}: the QR code is a Pix Cobrança (a charge with a due date, at {url})")
    if key and len(key) > MAX_KEY_LENGTH:
        raise _fail(where, f"its Pix key (26.01) is longer than {MAX_KEY_LENGTH} characters")
    if fields.get("53") != "986":
        raise _fail(where, f"currency (field 53) must be 986 (BRL), not {_q(fields.get('53'))}")
    if fields.get("58") != "BR":
        raise _fail(where, f"country (field 58) must be BR, not {_q(fields.get('58'))}")
    amount = None
    if "54" in fields:
        try:
            amount = Decimal(fields["54"])
        except InvalidOperation:
            raise _fail(where, f"amount (field 54) {_q(fields['54'])} is not a number") from None
        if not amount.is_finite() or amount <= 0:
            raise _fail(where, f"amount (field 54) {_q(fields['54'])} must be greater than 0")
    for tag, name in (("59", "merchant name"), ("60", "merchant city")):
        if not fields.get(tag):
            raise _fail(where, f"has no {name} (field {tag})")
    extra = dict(_tlv(f"{where} (field 62)", fields["62"])) if "62" in fields else {}
    return BrCode(
        key=key or None,
        url=url or None,
        amount=amount,
        merchant_name=fields["59"],
        merchant_city=fields["60"],
        txid=extra.get("05"),
    )


def make_br_code(key: str, name: str, city: str, amount: str | None = None, txid: str = "***") -> str:
    """A static BR Code for `key` (tests and docs build theirs with it)."""

    def tlv(tag: str, value: str) -> str:
        return f"{tag}{len(value):02d}{value}"

    body = (
        tlv("00", "01")
        + tlv("26", tlv("00", PIX_GUI) + tlv("01", key))
        + tlv("52", "0000")
        + tlv("53", "986")
        + (tlv("54", amount) if amount else "")
        + tlv("58", "BR")
        + tlv("59", name)
        + tlv("60", city)
        + tlv("62", tlv("05", txid))
        + "6304"
    )
    return body + crc16(body)
