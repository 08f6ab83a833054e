"""The string formats the contract asserts, checked the same way for every request.

`cpf` and `cnpj` are ours. The format checks the shape (11 digits; 14 characters); wrong
check digits are a separate rule (`check_digits_problem`), tolerated by default, because
Klavi's own examples fail them, and refused when the mock is told to be strict.
"""

from __future__ import annotations

import json
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
    "redirect-uri": "an absolute http(s) URL or an app's deep link, e.g. https://partner.example.com/return or myapp://redirect",
    "phone-br": "a Brazilian number in E.164, e.g. +5511999999999",
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
    return not isinstance(value, str) or is_http_url(value)


def is_http_url(value: str) -> bool:
    """An absolute http(s) URL with a host (where a webhook can be POSTed)."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and value.isprintable() and " " not in value


# Schemes a browser runs or reads locally instead of leaving for an app: never a redirect.
DANGEROUS_SCHEMES = frozenset({"javascript", "data", "vbscript", "file", "blob", "about", "view-source", "filesystem"})
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*$")


def redirect_url_problem(value: object) -> str | None:
    """Why `value` cannot be where the journey ends (None: it can). An http(s) URL with a
    host, or an app's deep link (`myapp://redirect`, as Klavi's demo apps use); schemes a
    browser would run or read locally (`javascript:`, `data:`, `file:`...) are refused."""
    if not isinstance(value, str):
        return None
    if not value.isprintable() or any(c.isspace() for c in value):
        return f"{_quote(value)} is not a URL (it has spaces or control characters)"
    try:
        parts = urlsplit(value)
    except ValueError:
        return f"{_quote(value)} is not a URL"
    scheme = parts.scheme.lower()
    if not scheme or not _SCHEME.match(parts.scheme):
        return f"{_quote(value)} is not an absolute URL (http(s), or an app's deep link such as myapp://redirect)"
    if scheme in DANGEROUS_SCHEMES:
        return (
            f"the {scheme}: scheme is refused: a browser would run or read it locally instead of leaving for "
            "the partner (use an http(s) URL or an app's deep link such as myapp://redirect)"
        )
    if scheme in ("http", "https") and not parts.hostname:
        return f"{_quote(value)} is not an absolute http(s) URL (it has no host)"
    if not (parts.netloc or parts.path):
        return f"{_quote(value)} has nothing after its scheme"
    return None


def _quote(value: str, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@checker.checks("redirect-uri")
def _redirect_url(value: object) -> bool:
    return redirect_url_problem(value) is None


def is_web_url(url: str) -> bool:
    """An http(s) URL (a browser follows it itself; anything else is handed to an app)."""
    try:
        return urlsplit(url).scheme.lower() in ("http", "https")
    except ValueError:
        return False


# E.164 with Brazil's +55: a 2-digit area code (11-99), then 8 digits (landline) or 9 (mobile).
_PHONE_BR = re.compile(r"^\+55[1-9][0-9]\d{8,9}$")


def phone_problem(value: object) -> str | None:
    """Klavi's rule for `phone` (a production client: anything but E.164 with +55 is 400
    "Invalid phone"). None when the number is one."""
    if not isinstance(value, str) or _PHONE_BR.match(value):
        return None
    hint = ""
    digits_only = re.sub(r"\D", "", value)
    if len(digits_only) in (10, 11) and not value.startswith("+"):
        hint = f" (did you mean +55{digits_only}?)"
    return f"Invalid phone: {json.dumps(value, ensure_ascii=False)} is not E.164 with +55, e.g. +5511999999999{hint}"


@checker.checks("phone-br")
def _phone(value: object) -> bool:
    return phone_problem(value) is None


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
