"""Step 8 (the Klavi API only), once the status is final: what the request leaves behind.
The conformance report counts it, the fault reactions learn whether it follows up an
injected fault, and the journal keeps it (unmasked bytes, masked when read: qa/journal)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from klavi_mock.qa.journal.masking import kept
from klavi_mock.sandbox.sandbox import Sandbox
from klavi_mock.spec.operations import Operation
from klavi_mock.web.server.call import Record
from klavi_mock.web.server.logs import JOURNAL_ID


def record_exchange(
    sandbox: Sandbox,
    request: Request,
    operation: Operation | None,
    status: int,
    response: Response,
    record: Record,
    refused: Iterable[str],
    alias_note: str | None,
    started: float,
    arrived: float,
) -> None:
    """`alias_note`: the request used an alias (api.ALIASES), a tolerated deviation of its
    own. `started` (perf_counter) times the journal's latency; `arrived` (wall clock) is
    what a client's backoff is measured in (faults/reactions.py)."""
    scope = request.scope  # read directly: request.url builds a whole URL object
    operation_id = operation.operation_id if operation else f"{scope['method']} {request.url.path}"
    tolerated = (alias_note, *record.tolerated) if alias_note else record.tolerated
    sandbox.conformance.record(record.app_id, operation_id, status, refused, tolerated)
    if operation is not None and record.fault is None and sandbox.faults.reactions.waiting:
        sandbox.faults.reactions.observed(record.app_id, operation_id, status, arrived)  # a follow-up to a fault
    journal(sandbox, scope, operation_id, status, response, record, started)


def journal(
    sandbox: Sandbox,
    scope: Any,
    operation_id: str,
    status: int,
    response: Response,
    record: Record,
    started: float,
) -> None:
    claims = record.claims
    auth: dict[str, Any] | None = None
    if claims is not None:
        auth = {"kind": claims.kind, "appId": claims.tenant_id, "linkId": claims.link_id}
    entry = sandbox.journal.add(
        timestamp=sandbox.clock.timestamp(),
        method=scope["method"],
        path=scope["path"],
        query=scope.get("query_string", b"").decode("latin-1"),
        app_id=record.app_id,
        operation_id=operation_id,
        status=status,
        latency=time.perf_counter() - started,
        headers=scope["headers"],
        request_body=kept(record.body),
        response_body=kept(getattr(response, "body", b"") or b""),
        auth=auth,
        fault=record.fault,
        tolerated=tuple(record.tolerated),
    )
    scope[JOURNAL_ID] = entry.id  # for the access log (logs.AccessLog)


def record_unrouted(sandbox: Sandbox, request: Request, response: Response, started: float) -> None:
    """A request to a path of the Klavi API that the spec does not have (answered 404)."""
    path = request.url.path
    operation_id = f"{request.method} {path}"
    sandbox.conformance.record(None, operation_id, response.status_code, [f"path: {path} is not in the spec"])
    journal(sandbox, request.scope, operation_id, response.status_code, response, Record(), started)
