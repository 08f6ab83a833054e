"""POST /customer/v1/instant/payment-links (WhiteLabel): the partner's keys in the body."""

from starlette.responses import JSONResponse, Response

from klavi_mock.domain.tokens import PAYMENT
from klavi_mock.sandbox.payments import payment_url
from klavi_mock.web.server.call import Call


async def create_instant_payment_link(call: Call) -> Response:
    call.record.app_id = call.sandbox.tenant_id_for_key(call.body["accessKey"])
    call.sandbox.log_in(call.body["accessKey"], call.body["secretKey"], PAYMENT)  # 401 for wrong keys
    assert call.record.app_id is not None, "log_in found the tenant"
    payment, created, notes = call.sandbox.instant.create_link(call.record.app_id, call.body["payment"])
    call.record.tolerated = (*call.record.tolerated, *notes)
    body = {"id": payment.id, "accessToken": payment.link_token, "paymentURL": payment_url(call.base_url, payment)}
    return JSONResponse(body, status_code=201 if created else 200)
