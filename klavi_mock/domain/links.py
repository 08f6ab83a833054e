"""Links: what POST /links creates. A link, its linkToken and its linkURL live together."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from klavi_mock.domain.callbacks import normalize_products_callback
from klavi_mock.domain.institutions import InstitutionCatalog
from klavi_mock.errors import BusinessRuleError

LINK_TTL = 1800  # seconds: the linkToken's expireIn


@dataclass
class Link:
    id: str
    tenant_id: str
    created_at: datetime
    expires_at: datetime
    personal_tax_id: str = ""
    business_tax_id: str = ""
    email: str | None = None
    phone: str | None = None
    institution_code: str | None = None
    redirect_url: str | None = None
    products_callback_url: dict[str, str] | None = None
    external_info: dict[str, Any] = field(default_factory=dict)
    connection_key: str | None = None
    app_link: str | None = None
    app_redirect_url_key: str | None = None
    application_link: str | None = None

    def is_expired(self, now: datetime) -> bool:
        return now >= self.expires_at


def new_link(tenant_id: str, request: dict[str, Any], now: datetime, institutions: InstitutionCatalog) -> Link:
    """Build a link from a POST /links body already checked against the spec."""
    code = request.get("institutionCode")
    if code is not None and institutions.get(code) is None:
        raise BusinessRuleError(4004, f"institutionCode {code!r} is not an institution of GET /links/institutions")
    return Link(
        id=str(uuid.uuid4()),
        tenant_id=tenant_id,
        created_at=now,
        expires_at=now + timedelta(seconds=LINK_TTL),
        personal_tax_id=request.get("personalTaxId", ""),
        business_tax_id=request.get("businessTaxId", ""),
        email=request.get("email"),
        phone=request.get("phone"),
        institution_code=code,
        redirect_url=request.get("redirectURL"),
        products_callback_url=normalize_products_callback(
            request.get("productsCallbackURL"), "body.productsCallbackURL"
        ),
        external_info=request.get("externalInfo") or {},
        connection_key=request.get("connectionKey"),
        app_link=request.get("appLink"),
        app_redirect_url_key=request.get("appRedirectURLKey"),
        application_link=request.get("applicationLink"),
    )
