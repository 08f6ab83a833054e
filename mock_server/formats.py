"""The string formats the contract asserts, checked the same way for every request.

`cpf` and `cnpj` are ours: a pattern cannot express check digits, so the spec names the
rule as a format and this checker enforces it.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from urllib.parse import urlsplit

from jsonschema import FormatChecker

from .domain.taxid import is_valid_cnpj, is_valid_cpf

FORMAT_HINTS = {
    "cpf": "11 digits with valid check digits, no punctuation, e.g. 52998224725",
    "cnpj": "14 characters (digits, or A-Z in the first 12) with valid check digits, no punctuation, e.g. 11222333000181",
    "uri": "an absolute http(s) URL, e.g. https://partner.example.com/return",
    "email": "an e-mail address",
    "uuid": "a UUID",
    "date-time": "an RFC 3339 date-time, e.g. 2024-12-07T23:59:59.999Z",
}

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")

checker = FormatChecker(formats=())


@checker.checks("cpf")
def _cpf(value: object) -> bool:
    return not isinstance(value, str) or is_valid_cpf(value)


@checker.checks("cnpj")
def _cnpj(value: object) -> bool:
    return not isinstance(value, str) or is_valid_cnpj(value)


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
