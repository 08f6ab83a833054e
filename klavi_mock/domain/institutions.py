"""The institutions a partner can pick: read once from fixtures/institutions.yaml."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

# Fixture fields that belong to the mock (how a bank page looks), never sent by the API.
MOCK_ONLY_FIELDS = ("brandColor",)


DEFAULT_BRAND_COLOR = "#1f2937"  # a header colour for an institution whose fixture names none


@dataclass(frozen=True)
class Institution:
    code: str
    name: str
    institution_type: int  # 1 Open Finance, 2 Open Data
    business_type: str  # NATURAL, LEGAL or BOTH
    is_outage: bool
    brand_color: str
    available_resources: tuple[str, ...]
    api_fields: dict[str, Any]  # the API object, with "avatar" still to fill in

    def serves(self, person: str) -> bool:
        """`person` is "pf" (CPF) or "pj" (CNPJ)."""
        wanted = "NATURAL" if person == "pf" else "LEGAL"
        return self.business_type in ("BOTH", wanted)

    def as_api(self, logo_url: str) -> dict[str, Any]:
        return {**self.api_fields, "avatar": logo_url}


class InstitutionCatalog:
    def __init__(self, institutions: list[Institution]) -> None:
        self._by_code = {i.code: i for i in institutions}
        self.rendered: dict[str, bytes] = {}  # the API list as JSON, by base URL

    @classmethod
    def from_file(cls, path: Path) -> InstitutionCatalog:
        with path.open(encoding="utf-8") as handle:
            raw = yaml.safe_load(handle)["institutions"]
        return cls([_institution(entry) for entry in raw])

    def get(self, code: str) -> Institution | None:
        return self._by_code.get(code)

    def name_of(self, code: str) -> str:
        """The institution's name; its code when the catalogue does not have it."""
        institution = self._by_code.get(code)
        return institution.name if institution else code

    def all(self) -> list[Institution]:
        return list(self._by_code.values())


def _institution(entry: dict[str, Any]) -> Institution:
    api_fields = {k: v for k, v in entry.items() if k not in MOCK_ONLY_FIELDS}
    return Institution(
        code=str(entry["institutionCode"]),
        name=entry["name"],
        institution_type=int(entry["institutionType"]),
        business_type=entry.get("businessType", "BOTH"),
        is_outage=bool(entry.get("isOutage", False)),
        brand_color=entry.get("brandColor", DEFAULT_BRAND_COLOR),
        available_resources=tuple(entry.get("availableResources", [])),
        api_fields=api_fields,
    )
