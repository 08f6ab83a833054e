"""How domain objects look on the wire (reference §3.2 for consents)."""

from __future__ import annotations

from urllib.parse import urlencode

from klavi_mock.domain.clock import iso
from klavi_mock.domain.consents import Consent, granted_products
from klavi_mock.sandbox.sandbox import Sandbox


def consent_view(consent: Consent) -> dict:
    """The documented consent object (GET /consents/{consentId})."""
    return {
        "consentId": consent.id,
        "linkId": consent.link_id,
        "externalTrackId": consent.external_track_id,
        "personalTaxId": consent.personal_tax_id,
        "businessTaxId": consent.business_tax_id,
        "institutionCode": consent.institution_code,
        "status": consent.status,
        "permissionsApply": consent.permissions_apply,
        "permissionsGranted": consent.permissions_granted,
        "expireAt": iso(consent.expires_at),
        "createdAt": iso(consent.created_at),
        "updatedAt": iso(consent.updated_at or consent.created_at),
    }


def redirect_url(base_url: str, consent: Consent) -> str:
    """The consentRedirectURL: the mock's bank page for this consent's ticket."""
    return f"{base_url}/bank/authorize?{urlencode({'ticket': consent.ticket})}"


def logo_url(base_url: str, code: str) -> str:
    return f"{base_url}/assets/logos/{code}.svg"


def api_consent_view(consent: Consent, sandbox: Sandbox, base_url: str) -> dict:
    """The consent as GET /consents and GET /consents/{consentId} answer it: the documented
    fields, plus what production clients read there (mock choice, not in Klavi's examples):
    the institution's name and logo, the granted products, and the redirect URL in both
    spellings while it can still be opened."""
    institution = sandbox.institutions.get(consent.institution_code)
    view = {
        **consent_view(consent),
        "institutionName": institution.name if institution else consent.institution_code,
        "institutionLogo": logo_url(base_url, consent.institution_code),
        "products": granted_products(
            consent.permissions_granted, institution.available_resources if institution else ()
        ),
    }
    if not consent.open_data and consent.redirect_usable(sandbox.clock.now()):
        view["consentRedirectURL"] = view["consentRedirectUrl"] = redirect_url(base_url, consent)
    return view
