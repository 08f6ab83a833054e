"""GET /basic-links/{appId}: the Basic WhiteLabel URL, opened in the user's browser."""

from urllib.parse import urlencode

from starlette.responses import RedirectResponse, Response

from ..errors import NotFound
from ..routing import Call
from ..whitelabel.basic_links import link_request
from ..whitelabel.pages import basic_link_error_page


async def open_basic_link(call: Call) -> Response:
    """Creates a link as POST /links would (link_created included), then sends the browser
    to its linkURL."""
    app_id = call.path["appId"]
    tenant = call.sandbox.tenants.get(app_id)
    if tenant is None:
        raise NotFound(f"path.appId: no partner with appId {app_id!r} is configured in this mock; see GET /__mock/tenants")
    call.record.app_id = app_id
    _, token = call.sandbox.create_link(tenant, link_request(call.query))
    return RedirectResponse(f"{call.base_url}/link?{urlencode({'v': token})}", status_code=302)


# Errors reach a person in a browser: a Portuguese page, unless the client asks for JSON.
open_basic_link.error_page = basic_link_error_page  # type: ignore[attr-defined]
