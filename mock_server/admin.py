"""The control API (/__mock): one handler per operationId of openapi/mock-admin.yaml."""

from __future__ import annotations

from starlette.responses import FileResponse, JSONResponse, Response

from .api.views import consent_view
from .clock import iso
from .domain.consents import Consent
from .domain.links import Link
from .lifecycle import REASONS
from .resources import openapi_dir
from .routing import Call, Handler


def _clock(call: Call) -> dict:
    return {"now": iso(call.sandbox.clock.now()), "offsetSeconds": call.sandbox.clock.offset}


async def get_clock(call: Call) -> Response:
    return JSONResponse(_clock(call))


async def advance_clock(call: Call) -> Response:
    call.sandbox.advance_clock(call.body["seconds"])
    return JSONResponse(_clock(call))


async def reset_state(call: Call) -> Response:
    call.sandbox.reset()
    return JSONResponse({"message": "ok"})


async def list_tenants(call: Call) -> Response:
    return JSONResponse([
        {"appId": t.app_id, "accessKey": t.access_key, "secretKey": t.secret_key,
         "eventsUrl": t.events_url, "productsCallbackURL": t.products_callback_url, "forFi": t.for_fi}
        for t in call.sandbox.tenants.values()
    ])


def _link_state(link: Link, call: Call) -> dict:
    return {
        "linkId": link.id, "appId": link.tenant_id,
        "createdAt": iso(link.created_at), "expireAt": iso(link.expires_at),
        "expired": link.is_expired(call.sandbox.clock.now()),
        "personalTaxId": link.personal_tax_id, "businessTaxId": link.business_tax_id,
        "institutionCode": link.institution_code, "redirectURL": link.redirect_url,
        "productsCallbackURL": link.products_callback_url, "externalInfo": link.external_info,
    }


async def list_links(call: Call) -> Response:
    links = sorted(call.sandbox.store.list_links(call.query.get("appId")), key=lambda l: l.created_at, reverse=True)
    return JSONResponse([_link_state(link, call) for link in links])


def _consent_state(consent: Consent, call: Call) -> dict:
    reason = consent.status_reason
    return {
        **consent_view(consent),
        "appId": consent.tenant_id,
        "statusReason": {"code": reason, "description": REASONS[reason]} if reason else None,
        "persona": consent.persona_id,
        "redirectURL": consent.redirect_url,
        "redirectUsed": consent.ticket_used,
        "redirectExpireAt": iso(consent.redirect_expires_at()),
    }


async def list_personas(call: Call) -> Response:
    personas = call.sandbox.personas
    return JSONResponse([
        {"default": persona is personas.default, **{k: v for k, v in persona.raw.items() if k != "default"}}
        for persona in personas.personas.values()
    ])


async def list_consent_states(call: Call) -> Response:
    consents = call.sandbox.consents.list(None, link_id=call.query.get("linkId"), status=call.query.get("status"))
    app_id = call.query.get("appId")
    return JSONResponse([_consent_state(c, call) for c in consents if app_id is None or c.tenant_id == app_id])


async def get_consent_state(call: Call) -> Response:
    return JSONResponse(_consent_state(call.sandbox.consents.get(None, call.path["consentId"]), call))


async def force_consent_status(call: Call) -> Response:
    consent = call.sandbox.consents.force(call.path["consentId"], call.body["status"])
    return JSONResponse(_consent_state(consent, call))


async def set_consent_persona(call: Call) -> Response:
    consent = call.sandbox.consents.set_persona(call.path["consentId"], call.body["persona"])
    return JSONResponse(_consent_state(consent, call))


async def get_contract(call: Call) -> Response:
    return FileResponse(openapi_dir() / call.path["name"], media_type="application/yaml")


ADMIN_HANDLERS: dict[str, Handler] = {
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
    "getContract": get_contract,
}
