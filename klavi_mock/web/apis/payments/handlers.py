"""The payments API's handlers, one per operationId of openapi/klavi-payments.yaml."""

from klavi_mock.web.apis.payments import automatic
from klavi_mock.web.apis.payments.auth import create_payment_access_token
from klavi_mock.web.apis.payments.instant import (
    create_instant_payment,
    get_instant_payment,
    get_instant_payment_status,
)
from klavi_mock.web.apis.payments.links import create_instant_payment_link
from klavi_mock.web.server.call import ErrorPage, Handler

HANDLERS: dict[str, Handler] = {
    "createPaymentAccessToken": create_payment_access_token,
    # -- instant payments --
    "createInstantPayment": create_instant_payment,
    "getInstantPayment": get_instant_payment,
    "getInstantPaymentStatus": get_instant_payment_status,
    "createInstantPaymentLink": create_instant_payment_link,
    # -- automatic pix --
    "createAutomaticConsent": automatic.create_consent,
    "createAutomaticConsentLink": automatic.create_consent_link,
    "getAutomaticConsent": automatic.get_consent,
    "getAutomaticConsentStatus": automatic.get_consent_status,
    "cancelAutomaticConsent": automatic.cancel_consent,
    "createAutomaticPayment": automatic.create_payment,
    "getAutomaticPayment": automatic.get_payment,
    "retryAutomaticPayment": automatic.retry_payment,
    "cancelAutomaticPayment": automatic.cancel_payment,
    "listAutomaticConsents": automatic.list_consents,
}

# The handlers that answer people in a browser, and how they render their errors.
ERROR_PAGES: dict[str, ErrorPage] = {}

# In the spec, not served yet: each answers 501 naming itself.
NOT_SERVED: frozenset[str] = frozenset()
