"""The control API (/__mock): one handler per operationId of openapi/mock-admin.yaml."""

from __future__ import annotations

import json
import time

from starlette.responses import FileResponse, JSONResponse, Response

from klavi_mock import __version__
from klavi_mock.config import Settings
from klavi_mock.contract.receiver import check_receiver
from klavi_mock.domain.clock import iso
from klavi_mock.domain.deliveries import Delivery, shown_key
from klavi_mock.domain.links import Link
from klavi_mock.errors import NotFound
from klavi_mock.resources import openapi_dir
from klavi_mock.spec.operations import klavi_operations
from klavi_mock.storage.protocol import DeliveryFilter
from klavi_mock.web.apis.control.cockpit import COCKPIT_HANDLERS, SETTLE_SECONDS, fell_due
from klavi_mock.web.apis.control.faults import FAULT_HANDLERS
from klavi_mock.web.apis.control.payments import PAYMENT_HANDLERS, payments_fell_due
from klavi_mock.web.apis.control.views import consent_state
from klavi_mock.web.server.call import Call, Handler
from klavi_mock.webhooks.chaos import Chaos
from klavi_mock.webhooks.signing import sign, verify_signature

NO_CHAOS = Chaos()
STARTED = time.monotonic()  # the process's start, near enough: this module loads as it starts


async def get_health(call: Call) -> Response:
    """Up and serving. No token needed (mock-admin.yaml: `security: []`; the Host guard lets
    it through too), so it says nothing secret: no keys, no tenant data."""
    return JSONResponse(
        {
            "status": "ok",
            "version": __version__,
            "uptimeSeconds": round(time.monotonic() - STARTED, 3),
            "storage": _storage(call.sandbox.settings),
        },
        headers={"cache-control": "no-store"},
    )


def _storage(settings: Settings) -> str:
    return "postgres" if settings.database_url else "sqlite" if settings.state_file else "memory"


def _clock(call: Call) -> dict:
    return {"now": iso(call.sandbox.clock.now()), "offsetSeconds": call.sandbox.clock.offset}


async def get_clock(call: Call) -> Response:
    return JSONResponse(_clock(call))


async def advance_clock(call: Call) -> Response:
    # The report builds under way first: a report a request already answered for is then
    # in the outbox, and the move makes it due as it would have on a real clock.
    await call.sandbox.reports.settle(SETTLE_SECONDS)
    before = call.sandbox.clock.now()
    _, ran = call.sandbox.advance_clock(call.body["seconds"])
    fell = fell_due(call.sandbox, before, ran) + payments_fell_due(call, before)
    return JSONResponse({**_clock(call), "fellDue": fell})


async def reset_state(call: Call) -> Response:
    call.sandbox.reset(rewind_clock=bool((call.body or {}).get("rewindClock")))
    return JSONResponse({"message": "ok"})


def _tenant(tenant) -> dict:
    return {
        "appId": tenant.app_id,
        "accessKey": tenant.access_key,
        "secretKey": tenant.secret_key,
        "eventsUrl": tenant.events_url,
        "productsCallbackURL": tenant.products_callback_url,
        "forFi": tenant.for_fi,
        "reportDelivery": tenant.report_delivery,
        "activatedProducts": list(tenant.activated_products) if tenant.activated_products is not None else None,
        "encryptSensitiveFields": tenant.encrypt_sensitive_fields,
        "trackingEvents": tenant.tracking_events,
        "partner": tenant.partner_id,
        "paymentsUrl": tenant.payments_url,
    }


async def list_tenants(call: Call) -> Response:
    return JSONResponse([_tenant(t) for t in call.sandbox.tenants.values()])


async def set_tenant_webhooks(call: Call) -> Response:
    current = call.sandbox.tenants.get(call.path["appId"])
    body = call.body or {}
    tenant = call.sandbox.tenants.configure_webhooks(
        call.path["appId"],
        body.get("eventsUrl", current.events_url if current else None),
        body.get("productsCallbackURL", current.products_callback_url if current else None),
        body.get("trackingEvents"),
        body.get("paymentsUrl", current.payments_url if current else None),
    )
    return JSONResponse(_tenant(tenant))


REPORT_SETTINGS = {
    "reportDelivery": "report_delivery",
    "activatedProducts": "activated_products",
    "encryptSensitiveFields": "encrypt_sensitive_fields",
}


async def set_tenant_reports(call: Call) -> Response:
    changes = {attr: call.body[key] for key, attr in REPORT_SETTINGS.items() if key in call.body}
    if changes.get("activated_products") is not None:
        changes["activated_products"] = tuple(changes["activated_products"])
    return JSONResponse(_tenant(call.sandbox.tenants.configure_reports(call.path["appId"], changes)))


async def get_report(call: Call) -> Response:
    return JSONResponse(call.sandbox.reports.report(call.path["productReportId"]))


