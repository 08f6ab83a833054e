"""Check what the mock sends receivers against the `webhooks:` section of openapi/klavi.yaml."""

from __future__ import annotations

from functools import cache
from typing import Any

from jsonschema import Draft202012Validator

from klavi_mock.domain.formats import checker
from klavi_mock.spec.operations import load_spec


@cache
def _validator(webhook: str) -> Draft202012Validator:
    schema = load_spec("klavi.yaml").resolved["webhooks"][webhook]["post"]["requestBody"]["content"][
        "application/json"
    ]["schema"]
    return Draft202012Validator(schema, format_checker=checker)


def webhook_problems(webhook: str, body: Any) -> list[str]:
    """`webhook` is "apiEvents" or a product name; [] when the body conforms."""
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in _validator(webhook).iter_errors(body)]


def assert_conforms(received) -> None:
    """A delivery as the receiver got it: its body must match the spec, and the signature
    headers must be there."""
    body = received.json()
    name = "apiEvents" if isinstance(body, list) else body["productName"]
    problems = webhook_problems(name, body)
    assert not problems, f"{name} off-spec: {problems[:5]}"
    assert len(received.headers["x-klavi-signature"]) == 64 and received.headers["x-klavi-timestamp"].isdigit()
