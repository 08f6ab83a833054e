"""Step 7: every request is one unit of work (`unit_of_work.py`). What it changed is
committed (written to a state file, its webhooks handed to the dispatcher) just before its
answer goes out, so an answer the client has seen survives a restart, kill -9 included; a
request that answers 5xx or raises is undone. A commit the state file refuses (a full disk)
undoes the request too, and the client gets a 503 saying why instead of its answer.

Due work on the clock runs first, outside the request's unit: a failed request cannot undo
what time did.

The Klavi API's pipeline opens and finishes its unit itself (it knows its answer before
sending it); the rest of the app (control API, pages) is wrapped in `OneUnitPerRequest`.
"""

from __future__ import annotations

import contextvars
import logging

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from klavi_mock import unit_of_work
from klavi_mock.errors import ServiceUnavailable
from klavi_mock.sandbox.sandbox import Sandbox
from klavi_mock.storage.protocol import StorageError
from klavi_mock.web.server.errors import error_response

log = logging.getLogger("klavi_mock")


def begin() -> tuple[unit_of_work.Unit, contextvars.Token]:
    """A unit for this request (its context); the caller runs the due work first."""
    return unit_of_work.begin()


def finish(sandbox: Sandbox, unit: unit_of_work.Unit, status: int) -> ServiceUnavailable | None:
    """Commit the unit, or undo it (a 5xx); the error to answer instead, if the commit
    failed. Sets `unit.status` to the status that goes out."""
    unit.status = status
    if status >= 500:
        unit.rolled_back()
        return None
    try:
        sandbox.store.commit()
    except StorageError as exc:
        if not unit.changed_anything:  # the request itself changed nothing: its answer holds
            log.warning("%s; trying again later", exc)
            return None
        unit.rolled_back()
        log.error("%s; the request was answered 503 and nothing it did was kept", exc)
        refusal = ServiceUnavailable(
            f"klavi-mock could not save this change ({exc.__cause__ or exc}); nothing was "
            "changed. Free disk space for the state file and send the request again"
        )
        unit.status = refusal.status
        return refusal
    unit.committed()
    return None


def end(unit: unit_of_work.Unit, token: contextvars.Token) -> None:
    if unit.status is None:  # raised, or ended without answering: nothing it did is kept
        unit.rolled_back()
    unit_of_work.end(token)


def hung_up(scope: Scope) -> None:
    """A normal event: one line, no traceback."""
    log.info("%s %s: the client hung up before sending its whole request", scope["method"], scope["path"])


class OneUnitPerRequest:
    """The unit of work around an ASGI app that does not finish its own: committed when
    the answer starts (its status decides)."""

    def __init__(self, app: ASGIApp, sandbox: Sandbox) -> None:
        self.app = app
        self.sandbox = sandbox

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.sandbox.run_due()
        unit, token = begin()
        replaced = False

        async def send_committed(message: Message) -> None:
            nonlocal replaced
            if replaced:
                return  # the original answer, swapped for a 503
            if message["type"] == "http.response.start":
                refusal = finish(self.sandbox, unit, message["status"])
                if refusal is not None:
                    replaced = True
                    await error_response(refusal)(scope, receive, send)
                    return
            await send(message)

        try:
            await self.app(scope, receive, send_committed)
        except ClientDisconnect:
            hung_up(scope)
        finally:
            end(unit, token)
