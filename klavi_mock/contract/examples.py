"""A schema-valid example of a JSON schema, for the webhook bodies `klavi-mock check-receiver`
sends when the spec describes a payload but the mock has no builder for it to hand (the
payments API's events: their payload is the resource as its GET answers it).

The schema's own `examples` (or `const`, `default`, the first of an `enum`) win; else an
object gets its required properties, a string a value of its `format`. Good enough for the
spec's resources, and checked: tests/contract.py validates what it makes."""

from __future__ import annotations

import copy
from typing import Any

FORMAT_EXAMPLES = {
    "cpf": "52998224725",
    "cnpj": "11222333000181",
    "uri": "https://partner.example.com/return",
    "redirect-uri": "https://partner.example.com/return",
    "phone-br": "+5511999999999",
    "email": "ana@example.com",
    "date": "2025-01-31",
    "date-time": "2025-01-31T12:00:00Z",
    "uuid": "0325412e-e566-4f4e-ac5b-2f4471586b88",
}


def _merged(schema: dict) -> dict:
    """allOf folded into one object schema (properties and required names joined)."""
    merged = {k: v for k, v in schema.items() if k != "allOf"}
    for part in schema.get("allOf", []):
        part = _merged(part)
        for key, value in part.items():
            if key == "properties":
                merged["properties"] = {**merged.get("properties", {}), **value}
            elif key == "required":
                merged["required"] = list(dict.fromkeys([*merged.get("required", []), *value]))
            else:
                merged.setdefault(key, value)
    return merged


def example_of(schema: dict) -> Any:
    """A value `schema` (mostly) admits; see the module's docstring."""
    schema = _merged(schema)
    if schema.get("examples"):
        return copy.deepcopy(schema["examples"][0])
    for key in ("const", "default"):
        if key in schema:
            return copy.deepcopy(schema[key])
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return example_of(schema[key][0])
    kinds = schema.get("type", "object" if "properties" in schema else "string")
    kind = next((k for k in kinds if k != "null"), "null") if isinstance(kinds, list) else kinds
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: example_of(properties.get(name, {})) for name in schema.get("required", [])}
    if kind == "string":
        return FORMAT_EXAMPLES.get(schema.get("format", ""), "x" * max(1, schema.get("minLength", 1)))
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if kind == "array":
        return [example_of(schema.get("items", {})) for _ in range(schema.get("minItems", 0))]
    return {"boolean": True, "null": None}.get(kind)
