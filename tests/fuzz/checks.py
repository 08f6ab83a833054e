"""What every response must look like, whatever was sent."""

from __future__ import annotations

import re
from http import HTTPStatus

from klavi_mock.errors import BUSINESS_ERRORS

# --- what every response must look like ----------------------------------------------------

TRACEBACK = re.compile(
    r'Traceback \(most recent call last\)|File "[^"]*", line \d+|line \d+, in \S|klavi_mock/|site-packages'
)


def assert_robust(response, *, pages: bool = False) -> None:
    """No 5xx, no traceback, and a 4xx in Klavi's error shape. `pages`: a bank/link page,
    whose own refusals are HTML (or text/plain for a missing logo)."""
    status, text = response.status_code, response.text
    where = f"{response.request.method} {response.request.url}"
    assert status < 500, f"{where} answered {status}: {text[:500]}"
    assert not TRACEBACK.search(text), f"{where} answered a traceback: {text[:1000]}"
    if not 400 <= status < 500:
        return
    content_type = response.headers.get("content-type", "")
    if pages and not content_type.startswith("application/json"):
        assert content_type.startswith(("text/html", "text/plain")), f"{where}: {status} as {content_type}"
        return
    assert content_type.startswith("application/json"), f"{where}: {status} as {content_type}: {text[:300]}"
    body = response.json()
    assert isinstance(body, dict) and set(body) == {"statusCode", "error", "message"}, f"{where}: {body}"
    if status == 416:
        assert body["statusCode"] in BUSINESS_ERRORS and body["error"] == BUSINESS_ERRORS[body["statusCode"]], body
    else:
        assert body["statusCode"] == status and body["error"] == HTTPStatus(status).phrase, body
    assert isinstance(body["message"], str) and body["message"].strip(), body


def message(response) -> str:
    return response.json()["message"]
