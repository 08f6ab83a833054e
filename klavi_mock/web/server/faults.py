"""Putting a fired rule's action on the wire, in place of the handler's answer.

A status is answered in Klavi's error shape (a business code as HTTP 416 with the code in
`statusCode`), with Retry-After on a 429 (and on a 503 that names one). `malformed` is a
200 whose body is not JSON; `truncate` a 200 whose Content-Length promises more than is
sent before the connection closes; `drop` closes the connection without a byte; `timeout`
sends nothing until the client gives up or timeoutSeconds pass, then closes. The last three
need the server's connection (http_protocol.HANG_UP): in-process test clients answer 501.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable

from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from klavi_mock.errors import BUSINESS_ERRORS, BusinessRuleError, KlaviError, NotImplementedYet
from klavi_mock.qa.faults.book import Injection
from klavi_mock.qa.faults.rules import FaultRule
from klavi_mock.sandbox.sandbox import Sandbox
from klavi_mock.spec.operations import Operation
from klavi_mock.web.server.call import Record
from klavi_mock.web.server.protocol import HANG_UP

log = logging.getLogger("klavi_mock")

_REASONS = {
    401: "the access token is not accepted",
    403: "access to this resource is forbidden",
    429: "too many requests",
    500: "internal server error",
    502: "bad gateway",
    503: "the service is unavailable",
    504: "gateway timeout",
}


def status_error(rule: FaultRule) -> KlaviError:
    status = rule.status
    assert status is not None
    where = f"(klavi-mock fault {rule.id})"
    if status in BUSINESS_ERRORS:
        return BusinessRuleError(status, rule.message or f"{BUSINESS_ERRORS[status]} {where}")
    message = rule.message or f"{_REASONS[status]} {where}"
    if rule.retry_after is not None:
        message += f"; retry after {rule.retry_after} s"
    error = KlaviError(
        message, headers={"Retry-After": str(rule.retry_after)} if rule.retry_after is not None else None
    )
    error.status = status
    return error


async def answer(injection: Injection, scope: Scope) -> ASGIApp | None:
    """After the rule's delay, what to answer instead of the handler; None: the handler
    answers (a delay-only rule)."""
    rule, entry = injection.rule, injection.entry
    # In the server's log too: a dropped or unanswered request has no access-log line.
    log.info("fault rule %s: %s on %s %s", rule.id, rule.action, entry.method, entry.path)
    if rule.delay_ms:
        await asyncio.sleep(rule.delay_ms / 1000)
    entry.end()  # for an answer, now (its bytes go out next); a hang-up ends it again when it closes
    if rule.status is not None:
        error = status_error(rule)
        return JSONResponse(error.body(), status_code=error.status, headers=error.headers)
    if rule.fault is None:
        return None
    if rule.fault == "malformed":
        body = '{"statusCode":200,"message":"a malformed body from klavi-mock fault ' + rule.id + '"'
        return Response(body, status_code=200, media_type="application/json")
    hang_up = (scope.get("extensions") or {}).get(HANG_UP)
    if hang_up is None:
        error = NotImplementedYet(
            f"the {rule.fault} fault (rule {rule.id}) needs klavi-mock's own server "
            "(klavi-mock serve, or the pytest plugin): this one cannot close the connection"
        )
        return JSONResponse(error.body(), status_code=error.status)

    def close() -> None:
        hang_up()
        entry.end()

    if rule.fault == "truncate":
        return Truncated(rule, close)
    return HangUp(close, rule.timeout_seconds if rule.fault == "timeout" else 0.0)


class HangUp:
    """No answer: wait (for a timeout, until the client leaves or `seconds` pass), then
    close the connection."""

    status_code = 0  # never sent

    def __init__(self, hang_up: Callable[[], None], seconds: float) -> None:
        self.hang_up = hang_up
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _drain(receive)
        if self.seconds:
            try:
                await asyncio.wait_for(_client_left(receive), self.seconds)
            except asyncio.TimeoutError:
                pass
        self.hang_up()


async def _drain(receive: Receive) -> None:
    """Read the request body the handler never read: closing a socket with unread bytes
    makes the kernel reset the connection (the client sees ECONNRESET, not a clean close)."""
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body"):
            return


async def _client_left(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


class Truncated:
    """A 200 that stops halfway through its body."""

    status_code = 200

    def __init__(self, rule: FaultRule, hang_up: Callable[[], None]) -> None:
        self.body = json.dumps(
            {"statusCode": 200, "message": f"a truncated body from klavi-mock fault {rule.id}", "padding": "." * 64}
        ).encode()
        self.hang_up = hang_up

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _drain(receive)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(self.body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": self.body[: len(self.body) // 2], "more_body": True})
        self.hang_up()


async def inject(sandbox: Sandbox, record: Record, operation: Operation, scope: Scope) -> ASGIApp | None:
    """Step 2 (the Klavi API only, after authentication, before anything changes): the
    answer of a fault rule that fires on this request, instead of the handler's; None:
    the handler answers (no rule fired, or a delay-only rule)."""
    # scope["path"], not request.url.path: that builds a URL object on every request
    injection = sandbox.faults.intercept(record.app_id, operation.operation_id, scope["method"], scope["path"])
    if injection is None:
        return None
    record.fault = injection.describe()
    return await answer(injection, scope)
