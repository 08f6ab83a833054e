"""A tenant: one partner application (appId) with its keys and the settings its webhooks
and reports follow. The configuration makes them; the control API changes some."""

from __future__ import annotations

from dataclasses import dataclass

# How reports reach the partner. on-request: when it asks (POST /personal/... and the
# others). automatic: pushed when a consent becomes AUTHORISED, with no request. manual:
# generated then too, events sent, the report bodies kept for download (Klavi's Console;
# here GET /__mock/reports/{productReportId}).
REPORT_DELIVERY = ("on-request", "automatic", "manual")


@dataclass(frozen=True)
class Tenant:
    app_id: str
    access_key: str
    secret_key: str
    events_url: str | None = None
    products_callback_url: str | dict | None = None
    for_fi: bool = False
    display_name: str | None = None  # the partner's name on the bank and LGPD pages
    webhook_chaos: dict | None = None  # what its webhooks suffer (webhooks/chaos.py); the control API can change it
    report_delivery: str = "on-request"  # one of REPORT_DELIVERY
    activated_products: tuple[str, ...] | None = None  # the products chosen at onboarding; None: every one
    encrypt_sensitive_fields: bool = False  # reports in the "CPF encoded" variant (domain/encryption.py)
    partner: str | None = None  # the partner whose application this is (None: a partner of its own)
    tracking_events: bool = True  # the hosted pages' clicks and page views go to events_url too (eventType web)
    payments_url: str | None = None  # the payments API's status changes (eventType payment); None: events_url

    @property
    def partner_id(self) -> str:
        """Applications of one partner may request reports on each other's consents (Klavi:
        products "may be requested by different applications"); other partners' stay apart."""
        return self.partner or self.app_id
