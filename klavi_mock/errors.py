"""Every error the Klavi API answers, and the one body shape they all render to.

Klavi's only documented error body is `{"statusCode", "error", "message"}` (from POST /auth).
Business-rule failures answer HTTP 416 with a business code in `statusCode`.
No Starlette here: the domain raises these, the HTTP layer renders them.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus

BUSINESS_ERRORS: dict[int, str] = {
    4001: "Invalid authorisation info",
    4002: "Invalid product info",
    4003: "Invalid consent request",
    4004: "Invalid institution",
    4005: "Invalid products",
    4006: "Invalid productsCallbackURL",
    4007: "Product request failed",
    4008: "Insufficient authorization info",
    4009: "Insufficient authorization info",
    # -- instant payments -- (the payments API's, docs.klavi.ai/payment/return-codes)
    4101: "QRCode not related Pix",
    4102: "QRCode from PixCobrança",
}


# Reason phrases that Python's http.HTTPStatus has renamed across versions, pinned so the
# error bodies do not change with the interpreter (3.13 says "Content Too Large").
TITLES = {413: "Request Entity Too Large", 416: "Requested Range Not Satisfiable", 422: "Unprocessable Entity"}


class KlaviError(Exception):
    """An error answered to the client; `status` is the HTTP status."""

    status = 500

    def __init__(self, message: str, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = dict(headers or {})

    @property
    def code(self) -> int:
        return self.status

    @property
    def title(self) -> str:
        return TITLES.get(self.status) or HTTPStatus(self.status).phrase

    def body(self) -> dict:
        return {"statusCode": self.code, "error": self.title, "message": self.message}


class InvalidRequest(KlaviError):
    status = 400

    def __init__(
        self, message: str, *, problems: list[str] | None = None, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message, headers=headers)
        self.problems = problems or [message]  # each "where.field: problem", for the conformance log


class Unauthorized(KlaviError):
    status = 401


class Forbidden(KlaviError):
    status = 403


class NotFound(KlaviError):
    status = 404


class MethodNotAllowed(KlaviError):
    status = 405


class PayloadTooLarge(KlaviError):
    status = 413


class UnsupportedMediaType(KlaviError):
    status = 415


class Conflict(KlaviError):
    status = 409


class TooManyRequests(KlaviError):
    """429, with the seconds to wait in Retry-After."""

    status = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)})


class NotImplementedYet(KlaviError):
    status = 501


class HeadersTooLarge(KlaviError):
    status = 431


class ServiceUnavailable(KlaviError):
    """The mock cannot keep what the request changed (its state file cannot be written)."""

    status = 503


class BusinessRuleError(KlaviError):
    """HTTP 416 with one of Klavi's business codes (4001-4009; the payments API's 41xx)."""

    status = 416

    def __init__(self, business_code: int, message: str) -> None:
        if business_code not in BUSINESS_ERRORS:
            raise ValueError(f"unknown business code {business_code}")
        super().__init__(message)
        self.business_code = business_code

    @property
    def code(self) -> int:
        return self.business_code

    @property
    def title(self) -> str:
        return BUSINESS_ERRORS[self.business_code]


class ConfigError(Exception):
    """The configuration cannot be used; the message says where and why."""
