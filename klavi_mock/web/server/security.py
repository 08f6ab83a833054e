"""What a web page open in the developer's browser may do with the mock: call the Klavi API
(a front end calls it with its linkToken), and nothing else.

- CORS headers only on the Klavi API (`/data/v1`); the control API and the pages send none,
  so no other site can read their answers (secret keys, CPFs).
- The control API (`/__mock`) refuses a request whose Host is not a loopback name, the bind
  address, the --public-url host or a host allowed with --allow-host (DNS rebinding), unless
  an admin token protects it; and a request sent from another site's page (its Origin is
  not the mock's own), which a browser sends without asking (a form post, `no-cors` fetch).
- HTML pages carry a Content-Security-Policy and X-Frame-Options: no other site can frame
  the bank page or run script in it.

The Klavi API applies what concerns it in its own mount (routing.KlaviApi: CORS when an
Origin is sent, the page policy on the HTML of the operations that answer people); the
guard and the page policy wrap only the rest of the app (app.py).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from klavi_mock.config import Settings
from klavi_mock.errors import Forbidden
from klavi_mock.web.server.errors import error_response

CONTROL_PREFIX = "/__mock"
# Answers any Host and Origin (and, by its `security: []` in mock-admin.yaml, no token): health
# checks come from container runtimes, load balancers and CI jobs under any name. It says
# nothing secret and changes nothing.
HEALTH_PATH = CONTROL_PREFIX + "/health"
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})

PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)

PAGE_HEADERS = [
    (b"content-security-policy", PAGE_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def cross_origin(app: ASGIApp) -> ASGIApp:
    """CORS for browser front ends (the Klavi API, any origin); its mount sends only the
    requests with an Origin header through it (back ends and tests, the bulk of the
    traffic, send none)."""
    return CORSMiddleware(app, allow_origins=["*"], allow_methods=["*"], allow_headers=["*"])


def is_html(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(k == b"content-type" and v.startswith(b"text/html") for k, v in headers)


def with_page_policy(response: Response) -> Response:
    """An HTML answer with the page policy (the Klavi API's one page: Basic WhiteLabel's)."""
    headers = getattr(response, "raw_headers", None)  # None: a fault's own ASGI answer
    if headers is not None and is_html(headers):
        headers.extend(PAGE_HEADERS)
    return response


def host_name(host: str) -> str:
    """The name part of a Host header: 'localhost:8080' -> 'localhost', '[::1]:80' -> '::1'."""
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def is_loopback_name(name: str) -> bool:
    if name.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class ControlApiGuard:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        names = {*settings.allowed_hosts, settings.host}
        if settings.public_url:
            names.add(urlsplit(settings.public_url).hostname or "")
        self.allowed = frozenset(name.lower() for name in names if name and name not in ("0.0.0.0", "::"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(CONTROL_PREFIX) and scope["path"] != HEALTH_PATH:
            refusal = self._refusal(scope)
            if refusal is not None:
                await error_response(refusal)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _refusal(self, scope: Scope) -> Forbidden | None:
        host = header(scope, b"host") or ""
        if self.settings.admin_token is None and not self._host_allowed(host_name(host).lower()):
            return Forbidden(
                f"the control API answers requests addressed to a loopback name (localhost, 127.0.0.1, [::1]), "
                f"the mock's bind address or its --public-url host, not Host {host!r}; use one of those, allow "
                "this host with --allow-host, or protect the control API with --admin-token"
            )
        origin = header(scope, b"origin")
        if origin is not None and not self._same_origin(origin, scope.get("scheme", "http"), host):
            return Forbidden(
                f"the control API does not take requests from other sites' pages (Origin {origin!r}); "
                "call it from a back end, a test, curl or the mock's own dashboard"
            )
        return None

    def _host_allowed(self, name: str) -> bool:
        return name in self.allowed or is_loopback_name(name)

    def _same_origin(self, origin: str, scheme: str, host: str) -> bool:
        own = {f"{scheme}://{host}".lower()}
        if self.settings.public_url:
            parts = urlsplit(self.settings.public_url)
            own.add(f"{parts.scheme}://{parts.netloc}".lower())
        return origin.lower().rstrip("/") in own


class PageSecurityHeaders:
    """Every HTML answer of the pages and the control API gets the page policy; JSON and
    assets go untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers") or []
                if is_html(headers):
                    message["headers"] = [*headers, *PAGE_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_policy)
