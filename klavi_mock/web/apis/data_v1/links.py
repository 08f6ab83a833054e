"""POST /links."""

from urllib.parse import urlencode

from starlette.responses import JSONResponse, Response

from klavi_mock.domain.links import LINK_TTL
from klavi_mock.web.server.call import Call


async def create_link(call: Call) -> Response:
    link, token = call.sandbox.create_link(call.partner, call.body or {})
    return JSONResponse(
        {
            "linkId": link.id,
            "linkToken": token,
            "linkURL": f"{call.base_url}/link?{urlencode({'v': token})}",
            "expireIn": LINK_TTL,
        }
    )
