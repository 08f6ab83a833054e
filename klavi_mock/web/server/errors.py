"""Klavi-shaped error answers: a KlaviError as `{"statusCode", "error", "message"}` (or the
page of a handler that answers people), what a refusal tells the conformance report, and
the app's own 404/405/500 for what no route handles."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from klavi_mock.errors import InvalidRequest, KlaviError, MethodNotAllowed, NotFound, ServiceUnavailable
from klavi_mock.sandbox.sandbox import Sandbox
from klavi_mock.storage.protocol import ConflictError, StorageError
from klavi_mock.web.server.call import ErrorPage

log = logging.getLogger("klavi_mock")

# Refusals that mean the client broke the contract (not a business rule): logged as
# violations in the conformance report.
CONTRACT_STATUSES = (400, 401, 405, 415)


def error_response(error: KlaviError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


def answer(request: Request, sandbox: Sandbox, error: KlaviError, page: ErrorPage | None) -> Response:
    """Klavi's JSON error, or the handler's error page (a person reads it in a browser)."""
    rendered = page(request, sandbox, error) if page is not None else None
    return rendered if rendered is not None else error_response(error)


def internal_error(exc: BaseException) -> KlaviError:
    """A bug in the mock, as answered: never its traceback (the log has it). A database
    that cannot be reached is no bug: 503, and the mock recovers when it is back; nor is a
    change another instance made first to the same object (503: send it again)."""
    if isinstance(exc, ConflictError):  # another instance won the race: nothing of this request was kept
        return ServiceUnavailable(f"{exc}; nothing was changed, send the request again")
    if isinstance(exc, StorageError):
        return ServiceUnavailable(f"klavi-mock's storage is unavailable ({exc}); send the request again shortly")
    return KlaviError(f"klavi-mock hit an internal error ({type(exc).__name__}); see its log")


def violations(error: KlaviError) -> list[str]:
    """What a refusal says the client got wrong, for the conformance report (none for a
    business rule or the mock's own failure)."""
    if error.status not in CONTRACT_STATUSES:
        return []
    return getattr(error, "problems", None) or [f"{_where(error)}: {error.message}"]


def _where(error: KlaviError) -> str:
    """The part of the request a contract refusal is about."""
    return {401: "header.Authorization", 405: "method", 415: "header.Content-Type"}.get(error.status, "request")


def no_route(method: str, path: str, routes: Sequence[str]) -> NotFound:
    return NotFound(f"no route {method} {path}; the routes are: {', '.join(routes)}")


class AppErrors:
    """The app's exception handlers: what no route handled, in Klavi's shape."""

    def __init__(self, routes: Sequence[str]) -> None:
        self.routes = routes  # every documented "METHOD /path", listed by the 404

    def handlers(self) -> dict[int | type[Exception], object]:
        return {
            404: self.not_found,
            HTTPException: self.http_error,
            KlaviError: self.klavi_error,
            Exception: self.server_error,
        }

    async def not_found(self, request: Request, exc: Exception) -> Response:
        return error_response(no_route(request.method, request.url.path, self.routes))

    async def http_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 405:
            return error_response(MethodNotAllowed(str(exc.detail), headers=exc.headers))
        return error_response(
            InvalidRequest(str(exc.detail)) if exc.status_code == 400 else KlaviError(str(exc.detail))
        )

    async def klavi_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, KlaviError)  # raised outside the APIs' pipelines (the web pages)
        return error_response(exc)

    async def server_error(self, request: Request, exc: Exception) -> Response:
        # A bug in the mock: log it with its traceback, never send the traceback.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(internal_error(exc))