def _delivery(delivery: Delivery) -> dict:
    return {
        "deliveryId": delivery.id,
        "appId": delivery.tenant_id,
        "kind": delivery.kind,
        "name": delivery.name,
        "status": delivery.status,
        "destination": delivery.destination,
        "createdAt": iso(delivery.created_at),
        "nextAttemptAt": iso(delivery.next_attempt_at),
        "retriesLeft": delivery.retries_left,
        "requestId": delivery.request_id,
        "orderingKey": shown_key(delivery.ordering_key),
        "chaos": delivery.chaos,
        "body": json.loads(delivery.body),
        "attempts": [
            {
                "number": a.number,
                "at": iso(a.at),
                "url": a.url,
                "statusCode": a.status_code,
                "latencyMs": a.latency_ms,
                "error": a.error,
                "responseExcerpt": a.response_excerpt,
            }
            for a in delivery.attempts
        ],
    }


DELIVERY_FILTERS = {
    "appId": "tenant_id",
    "kind": "kind",
    "name": "name",
    "status": "status",
    "requestId": "request_id",
    "orderingKey": "ordering_key",
}


def _filter(values: dict) -> DeliveryFilter:
    """The deliveries the filters in `values` name (none given: every one)."""
    return DeliveryFilter(**{attr: values[key] for key, attr in DELIVERY_FILTERS.items() if key in values})


async def list_webhook_deliveries(call: Call) -> Response:
    await call.sandbox.reports.settle(SETTLE_SECONDS)
    store, where, cursor = call.sandbox.store, _filter(call.query), call.query.get("cursor")
    page = store.page_deliveries(where, call.query.get("limit", 100), int(cursor[1:]) if cursor else None)
    return JSONResponse(
        {
            "items": [_delivery(d) for d in page.items],
            "nextCursor": f"c{page.next_before}" if page.next_before else None,
            "counts": store.delivery_counts(where.without_status()),
        }
    )


async def redeliver_webhooks(call: Call) -> Response:
    redelivered = call.sandbox.webhooks.redeliver_all(_filter(call.body))
    stuck = sum(1 for d in redelivered if d.status == "undeliverable")
    return JSONResponse({"redelivered": len(redelivered) - stuck, "undeliverable": stuck})


async def get_webhook_delivery(call: Call) -> Response:
    return JSONResponse(_delivery(call.sandbox.webhooks.get(call.path["deliveryId"])))


async def redeliver_webhook(call: Call) -> Response:
    return JSONResponse(_delivery(call.sandbox.webhooks.redeliver(call.path["deliveryId"])))


async def get_webhook_chaos(call: Call) -> Response:
    if call.path["appId"] not in call.sandbox.tenants:
        raise NotFound(f"no tenant with appId {call.path['appId']!r}; see GET /__mock/tenants")
    return JSONResponse((call.sandbox.tenants.chaos(call.path["appId"]) or NO_CHAOS).describe())


async def set_webhook_chaos(call: Call) -> Response:
    return JSONResponse(call.sandbox.tenants.set_chaos(call.path["appId"], call.body).describe())


async def clear_webhook_chaos(call: Call) -> Response:
    return JSONResponse(call.sandbox.tenants.set_chaos(call.path["appId"], None).describe())


async def fire_webhook_event(call: Call) -> Response:
    body = call.body
    delivery = call.sandbox.fire_event(
        body["eventName"],
        app_id=body.get("appId"),
        consent_id=body.get("consentId"),
        link_id=body.get("linkId"),
        payload=body.get("payload"),
        external_info=body.get("externalInfo"),
    )
    return JSONResponse(_delivery(delivery))


async def verify_webhook_signature(call: Call) -> Response:
    app_id = call.body.get("appId") or next(iter(call.sandbox.tenants))
    tenant = call.sandbox.tenants.get(app_id)
    if tenant is None:
        raise NotFound(f"no tenant with appId {app_id!r}; see GET /__mock/tenants")
    raw = call.body["body"].encode("utf-8")
    return JSONResponse(
        {
            "valid": verify_signature(raw, call.body["signature"], tenant.secret_key),
            "expected": sign(raw, tenant.secret_key),
        }
    )


def _link_state(link: Link, call: Call) -> dict:
    return {
        "linkId": link.id,
        "appId": link.tenant_id,
        "createdAt": iso(link.created_at),
        "expireAt": iso(link.expires_at),
        "expired": link.is_expired(call.sandbox.clock.now()),
        "personalTaxId": link.personal_tax_id,
        "businessTaxId": link.business_tax_id,
        "institutionCode": link.institution_code,
        "redirectURL": link.redirect_url,
        "productsCallbackURL": link.products_callback_url,
        "externalInfo": link.external_info,
    }


