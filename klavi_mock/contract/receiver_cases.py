"""The webhook cases `klavi-mock check-receiver` sends, generated from the `webhooks:`
sections of openapi/klavi.yaml (one signed API event per eventName of ApiEvent, one signed
report per report product) and openapi/klavi-payments.yaml (one signed payment event per
eventName of its paymentEvents webhook), and the invalid ones a receiver must survive.

Bodies come from the mock's own builders (webhooks/events.py, domain/reports/generator.py;
a payment event's payload, the resource as its GET answers it, from its schema:
contract/examples.py) and are signed with webhooks/signing.py, exactly as the dispatcher
sends them.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from klavi_mock.contract.examples import example_of
from klavi_mock.domain.consents import Consent
from klavi_mock.domain.links import Link
from klavi_mock.domain.reports.catalog import PRODUCTS
from klavi_mock.domain.reports.generator import ReportConsent, ReportLink, build_report
from klavi_mock.spec.operations import load_spec
from klavi_mock.webhooks.events import CONSENT_EVENTS, consent_payload, envelope, link_created_payload
from klavi_mock.webhooks.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, encode_body, sign

CPF, CNPJ = "52998224725", "11222333000181"
STALE_SECONDS = 3600  # how old the stale case's timestamp is

# What a case expects of the receiver, judged in receiver.py.
ACK = "acknowledge (2xx) within the timeout"
REFUSE = "refuse it (non-2xx)"
STAY_2XX = "acknowledge both (2xx): a duplicate eventId is deduplicated, not refused"
ANSWER = "answer without crashing (2xx; 5xx or no answer fails)"


@dataclass(frozen=True)
class Post:
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class Case:
    name: str
    group: str  # event | report | signature | duplicate | empty | timestamp
    expectation: str
    posts: tuple[Post, ...]


def spec_events_and_products() -> tuple[list[str], list[str]]:
    """The eventNames of ApiEvent and the report products the spec's `webhooks:` lists."""
    document = load_spec("klavi.yaml").document
    events = document["components"]["schemas"]["ApiEvent"]["properties"]["eventName"]["enum"]
    products = [name for name in document.get("webhooks", {}) if name != "apiEvents"]
    return list(events), products


PAYMENTS_WEBHOOK = "paymentEvents"  # in openapi/klavi-payments.yaml


def spec_payment_events() -> dict[str, dict]:
    """eventName -> its payload's schema, for each payment event of openapi/klavi-payments.yaml's
    `webhooks:` (empty while it has none)."""
    webhook = load_spec("klavi-payments.yaml").resolved.get("webhooks", {}).get(PAYMENTS_WEBHOOK)
    if not webhook:
        return {}
    event = webhook["post"]["requestBody"]["content"]["application/json"]["schema"]["items"]
    payloads = {
        rule["if"]["properties"]["eventName"]["const"]: rule["then"]["properties"]["payload"]
        for rule in event.get("allOf", [])
        if "eventName" in rule.get("if", {}).get("properties", {})
    }
    return {
        name: payloads.get(name, event["properties"]["payload"]) for name in event["properties"]["eventName"]["enum"]
    }


def payment_payload(schema: dict, app_id: str) -> dict[str, Any]:
    """The resource a payment event carries, as its schema describes it, owned by `app_id`."""
    payload = example_of(schema)
    if isinstance(payload, dict) and "appId" in payload:
        payload["appId"] = app_id
    return payload


def _headers(
    body: bytes, secret: str | None, timestamp: int | None = None, signature: str | None = None
) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "klavi-mock check-receiver",
        TIMESTAMP_HEADER: str(int(time.time()) if timestamp is None else timestamp),
    }
    if secret is not None:
        headers[SIGNATURE_HEADER] = signature or sign(body, secret)
    return headers


def _signed(payload: Any, secret: str, **kwargs: Any) -> Post:
    body = encode_body(payload)
    return Post(body, _headers(body, secret, **kwargs))


def _samples(app_id: str, now: datetime) -> tuple[Link, Consent]:
    link = Link(
        id=str(uuid.uuid4()),
        tenant_id=app_id,
        created_at=now,
        expires_at=now + timedelta(hours=1),
        personal_tax_id=CPF,
        institution_code="341",
    )
    consent = Consent(
        id=str(uuid.uuid4()),
        tenant_id=app_id,
        link_id=link.id,
        external_track_id="check-receiver-1",
        personal_tax_id=CPF,
        business_tax_id="",
        institution_code="341",
        redirect_url="https://partner.example.com/return",
        permissions_apply=["ACCOUNTS_ALL"],
        expires_at=now + timedelta(days=365),
        created_at=now,
        persona_id="default",
        permissions_granted=["ACCOUNTS_ALL"],
        updated_at=now,
    )
    return link, consent


