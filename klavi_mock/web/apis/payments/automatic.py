"""Automatic Pix: the consents, the consent links, the payments (charges, retries,
cancellations) and the management API's consent list. Thin: each handler hands its call to
`sandbox.automatic_pix` and answers what it returns as the GET would."""

from starlette.responses import JSONResponse, Response

from klavi_mock.sandbox.automatic_pix import consent_body, consent_status_body, payment_body
from klavi_mock.web.server.call import Call


def _tolerate(call: Call, notes: list[str]) -> None:
    """What was accepted anyway (CPF/CNPJ check digits) goes to the conformance report."""
    call.record.tolerated = (*call.record.tolerated, *notes)


def _created(body: dict, new: bool) -> JSONResponse:
    """201 for what this request made, 200 for what the same request made before."""
    return JSONResponse(body, status_code=201 if new else 200)


async def create_consent(call: Call) -> Response:
    consent, new, notes = call.sandbox.automatic_pix.create_consent(call.partner, call.body, call.base_url)
    _tolerate(call, notes)
    return _created(consent_body(consent), new)


async def create_consent_link(call: Call) -> Response:
    call.record.app_id = call.sandbox.tenant_id_for_key(call.body["accessKey"])
    tenant = call.sandbox.partner_with_keys(call.body["accessKey"], call.body["secretKey"])
    automatic = call.sandbox.automatic_pix
    consent, new, notes = automatic.create_consent(tenant, call.body["consent"], call.base_url, link=True)
    _tolerate(call, notes)
    return _created({"consentId": consent.id, "token": consent.ticket, "consentURL": consent.consent_url}, new)


async def get_consent(call: Call) -> Response:
    return JSONResponse(consent_body(call.sandbox.automatic_pix.get_consent(call.partner, call.path["id"])))


async def get_consent_status(call: Call) -> Response:
    return JSONResponse(consent_status_body(call.sandbox.automatic_pix.get_consent(call.partner, call.path["id"])))


async def cancel_consent(call: Call) -> Response:
    consent, notes = call.sandbox.automatic_pix.cancel_consent(call.partner, call.path["consentId"], call.body)
    _tolerate(call, notes)
    return JSONResponse(consent_body(consent))


async def create_payment(call: Call) -> Response:
    payment, new = call.sandbox.automatic_pix.charge(call.partner, call.path["consentId"], call.body)
    return _created(payment_body(payment), new)


async def get_payment(call: Call) -> Response:
    payment = call.sandbox.automatic_pix.get_payment(call.partner, call.path["consentId"], call.path["paymentId"])
    return JSONResponse(payment_body(payment))


async def retry_payment(call: Call) -> Response:
    payment, new = call.sandbox.automatic_pix.retry(
        call.partner, call.path["consentId"], call.path["paymentId"], call.body
    )
    return _created(payment_body(payment), new)


async def cancel_payment(call: Call) -> Response:
    payment, notes = call.sandbox.automatic_pix.cancel_payment(
        call.partner, call.path["consentId"], call.path["paymentId"], call.body
    )
    _tolerate(call, notes)
    return JSONResponse(payment_body(payment))


async def list_consents(call: Call) -> Response:
    page_num, page_size = call.query.get("pageNum", 1), call.query.get("pageSize", 10)
    page = call.sandbox.automatic_pix.list_consents(
        call.partner,
        call.path["appId"],
        page_num,
        page_size,
        status=call.query.get("status"),
        identifier=call.query.get("identifier"),
    )
    return JSONResponse(
        {
            "pageNum": page_num,
            "pageSize": page_size,
            "total": page.total,
            "list": [consent_body(c) for c in page.items],
        }
    )
