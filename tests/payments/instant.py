"""Helpers for the instant payment tests: a payment body of each initType, a tiny client."""

from __future__ import annotations

import itertools
from typing import Any

from klavi_mock.domain.pix import make_br_code
from tests.conftest import bearer, query_of
from tests.worlds import SANDBOX_KEYS

PAYMENTS = "/payment/customer/v1/instant/payments"
LINKS = "/payment/customer/v1/instant/payment-links"
RETURN = "https://partner.example.com/pix/return"
PAYER_CPF = "76109277673"
CREDITOR = {
    "ispb": "87654321",
    "issuer": "1234",
    "number": "12345678",
    "accountType": "CACC",
    "holder": {"identifier": "44471172000119", "name": "Klavi", "identifierType": "CNPJ"},
}
_ids = itertools.count(1)


def body(init_type: str = "PIX_DICT", payer: str = PAYER_CPF, **fields: Any) -> dict:
    """The concepts page's example for `init_type`, with a fresh clientRequestId."""
    payment: dict[str, Any] = {
        "institutionId": "c8f0bf49-4744-4933-8960-7add6e590841",
        "clientRequestId": f"order-{next(_ids)}",
        "customer": {"identifierType": "CPF", "identifier": payer, "name": "Klavi Test"},
        "initType": init_type,
        "amount": "1333.00",
        "currency": "BRL",
        "redirectUrl": RETURN,
        "clientMetadata": {"os": "MACOS", "osVersion": "3.2.1", "platform": "BROWSER"},
    }
    if init_type in ("PIX_DICT", "PIX_INIC"):
        payment["proxy"] = "44471172000119"
    if init_type == "PIX_MANU":
        payment["creditorAccount"] = CREDITOR
    if init_type == "PIX_QRCODE":
        payment["qrCode"] = make_br_code("44471172000119", "Klavi", "Sao Paulo", "1333.00")
    return {k: v for k, v in {**payment, **fields}.items() if v is not None}


class Payer:
    """The partner's back end and the payer's browser, over the test transport."""

    def __init__(self, http) -> None:
        self.http = http
        self.token = http.post("/payment/customer/v1/auth", json=SANDBOX_KEYS).json()["accessToken"]

    def create(self, payment: dict, token: str | None = None):
        return self.http.post(PAYMENTS, json=payment, headers=bearer(token or self.token))

    def created(self, payment: dict) -> dict:
        response = self.create(payment)
        assert response.status_code == 201, response.text
        return response.json()

    def get(self, payment_id: str) -> dict:
        response = self.http.get(f"{PAYMENTS}/{payment_id}", headers=bearer(self.token))
        assert response.status_code == 200, response.text
        return response.json()

    def status(self, payment_id: str) -> str:
        return self.get(payment_id)["status"]

    def at_bank(self, url: str, decision: str | None = None):
        """Open the bank page (with `decision`: the whole journey); the response."""
        return self.http.get(url + (f"&decision={decision}" if decision else ""), follow_redirects=False)

    def advance(self, seconds: float) -> None:
        """Move the mock clock; a fresh accessToken (the old one may have expired)."""
        assert self.http.post("/__mock/clock/advance", json={"seconds": seconds}).status_code == 200
        self.token = self.http.post("/payment/customer/v1/auth", json=SANDBOX_KEYS).json()["accessToken"]

    def returned(self, response) -> dict[str, str]:
        """Where the journey left for: the partner's redirectUrl and its query."""
        assert response.status_code == 302, response.text
        location = response.headers["location"]
        assert location.startswith(RETURN + "?")
        return query_of(location)
