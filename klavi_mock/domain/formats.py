"""The string formats the contract asserts, checked the same way for every request.

`cpf` and `cnpj` are ours. The format checks the shape (11 digits; 14 characters); wrong
check digits are a separate rule (`check_digits_problem`), tolerated by default, because
Klavi's own examples fail them, and refused when the mock is told to be strict.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from urllib.parse import urlsplit

from jsonschema import FormatChecker

from klavi_mock.domain.taxid import is_valid_cnpj, is_valid_cpf, is_well_formed_cnpj, is_well_formed_cpf

FORMAT_HINTS = {
    "cpf": "11 digits, no punctuation, e.g. 52998224725",
    "cnpj": "14 characters (digits, or A-Z in the first 12, then 2 digits), no punctuation, e.g. 11222333000181",
    "uri": "an absolute http(s) URL, e.g. https://partner.example.com/return",
    "email": "an e-mail address",
    "uuid": "a UUID",
    "date-time": "an RFC 3339 date-time, e.g. 2024-12-07T23:59:59.999Z",
}

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")

checker = FormatChecker(formats=())


@checker.checks("cpf")
def _cpf(value: object) -> bool:
    return not isinstance(value, str) or is_well_formed_cpf(value)


@checker.checks("cnpj")
def _cnpj(value: object) -> bool:
    return not isinstance(value, str) or is_well_formed_cnpj(value)


CHECK_DIGITS_INVALID = "check digits invalid: a real bank will not find this customer"
_REAL = {"cpf": is_valid_cpf, "cnpj": is_valid_cnpj}


def check_digits_problem(kind: str, value: object) -> str | None:
    """Why a well-formed CPF/CNPJ is not a real one (wrong check digits, or all one digit)."""
    if not isinstance(value, str) or not value or _REAL[kind](value):
        return None
    return CHECK_DIGITS_INVALID


@checker.checks("uri")
def _http_url(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and value.isprintable() and " " not in value


@checker.checks("email")
def _email(value: object) -> bool:
    return not isinstance(value, str) or bool(_EMAIL.match(value))


@checker.checks("uuid")
def _uuid(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


@checker.checks("date-time")
def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return parsed.tzinfo is not None and "T" in value.upper()
