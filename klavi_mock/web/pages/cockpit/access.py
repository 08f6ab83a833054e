"""Who may open the cockpit: anyone the control API answers, and, when the mock has an
admin token, only a browser that sent it once through the login form (kept in a cookie the
pages' script also sends as X-Mock-Admin-Token on its control-API calls)."""

from __future__ import annotations

import hmac

from starlette.requests import Request

COOKIE = "klavi_mock_admin_token"


def is_allowed(request: Request, admin_token: str | None) -> bool:
    if admin_token is None:
        return True
    return token_matches(request.cookies.get(COOKIE) or request.headers.get("x-mock-admin-token") or "", admin_token)


def token_matches(sent: str, admin_token: str) -> bool:
    return hmac.compare_digest(sent.encode(), admin_token.encode())


def safe_next(target: str | None) -> str:
    """Where to go after logging in: one of the mock's own pages only (no open redirect)."""
    if target and target.startswith("/__mock/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/__mock/ui"
