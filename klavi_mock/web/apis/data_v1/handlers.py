"""The Klavi API's handlers, one per operationId of openapi/klavi.yaml."""

from klavi_mock.web.apis.data_v1.auth import create_access_token, refresh_access_token
from klavi_mock.web.apis.data_v1.basic_links import basic_link_error_page, open_basic_link
from klavi_mock.web.apis.data_v1.consents import create_consent, get_consent, list_consents, revoke_consent
from klavi_mock.web.apis.data_v1.institutions import get_institutions_status, list_institutions
from klavi_mock.web.apis.data_v1.links import create_link
from klavi_mock.web.apis.data_v1.reports import (
    request_business_institution_report,
    request_business_user_report,
    request_personal_institution_report,
    request_personal_user_report,
)
from klavi_mock.web.apis.data_v1.tasks import get_task_status, submit_task_mfa
from klavi_mock.web.server.call import ErrorPage, Handler
from klavi_mock.web.server.routing import Alias

HANDLERS: dict[str, Handler] = {
    "createAccessToken": create_access_token,
    "refreshAccessToken": refresh_access_token,
    "createLink": create_link,
    "openBasicLink": open_basic_link,
    "listInstitutions": list_institutions,
    "getInstitutionsStatus": get_institutions_status,
    "createConsent": create_consent,
    "listConsents": list_consents,
    "getConsent": get_consent,
    "revokeConsent": revoke_consent,
    "requestPersonalInstitutionReport": request_personal_institution_report,
    "requestPersonalUserReport": request_personal_user_report,
    "requestBusinessInstitutionReport": request_business_institution_report,
    "requestBusinessUserReport": request_business_user_report,
    "getTaskStatus": get_task_status,
    "submitTaskMfa": submit_task_mfa,
}

# The handlers that answer people in a browser, and how they render their errors: a page
# (in Portuguese, with the developer detail), unless the client asks for JSON.
ERROR_PAGES: dict[str, ErrorPage] = {
    "openBasicLink": basic_link_error_page,
}

# In the spec, not served yet: each answers 501 naming itself (after authentication and
# validation, so clients still learn whether their request is right). Later work empties it.
NOT_SERVED: frozenset[str] = frozenset()

# Requests real clients send that Klavi's docs do not have (so they are not operations of
# klavi.yaml): served as the documented operation and reported as tolerated deviations.
_NO_V1 = "not in the spec (the seed guide's curl has no /v1); served as"
ALIASES: tuple[Alias, ...] = (
    # A client's recovery from the consent limit deletes consents this way.
    Alias(
        "DELETE",
        "/data/v1/consents/{consentId}",
        "revokeConsent",
        "DELETE /consents/{consentId}: not in the spec; served as DELETE /consents/{consentId}/revoke",
    ),
    *(
        Alias(
            "POST",
            f"/data/{person}/{level}-data",
            operation_id,
            f"POST /data/{person}/{level}-data: {_NO_V1} POST /data/v1/{person}/{level}-data",
        )
        for person, level, operation_id in (
            ("personal", "institution", "requestPersonalInstitutionReport"),
            ("personal", "user", "requestPersonalUserReport"),
            ("business", "institution", "requestBusinessInstitutionReport"),
            ("business", "user", "requestBusinessUserReport"),
        )
    ),
)
