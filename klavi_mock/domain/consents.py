"""Consents: what POST /consents creates, and the one state machine they all follow.

    AWAITING_AUTHORISATION --bank approves--> AWAITING_LGPD_AUTHORISATION --LGPD accepted--> AUTHORISED
          |  bank denies, 60 min pass, redirect link expired: REJECTED; bank error: ERROR
    AWAITING_LGPD_AUTHORISATION: LGPD declined or 60 min pass: REJECTED
    AUTHORISED: past expireAt: EXPIRED; revoked: REVOKED; deleted in the portal: DELETED_BY_USER

REJECTED, ERROR, EXPIRED, REVOKED and DELETED_BY_USER are final.
"""

from __future__ import annotations

import calendar
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone

from klavi_mock.errors import Conflict

AWAITING_AUTHORISATION = "AWAITING_AUTHORISATION"
AWAITING_LGPD_AUTHORISATION = "AWAITING_LGPD_AUTHORISATION"
AUTHORISED = "AUTHORISED"
REJECTED = "REJECTED"
ERROR = "ERROR"
EXPIRED = "EXPIRED"
REVOKED = "REVOKED"
DELETED_BY_USER = "DELETED_BY_USER"

PENDING = (AWAITING_AUTHORISATION, AWAITING_LGPD_AUTHORISATION)
FINAL = (REJECTED, ERROR, EXPIRED, REVOKED, DELETED_BY_USER)

# Why a consent was rejected or failed (Open Finance Brasil's rejection reason codes, plus
# the mock's own where OFB has none). Shown by the control API and in webhook payloads.
REASONS = {
    "CUSTOMER_MANUALLY_REJECTED": "The user denied the request at the institution.",
    "LGPD_DECLINED": "The user declined Klavi's LGPD consent.",
    "CONSENT_TECHNICAL_ISSUE": "The institution failed while authorising.",
    "CONSENT_EXPIRED": "The consent was not completed within 60 minutes of its creation.",
    "REDIRECT_URL_EXPIRED": "The consentRedirectURL was opened more than 60 seconds after the consent was created.",
    "CONSENT_MAX_DATE_REACHED": "The consent reached its expireAt.",
    "CUSTOMER_MANUALLY_REVOKED": "The user revoked the consent at the institution.",
    "REVOKED_BY_PARTNER": "The partner revoked the consent (DELETE /consents/{consentId}/revoke).",
    "REVOKED_BEFORE_AUTHORISATION": "The partner revoked the consent before the user completed it "
    "(DELETE /consents/{consentId}/revoke); its consentRedirectURL no longer opens.",
    "DELETED_BY_USER": "The user asked for the data to be deleted in Klavi's portal.",
    "FORCED": "Forced through the control API.",
    "OPEN_DATA_CONNECTION_FAILED": "The Open Data task failed (its code says why: GET /tasks/{taskId}/status).",
}
TRANSITIONS: dict[str, tuple[str, ...]] = {
    AWAITING_AUTHORISATION: (AWAITING_LGPD_AUTHORISATION, AUTHORISED, REJECTED, ERROR, REVOKED),
    AWAITING_LGPD_AUTHORISATION: (AUTHORISED, REJECTED, ERROR, REVOKED),
    AUTHORISED: (EXPIRED, REVOKED, DELETED_BY_USER),
}

REDIRECT_TTL = timedelta(seconds=60)  # consentRedirectURL: single use, within 60 s
AUTHORISATION_WINDOW = timedelta(minutes=60)  # not completed by then: REJECTED
# validityPeriod 0 ("no fixed end"): Klavi's docs don't say what expireAt is then. The
# Open Finance Brasil v2 sentinel for an open-ended consent is used, so clients that always
# parse expireAt keep working.
OPEN_ENDED_EXPIRY = datetime(2300, 1, 1, tzinfo=timezone.utc)

# Klavi permission for each availableResources entry of an institution.
RESOURCE_PERMISSIONS = {
    "REGISTRATION": "REGISTRATION_ALL",
    "ACCOUNTS": "ACCOUNTS_ALL",
    "CREDIT_CARDS": "CREDIT_CARDS_ALL",
    "CREDIT_OPERATIONS": "CREDIT_OPERATIONS_ALL",
    "INVESTMENTS": "INVESTMENTS_ALL",
}
PERMISSION_ORDER = tuple(RESOURCE_PERMISSIONS.values())


def permissions_for(available_resources: tuple[str, ...]) -> list[str]:
    """What a consent at an institution asks for: one permission per resource family it offers."""
    wanted = {
        RESOURCE_PERMISSIONS[r.split(":")[0]] for r in available_resources if r.split(":")[0] in RESOURCE_PERMISSIONS
    }
    return [p for p in PERMISSION_ORDER if p in wanted]


