"""Klavi's webhook signature, and the helper a receiver uses to check it.

Every delivery carries `X-Klavi-Signature`: the hex HMAC-SHA256 of the exact body bytes,
keyed with the partner's secretKey, and `X-Klavi-Timestamp` (unix seconds; not signed).
The body is compact JSON (no spaces, non-ASCII kept as UTF-8), so a receiver that verifies
the raw bytes and one that re-serialises the parsed JSON the way JavaScript's
JSON.stringify does get the same answer.

    from klavi_mock.webhooks.signing import verify_signature
    ok = verify_signature(request_body_bytes, request.headers["X-Klavi-Signature"], SECRET_KEY)
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

SIGNATURE_HEADER = "X-Klavi-Signature"
TIMESTAMP_HEADER = "X-Klavi-Timestamp"


def encode_body(payload: Any) -> bytes:
    """The bytes the mock sends (and signs) for a JSON payload."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sign(body: bytes, secret_key: str) -> str:
    return hmac.new(secret_key.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, signature: str, secret_key: str) -> bool:
    """True when `signature` is the Klavi signature of `body` for `secret_key` (constant time)."""
    return hmac.compare_digest(
        sign(body, secret_key).encode(), (signature or "").strip().lower().encode("utf-8", "replace")
    )
