"""Klavi's "How to integrate Link, API Only" guide, step by step, against `klavi-mock serve`
running as a real process, with a real webhook receiver: it ends with every requested report
received, signed, and on spec."""

from urllib.parse import urlsplit

import httpx

from klavi_mock.testing import Receiver, wait_for
from klavi_mock.webhooks.signing import verify_signature
from tests.contract import assert_conforms
from tests.servers import serve_process

CPF = "52998224725"
PRODUCTS = ["pf_checking_account", "pf_savings_account", "pf_credit_card", "pf_loans", "pf_bank_fixed_incomes"]


def test_the_api_only_guide_end_to_end(tmp_path):
    receiver = Receiver()
    config = tmp_path / "tenants.yaml"
    config.write_text(
        "tenants:\n"
        f"  - {{appId: partner-1, accessKey: ak-1, secretKey: sk-1, eventsUrl: '{receiver.url('/events')}'}}\n"
    )
    try:
        with serve_process("--config", str(config)) as (base, _):
            api = f"{base}/data/v1"
            # Step 1: an access token
            access = httpx.post(f"{api}/auth", json={"accessKey": "ak-1", "secretKey": "sk-1"}).json()["accessToken"]
            back = {"Authorization": f"Bearer {access}"}
            # Step 2: a link
            link = httpx.post(
                f"{api}/links",
                headers=back,
                json={
                    "personalTaxId": CPF,
                    "redirectURL": "https://partner.example.com/return",
                    "externalInfo": {"myTraceId": "guide-1"},
                },
            ).json()
            front = {"Authorization": f"Bearer {link['linkToken']}"}
            # Step 3: the institutions
            institutions = httpx.get(f"{api}/links/institutions", headers=front).json()
            itau = next(i for i in institutions if i["institutionCode"] == "341")
            assert not itau["isOutage"]
            # Step 4: a consent, and the user at the bank (curl style: decision=approve)
            consent = httpx.post(
                f"{api}/consents",
                headers=front,
                json={
                    "externalTrackId": "guide-order-1",
                    "personalTaxId": CPF,
                    "institutionCode": "341",
                    "redirectURL": "https://partner.example.com/return",
                    "validityPeriod": 12,
                },
            ).json()
            response = httpx.get(consent["consentRedirectURL"] + "&decision=approve")
            while response.is_redirect and urlsplit(response.headers["location"]).netloc == urlsplit(base).netloc:
                response = httpx.get(response.headers["location"])
            assert response.status_code == 302
            assert "consent_id=" + consent["consentId"] in response.headers["location"]
            # The consent_authorised webhook, then the status by polling as the guide suggests
            wait_for(
                lambda: [e for e in receiver.events() if e["eventName"] == "consent_authorised"],
                what="consent_authorised",
            )
            assert httpx.get(f"{api}/consents/{consent['consentId']}", headers=back).json()["status"] == "AUTHORISED"
            # Step 3 of the guide: the reports, with a one-time callback URL
            request = httpx.post(
                f"{api}/personal/institution-data",
                headers=back,
                json={
                    "taxId": CPF,
                    "institutionCode": "341",
                    "linkId": link["linkId"],
                    "products": PRODUCTS,
                    "productsCallbackURL": {"all": receiver.url("/reports")},
                },
            ).json()
            assert request["message"] == "ok"
            reports = wait_for(
                lambda: len(receiver.at("/reports")) == len(PRODUCTS) and receiver.at("/reports"),
                what="one report per product",
            )
            assert sorted(r.json()["productName"] for r in reports) == sorted(PRODUCTS)
            done = wait_for(
                lambda: (
                    len([e for e in receiver.events() if e["eventName"] == "product_generated_success"])
                    == len(PRODUCTS)
                ),
                what="product_generated_success for each product",
            )
            assert done
            names = [e["eventName"] for e in receiver.events()]
            assert names.index("product_request_received") < names.index("product_generated_success")
            for delivery in receiver.received:
                assert_conforms(delivery)
                assert verify_signature(delivery.body, delivery.headers["x-klavi-signature"], "sk-1")
            for report in reports:
                body = report.json()
                assert body["requestId"] == request["requestId"] and body["externalInfo"] == {"myTraceId": "guide-1"}
                assert body["links"][0]["linkId"] == link["linkId"]
    finally:
        receiver.stop()