def granted_products(permissions_granted: list[str], available_resources: tuple[str, ...]) -> list[str]:
    """The finer names clients read in a consent's `products`: the institution's resources
    under each granted permission, e.g. CREDIT_OPERATIONS:LOANS -> CREDIT_OPERATIONS_LOANS;
    a family with no sub-resources keeps its permission name (ACCOUNTS_ALL)."""
    products = []
    for resource in available_resources:
        family, _, part = resource.partition(":")
        if RESOURCE_PERMISSIONS.get(family) in permissions_granted:
            products.append(f"{family}_{part}" if part else RESOURCE_PERMISSIONS[family])
    return list(dict.fromkeys(products))


def expiry_for(validity_months: int, created_at: datetime) -> datetime:
    """The end (23:59:59.999 UTC) of the day `validity_months` months after creation."""
    if validity_months == 0:
        return OPEN_ENDED_EXPIRY
    month_index = created_at.month - 1 + validity_months
    year, month = created_at.year + month_index // 12, month_index % 12 + 1
    day = min(created_at.day, calendar.monthrange(year, month)[1])
    return datetime.combine(datetime(year, month, day).date(), time(23, 59, 59, 999000), tzinfo=timezone.utc)


@dataclass
class Consent:
    id: str
    tenant_id: str
    link_id: str
    external_track_id: str
    personal_tax_id: str
    business_tax_id: str
    institution_code: str
    redirect_url: str
    permissions_apply: list[str]
    expires_at: datetime
    created_at: datetime
    persona_id: str
    phone: str | None = None
    email: str | None = None
    client_metadata: dict = field(default_factory=dict)
    validity_period: int = 12
    status: str = AWAITING_AUTHORISATION
    status_reason: str | None = None  # why it is REJECTED or ERROR (mock detail, in the control API)
    permissions_granted: list[str] = field(default_factory=list)
    updated_at: datetime | None = None
    open_data: bool = False  # at an institutionType 2 institution: connected through a task
    task_id: str | None = None
    connection_key: str | None = None  # an Open Data connection's, once it succeeded (in its reports)
    open_data_code: int = 200  # the code its Open Data task succeeded with (201-203: success with a note)
    # The bank step: the redirect ticket works once, within REDIRECT_TTL; the flow token
    # then carries the browser through the bank and LGPD pages.
    ticket: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    ticket_used: bool = False
    flow_token: str | None = None
    # Started on the hosted link page (WhiteLabel), not through POST /consents: its
    # redirectURL is Klavi's result page, and App2App applies when leaving the bank.
    hosted: bool = False

    @property
    def tax_id(self) -> str:
        """Whose data it is: the company's CNPJ when there is one (a company's consent may
        also carry its representative's CPF), else the person's CPF."""
        return self.business_tax_id or self.personal_tax_id

    @property
    def person(self) -> str:
        """ "pf" (a person, CPF) or "pj" (a company, CNPJ)."""
        return "pj" if self.business_tax_id else "pf"

    def redirect_usable(self, now: datetime) -> bool:
        """Whether consentRedirectURL still opens the bank: pending, unused, within 60 s."""
        return self.status in PENDING and not self.ticket_used and now <= self.redirect_expires_at()

    def redirect_expires_at(self) -> datetime:
        return self.created_at + REDIRECT_TTL

    def authorisation_deadline(self) -> datetime:
        return self.created_at + AUTHORISATION_WINDOW

    def move_to(self, status: str, now: datetime, reason: str | None = None) -> None:
        """The only way a status changes: refuses what the state machine does not allow."""
        if status not in TRANSITIONS.get(self.status, ()):
            final = " (final)" if self.status in FINAL else ""
            raise Conflict(f"consent {self.id} is {self.status}{final}; it cannot become {status}")
        self.status = status
        self.status_reason = reason
        self.updated_at = now


def new_consent(
    *,
    tenant_id: str,
    link_id: str,
    request: dict,
    permissions: list[str],
    persona_id: str,
    now: datetime,
    hosted: bool = False,
) -> Consent:
    validity = request.get("validityPeriod", 12)
    return Consent(
        id=str(uuid.uuid4()),
        tenant_id=tenant_id,
        link_id=link_id,
        external_track_id=request["externalTrackId"],
        personal_tax_id=request.get("personalTaxId", ""),
        business_tax_id=request.get("businessTaxId", ""),
        institution_code=request["institutionCode"],
        redirect_url=request["redirectURL"],
        permissions_apply=permissions,
        expires_at=expiry_for(validity, now),
        created_at=now,
        updated_at=now,
        persona_id=persona_id,
        phone=request.get("phone"),
        email=request.get("email"),
        client_metadata=request.get("clientMetadata") or {},
        validity_period=validity,
        hosted=hosted,
    )
