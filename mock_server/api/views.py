"""How domain objects look on the wire (reference §3.2 for consents)."""

from ..clock import iso
from ..domain.consents import Consent


def consent_view(consent: Consent) -> dict:
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
