"""The four report requests: personal/business x institution-level/user-level."""

from starlette.responses import JSONResponse, Response

from klavi_mock.web.server.call import Call


def _requester(person: str, level: str):
    async def request_reports(call: Call) -> Response:
        request = call.sandbox.reports.request(call.partner, person, level, call.body)
        return JSONResponse({"requestId": request.id, "message": "ok"})

    request_reports.__name__ = f"request_{person}_{level}_reports"
    return request_reports


request_personal_institution_report = _requester("pf", "institution")
request_personal_user_report = _requester("pf", "user")
request_business_institution_report = _requester("pj", "institution")
request_business_user_report = _requester("pj", "user")
