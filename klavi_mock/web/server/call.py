"""What a handler is given (`Call`), and what the pipeline learns about a request as it
handles it (`Record`: the conformance report, the fault reactions and the journal read it)."""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from klavi_mock.domain.tenants import Tenant
from klavi_mock.domain.tokens import TokenClaims
from klavi_mock.errors import KlaviError
from klavi_mock.sandbox.sandbox import Sandbox
from klavi_mock.spec.operations import Operation


@dataclass
class Record:
    """What the conformance report keeps of one request, filled in as it is handled."""

    app_id: str | None = None  # whose client sent it, once known
    tolerated: tuple[str, ...] = ()  # deviations accepted anyway
    # For the request journal (klavi_mock/qa/journal): the body read and the token's claims.
    body: bytes = b""
    claims: TokenClaims | None = None
    # The fault rule that fired on it (faults.Injection.describe), if any; the journal shows it.
    fault: dict | None = None


@dataclass(slots=True)  # not frozen: a frozen dataclass is slower to make, on every request
class Call:
    """Everything a handler needs, already authenticated and validated."""

    request: Request
    operation: Operation
    sandbox: Sandbox
    path: dict[str, Any]
    query: dict[str, Any]
    body: Any
    tenant: Tenant | None
    claims: TokenClaims | None
    record: Record

    @property
    def partner(self) -> Tenant:
        """The tenant whose token authenticated the request (operations that take one)."""
        assert self.tenant is not None, f"{self.operation.operation_id} takes no partner token"
        return self.tenant

    @property
    def token(self) -> TokenClaims:
        """The claims of the request's token (operations that take one)."""
        assert self.claims is not None, f"{self.operation.operation_id} takes no token"
        return self.claims

    @property
    def base_url(self) -> str:
        """Where clients reach the mock, for the URLs it hands out."""
        return self.sandbox.settings.public_url or request_origin(self.request)


Handler = Callable[[Call], Awaitable[Response]]
# How a handler that answers people (in a browser) renders its errors: a page, or None for
# Klavi's JSON error. Declared beside the handlers (`ERROR_PAGES`), by operationId.
ErrorPage = Callable[[Request, Sandbox, KlaviError], "Response | None"]


# A Host header the mock can put in the URLs it hands out: a name or IPv4 address, or an
# [IPv6] literal, with an optional port. Anything else (spaces, slashes, unicode) would make
# those URLs invalid, so the mock's own address is used instead.
_HOST = re.compile(r"(?:[A-Za-z0-9_~!$&'()*+,;=.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")


def request_origin(request: Request) -> str:
    """scheme://host[:port] as the client addressed the mock (cheaper than request.base_url)."""
    scope = request.scope
    server = scope.get("server")
    return _origin(
        scope.get("scheme", "http"),
        request.headers.get("host"),
        # The app's own root path: a Mount (the Klavi API's) sets root_path to its prefix.
        scope.get("app_root_path", scope.get("root_path", "")),
        tuple(server) if server else None,
    )  # a list, from some servers: not hashable


@functools.lru_cache(maxsize=256)  # clients use a handful of addresses; every request asks
def _origin(scheme: str, host: str | None, root_path: str, server: tuple[str, int] | None) -> str:
    if not host or not _HOST.fullmatch(host):
        server_host, port = server or ("127.0.0.1", 80)
        host = f"{server_host}:{port}"
    return f"{scheme}://{host}{root_path}".rstrip("/")
