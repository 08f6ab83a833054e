"""The Automatic Pix bank page in a real browser (headless Chromium): the payer reads the
creditor, the recurrence, the limits and the first payment, clicks Autorizar, and lands on
the partner's redirectUrl with the consent's id and status. Skipped without Chromium."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx

from tests.browser.test_browser import SCREENSHOTS, landed_query
from tests.browsers import Page
from tests.payments.autopix import consent_body
from tests.worlds import SANDBOX_KEYS


def test_the_payer_reads_the_recurrence_and_authorises(page: Page, mock_url: str, partner_url: str) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    with httpx.Client(base_url=mock_url, timeout=10) as api:
        token = api.post("/payment/customer/v1/auth", json=SANDBOX_KEYS).json()["accessToken"]
        today = datetime.now(timezone(timedelta(hours=-3))).date()
        body = {**consent_body(today), "redirectUrl": f"{partner_url}/pix/return"}
        created = api.post(
            "/payment/customer/v1/automatic/consents", json=body, headers={"Authorization": f"Bearer {token}"}
        )
        assert created.status_code == 201, created.text
        consent = created.json()

        response = page.goto(consent["redirectConsentURL"])
        assert response is not None and response.status == 200
        main = page.locator("main").inner_text()
        for shown in ("Loja Exemplo", "Mensal", "R$ 80,01", "R$ 100,01", "R$ 30,02", "***.092.776-**"):
            assert shown in main, shown
        page.screenshot(path=str(SCREENSHOTS / "klavi-mock-automatic-pix.png"), full_page=True)
        page.get_by_role("button", name="Autorizar").click()
        query = landed_query(page, partner_url)
        assert query == {"consentId": consent["id"], "status": "CONSENT_AUTHORIZED"}
        got = api.get(
            f"/payment/customer/v1/automatic/consents/{consent['id']}", headers={"Authorization": f"Bearer {token}"}
        )
        assert got.json()["status"] == "CONSENT_AUTHORIZED"
    assert all(url.startswith((mock_url, partner_url)) for url in requested), requested
