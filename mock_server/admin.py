"""The control API (/__mock): one handler per operationId of openapi/mock-admin.yaml."""

from __future__ import annotations

from starlette.responses import FileResponse, JSONResponse, Response

from .clock import iso
from .domain.links import Link
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


async def get_contract(call: Call) -> Response:
    return FileResponse(openapi_dir() / call.path["name"], media_type="application/yaml")


ADMIN_HANDLERS: dict[str, Handler] = {
    "getClock": get_clock,
    "advanceClock": advance_clock,
    "resetState": reset_state,
    "listTenants": list_tenants,
    "listLinks": list_links,
    "getContract": get_contract,
}
