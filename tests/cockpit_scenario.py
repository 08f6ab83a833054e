"""A sandbox with something in it, for the cockpit's browser tests and screenshots: built
through the Klavi API and the control API only, over HTTP."""

from __future__ import annotations

import uuid

import httpx

from tests.payments.autopix import AutoPix
from tests.payments.instant import Payer
from tests.payments.instant import body as payment_body

API = "/data/v1"
SANDBOX_KEYS = {"accessKey": "sandbox-access-key", "secretKey": "sandbox-secret-key"}
VALID_CPF = "52998224725"
ITAU = "341"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def access_token(api: httpx.Client) -> str:
    response = api.post(f"{API}/auth", json=SANDBOX_KEYS)
    assert response.status_code == 200, response.text
    return response.json()["accessToken"]


def create_consent(
    api: httpx.Client, tax_id: str = VALID_CPF, redirect_url: str = "https://partner.example/return"
) -> dict:
    link = api.post(f"{API}/links", json={"personalTaxId": tax_id}, headers=bearer(access_token(api)))
    assert link.status_code == 200, link.text
    consent = api.post(
        f"{API}/consents",
        headers=bearer(link.json()["linkToken"]),
        json={
            "externalTrackId": f"cockpit-{uuid.uuid4()}",
            "personalTaxId": tax_id,
            "institutionCode": ITAU,
            "redirectURL": redirect_url,
            "validityPeriod": 12,
        },
    )
    assert consent.status_code == 200, consent.text
    return consent.json()


def answer_at_bank(api: httpx.Client, consent_id: str, decision: str = "approve") -> dict:
    response = api.post(f"/__mock/consents/{consent_id}/bank", json={"decision": decision})
    assert response.status_code == 200, response.text
    return response.json()["consent"]


def populate(api: httpx.Client, events_url: str | None = None) -> dict[str, str]:
    """Consents in several states, a report request, webhooks (to `events_url` if given)."""
    if events_url:
        api.put(
            "/__mock/tenants/sandbox-app/webhooks", json={"eventsUrl": events_url, "productsCallbackURL": events_url}
        )
    pending = create_consent(api)["consentId"]
    authorised = create_consent(api)["consentId"]
    answer_at_bank(api, authorised)
    denied = create_consent(api, tax_id="11144477735")["consentId"]
    answer_at_bank(api, denied, "deny")
    report = api.post(
        f"{API}/personal/institution-data",
        headers=bearer(access_token(api)),
        json={"taxId": VALID_CPF, "institutionCode": ITAU, "products": ["pf_checking_account", "pf_credit_card"]},
    )
    assert report.status_code == 200, report.text
    api.post(f"{API}/links", json={}, headers=bearer("not-a-token"))  # a refusal, for the journal
    return {"pending": pending, "authorised": authorised, "denied": denied, "requestId": report.json()["requestId"]}


def populate_payments(api: httpx.Client) -> dict[str, str]:
    """Instant payments in several statuses (one through each lever QA uses most) and an
    authorised Automatic Pix consent with a charge scheduled; their ids by name."""
    payer, autopix = Payer(api), AutoPix(api)  # type: ignore[arg-type]

    def lever(payment_id: str, action: str, **body: str) -> None:
        response = api.post(f"/__mock/payments/instant/{payment_id}/force", json={"action": action, **body})
        assert response.status_code == 200, response.text

    waiting = payer.created(payment_body("PIX_MANU"))["id"]
    completed = payer.created(payment_body("PIX_QRCODE"))["id"]
    lever(completed, "approve")
    lever(completed, "complete")
    rejected = payer.created(payment_body("PIX_DICT", payer="00000020206"))["id"]  # persona insufficient-funds
    lever(rejected, "approve")
    lever(rejected, "reject", reason="SALDO_INSUFICIENTE")
    consent = autopix.authorised()["id"]
    charge = autopix.scheduled(consent)["id"]
    return {"waiting": waiting, "completed": completed, "rejected": rejected, "consent": consent, "charge": charge}
