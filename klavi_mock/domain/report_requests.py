"""A report request: what a partner asked for (or what was sent on its own, on
authorisation), and the scope its reports were built from."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from klavi_mock.domain.reports import ReportLink


@dataclass
class ReportRequest:
    id: str
    tenant_id: str
    person: str
    level: str
    tax_id: str
    products: list[str]
    consent_ids: list[str]
    created_at: datetime
    link_id: str | None = None
    products_callback_url: dict[str, str] | None = None
    external_info: dict[str, Any] = field(default_factory=dict)
    # What its reports were built from, so GET /__mock/reports/{productReportId} gives the
    # same report later, whatever became of the consents since.
    scope: list[ReportLink] = field(default_factory=list)
    representative_tax_id: str = ""  # a company consent's CPF: pj_ reports echo it as enquiryCpf
    automatic: bool = False  # sent on authorisation (reportDelivery automatic or manual), not asked for
    encrypted: bool = False  # the tenant's encryptSensitiveFields when it was made: the "CPF encoded" variant
    # Its reports are in the outbox. A request is answered before they are built (as Klavi
    # answers requestId at once); one still False after a restart is built then.
    built: bool = True
