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


# Masking works on a body's raw bytes: two regular-expression passes (the journal sits on
# the hot path: parsing every answer to walk it would cost more than serving it). A secret
# field's string value becomes "***", wherever it nests; so does any JWT.
_SECRET_PAIR = re.compile(rb'("(?i:' + "|".join(sorted(SECRET_FIELDS)).encode() + rb')"\s*:\s*)"(?:[^"\\]|\\.)*"')
_JWT_BYTES = re.compile(_JWT.pattern.encode())


_QUOTED_FIELDS = tuple(f'"{name}"'.encode() for name in sorted(SECRET_FIELDS))
# Above this size a body's field names are not scanned, only its JWTs: the big answers
# (institution lists) hold no credentials, and the scan would cost more than the request.
FIELD_SCAN_BYTES = 4096


def mask_raw(raw: bytes) -> bytes:
    if not raw:
        return b""
    if b"eyJ" in raw:  # plain substring scans first: most bodies hold no secret at all
        raw = _JWT_BYTES.sub(b"***", raw)
    if len(raw) <= FIELD_SCAN_BYTES:
        lowered = raw.lower()
        if any(name in lowered for name in _QUOTED_FIELDS):
            raw = _SECRET_PAIR.sub(rb'\1"***"', raw)
    return raw


def decoded(raw: bytes) -> Any:
    """A (masked) body as JSON; text that is not JSON as text; nothing as None."""
    if not raw:
        return None
    text = raw.decode("utf-8", "replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


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
