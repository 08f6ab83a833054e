"""Routes built from a spec: one dispatcher per path, one handler per operationId.

The dispatcher authenticates (the operation's security scheme says which token), checks
the request against the spec, calls the handler and renders any KlaviError in Klavi's
error shape. In strict mode it also checks every response against the spec.
"""

from __future__ import annotations

import functools
import hmac
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from klavi_mock import unit_of_work
from klavi_mock.domain.tenants import Tenant
from klavi_mock.domain.tokens import TokenClaims
from klavi_mock.errors import KlaviError, MethodNotAllowed, NotImplementedYet, PayloadTooLarge, Unauthorized
from klavi_mock.sandbox.sandbox import TOKEN_KINDS, Sandbox
from klavi_mock.spec.operations import Operation, Spec
from klavi_mock.spec.validation import problems, validate_request
from klavi_mock.web.server import faults as faults_wire
from klavi_mock.web.server.record import Record
from klavi_mock.web.server.recording import journal_exchange

log = logging.getLogger("klavi_mock")


@dataclass(frozen=True)
class Alias:
    """A request real clients send that the spec does not have (e.g. DELETE
    /consents/{consentId} without /revoke), served as one of the spec's operations and
    reported as a tolerated deviation: one entry per alias, whatever the ids in the path."""

    method: str
    path: str  # the whole path template, e.g. /data/v1/consents/{consentId}
    operation_id: str  # the operation that serves it
    note: str  # what the conformance report says


@dataclass(frozen=True)
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
        scope.get("root_path", ""),
        tuple(server) if server else None,
    )  # a list, from some servers: not hashable


@functools.lru_cache(maxsize=256)  # clients use a handful of addresses; every request asks
def _origin(scheme: str, host: str | None, root_path: str, server: tuple[str, int] | None) -> str:
    if not host or not _HOST.fullmatch(host):
        server_host, port = server or ("127.0.0.1", 80)
        host = f"{server_host}:{port}"
    return f"{scheme}://{host}{root_path}".rstrip("/")


class SpecMismatch(Exception):
    """The spec and the handlers disagree; raised at start-up."""


