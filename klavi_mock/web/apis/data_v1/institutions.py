"""GET /links/institutions and GET /links/institutions/status."""

import json

from starlette.responses import JSONResponse, Response

from klavi_mock.web.apis.data_v1.views import logo_url
from klavi_mock.web.server.call import Call


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
    """One entry per institution this link has consents (newest one's status) or Open Data
    tasks at."""
    newest: dict[str, dict] = {}
    for consent in call.sandbox.consents.list(call.partner, link_id=call.token.link_id):
        if consent.institution_code not in newest:  # the list is newest first
            institution = call.sandbox.institutions.get(consent.institution_code)
            newest[consent.institution_code] = {
                "institutionCode": consent.institution_code,
                "name": institution.name if institution else consent.institution_code,
                "status": consent.status,
            }
    for task in call.sandbox.tasks.on_link(call.token.link_id or ""):  # Open Data: the task's status
        institution = call.sandbox.institutions.get(task.institution_code)
        newest[task.institution_code] = {
            "institutionCode": task.institution_code,
            "name": institution.name if institution else task.institution_code,
            "status": task.status,
        }
    return JSONResponse(list(newest.values()))
