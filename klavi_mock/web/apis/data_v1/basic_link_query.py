"""Basic WhiteLabel (docs.klavi.ai/connect/basic-whitelabel): a fixed URL per partner,
`/data/v1/basic-links/{appId}?personal_tax_id=...`, that opens the hosted journey with no
API call first. Its query is a POST /links body in snake_case."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

QUERY_TO_LINK_FIELD = {
    "personal_tax_id": "personalTaxId",
    "business_tax_id": "businessTaxId",
    "email": "email",
    "phone": "phone",
    "institution_code": "institutionCode",
    "redirect_url": "redirectURL",
    "products_callback_url": "productsCallbackURL",  # a plain URL: {"all": url}
}


def link_request(query: Mapping[str, Any]) -> dict[str, Any]:
    """The POST /links body the query stands for (empty values are left out)."""
    request = {field: query[name] for name, field in QUERY_TO_LINK_FIELD.items() if query.get(name) not in (None, "")}
    if "redirectURL" not in request and query.get("redirectURL") not in (None, ""):
        request["redirectURL"] = query["redirectURL"]  # the demo apps' older spelling
    return request
