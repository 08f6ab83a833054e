"""The control API's payments endpoints (/__mock/payments/...): instant payments and Automatic
Pix consents with their payments as QA sees them (the API's object, plus the persona, the
time line and the levers each takes now), and the levers themselves
(sandbox/payment_levers.py). Thin handlers: the state is the services'."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from starlette.responses import JSONResponse, Response

from klavi_mock.domain import automatic_pix as ap
from klavi_mock.domain.clock import iso
from klavi_mock.domain.payments import REASONS, InstantPayment, creditor_of
from klavi_mock.sandbox import payment_levers as levers
from klavi_mock.sandbox.automatic_pix import CONSENT_EVENT, PAYMENT_EVENT, consent_body, payment_body
from klavi_mock.storage.protocol import DeliveryFilter
from klavi_mock.web.server.call import Call, Handler

# -- instant payments ---------------------------------------------------------------------


def instant_state(payment: InstantPayment, call: Call) -> dict[str, Any]:
    service = call.sandbox.instant
    customer = payment.request.get("customer") or {}
    reason = payment.status_reason
    return {
        "paymentId": payment.id,
        "appId": payment.tenant_id,
        "clientRequestId": payment.client_request_id,
        "status": payment.status,
        "statusReason": {"code": reason, "message": REASONS[reason]} if reason else None,
        "initType": payment.init_type,
        "amount": payment.amount,
        "currency": str(payment.request.get("currency", "BRL")),
        "date": payment.request.get("date"),
        "creditor": creditor_of(payment),
        "payer": {
            "identifierType": customer.get("identifierType"),
            "identifier": payment.payer_tax_id,
            "name": customer.get("name"),
        },
        "institutionId": payment.request.get("institutionId"),
        "persona": payment.persona_id,
        "whiteLabel": payment.link_token is not None,
        "createdAt": iso(payment.created_at),
        "statusUpdateAt": iso(payment.status_update_at or payment.created_at),
        "history": [{"status": h["status"], "at": iso(datetime.fromisoformat(h["at"]))} for h in payment.history],
        "levers": levers.instant_levers(payment),
        "payment": service.view(payment, call.base_url),
    }


async def list_instant_payment_states(call: Call) -> Response:
    app_id, status = call.query.get("appId"), call.query.get("status")
    payments = [p for p in call.sandbox.store.list_instant_payments(app_id) if status is None or p.status == status]
    payments.sort(key=lambda p: p.created_at, reverse=True)
    return JSONResponse([instant_state(p, call) for p in payments])


async def get_instant_payment_state(call: Call) -> Response:
    return JSONResponse(instant_state(call.sandbox.instant.get(None, call.path["paymentId"]), call))


async def force_instant_payment(call: Call) -> Response:
    payment = levers.force_instant(
        call.sandbox.instant, call.path["paymentId"], call.body["action"], call.body.get("reason")
    )
    return JSONResponse(instant_state(payment, call))


# -- Automatic Pix ------------------------------------------------------------------------


def timelines(call: Call, app_id: str | None) -> dict[str, list[dict[str, Any]]]:
    """Automatic Pix consent or payment id -> its status changes, oldest first, read from
    the webhooks each change sent (one per change; a duplicate sent by chaos counted once).
    Every event of the tenant is read: chaos may batch a change into another's delivery."""
    found: dict[str, list[dict[str, Any]]] = {}
    seen: set[str] = set()
    deliveries = call.sandbox.store.list_deliveries(DeliveryFilter(tenant_id=app_id, kind="event"))
    for delivery in sorted(deliveries, key=lambda d: d.created_at):
        if delivery.name not in (CONSENT_EVENT, PAYMENT_EVENT):
            continue
        events = json.loads(delivery.body)
        for event in events if isinstance(events, list) else [events]:
            payload = event.get("payload") if isinstance(event, dict) else None
            if not isinstance(payload, dict) or str(event.get("eventId")) in seen:
                continue
            seen.add(str(event.get("eventId")))
            found.setdefault(str(payload.get("id")), []).append(
                {
                    "status": payload.get("status"),
                    "reason": (payload.get("statusReason") or {}).get("code"),
                    "at": payload.get("statusUpdateAt") or event.get("eventTime"),
                    "deliveryId": delivery.id,
                    "delivery": delivery.status,
                }
            )
    return found


def automatic_payment_state(payment: ap.AutomaticPayment, lines: dict[str, list[dict]]) -> dict[str, Any]:
    return {
        "paymentId": payment.id,
        "consentId": payment.consent_id,
        "clientRequestId": payment.client_request_id,
        "status": payment.status,
        "statusReason": _reason(payment.status_reason),
        "amount": payment.amount,
        "date": payment.due_date,
        "firstPayment": payment.first,
        "originalPaymentId": payment.original_payment_id,
        "createdAt": iso(payment.created_at),
        "timeline": lines.get(payment.id, []),
        "levers": levers.payment_levers(payment),
        "payment": payment_body(payment),
    }


