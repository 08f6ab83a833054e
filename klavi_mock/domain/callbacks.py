"""productsCallbackURL: where reports are sent, keyed by product name, `other` or `all`."""

from __future__ import annotations

import json
from typing import Any

from klavi_mock.domain.formats import is_http_url
from klavi_mock.errors import BusinessRuleError


def normalize_products_callback(value: Any, where: str) -> dict[str, str] | None:
    """A plain URL means {"all": url} (some clients send a string); `all` must stand alone;
    every URL must be an absolute http(s) URL (Klavi's rule: 416/4006 naming the product and
    the URL)."""
    if value is None:
        return None
    if isinstance(value, str):
        _check_url(where, "all", value, plain=True)
        return {"all": value}
    if "all" in value and len(value) > 1:
        others = ", ".join(sorted(k for k in value if k != "all"))
        raise BusinessRuleError(4006, f"{where}: 'all' cannot be combined with other keys ({others})")
    for key, url in value.items():
        _check_url(where, key, url)
    return dict(value)


def _check_url(where: str, key: str, url: Any, plain: bool = False) -> None:
    if isinstance(url, str) and is_http_url(url):
        return
    field = where if plain else f"{where}.{key}"
    shown = json.dumps(url, ensure_ascii=False) if isinstance(url, str) else repr(url)
    raise BusinessRuleError(
        4006,
        f"{field}: the URL for {key!r} ({shown}) is not an absolute http(s) URL, "
        "e.g. https://partner.example.com/reports",
    )
