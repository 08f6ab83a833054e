"""The contract, loaded once: operations by id, with their validators compiled up front.

Nothing here walks the spec per request: `load_spec` resolves every `$ref`, and each
`Operation` carries ready jsonschema validators for its parameters, body and responses.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from jsonschema import Draft202012Validator

from klavi_mock.domain.formats import checker
from klavi_mock.resources import openapi_dir

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

_Loader: type[yaml.SafeLoader] | type[yaml.CSafeLoader]
try:  # the C loader makes start-up several times faster
    _Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader


def _validator(schema: dict) -> Draft202012Validator:
    return Draft202012Validator(schema, format_checker=checker)


@dataclass(frozen=True)
class Parameter:
    name: str
    location: str  # path | query | header
    required: bool
    schema: dict
    validator: Draft202012Validator = field(repr=False, compare=False)


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str  # upper case
    path: str  # as in the spec: /consents/{consentId}
    security: tuple[str, ...]  # scheme names, any one of which is accepted
    parameters: tuple[Parameter, ...]
    body_required: bool
    body_schema: dict | None
    body_validator: Draft202012Validator | None = field(repr=False, compare=False)
    # Other spellings real clients send for body fields (x-aliases): accepted, then renamed.
    body_aliases: dict[str, str]
    body_fields: frozenset[str]  # the top-level body fields the spec names (others are ignored)
    declared_statuses: frozenset[int]
    response_validators: dict[int, Draft202012Validator] = field(repr=False, compare=False)
    # Where a CPF or CNPJ goes: (location, name, "cpf" | "cnpj"), for the check-digit rule.
    tax_id_fields: tuple[tuple[str, str, str], ...] = ()

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class Spec:
    document: dict  # as written, with $refs; what clients download
    resolved: dict  # every $ref inlined
    base_path: str  # /data/v1
    operations: dict[str, Operation]


def _inline_refs(document: dict) -> dict:
    """Replace each local `$ref` by a copy of its target (the contract has no cycles)."""

    def target(ref: str) -> Any:
        node: Any = document
        for part in ref.removeprefix("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def walk(node: Any, seen: tuple[str, ...]) -> Any:
        if isinstance(node, dict):
            if "$ref" in node and isinstance(node["$ref"], str):
                ref = node["$ref"]
                if ref in seen:
                    raise ValueError(f"the spec has a $ref cycle through {ref}")
                resolved = walk(target(ref), seen + (ref,))
                siblings = {k: walk(v, seen) for k, v in node.items() if k != "$ref"}
                return {**resolved, **siblings} if isinstance(resolved, dict) else resolved
            return {k: walk(v, seen) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, seen) for v in node]
        return node

    return walk(copy.deepcopy(document), ())


def _json_schema(content: dict | None) -> dict | None:
    if not content:
        return None
    media = content.get("application/json")
    return media.get("schema", {}) if media is not None else None


def _property_names(schema: dict | None) -> set[str]:
    """Every property an object schema names, through allOf/oneOf/anyOf."""
    if not isinstance(schema, dict):
        return set()
    names = set(schema.get("properties", {}))
    for key in ("allOf", "oneOf", "anyOf"):
        for part in schema.get(key, []):
            names |= _property_names(part)
    return names


TAX_ID_FORMATS = ("cpf", "cnpj")


def _tax_id_format(schema: Any) -> str | None:
    """ "cpf" or "cnpj" when the schema (or a branch of it) has that format."""
    if not isinstance(schema, dict):
        return None
    if schema.get("format") in TAX_ID_FORMATS:
        return schema["format"]
    for key in ("allOf", "oneOf", "anyOf"):
        for part in schema.get(key, []):
            found = _tax_id_format(part)
            if found:
                return found
    return None


def _body_tax_ids(schema: Any) -> dict[str, str]:
    """Top-level body properties that are tax ids, through allOf/oneOf/anyOf."""
    if not isinstance(schema, dict):
        return {}
    found = {name: kind for name, sub in schema.get("properties", {}).items() if (kind := _tax_id_format(sub))}
    for key in ("allOf", "oneOf", "anyOf"):
        for part in schema.get(key, []):
            found.update(_body_tax_ids(part))
    return found


def _operation(path: str, method: str, item: dict, op: dict, default_security: list) -> Operation:
    declared = {(p["name"], p["in"]): p for p in item.get("parameters", [])}
    declared.update({(p["name"], p["in"]): p for p in op.get("parameters", [])})
    parameters = tuple(
        Parameter(
            name=p["name"],
            location=p["in"],
            required=bool(p.get("required", p["in"] == "path")),
            schema=p.get("schema", {}),
            validator=_validator(p.get("schema", {})),
        )
        for p in declared.values()
        if p["in"] in ("path", "query", "header")
    )
    body = op.get("requestBody") or {}
    body_schema = _json_schema(body.get("content"))
    responses: dict[int, Draft202012Validator] = {}
    for status, response in op.get("responses", {}).items():
        schema = _json_schema(response.get("content"))
        if status.isdigit() and schema is not None:
            responses[int(status)] = _validator(schema)
    security = op.get("security", default_security)
    return Operation(
        operation_id=op["operationId"],
        method=method.upper(),
        path=path,
        security=tuple(name for requirement in security for name in requirement),
        parameters=parameters,
        body_required=bool(body.get("required", False)),
        body_schema=body_schema,
        body_validator=_validator(body_schema) if body_schema is not None else None,
        body_aliases=dict(body.get("x-aliases", {})),
        body_fields=frozenset(_property_names(body_schema)),
        declared_statuses=frozenset(int(s) for s in op.get("responses", {}) if s.isdigit()),
        response_validators=responses,
        tax_id_fields=tuple(
            [(p.location, p.name, kind) for p in parameters if (kind := _tax_id_format(p.schema))]
            + [("body", name, kind) for name, kind in sorted(_body_tax_ids(body_schema).items())]
        ),
    )


def parse_spec(document: dict) -> Spec:
    resolved = _inline_refs(document)
    servers = resolved.get("servers") or [{"url": "/"}]
    base_path = urlsplit(servers[0]["url"]).path.rstrip("/")
    operations: dict[str, Operation] = {}
    for path, item in resolved.get("paths", {}).items():
        for method in HTTP_METHODS:
            if method in item:
                operation = _operation(path, method, item, item[method], resolved.get("security", []))
                if operation.operation_id in operations:
                    raise ValueError(f"operationId {operation.operation_id} is used twice in the spec")
                operations[operation.operation_id] = operation
    return Spec(document=document, resolved=resolved, base_path=base_path, operations=operations)


# Klavi's contracts the mock serves, by the name the reports give them: the data API
# (/data/v1) and the payments API (/payment). The control API's mock-admin.yaml is not one.
KLAVI_CONTRACTS = {"data": "klavi.yaml", "payments": "klavi-payments.yaml"}


def klavi_operations() -> dict[str, list[str]]:
    """Contract name -> its operationIds, in the spec's order."""
    return {name: list(load_spec(file).operations) for name, file in KLAVI_CONTRACTS.items()}


@cache
def load_spec(name: str) -> Spec:
    """Load `openapi/<name>` once per process."""
    path: Path = openapi_dir() / name
    with path.open(encoding="utf-8") as handle:
        document = yaml.load(handle, Loader=_Loader)
    return parse_spec(document)