def automatic_consent_state(consent: ap.AutomaticConsent, call: Call, lines: dict[str, list[dict]]) -> dict[str, Any]:
    config = consent.config
    holder = consent.creditor_account.get("holder") or {}
    payments = sorted(call.sandbox.automatic_pix.payments_of(consent), key=lambda p: p.created_at)
    return {
        "consentId": consent.id,
        "appId": consent.tenant_id,
        "clientRequestId": consent.client_request_id,
        "status": consent.status,
        "statusReason": _reason(consent.status_reason),
        "persona": consent.persona_id,
        "payer": consent.customer,
        "creditor": {"name": holder.get("name"), "identifier": holder.get("identifier")},
        "recurrence": {
            "interval": config.get("interval"),
            "referenceStartDate": config.get("referenceStartDate"),
            "fixedAmount": config.get("fixedAmount"),
            "minimumVariableAmount": config.get("minimumVariableAmount"),
            "maximumVariableAmount": config.get("maximumVariableAmount"),
            "isRetryAccepted": consent.retry_accepted,
        },
        "whiteLabel": consent.link,
        "createdAt": iso(consent.created_at),
        "statusUpdateAt": iso(consent.status_update_at or consent.created_at),
        "timeline": lines.get(consent.id, []),
        "levers": levers.consent_levers(consent),
        "consent": consent_body(consent),
        "payments": [automatic_payment_state(p, lines) for p in payments],
    }


def _reason(code: str | None) -> dict[str, str] | None:
    return {"code": code, "message": ap.REASONS.get(code, code)} if code else None


async def list_automatic_consent_states(call: Call) -> Response:
    app_id, status = call.query.get("appId"), call.query.get("status")
    consents = [c for c in call.sandbox.store.list_automatic_consents(app_id) if status is None or c.status == status]
    consents.sort(key=lambda c: c.created_at, reverse=True)
    lines = timelines(call, app_id)
    return JSONResponse([automatic_consent_state(c, call, lines) for c in consents])


async def get_automatic_consent_state(call: Call) -> Response:
    consent = call.sandbox.automatic_pix.get_consent(None, call.path["consentId"])
    return JSONResponse(automatic_consent_state(consent, call, timelines(call, consent.tenant_id)))


async def force_automatic_consent(call: Call) -> Response:
    consent = levers.force_automatic_consent(
        call.sandbox.automatic_pix, call.path["consentId"], call.body["action"], call.body.get("reason")
    )
    return JSONResponse(automatic_consent_state(consent, call, timelines(call, consent.tenant_id)))


async def force_automatic_payment(call: Call) -> Response:
    payment = levers.force_automatic_payment(
        call.sandbox.automatic_pix,
        call.path["consentId"],
        call.path["paymentId"],
        call.body["action"],
        call.body.get("reason"),
    )
    return JSONResponse(automatic_payment_state(payment, timelines(call, payment.tenant_id)))


# -- what a clock move did to them (POST /__mock/clock/advance's fellDue) -----------------


def payments_fell_due(call: Call, before: datetime) -> list[dict[str, Any]]:
    """The payments' status changes the clock's move made (settlements, scheduled dates,
    timeouts, a persona's scripted step): each one after `before`, oldest first."""
    store, now = call.sandbox.store, call.sandbox.clock.now()
    items: list[dict[str, Any]] = []

    def item(kind: str, at: datetime, what: str, consent_id: str | None, payment_id: str | None) -> None:
        if before < at <= now:
            entry = {"kind": kind, "dueAt": iso(at), "consentId": consent_id, "deliveryId": None}
            items.append({**entry, "paymentId": payment_id, "what": what})

    for payment in store.list_instant_payments():
        for previous, step in zip([None, *payment.history], payment.history, strict=False):
            came = f"{previous['status']} → " if previous else ""
            item(
                "payment",
                datetime.fromisoformat(step["at"]),
                f"instant payment {came}{step['status']}",
                None,
                payment.id,
            )
    for consent in store.list_automatic_consents():
        if consent.status_update_at is not None:
            what = f"Automatic Pix consent → {consent.status}" + (
                f" ({consent.status_reason})" if consent.status_reason else ""
            )
            item("automatic_consent", consent.status_update_at, what, consent.id, None)
    for charge in store.list_automatic_payments():
        if charge.status_update_at is not None:
            what = f"Automatic Pix payment → {charge.status}" + (
                f" ({charge.status_reason})" if charge.status_reason else ""
            )
            item("automatic_payment", charge.status_update_at, what, charge.consent_id, charge.id)
    return sorted(items, key=lambda i: i["dueAt"])


PAYMENT_HANDLERS: dict[str, Handler] = {
    "listInstantPaymentStates": list_instant_payment_states,
    "getInstantPaymentState": get_instant_payment_state,
    "forceInstantPayment": force_instant_payment,
    "listAutomaticConsentStates": list_automatic_consent_states,
    "getAutomaticConsentState": get_automatic_consent_state,
    "forceAutomaticConsent": force_automatic_consent,
    "forceAutomaticPayment": force_automatic_payment,
}
