"""Control-API endpoints the cockpit needs (each in openapi/mock-admin.yaml): the request
journal (list, one entry, replay), the bank's answer for a consent, the report requests,
and what fell due when the clock moved."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import httpx
from starlette.responses import JSONResponse, Response

from klavi_mock.domain.clock import iso
from klavi_mock.domain.deliveries import PENDING
from klavi_mock.domain.tokens import ACCESS, LINK
from klavi_mock.errors import InvalidRequest, NotFound
from klavi_mock.qa.journal.masking import MASK, decoded
from klavi_mock.qa.journal.ring import JournalEntry, replaying
from klavi_mock.sandbox.consents import FellDue
from klavi_mock.sandbox.sandbox import Sandbox
from klavi_mock.storage.protocol import DeliveryFilter
from klavi_mock.web.apis.control.views import consent_state
from klavi_mock.web.server.call import Call, Handler

MAX_PAGE = 1000
# Reads of the webhook log first wait (this long at most) for the report builds under way,
# so they show what every request answered before them sent (an x-mock-choice).
SETTLE_SECONDS = 10.0
DEFAULT_PAGE = 100


def fell_due(sandbox: Sandbox, before: datetime, ran: list[FellDue]) -> list[dict[str, Any]]:
    """What a clock move made happen: the consent jobs that ran, then the webhook deliveries
    (retries, delayed reports) it made due, which the dispatcher sends now."""
    now = sandbox.clock.now()
    items: list[dict[str, Any]] = [
        {
            "kind": job.kind,
            "dueAt": iso(job.due),
            "consentId": job.consent_id,
            "deliveryId": None,
            "what": f"consent {job.status_before} → {job.status} ({job.reason})",
        }
        for job in ran
    ]
    items += [
        {
            "kind": "webhook",
            "dueAt": iso(d.next_attempt_at),
            "consentId": None,
            "deliveryId": d.id,
            "what": f"{d.kind} {d.name} to {d.destination} (attempt {len(d.attempts) + 1})",
        }
        for d in sandbox.store.list_deliveries(DeliveryFilter(status=PENDING))
        if d.destination and before < d.next_attempt_at <= now
    ]
    return items


# -- the request journal --------------------------------------------------------------


def entry_view(entry: JournalEntry) -> dict[str, Any]:
    return {
        "journalId": entry.id,
        "at": iso(entry.at),
        "method": entry.method,
        "path": entry.path,
        "query": entry.query,
        "appId": entry.app_id,
        "operationId": entry.operation_id,
        "status": entry.status,
        "latencyMs": entry.latency_ms,
        "requestHeaders": entry.request_headers,
        "requestBody": decoded(entry.request_body),
        "responseBody": decoded(entry.response_body),
        "fault": entry.fault,
        "replayOf": entry.replay_of,
    }


def _cursor(value: str | None) -> int | None:
    if value is None:
        return None
    digits = value[1:]
    if not (value.startswith("c") and digits.isascii() and digits.isdigit()):
        raise InvalidRequest(f"query.cursor: {value!r} is not a cursor this list answered (nextCursor)")
    return int(digits)


async def list_requests(call: Call) -> Response:
    query = call.query
    limit = query.get("limit", DEFAULT_PAGE)
    before = _cursor(query.get("cursor"))
    status, method, prefix = query.get("status"), query.get("method"), query.get("pathPrefix")
    items: list[JournalEntry] = []
    more = False
    for entry in call.sandbox.journal.newest_first(before):
        if (
            (query.get("appId") is None or entry.app_id == query["appId"])
            and (query.get("operationId") is None or entry.operation_id == query["operationId"])
            and (method is None or entry.method == method.upper())
            and (status is None or entry.status == status)
            and (prefix is None or entry.path.startswith(prefix))
        ):
            if len(items) == limit:
                more = True
                break
            items.append(entry)
    return JSONResponse(
        {
            "items": [entry_view(e) for e in items],
            "nextCursor": f"c{items[-1].sequence}" if more else None,
            "size": call.sandbox.journal.size,
        }
    )


def _entry(call: Call) -> JournalEntry:
    entry = call.sandbox.journal.get(call.path["journalId"])
    if entry is None:
        raise NotFound(
            f"journal entry {call.path['journalId']} not found (the journal keeps the last "
            f"{call.sandbox.journal.size} requests); see GET /__mock/requests"
        )
    return entry


async def get_request(call: Call) -> Response:
    return JSONResponse(entry_view(_entry(call)))


def _replay_headers(sandbox: Sandbox, entry: JournalEntry) -> dict[str, str]:
    """The entry's headers with working credentials again: a token of the same kind for the
    same tenant (and link), minted now; a masked one stays masked (the original was refused)."""
    headers = dict(entry.request_headers)
    headers.pop("x-mock-admin-token", None)
    auth = entry.auth
    app_id = auth["appId"] if auth else None
    if auth and app_id is not None and app_id in sandbox.tenants:
        if auth["kind"] == ACCESS:
            headers["authorization"] = f"Bearer {sandbox.tokens.issue_access(app_id)}"
        elif auth["kind"] == LINK:
            link = sandbox.store.get_link(app_id, auth["linkId"] or "")
            if link is not None:
                headers["authorization"] = f"Bearer {sandbox.tokens.issue_link(app_id, link.id, link.expires_at)}"
    return headers


def _replay_body(sandbox: Sandbox, entry: JournalEntry) -> bytes:
    body = decoded(entry.request_body)
    tenant = sandbox.tenants.get(entry.app_id or "")
    if (
        isinstance(body, dict) and tenant is not None and body.get("secretKey") == MASK
    ):  # POST /auth: its own keys again
        return json.dumps({**body, "accessKey": tenant.access_key, "secretKey": tenant.secret_key}).encode("utf-8")
    return entry.request_body


async def replay_request(call: Call) -> Response:
    """Send the entry's request again, through the whole app (middleware, unit of work,
    journal), and answer the new entry."""
    entry = _entry(call)
    sandbox = call.sandbox
    holder: list = [entry.id]
    token = replaying.set(holder)
    try:
        transport = httpx.ASGITransport(app=call.request.scope["app"], client=("127.0.0.1", 0))
        async with httpx.AsyncClient(transport=transport, base_url=call.base_url) as client:
            await client.request(
                entry.method,
                entry.path + (f"?{entry.query}" if entry.query else ""),
                headers=_replay_headers(sandbox, entry),
                content=_replay_body(sandbox, entry),
            )
    finally:
        replaying.reset(token)
    if len(holder) < 2:  # answered before reaching the API (e.g. a path outside /data/v1): nothing journaled
        raise NotFound(f"the replay of {entry.id} was not journaled")
    return JSONResponse(entry_view(holder[1]))


# -- the bank, reports ------------------------------------------------------------------


async def answer_at_bank(call: Call) -> Response:

    body = call.body
    approve = body["decision"] == "approve"
    step = call.sandbox.consents.act_at_bank(
        call.path["consentId"], approve, body.get("permissions"), accept_lgpd=body.get("lgpd", "accept") == "accept"
    )
    return JSONResponse(
        {"consent": consent_state(step.consent, call), "returnURL": step.return_url, "waiting": step.page == "waiting"}
    )


async def list_reports(call: Call) -> Response:
    sandbox = call.sandbox
    await sandbox.reports.settle(SETTLE_SECONDS)
    by_request: dict[str, list] = {}
    for delivery in sandbox.store.list_deliveries():
        if delivery.request_id is not None:
            by_request.setdefault(delivery.request_id, []).append(delivery)
    answer = []
    for request in sandbox.store.list_report_requests(call.query.get("appId"), call.query.get("taxId")):
        deliveries = by_request.get(request.id, [])
        answer.append(
            {
                "requestId": request.id,
                "appId": request.tenant_id,
                "person": request.person,
                "level": request.level,
                "taxId": request.tax_id,
                "products": request.products,
                "consentIds": request.consent_ids,
                "linkId": request.link_id,
                "createdAt": iso(request.created_at),
                "reports": [_report(d) for d in deliveries if d.kind == "report"],
                "events": [
                    {"deliveryId": d.id, "eventName": d.name, "status": d.status}
                    for d in deliveries
                    if d.kind == "event"
                ],
            }
        )
    return JSONResponse(answer)


def _report(delivery) -> dict[str, Any]:
    body = json.loads(delivery.body)
    return {
        "productName": delivery.name,
        "deliveryId": delivery.id,
        "status": delivery.status,
        "destination": delivery.destination,
        "code": body.get("code") if isinstance(body, dict) else None,
        "productReportId": body.get("productReportId") if isinstance(body, dict) else None,
    }


COCKPIT_HANDLERS: dict[str, Handler] = {
    "listRequests": list_requests,
    "getRequest": get_request,
    "replayRequest": replay_request,
    "answerAtBank": answer_at_bank,
    "listReports": list_reports,
}
