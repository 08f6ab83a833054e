"""How the control API shows the mock's state: a consent as QA sees it (the documented
object, plus who owns it, why it is in its status and where its redirect stands)."""

from __future__ import annotations

from klavi_mock.domain.clock import iso
from klavi_mock.domain.consents import Consent
from klavi_mock.sandbox.consents import REASONS
from klavi_mock.web.apis.data_v1.views import consent_view
from klavi_mock.web.server.call import Call


def consent_state(consent: Consent, call: Call) -> dict:
    """A consent as the control API shows it."""
    reason = consent.status_reason
    return {
        **consent_view(consent),
        "appId": consent.tenant_id,
        "statusReason": {"code": reason, "description": REASONS[reason]} if reason else None,
        "persona": consent.persona_id,
        "redirectURL": consent.redirect_url,
        "redirectUsed": consent.ticket_used,
        "redirectExpireAt": iso(consent.redirect_expires_at()),
    }
