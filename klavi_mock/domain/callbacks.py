"""productsCallbackURL: where reports are sent, keyed by product name, `other` or `all`."""

from __future__ import annotations

from typing import Any

from klavi_mock.errors import BusinessRuleError


def normalize_products_callback(value: Any, where: str) -> dict[str, str] | None:
    """A plain URL means {"all": url} (some clients send a string); `all` must stand alone."""
    if value is None:
        return None
    if isinstance(value, str):
        return {"all": value}
    if "all" in value and len(value) > 1:
        others = ", ".join(sorted(k for k in value if k != "all"))
        raise BusinessRuleError(4006, f"{where}: 'all' cannot be combined with other keys ({others})")
    return dict(value)
