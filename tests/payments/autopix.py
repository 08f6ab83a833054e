"""A tiny Automatic Pix client over the test transport (the steps tests don't examine),
and the request bodies tests start from."""

from __future__ import annotations

import copy
import itertools
from datetime import date, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

from starlette.testclient import TestClient

from tests.conftest import bearer
from tests.worlds import SANDBOX_KEYS

BASE = "/payment/customer/v1/automatic"
PARTNER_RETURN = "https://partner.example.com/pix/return"
PAYER_CPF = "76109277673"
BRASILIA = timezone(timedelta(hours=-3))
_numbers = itertools.count(1)


def consent_body(today: date, **config: Any) -> dict:
    """The guide's example consent, dated from `today`; `config` changes paymentMethodConfig
    (a value None removes the field)."""
    body = {
        "clientRequestId": f"consent-{next(_numbers)}",
        "institutionId": "c8f0bf49-4744-4933-8960-7add6e590841",
        "customer": {"identifierType": "CPF", "identifier": PAYER_CPF, "name": "João Silva"},
        "redirectUrl": PARTNER_RETURN,
        "additionalInformation": "Assinatura mensal",
        "creditorAccount": {
            "ispb": "12345678",
            "issuer": "0001",
            "number": "324223",
            "accountType": "CACC",
            "holder": {"identifier": "11222333000181", "name": "Loja Exemplo", "identifierType": "CNPJ"},
        },
        "paymentMethodConfig": {
            "contractId": "EX123456123456",
            "minimumVariableAmount": "80.01",
            "maximumVariableAmount": "100.01",
            "currency": "BRL",
            "interval": "MONTHLY",
            "referenceStartDate": today.isoformat(),
            "contractDebtor": {"identifierType": "CPF", "identifier": PAYER_CPF, "name": "João da Silva"},
            "isRetryAccepted": True,
            "firstPayment": {
                "remittanceInformation": "Primeiro pagamento",
                "date": today.isoformat(),
                "amount": "30.02",
                "currency": "BRL",
            },
        },
        "clientMetadata": {"platform": "APP", "os": "LINUX", "osVersion": "n/a"},
    }
    for name, value in config.items():
        if value is None:
            body["paymentMethodConfig"].pop(name, None)
        else:
            body["paymentMethodConfig"][name] = value
    return copy.deepcopy(body)


class AutoPix:
    def __init__(self, http: TestClient) -> None:
        self.http = http
        self._token: str | None = None

    @property
    def headers(self) -> dict[str, str]:
        if self._token is None:
            response = self.http.post("/payment/customer/v1/auth", json=SANDBOX_KEYS)
            assert response.status_code == 200, response.text
            self._token = response.json()["accessToken"]
        return bearer(self._token)

    def now(self) -> datetime:
        return datetime.fromisoformat(self.http.get("/__mock/clock").json()["now"].replace("Z", "+00:00"))

    def today(self) -> date:
        """The Brasília date on the mock clock."""
        return self.now().astimezone(BRASILIA).date()

    def advance(self, seconds: float) -> None:
        response = self.http.post("/__mock/clock/advance", json={"seconds": seconds})
        assert response.status_code == 200, response.text
        self._token = None  # it may have expired

    def post(self, path: str, body: Any):
        return self.http.post(f"{BASE}{path}", json=body, headers=self.headers)

    def get(self, path: str):
        return self.http.get(f"{BASE}{path}", headers=self.headers)

    def create(self, body: dict | None = None, **config: Any) -> dict:
        response = self.post("/consents", body or consent_body(self.today(), **config))
        assert response.status_code == 201, response.text
        return response.json()

    def bank(self, consent: dict, decision: str | None = None):
        """The payer's browser at the consent URL (with `decision`, no browser needed)."""
        url = consent["redirectConsentURL"]
        return self.http.get(url, params={"decision": decision} if decision else None, follow_redirects=False)

    def authorised(self, body: dict | None = None, **config: Any) -> dict:
        consent = self.create(body, **config)
        response = self.bank(consent, "approve")
        assert response.status_code == 302 and urlsplit(response.headers["location"]).netloc == "partner.example.com"
        return self.consent(consent["id"])

    def consent(self, consent_id: str) -> dict:
        response = self.get(f"/consents/{consent_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def payment(self, consent_id: str, payment_id: str) -> dict:
        response = self.get(f"/consents/{consent_id}/payments/{payment_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def charge(self, consent_id: str, days: int = 3, amount: Any = "90.00", **body: Any):
        payload = {
            "clientRequestId": f"charge-{next(_numbers)}",
            "date": (self.today() + timedelta(days=days)).isoformat(),
            "amount": amount,
            **body,
        }
        return self.post(f"/consents/{consent_id}/payments", payload)

    def scheduled(self, consent_id: str, days: int = 3, **body: Any) -> dict:
        response = self.charge(consent_id, days, **body)
        assert response.status_code == 201, response.text
        return response.json()

    def to_settlement_of(self, payment: dict, extra_minutes: float = 6) -> None:
        """The clock to 00:00 (Brasília) of the payment's date, and `extra_minutes` more."""
        day = date.fromisoformat(payment["date"])
        start = datetime.combine(day, datetime.min.time(), tzinfo=BRASILIA)
        self.advance(max(0.0, (start - self.now()).total_seconds()) + extra_minutes * 60)