def event_payload(name: str, link: Link, consent: Consent, request_id: str) -> dict[str, Any]:
    statuses = {event: status for status, event in CONSENT_EVENTS.items()}
    if name == "link_created":
        return link_created_payload(link)
    if name in statuses:
        consent.status = statuses[name]
        return consent_payload(consent)
    if name == "link_action_status":
        consent.status = "AUTHORISED"
        return {
            **consent_payload(consent),
            "institutionCode": consent.institution_code,
            "actionStatus": "consent_authorised",
        }
    if name == "product_request_received":
        return {
            "requestId": request_id,
            "taxId": CPF,
            "linkId": link.id,
            "consentIds": [consent.id],
            "products": ["pf_checking_account"],
        }
    if name == "product_generated_success":
        return {
            "requestId": request_id,
            "productName": "pf_checking_account",
            "code": 200,
            "productReportId": str(uuid.uuid5(uuid.NAMESPACE_URL, request_id)),
        }
    if name == "product_generated_failed":
        return {
            "requestId": request_id,
            "productName": "pf_checking_account",
            "code": 5001,
            "message": "institution unavailable",
        }
    return {"linkId": link.id}  # an event this version has no builder for: the envelope is still right


def report_body(product_name: str, link: Link, consent: Consent, request_id: str, now: datetime) -> dict[str, Any]:
    product = PRODUCTS[product_name]
    links = [ReportLink(link.id, "341", "Itaú", [ReportConsent(consent.id, [product.permission])])]
    return build_report(
        product_name,
        request_id=request_id,
        tax_id=CPF if product.person == "pf" else CNPJ,
        now=now,
        links=links,
        external_info={"checkReceiver": True},
    )


def build_cases(secret: str, app_id: str = "sandbox-app") -> list[Case]:
    now = datetime.now(timezone.utc)
    events, products = spec_events_and_products()
    link, consent = _samples(app_id, now)
    request_id = str(uuid.uuid4())
    cases = [
        Case(
            f"event {name}",
            "event",
            ACK,
            (_signed([envelope(app_id, name, event_payload(name, link, consent, request_id), {}, now)], secret),),
        )
        for name in events
    ]
    cases += [
        Case(
            f"event {name}",
            "event",
            ACK,
            (_signed([envelope(app_id, name, payment_payload(schema, app_id), None, now, "payment")], secret),),
        )
        for name, schema in spec_payment_events().items()
    ]
    cases += [
        Case(f"report {name}", "report", ACK, (_signed(report_body(name, link, consent, request_id, now), secret),))
        for name in products
        if name in PRODUCTS
    ]

    def sample() -> bytes:  # each invalid case has its own eventId: none looks like a duplicate of another
        return encode_body(
            [envelope(app_id, "consent_revoked", event_payload("consent_revoked", link, consent, request_id), {}, now)]
        )

    spoofed, unsigned = sample(), sample()
    duplicate = _signed([envelope(app_id, "link_created", link_created_payload(link), {}, now)], secret)
    cases += [
        Case(
            "bad signature",
            "signature",
            REFUSE,
            (Post(spoofed, _headers(spoofed, secret, signature=sign(spoofed, secret + "-wrong"))),),
        ),
        Case("missing signature", "signature", REFUSE, (Post(unsigned, _headers(unsigned, None)),)),
        Case("duplicate eventId", "duplicate", STAY_2XX, (duplicate, duplicate)),
        Case("empty body", "empty", ANSWER, (Post(b"", _headers(b"", secret)),)),
        Case(
            "stale timestamp",
            "timestamp",
            REFUSE + " or at least not crash",
            (
                _signed(
                    [
                        envelope(
                            app_id,
                            "consent_authorised",
                            event_payload("consent_authorised", link, consent, request_id),
                            {},
                            now,
                        )
                    ],
                    secret,
                    timestamp=int(time.time()) - STALE_SECONDS,
                ),
            ),
        ),
    ]
    return cases
