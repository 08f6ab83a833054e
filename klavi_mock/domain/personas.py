"""Personas: scripted outcomes, declared as data in fixtures/personas.yaml.

Handlers never test tax ids; they ask the persona what happens next.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from klavi_mock.domain.consents import PERMISSION_ORDER
from klavi_mock.domain.formats import checker

_SCHEMA = {
    "type": "object",
    "required": ["personas"],
    "properties": {
        "personas": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["id", "title", "description"],
                "additionalProperties": False,
                "properties": {
                    "id": {"type": "string", "pattern": "^[a-z0-9-]+$"},
                    "title": {"type": "string"},
                    "description": {"type": "string"},
                    "default": {"type": "boolean"},
                    "personalTaxId": {"type": "string", "format": "cpf"},
                    "businessTaxId": {"type": "string", "format": "cnpj"},
                    "create": {"enum": ["ok", "limit"]},
                    "bank": {"enum": ["ask", "deny", "error", "abandon"]},
                    "grant": {"type": "array", "items": {"enum": list(PERMISSION_ORDER)}},
                    "lgpd": {"enum": ["ask", "decline"]},
                    "after": {
                        "type": "object",
                        "required": ["action", "seconds"],
                        "additionalProperties": False,
                        "properties": {
                            "action": {"enum": ["expire", "revoke", "delete"]},
                            "seconds": {"type": "number", "minimum": 0},
                        },
                    },
                    "throttle": {
                        "type": "object",
                        "required": ["retryAfterSeconds"],
                        "additionalProperties": False,
                        "properties": {"retryAfterSeconds": {"type": "integer", "minimum": 1, "maximum": 3600}},
                    },
                    "reportRequest": {"enum": ["ok", "forbidden", "fail", "kyc-needed"]},
                    # -- instant payments --
                    "payment": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "bank": {"enum": ["ask", "deny", "abandon", "stall"]},
                            "outcome": {
                                "enum": [
                                    "completed",
                                    "insufficient-funds",
                                    "limit-exceeded",
                                    "bank-refuses",
                                    "partially-accepted",
                                ]
                            },
                            "scheduled": {"enum": ["keep", "cancel"]},
                            "cancelAfterSeconds": {"type": "number", "minimum": 0},
                        },
                    },
                    "reports": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "outcome": {"enum": ["ok", "fail", "partial"]},
                            "code": {"type": "integer", "minimum": 5000, "maximum": 5299},
                            "message": {"type": "string"},
                            "delaySeconds": {"type": "number", "minimum": 0},
                        },
                    },
                    # -- automatic pix --
                    "automaticPix": {
                        "enum": [
                            "ok",
                            "bank-denies",
                            "bank-error",
                            "multiple-approvals",
                            "revoked",
                            "insufficient-funds",
                            "limit-exceeded",
                            "payer-cancels",
                        ]
                    },
                },
            },
        }
    },
}


@dataclass(frozen=True)
class Persona:
    id: str
    title: str
    description: str
    personal_tax_id: str | None = None
    business_tax_id: str | None = None
    create: str = "ok"
    bank: str = "ask"
    grant: tuple[str, ...] | None = None
    lgpd: str = "ask"
    after_action: str | None = None
    after_seconds: float = 0
    report_outcome: str = "ok"  # ok | fail | partial
    report_error_code: int = 5001
    report_error_message: str = "Failed to generate the report"
    report_delay_seconds: float = 0
    throttle_seconds: int | None = None  # 429 with Retry-After on POST /consents and report requests
    report_request: str = "ok"  # ok | forbidden (403) | fail (416, code 4007) | kyc-needed (4009, eco products)
    raw: dict[str, Any] | None = None  # as written in the fixture, for the control API
    # -- instant payments --
    payment: dict[str, Any] | None = None  # the payer's bank and the payment's end (sandbox/payments.py)
    # -- automatic pix --
    automatic_pix: str = "ok"  # what the payer's bank does with an Automatic Pix consent and its charges

    def granted(self, requested: list[str], chosen: list[str] | None = None) -> list[str]:
        """What the bank grants: the user's choice (default: everything asked), within what
        this persona's bank allows."""
        wanted = requested if chosen is None else [p for p in requested if p in chosen]
        return [p for p in wanted if self.grant is None or p in self.grant]


class PersonaCatalog:
    def __init__(self, personas: list[Persona], default: Persona) -> None:
        self.personas = {p.id: p for p in personas}
        self.default = default
        self._by_tax_id = {t: p for p in personas for t in (p.personal_tax_id, p.business_tax_id) if t}

    @classmethod
    def from_file(cls, path: Path) -> PersonaCatalog:

        with path.open(encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
        errors = list(Draft202012Validator(_SCHEMA, format_checker=checker).iter_errors(data))
        if errors:
            raise ValueError(
                f"{path}: " + "; ".join(f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:5])
            )
        personas = [_persona(raw) for raw in data["personas"]]
        defaults = [p for p, raw in zip(personas, data["personas"], strict=True) if raw.get("default")]
        if len(defaults) != 1:
            raise ValueError(f"{path}: exactly one persona must have default: true")
        return cls(personas, defaults[0])

    def for_tax_id(self, tax_id: str) -> Persona:
        return self._by_tax_id.get(tax_id, self.default)

    def get(self, persona_id: str) -> Persona | None:
        return self.personas.get(persona_id)


def _persona(raw: dict[str, Any]) -> Persona:
    after = raw.get("after") or {}
    reports = raw.get("reports") or {}
    return Persona(
        id=raw["id"],
        title=raw["title"],
        description=raw["description"],
        personal_tax_id=raw.get("personalTaxId"),
        business_tax_id=raw.get("businessTaxId"),
        create=raw.get("create", "ok"),
        bank=raw.get("bank", "ask"),
        grant=tuple(raw["grant"]) if "grant" in raw else None,
        lgpd=raw.get("lgpd", "ask"),
        after_action=after.get("action"),
        after_seconds=after.get("seconds", 0),
        report_outcome=reports.get("outcome", "ok"),
        report_error_code=reports.get("code", 5001),
        report_error_message=reports.get("message", "Failed to generate the report"),
        report_delay_seconds=reports.get("delaySeconds", 0),
        throttle_seconds=(raw.get("throttle") or {}).get("retryAfterSeconds"),
        report_request=raw.get("reportRequest", "ok"),
        raw=raw,
        # -- instant payments --
        payment=raw.get("payment"),
        automatic_pix=raw.get("automaticPix", "ok"),  # -- automatic pix --
    )
