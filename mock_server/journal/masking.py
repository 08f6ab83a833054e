"""What the journal never keeps: tokens and secrets, in headers and in JSON bodies."""

from __future__ import annotations

import json
import re
from typing import Any

MASK = "***"
# Body fields whose values are credentials (compared case-insensitively).
SECRET_FIELDS = frozenset(name.lower() for name in (
    "secretKey", "accessKey", "password", "passwd", "accessToken", "refreshToken", "linkToken", "token",
    "clientSecret", "apiKey",
))
# A JWT anywhere in a string (the linkURL carries the linkToken in its query).
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
# Headers kept in an entry; the rest (user agents, connection handling) say nothing about the call.
KEPT_HEADERS = ("authorization", "content-type", "accept", "x-mock-admin-token")


def mask_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (MASK if isinstance(k, str) and k.lower() in SECRET_FIELDS and v not in (None, "") else mask_value(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [mask_value(v) for v in value]
    if isinstance(value, str):
        return _JWT.sub(MASK, value)
    return value


def mask_body(raw: bytes) -> Any:
    """A body as JSON with its secrets masked; text that is not JSON as (masked) text;
    nothing as None."""
    if not raw:
        return None
    text = raw.decode("utf-8", "replace")
    try:
        return mask_value(json.loads(text))
    except ValueError:
        return mask_value(text)


def mask_headers(headers: Any) -> dict[str, str]:
    kept = {}
    for name in KEPT_HEADERS:
        value = headers.get(name)
        if value is None:
            continue
        if name == "authorization":
            scheme, _, token = value.partition(" ")
            value = f"{scheme} {MASK}" if token else MASK
        elif name == "x-mock-admin-token":
            value = MASK
        kept[name] = value
    return kept
