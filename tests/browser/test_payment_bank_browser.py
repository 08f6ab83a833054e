"""The payer's bank page for an instant Pix payment, and the WhiteLabel link page before it, in
headless Chromium: the pages show the payment, Autorizar takes the payer back to the
partner's redirectUrl with the payment's id and status, and nothing is loaded from outside
the mock. Skipped without Chromium."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx

from tests.browser.test_browser import serve_partner
from tests.browsers import Page
from tests.conftest import bearer
from tests.payments.instant import LINKS, PAYMENTS, body
from tests.worlds import SANDBOX_KEYS


def test_the_payer_authorises_at_the_bank_page(page: Page, mock_url: str):
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    with serve_partner() as partner_url, httpx.Client(base_url=mock_url, timeout=10) as api:
        token = api.post("/payment/customer/v1/auth", json=SANDBOX_KEYS).json()["accessToken"]
        created = api.post(
            PAYMENTS,
            json=body("PIX_MANU", institutionId="341", redirectUrl=f"{partner_url}/pix/return"),
            headers=bearer(token),
        )
        assert created.status_code == 201, created.text
        payment = created.json()

        response = page.goto(payment["redirectConsentURL"])
        assert response is not None and response.status == 200
        authorise = page.get_by_role("button", name="Autorizar")
        authorise.wait_for()
        main = page.locator("main").inner_text()
        assert "R$ 1.333,00" in main and "Klavi" in main and "***.092.776-**" in main
        assert "Itaú" in page.locator(".bank-header__name").inner_text()
        authorise.click()
        page.wait_for_url(lambda url: url.startswith(partner_url + "/"))
        query = {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}
        assert query == {
            "paymentId": payment["id"],
            "clientRequestId": payment["clientRequestId"],
            "status": "PAYMENT_PENDING",
        }
        found = api.get(f"{PAYMENTS}/{payment['id']}", headers=bearer(token)).json()
        assert found["status"] in (
            "PAYMENT_PENDING",
            "PAYMENT_SETTLEMENT_PROCESSING",
            "PAYMENT_SETTLEMENT_DEBTOR_ACCOUNT",
            "PAYMENT_COMPLETED",
        )
        outside = [url for url in requested if not url.startswith((mock_url + "/", partner_url + "/"))]
        assert not outside, f"requests outside 127.0.0.1: {outside}"


def test_the_whitelabel_link_page_runs_the_same_journey(page: Page, mock_url: str):
    with serve_partner() as partner_url, httpx.Client(base_url=mock_url, timeout=10) as api:
        payment = body("PIX_DICT", redirectUrl=f"{partner_url}/pix/return")
        payment.pop("institutionId")
        link = api.post(LINKS, json={**SANDBOX_KEYS, "payment": payment})
        assert link.status_code == 201, link.text

        response = page.goto(link.json()["paymentURL"])
        assert response is not None and response.status == 200
        assert "R$ 1.333,00" in page.locator("main").inner_text()
        page.locator("select#banco").select_option("341")
        page.get_by_role("button", name="Continuar").click()
        authorise = page.get_by_role("button", name="Autorizar")
        authorise.wait_for()
        assert "Itaú" in page.locator(".bank-header__name").inner_text()
        authorise.click()
        page.wait_for_url(lambda url: url.startswith(partner_url + "/"))
        query = {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}
        assert query["paymentId"] == link.json()["id"] and query["status"] == "PAYMENT_PENDING"
