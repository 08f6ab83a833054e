"""POST /auth and GET /refresh."""

from starlette.responses import JSONResponse, Response

from klavi_mock.web.server.call import Call


async def create_access_token(call: Call) -> Response:
    # Whose client this is, for the conformance report, even when the secret is wrong.
    call.record.app_id = call.sandbox.tenant_id_for_key(call.body["accessKey"])
    token, expire_in = call.sandbox.log_in(call.body["accessKey"], call.body["secretKey"])
    return JSONResponse({"accessToken": token, "expireIn": expire_in})


async def refresh_access_token(call: Call) -> Response:
    token, expire_in = call.sandbox.refresh(call.partner)
    return JSONResponse({"accessToken": token, "expireIn": expire_in})
