"""Check what the mock sends receivers against the `webhooks:` sections of the contracts:
openapi/klavi.yaml (API and web events, reports) and openapi/klavi-payments.yaml (payment
events, `eventType: payment`)."""

from __future__ import annotations

from functools import cache
from typing import Any

from jsonschema import Draft202012Validator

from klavi_mock.domain.formats import checker
from klavi_mock.spec.operations import load_spec

PAYMENTS_SPEC = "klavi-payments.yaml"
PAYMENT_EVENTS = "paymentEvents"  # its webhook


@cache
def _validator(webhook: str, spec: str = "klavi.yaml") -> Draft202012Validator:
    schema = load_spec(spec).resolved["webhooks"][webhook]["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ]
    return Draft202012Validator(schema, format_checker=checker)


def webhook_problems(webhook: str, body: Any, spec: str = "klavi.yaml") -> list[str]:
    """`webhook` is "apiEvents" or a product name of klavi.yaml, or "paymentEvents" with
    spec="klavi-payments.yaml"; [] when the body conforms."""
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in _validator(webhook, spec).iter_errors(body)]


def is_payment_event(event: Any) -> bool:
    return isinstance(event, dict) and event.get("eventType") == "payment"


def event_problems(body: list) -> list[str]:
    """An events body, each event against its own contract: payment events (which may share
    an eventsUrl, and a batch, with the data API's) against klavi-payments.yaml, the others
    against klavi.yaml's apiEvents."""
    problems = []
    for index, event in enumerate(body):
        webhook, spec = (PAYMENT_EVENTS, PAYMENTS_SPEC) if is_payment_event(event) else ("apiEvents", "klavi.yaml")
        # Checked as a body of one: "0/payload: ..." is this event's "<index>/payload: ...".
        problems += [f"{index}/{problem[2:]}" for problem in webhook_problems(webhook, [event], spec)]
    return problems if body else webhook_problems("apiEvents", body)


def assert_conforms(received) -> None:
    """A delivery as the receiver got it: its body must match the spec, and the signature
    headers must be there."""
    body = received.json()
    if isinstance(body, list):
        name, problems = "events", event_problems(body)
    else:
        name = body["productName"]
        problems = webhook_problems(name, body)
    assert not problems, f"{name} off-spec: {problems[:5]}"
    assert len(received.headers["x-klavi-signature"]) == 64 and received.headers["x-klavi-timestamp"].isdigit()
