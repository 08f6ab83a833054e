"""POST /customer/v1/instant/payments, GET /customer/v1/instant/payments/{id} and its /status."""

from starlette.responses import JSONResponse, Response

from klavi_mock.web.server.call import Call


async def create_instant_payment(call: Call) -> Response:
    payment, created, notes = call.sandbox.instant.create(call.partner.app_id, call.body)
    call.record.tolerated = (*call.record.tolerated, *notes)
    return JSONResponse(call.sandbox.instant.view(payment, call.base_url), status_code=201 if created else 200)


async def get_instant_payment(call: Call) -> Response:
    payment = call.sandbox.instant.get(call.partner.app_id, call.path["id"])
    return JSONResponse(call.sandbox.instant.view(payment, call.base_url))


async def get_instant_payment_status(call: Call) -> Response:
    payment = call.sandbox.instant.get(call.partner.app_id, call.path["id"])
    return JSONResponse(call.sandbox.instant.status_view(payment))
