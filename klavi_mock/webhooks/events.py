"""Klavi's API event envelope and the payload of each event.

The body of an API-event delivery is a JSON array of events:
    [{"partnerAppId", "eventId", "eventType": "api", "eventName", "eventTime", "payload", "externalInfo"}]
`eventId` is `<13-digit ms timestamp>-<24 hex>` as in Klavi's examples; receivers dedupe on it.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from klavi_mock.domain.clock import iso
from klavi_mock.domain.consents import Consent
from klavi_mock.domain.links import Link

CONSENT_EVENTS = {
    "AUTHORISED": "consent_authorised",
    "ERROR": "consent_error",
    "REJECTED": "consent_rejected",
    "EXPIRED": "consent_expired",
    "REVOKED": "consent_revoked",
    "DELETED_BY_USER": "consent_deleted_by_user",
}

# The payments API's status changes (eventType "payment"; a mock choice: Klavi documents no
# payment webhook). The payload is the resource as its GET answers it.
PAYMENT_EVENTS = (
    "payment_status_changed",  # an instant payment
    "automatic_consent_status_changed",  # an Automatic Pix consent
    "automatic_payment_status_changed",  # a payment charged against one
)

EVENT_NAMES = (
    "link_created",
    "link_action_status",
    *CONSENT_EVENTS.values(),
    "product_request_received",
    "product_generated_success",
    "product_generated_failed",
    *PAYMENT_EVENTS,
)


def event_id(now: datetime) -> str:
    return f"{int(now.timestamp() * 1000):013d}-{secrets.token_hex(12)}"


def envelope(
    app_id: str,
    name: str,
    payload: dict[str, Any],
    external_info: dict | None,
    now: datetime,
    event_type: str = "api",
) -> dict[str, Any]:
    """`event_type`: "api", or "web" for a hosted page's tracking event (a mock choice: Klavi
    says the event webhook carries them but documents "api" only)."""
    return {
        "partnerAppId": app_id,
        "eventId": event_id(now),
        "eventType": event_type,
        "eventName": name,
        "eventTime": iso(now),
        "payload": payload,
        "externalInfo": external_info or {},
    }


def web_event_payload(link: Link, page: str, payload: dict[str, Any]) -> dict[str, Any]:
    """A tracking event's payload as on the page, plus the link and the page it came from
    (a mock choice: the page's own event has neither, a webhook receiver needs both)."""
    return {**payload, "linkId": link.id, "page": page}


def link_created_payload(link: Link) -> dict[str, Any]:
    return {"personalTaxId": link.personal_tax_id, "businessTaxId": link.business_tax_id, "linkId": link.id}


def consent_payload(consent: Consent, reason: tuple[str, str] | None = None) -> dict[str, Any]:
    """`consents` is an object, as in Klavi's documented consent_authorised example."""
    payload: dict[str, Any] = {
        "personalTaxId": consent.personal_tax_id,
        "businessTaxId": consent.business_tax_id,
        "linkId": consent.link_id,
        "consents": {
            "consentId": consent.id,
            "externalTrackId": consent.external_track_id,
            "institutionCode": consent.institution_code,
            "status": consent.status,
            "permissionsApply": consent.permissions_apply,
            "permissionsGranted": consent.permissions_granted,
            "expireAt": iso(consent.expires_at),
        },
    }
    if reason is not None:
        payload["reason"] = {"code": reason[0], "description": reason[1]}
    return payload
