"""What the journal never shows: tokens and secrets, in headers and in JSON bodies.

An entry keeps what it was given and masks it when it is first read (ring.JournalEntry):
most entries are never read, and masking every request cost more than serving some."""

from __future__ import annotations

import json
import re
from typing import Any

MASK = "***"
# Body fields whose values are credentials (compared case-insensitively).
SECRET_FIELDS = frozenset(
    name.lower()
    for name in (
        "secretKey",
        "accessKey",
        "password",
        "passwd",
        "accessToken",
        "refreshToken",
        "linkToken",
        "token",
        "clientSecret",
        "apiKey",
    )
)
# A JWT anywhere in a string (the linkURL carries the linkToken in its query).
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
# Headers kept in an entry; the rest (user agents, connection handling) say nothing about the call.
KEPT_HEADERS = frozenset({"authorization", "content-type", "accept", "x-mock-admin-token"})


# Masking works on a body's raw bytes: two regular-expression passes (the journal sits on
# the hot path: parsing every answer to walk it would cost more than serving it). A secret
# field's string value becomes "***", wherever it nests; so does any JWT.
_SECRET_PAIR = re.compile(rb'("(?i:' + "|".join(sorted(SECRET_FIELDS)).encode() + rb')"\s*:\s*)"(?:[^"\\]|\\.)*"')
_JWT_BYTES = re.compile(_JWT.pattern.encode())


_QUOTED_FIELDS = tuple(f'"{name}"'.encode() for name in sorted(SECRET_FIELDS))
# Above this size a body's field names are not scanned, only its JWTs: the big answers
# (institution lists) hold no credentials, and the scan would cost more than the request.
FIELD_SCAN_BYTES = 4096


def _may_hold_a_jwt(raw: bytes) -> bool:
    """Whether "eyJ" (how every JWT starts) occurs: found by its rare "J" with memchr, many
    times faster than a substring search over a big answer."""
    at = raw.find(b"J", 2)
    while at != -1:
        if raw[at - 2 : at] == b"ey":
            return True
        at = raw.find(b"J", at + 1)
    return False


def mask_raw(raw: bytes) -> bytes:
    if not raw:
        return b""
    if _may_hold_a_jwt(raw):  # cheap scans first: most bodies hold no secret at all
        raw = _JWT_BYTES.sub(b"***", raw)
    if len(raw) <= FIELD_SCAN_BYTES:
        lowered = raw.lower()
        if any(name in lowered for name in _QUOTED_FIELDS):
            raw = _SECRET_PAIR.sub(rb'\1"***"', raw)
    return raw


# A body is kept up to this size (the institution list, the largest answer, is ~20 KiB):
# the ring's memory stays bounded by its size times this.
KEPT_BODY_BYTES = 65_536


def kept(raw: bytes) -> bytes:
    """What an entry keeps of a body: a small one as it is (masked when read); a big one
    masked now, then cut (masked whole first: a cut must not split a secret, which masking
    the cut later would miss). Masking twice is harmless: "***" holds no secret."""
    return raw if len(raw) <= KEPT_BODY_BYTES else mask_raw(raw)[:KEPT_BODY_BYTES]


def decoded(raw: bytes) -> Any:
    """A (masked) body as JSON; text that is not JSON as text; nothing as None."""
    if not raw:
        return None
    text = raw.decode("utf-8", "replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def mask_headers(raw_headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """The kept headers of an ASGI scope's raw list (read directly: cheaper than Headers)."""
    kept = {}
    for key, value in raw_headers:
        name = key.decode("latin-1").lower()
        if name not in KEPT_HEADERS:
            continue
        text = value.decode("latin-1")
        if name == "authorization":
            scheme, _, token = text.partition(" ")
            text = f"{scheme} {MASK}" if token else MASK
        elif name == "x-mock-admin-token":
            text = MASK
        kept[name] = text
    return kept


# -- log lines ----------------------------------------------------------------------------------
#
# The server log (web/server/logs.py) masks each line as the journal masks an entry: any JWT
# (a link token in `/link?v=eyJ...`, an access token), a bearer credential, and the values of
# query parameters named like a secret field (`?linkToken=...`, `?secretKey=...`).
_BEARER = re.compile(r"(?i)(\bbearer\s+)[^\s\"',;]+")
_SECRET_PARAM = re.compile(r"(?i)([?&](?:" + "|".join(sorted(SECRET_FIELDS)) + r")=)[^&\s\"']*")
_ADMIN_TOKEN_HEADER = re.compile(r"(?i)(x-mock-admin-token\s*[:=]\s*)[^\s\"',;]+")


def mask_text(text: str) -> str:
    """A log line with its credentials as "***"."""
    if "eyJ" in text:
        text = _JWT.sub(MASK, text)
    if "earer" in text or "EARER" in text:
        text = _BEARER.sub(r"\1" + MASK, text)
    if "=" in text:
        text = _SECRET_PARAM.sub(r"\1" + MASK, text)
    if "oken" in text or "OKEN" in text:
        text = _ADMIN_TOKEN_HEADER.sub(r"\1" + MASK, text)
    return text
