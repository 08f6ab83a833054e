"""GET /links/institutions and GET /links/institutions/status."""

import json

from starlette.responses import JSONResponse, Response

from ..routing import Call

def logo_url(base_url: str, code: str) -> str:
    return f"{base_url}/assets/logos/{code}.svg"


async def list_institutions(call: Call) -> Response:
    # The list changes only with the address clients use (it is in each logo URL), so its
    # rendered body is kept per address: this is the mock's hottest endpoint.
    rendered = call.sandbox.institutions.rendered
    body = rendered.get(call.base_url)
    if body is None:
        items = [i.as_api(logo_url(call.base_url, i.code)) for i in call.sandbox.institutions.all()]
        body = json.dumps(items, ensure_ascii=False, separators=(",", ":")).encode()
        if len(rendered) > 64:  # clients using many Host names: don't grow without bound
            rendered.clear()
        rendered[call.base_url] = body
    return Response(body, media_type="application/json")


async def get_institutions_status(call: Call) -> Response:
    # One entry per institution this link has a consent at; consents come with the
    # consent lifecycle, so a link has none yet.
    return JSONResponse([])