def error_response(error: KlaviError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


def check_handlers(spec_name: str, spec: Spec, handlers: Mapping[str, Handler], not_served: frozenset[str]) -> None:
    operations = set(spec.operations)
    missing = sorted(operations - set(handlers) - not_served)
    orphans = sorted((set(handlers) | not_served) - operations)
    both = sorted(set(handlers) & not_served)
    trouble = []
    if missing:
        trouble.append("operations with no handler: " + ", ".join(f"{o} ({spec.operations[o].label})" for o in missing))
    if orphans:
        trouble.append("handlers with no operation in the spec: " + ", ".join(orphans))
    if both:
        trouble.append("operations both handled and listed as not served: " + ", ".join(both))
    if trouble:
        raise SpecMismatch(f"openapi/{spec_name} and the handlers disagree: " + "; ".join(trouble))


ADMIN_SCHEME = "adminToken"  # the control API's own scheme (mock-admin.yaml)


def _check_admin_token(request: Request, expected: str | None) -> None:
    if expected is None:
        return
    sent = request.headers.get("x-mock-admin-token", "")
    if not hmac.compare_digest(sent.encode(), expected.encode()):
        reason = "missing" if not sent else "wrong"
        raise Unauthorized(f"the control API needs the mock's admin token: X-Mock-Admin-Token is {reason}")


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 past `limit` bytes (before reading it, when the
    Content-Length says so)."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:  # not "²": str.isdigit() says yes
        raise PayloadTooLarge(f"the body is {declared} bytes; klavi-mock takes at most {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body is over {limit} bytes; klavi-mock takes at most {limit}")
        chunks.append(chunk)
    return b"".join(chunks)


def _bearer(request: Request, operation: Operation) -> str:
    header = request.headers.get("authorization")
    name = operation.security[0]
    example = f"Authorization: Bearer <{name}>"
    wanted = f"{'an' if name[0] in 'aeiou' else 'a'} {name}"
    if not header:
        raise Unauthorized(f"missing Authorization header; {operation.label} takes {wanted}: send {example}")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(
            f"the Authorization header must be 'Bearer <token>'; {operation.label} takes {wanted}: send {example}"
        )
    return token.strip()


# Refusals that mean the client broke the contract (not a business rule): logged as
# violations in the conformance report.
CONTRACT_STATUSES = (400, 401, 405, 415)


class PathDispatcher:
    """The ASGI app behind one spec path: picks the operation by method."""

    def __init__(
        self,
        operations: list[Operation],
        handlers: Mapping[str, Handler],
        not_served: frozenset[str],
        sandbox: Sandbox,
        record: bool,
        aliases: Mapping[str, tuple[Operation, str]] | None = None,
    ) -> None:
        self.operations = {op.method: op for op in operations}
        self.aliases = dict(aliases or {})  # method -> (the operation serving it, its note)
        self.handlers = handlers
        self.not_served = not_served
        self.sandbox = sandbox
        self.record = record  # log each request in the conformance report (the Klavi API)
        # Allow names the documented methods only; an alias-only path names its own.
        self.allow = ", ".join(sorted(self.operations or self.aliases))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        request = Request(scope, receive)
        arrived = time.time()  # wall clock: what a client's backoff is measured in (faults/reactions.py)
        record = Record()
        operation = self.operations.get(request.method)
        alias_note = None
        if operation is None and request.method in self.aliases:
            operation, alias_note = self.aliases[request.method]
        refused: list[str] = []
        try:
            if operation is None:
                raise MethodNotAllowed(
                    f"{request.method} is not allowed on {request.url.path}; use {self.allow}",
                    headers={"Allow": self.allow},
                )
            response = await self._handle(request, operation, record)
        except KlaviError as error:
            response = self._error_response(request, operation, error)
            if error.status in CONTRACT_STATUSES:
                refused = getattr(error, "problems", None) or [f"{_where(error)}: {error.message}"]
        except ClientDisconnect:
            raise  # the client hung up mid-body: nobody to answer (app.OneUnitPerRequest logs it)
        except Exception as exc:  # a bug in the mock: logged with its traceback, never sent
            log.exception("unhandled error in %s", operation.operation_id if operation else request.url.path)
            response = error_response(
                KlaviError(f"klavi-mock hit an internal error ({type(exc).__name__}); see its log")
            )
        if operation is not None and self.sandbox.settings.strict and record.fault is None:
            self._check_response(operation, response)

        tolerated = (alias_note, *record.tolerated) if alias_note else record.tolerated

        async def send_and_record(message: Message) -> None:
            await send(message)
            # Recorded once the status is final (a commit that fails turns it into a 503),
            # before the body: no client can see the answer before the report has it.
            if self.record and message["type"] == "http.response.start":
                unit = unit_of_work.current()
                record.app_id = record.app_id or self._token_owner(request)
                operation_id = operation.operation_id if operation else f"{request.method} {request.url.path}"
                status = unit.status if unit and unit.status else response.status_code
                self.sandbox.conformance.record(record.app_id, operation_id, status, refused, tolerated)
                if operation is not None and record.fault is None and self.sandbox.faults.reactions.waiting:
                    self.sandbox.faults.reactions.observed(
                        record.app_id, operation.operation_id, status, arrived
                    )  # a follow-up to an earlier fault
                journal_exchange(self.sandbox, request, operation_id, status, response, record, started)

        await response(scope, receive, send_and_record)

    def _error_response(self, request: Request, operation: Operation | None, error: KlaviError) -> Response:
        """Klavi's JSON error, or the page of a handler that answers people (its `error_page`)."""
        page = getattr(self.handlers.get(operation.operation_id), "error_page", None) if operation else None
        rendered = page(request, self.sandbox, error) if page else None
        return rendered if rendered is not None else error_response(error)

    def _token_owner(self, request: Request) -> str | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return self.sandbox.tokens.tenant_of(token.strip()) if scheme.lower() == "bearer" and token.strip() else None

    async def _handle(self, request: Request, operation: Operation, record: Record) -> Response:
        tenant = claims = None
        if operation.security == (ADMIN_SCHEME,):
            _check_admin_token(request, self.sandbox.settings.admin_token)
        elif operation.security:
            kinds = tuple(TOKEN_KINDS[name] for name in operation.security)
            tenant, claims = self.sandbox.authenticate(_bearer(request, operation), kinds, operation.label)
            record.app_id, record.claims = tenant.app_id, claims
        elif request.path_params.get("appId") in self.sandbox.tenants:  # Basic WhiteLabel: the partner is in the path
            record.app_id = request.path_params["appId"]
        if self.record:  # the Klavi API (never the control API): a fault rule may answer instead
            # scope["path"], not request.url.path: that builds a URL object on every request
            injection = self.sandbox.faults.intercept(
                record.app_id, operation.operation_id, request.method, request.scope["path"]
            )
            if injection is not None:
                record.fault = injection.describe()
                faulted = await faults_wire.answer(injection, request.scope)
                if faulted is not None:
                    return faulted  # type: ignore[return-value]  # an ASGI app; the handler never runs
        body = (
            await read_body(request, self.sandbox.settings.max_body_bytes) if operation.body_schema is not None else b""
        )
        record.body = body
        query = request.query_params if request.scope.get("query_string") else {}  # parsing nothing costs too
        valid = validate_request(
            operation,
            request.path_params,
            query,
            request.headers,
            body,
            refuse_bad_check_digits=self.sandbox.settings.strict_tax_ids,
        )
        record.tolerated = valid.tolerated
        if operation.operation_id in self.not_served:
            raise NotImplementedYet(
                f"{operation.operation_id} ({operation.label}) is in the spec but this version of klavi-mock does not serve it yet"
            )
        call = Call(request, operation, self.sandbox, valid.path, valid.query, valid.body, tenant, claims, record)
        return await self.handlers[operation.operation_id](call)

    @staticmethod
    def _check_response(operation: Operation, response: Response) -> None:
        """Strict mode: a response the spec does not describe is a bug in the mock."""
        if response.status_code >= 500:  # the mock's own failure (or 501, not built yet), not the contract's
            return
        if response.status_code not in operation.declared_statuses:
            raise AssertionError(
                f"{operation.operation_id} answered {response.status_code}, which the spec does not declare"
            )
        validator = operation.response_validators.get(response.status_code)
        if validator is None or not response.headers.get("content-type", "").startswith("application/json"):
            return  # not a JSON response (a page for a browser, a redirect)
        found = problems(validator, json.loads(bytes(response.body)), "response")
        if found:
            raise AssertionError(
                f"{operation.operation_id} answered {response.status_code} off-spec: {'; '.join(found)}"
            )


def _where(error: KlaviError) -> str:
    """The part of the request a contract refusal is about."""
    return {401: "header.Authorization", 405: "method", 415: "header.Content-Type"}.get(error.status, "request")


def spec_routes(
    spec: Spec,
    handlers: Mapping[str, Handler],
    not_served: frozenset[str],
    sandbox: Sandbox,
    record: bool = False,
    aliases: tuple[Alias, ...] = (),
) -> list[Route]:
    by_path: dict[str, list[Operation]] = {}
    for operation in spec.operations.values():
        by_path.setdefault(spec.base_path + operation.path, []).append(operation)
    aliased: dict[str, dict[str, tuple[Operation, str]]] = {}
    for alias in aliases:
        if alias.operation_id not in spec.operations:
            raise SpecMismatch(
                f"alias {alias.method} {alias.path} names {alias.operation_id}, which the spec does not have"
            )
        aliased.setdefault(alias.path, {})[alias.method] = (spec.operations[alias.operation_id], alias.note)
    return [
        Route(path, PathDispatcher(by_path.get(path, []), handlers, not_served, sandbox, record, aliased.get(path)))
        for path in {**by_path, **aliased}
    ]
