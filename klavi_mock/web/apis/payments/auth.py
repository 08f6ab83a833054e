"""POST /payment/customer/v1/auth."""

from datetime import timedelta

from starlette.responses import JSONResponse, Response

from klavi_mock.domain.clock import iso
from klavi_mock.domain.tokens import PAYMENT
from klavi_mock.web.server.call import Call


async def create_payment_access_token(call: Call) -> Response:
    call.record.app_id = call.sandbox.tenant_id_for_key(call.body["accessKey"])
    token, expire_in = call.sandbox.log_in(call.body["accessKey"], call.body["secretKey"], PAYMENT)
    expire = call.sandbox.clock.now() + timedelta(seconds=expire_in)
    return JSONResponse({"accessToken": token, "expireIn": expire_in, "expire": iso(expire)})