async def list_links(call: Call) -> Response:
    links = sorted(
        call.sandbox.store.list_links(call.query.get("appId")), key=lambda link: link.created_at, reverse=True
    )
    return JSONResponse([_link_state(link, call) for link in links])


async def list_personas(call: Call) -> Response:
    personas = call.sandbox.personas
    return JSONResponse(
        [
            {"default": persona is personas.default, **{k: v for k, v in (persona.raw or {}).items() if k != "default"}}
            for persona in personas.personas.values()
        ]
    )


async def list_consent_states(call: Call) -> Response:
    consents = call.sandbox.consents.list(None, link_id=call.query.get("linkId"), status=call.query.get("status"))
    app_id = call.query.get("appId")
    return JSONResponse([consent_state(c, call) for c in consents if app_id is None or c.tenant_id == app_id])


async def get_consent_state(call: Call) -> Response:
    return JSONResponse(consent_state(call.sandbox.consents.get(None, call.path["consentId"]), call))


async def force_consent_status(call: Call) -> Response:
    consent = call.sandbox.consents.force(call.path["consentId"], call.body["status"])
    return JSONResponse(consent_state(consent, call))


async def set_consent_persona(call: Call) -> Response:
    consent = call.sandbox.consents.set_persona(call.path["consentId"], call.body["persona"])
    return JSONResponse(consent_state(consent, call))


async def list_tracking_events(call: Call) -> Response:
    return JSONResponse(
        call.sandbox.tracking.list(call.query.get("appId"), call.query.get("linkId"), call.query.get("eventName"))
    )


async def create_task(call: Call) -> Response:
    body = call.body
    task = call.sandbox.tasks.create(
        body["linkId"],
        body["institutionCode"],
        body["status"],
        body.get("code"),
        body.get("message"),
        body.get("mfaType", "questions"),
    )
    return JSONResponse(
        {"taskId": task.id, "linkId": task.link_id, "institutionCode": task.institution_code, "status": task.status}
    )


async def get_conformance(call: Call) -> Response:
    sandbox = call.sandbox
    await sandbox.reports.settle(SETTLE_SECONDS)
    return JSONResponse(
        sandbox.conformance.report(
            klavi_operations(),
            sandbox.store.list_deliveries(),
            call.query.get("appId"),
            faults=sandbox.faults.reactions,
        )
    )


async def reset_conformance(call: Call) -> Response:
    call.sandbox.conformance.reset()
    call.sandbox.faults.reactions.reset()
    return JSONResponse({"message": "ok"})


async def run_receiver_check(call: Call) -> Response:

    body = call.body
    app_id = body.get("appId") or next(iter(call.sandbox.tenants))
    secret = body.get("secret")
    if secret is None:
        tenant = call.sandbox.tenants.get(app_id)
        if tenant is None:
            raise NotFound(f"no tenant with appId {app_id!r}; see GET /__mock/tenants")
        secret = tenant.secret_key
    result = await check_receiver(
        body["url"],
        secret,
        timeout=body.get("timeoutSeconds", 10),
        require_signatures=body.get("requireSignatures", False),
        app_id=app_id,
    )
    return JSONResponse(result.view())


async def get_contract(call: Call) -> Response:
    return FileResponse(openapi_dir() / call.path["name"], media_type="application/yaml")


ADMIN_HANDLERS: dict[str, Handler] = {
    "getHealth": get_health,
    "getClock": get_clock,
    "advanceClock": advance_clock,
    "resetState": reset_state,
    "listTenants": list_tenants,
    "listLinks": list_links,
    "listPersonas": list_personas,
    "listConsentStates": list_consent_states,
    "getConsentState": get_consent_state,
    "forceConsentStatus": force_consent_status,
    "setConsentPersona": set_consent_persona,
    "setTenantWebhooks": set_tenant_webhooks,
    "setTenantReports": set_tenant_reports,
    "getReport": get_report,
    "listWebhookDeliveries": list_webhook_deliveries,
    "getWebhookDelivery": get_webhook_delivery,
    "redeliverWebhook": redeliver_webhook,
    "redeliverWebhooks": redeliver_webhooks,
    "getWebhookChaos": get_webhook_chaos,
    "setWebhookChaos": set_webhook_chaos,
    "clearWebhookChaos": clear_webhook_chaos,
    "fireWebhookEvent": fire_webhook_event,
    "verifyWebhookSignature": verify_webhook_signature,
    "createTask": create_task,
    "listTrackingEvents": list_tracking_events,
    "getConformance": get_conformance,
    "resetConformance": reset_conformance,
    "getContract": get_contract,
    "runReceiverCheck": run_receiver_check,
    **FAULT_HANDLERS,
    **PAYMENT_HANDLERS,  # instant payments and Automatic Pix: their states and QA levers
    **COCKPIT_HANDLERS,  # what the QA cockpit (klavi_mock/web/pages/cockpit) needs: the journal, the bank, reports
}
