"""Requests built from an operation: its URL with real ids, its credentials, a valid base body."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

from klavi_mock.spec.operations import Operation, Spec
from tests.conftest import PARTNER_RETURN, VALID_CNPJ, VALID_CPF
from tests.fuzz.world import ADMIN_HEADER, ADMIN_TOKEN, World, bearer
from tests.payments import autopix, instant
from tests.worlds import SANDBOX_KEYS

# --- requests built from an operation ----------------------------------------------------------


def encode(value: str) -> str:
    """Percent-encode any string, lone surrogates included (as the bytes a sloppy client sends);
    dots too, so `..` stays a path parameter instead of being resolved by the client."""
    return quote(value.encode("utf-8", "surrogatepass"), safe="").replace(".", "%2E")


def url_of(spec: Spec, op: Operation, path: dict[str, str], query: dict[str, str] | None = None) -> str:
    url = op.path
    for name, value in path.items():
        url = url.replace("{" + name + "}", encode(value))
    assert "{" not in url, f"{op.label}: no value for a path parameter in {url}"
    if query:
        url += "?" + "&".join(f"{encode(k)}={encode(v)}" for k, v in query.items())
    return spec.base_path + url


def credentials(op: Operation, world: World) -> dict[str, str]:
    if not op.security:
        return {}
    if op.security[0] == "adminToken":
        return {ADMIN_HEADER: ADMIN_TOKEN}
    return bearer(world.token(op.security[0]))


def path_params(op: Operation) -> list[str]:
    return [p.name for p in op.parameters if p.location == "path"]


def json_types(schema: dict) -> set[str] | None:
    """The JSON types a schema admits, or None when it admits any."""
    if "type" in schema:
        kind = schema["type"]
        return set(kind if isinstance(kind, list) else [kind])
    if "const" in schema or "enum" in schema:
        return {_type_of(v) for v in schema.get("enum", [schema.get("const")])}
    for key in ("oneOf", "anyOf"):
        if key in schema:
            branches = [json_types(b) for b in schema[key]]
            return None if any(b is None for b in branches) else set().union(*branches)
    if "allOf" in schema:
        known = [t for t in (json_types(b) for b in schema["allOf"]) if t is not None]
        return set.intersection(*known) if known else None
    return None


def _type_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return {str: "string", list: "array", dict: "object"}[type(value)]


def schema_parts(schema: dict) -> tuple[dict[str, dict], list[str]]:
    """An object schema's properties and required names, through allOf and the first
    oneOf/anyOf branch."""
    properties, required = dict(schema.get("properties", {})), list(schema.get("required", []))
    nested = list(schema.get("allOf", [])) + [schema[k][0] for k in ("oneOf", "anyOf") if k in schema]
    for part in nested:
        more, needed = schema_parts(part)
        properties.update(more)
        required += [n for n in needed if n not in required]
    return properties, required


FORMAT_EXAMPLES = {
    "cpf": VALID_CPF,
    "cnpj": VALID_CNPJ,
    "uri": PARTNER_RETURN,
    "redirect-uri": PARTNER_RETURN,
    "phone-br": "+5511999999999",
    "email": "ana@example.com",
    "date": "2025-01-31",
    "date-time": "2025-01-31T12:00:00Z",
    "uuid": "0325412e-e566-4f4e-ac5b-2f4471586b88",
}


def example_of(schema: dict) -> Any:
    """A schema-valid value: the schema's own example when it has one, else built from it."""
    if schema.get("examples"):
        return copy.deepcopy(schema["examples"][0])
    for key in ("const", "default"):
        if key in schema:
            return copy.deepcopy(schema[key])
    if schema.get("enum"):
        return schema["enum"][0]
    properties, required = schema_parts(schema)
    types = json_types(schema) or set()
    if properties or required or "object" in types:
        return {name: example_of(properties.get(name, {})) for name in required}
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return example_of(schema[key][0])
    kind = sorted(types)[0] if types else "string"
    if kind == "string":
        return FORMAT_EXAMPLES.get(schema.get("format"), "x" * max(1, schema.get("minLength", 1)))
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if kind == "array":
        return [example_of(schema.get("items", {})) for _ in range(schema.get("minItems", 0))]
    return {"boolean": True, "null": None}[kind]


# Today in Brasília on a fresh mock's clock: the payments API's dates are checked against it.
_TODAY = datetime.now(timezone.utc).astimezone(autopix.BRASILIA).date()
_AUTOMATIC_CONSENT = autopix.consent_body(_TODAY, firstPayment=None)
_CANCEL = {"cancelledBy": autopix.PAYER_CPF, "identifierType": "CPF"}

# A base body must not point webhooks at a real receiver: deliveries would change the state
# behind the tests' back. The payments API's bodies have rules a schema cannot say (Pix keys,
# dates ahead, the fields each initType needs): the helpers' own valid examples.
BASE_BODY_OVERRIDES = {
    "createInstantPaymentLink": {**SANDBOX_KEYS, "payment": instant.body(clientRequestId="robustness-link")},
    "createAutomaticConsent": {**_AUTOMATIC_CONSENT, "clientRequestId": "robustness-consent"},
    "createAutomaticConsentLink": {
        **SANDBOX_KEYS,
        "consent": {k: v for k, v in _AUTOMATIC_CONSENT.items() if k != "clientRequestId"},
    },
    "createAutomaticPayment": {
        "clientRequestId": "robustness-charge-2",
        "date": (_TODAY + timedelta(days=6)).isoformat(),
        "amount": "90.00",
    },
    "cancelAutomaticConsent": _CANCEL,
    "cancelAutomaticPayment": _CANCEL,
    "setTenantWebhooks": {"eventsUrl": None, "productsCallbackURL": None, "paymentsUrl": None},
    # a receiver check sends its webhooks nowhere (port 9: nothing listens, refused at once)
    "runReceiverCheck": {"url": "http://127.0.0.1:9/klavi/events", "appId": "sandbox-app"},
}


def base_body(op: Operation) -> dict:
    return copy.deepcopy(BASE_BODY_OVERRIDES.get(op.operation_id) or example_of(op.body_schema))


def typed_fields(op: Operation) -> dict[str, set[str]]:
    """The body's top-level fields whose schema constrains the JSON type, and those types."""
    properties, _ = schema_parts(op.body_schema)
    found = {name: json_types(schema) for name, schema in properties.items()}
    return {name: types for name, types in found.items() if types is not None}


JSON = {"Content-Type": "application/json"}


def request_for(op: Operation, world: World, body: Any = None) -> dict:
    headers = {**credentials(op, world), **(JSON if op.body_schema is not None else {})}
    content = json.dumps(base_body(op) if body is None else body).encode() if op.body_schema is not None else None
    return {"headers": headers, "content": content}
