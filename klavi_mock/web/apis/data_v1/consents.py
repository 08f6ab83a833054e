"""POST /consents, GET /consents, GET /consents/{consentId}, DELETE /consents/{consentId}/revoke."""

from starlette.responses import JSONResponse, Response

from klavi_mock.domain.clock import iso
from klavi_mock.web.apis.data_v1.views import api_consent_view, redirect_url
from klavi_mock.web.server.call import Call


async def create_consent(call: Call) -> Response:
    link = call.sandbox.link_of(call.partner, call.token)
    consent = call.sandbox.tasks.create_consent(call.partner, link, call.body)
    redirect = None if consent.open_data else redirect_url(call.base_url, consent)
    return JSONResponse(
        {
            "consentId": consent.id,
            "consentRedirectURL": redirect,
            "consentRedirectUrl": redirect,  # the spelling some clients read
            "expireAt": iso(consent.expires_at),
            **({"taskId": consent.task_id} if consent.open_data else {}),
        }
    )


async def list_consents(call: Call) -> Response:
    consents = call.sandbox.consents.list(
        call.partner,
        personal_tax_id=call.query.get("personalTaxId") or None,  # "" means no filter
        business_tax_id=call.query.get("businessTaxId") or None,
        link_id=call.query.get("linkId") or None,
    )
    return JSONResponse([api_consent_view(c, call.sandbox, call.base_url) for c in consents])


async def get_consent(call: Call) -> Response:
    consent = call.sandbox.consents.get(call.partner, call.path["consentId"])
    return JSONResponse(api_consent_view(consent, call.sandbox, call.base_url))


async def revoke_consent(call: Call) -> Response:
    call.sandbox.consents.revoke(call.partner, call.path["consentId"])
    return JSONResponse({"message": "ok"})
