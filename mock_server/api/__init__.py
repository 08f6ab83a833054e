"""The Klavi API's handlers, one per operationId of openapi/klavi.yaml."""

from ..routing import Handler
from .auth import create_access_token, refresh_access_token
from .institutions import get_institutions_status, list_institutions
from .links import create_link

HANDLERS: dict[str, Handler] = {
    "createAccessToken": create_access_token,
    "refreshAccessToken": refresh_access_token,
    "createLink": create_link,
    "listInstitutions": list_institutions,
    "getInstitutionsStatus": get_institutions_status,
}

# In the spec, not served yet: each answers 501 naming itself (after authentication and
# validation, so clients still learn whether their request is right). Later work empties it.
NOT_SERVED: frozenset[str] = frozenset({
    "createConsent",
    "listConsents",
    "getConsent",
    "revokeConsent",
    "requestPersonalInstitutionReport",
    "requestPersonalUserReport",
    "requestBusinessInstitutionReport",
    "requestBusinessUserReport",
    "getTaskStatus",
    "submitTaskMfa",
})
