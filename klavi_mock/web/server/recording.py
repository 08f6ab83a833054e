"""Turning one handled request (the dispatcher's Record) into a journal entry."""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from klavi_mock.qa.journal.masking import mask_headers, mask_raw
from klavi_mock.sandbox.sandbox import Sandbox
from klavi_mock.web.server.record import Record

# A body is kept up to this size (the institution list, the largest answer, is ~20 KiB):
# the ring's memory stays bounded by its size times this.
KEPT_BODY_BYTES = 65_536


def _kept(raw: bytes) -> bytes:
    return mask_raw(raw)[:KEPT_BODY_BYTES]  # masked whole first: a cut must not split a secret


def journal_exchange(
    sandbox: Sandbox,
    request: Request,
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
    scope = request.scope  # read directly: request.url builds a whole URL object
    sandbox.journal.add(
        at=sandbox.clock.now(),
        method=scope["method"],
        path=scope["path"],
        query=scope.get("query_string", b"").decode("latin-1"),
        app_id=record.app_id,
        operation_id=operation_id,
        status=status,
        latency_ms=round((time.perf_counter() - started) * 1000, 3),
        request_headers=mask_headers(scope["headers"]),
        request_body=_kept(record.body),
        response_body=_kept(getattr(response, "body", b"") or b""),
        auth=auth,
        fault=record.fault,
        tolerated=tuple(record.tolerated),
    )


def journal_unrouted(sandbox: Sandbox, request: Request, response: Response) -> None:
    """A request to a path of the Klavi API that the spec does not have (answered 404)."""

    journal_exchange(
        sandbox,
        request,
        f"{request.method} {request.url.path}",
        response.status_code,
        response,
        Record(),
        time.perf_counter(),
    )
