"""The cockpit's pages over HTTP: what they show comes from the control API, they are
guarded like it, and everything they need is served by the mock."""

from __future__ import annotations

import pytest

from klavi_mock.testing import wait_for
from klavi_mock.web.pages.cockpit.access import COOKIE
from tests.conftest import API, authorise
from tests.payments.autopix import AutoPix
from tests.payments.instant import Payer
from tests.payments.instant import body as payment_body
from tests.worlds import in_process

PAGES = (
    "/__mock/ui",
    "/__mock/ui/payments",
    "/__mock/ui/webhooks",
    "/__mock/ui/requests",
    "/__mock/ui/conformance",
    "/__mock/docs",
)
TOKEN = "pages-admin-token"


@pytest.mark.parametrize("path", ["/", "/__mock", "/__mock/"])
def test_the_roots_lead_to_the_dashboard(client, path):
    response = client.get(path)
    assert response.status_code == 307 and response.headers["location"] == "/__mock/ui"


@pytest.mark.parametrize("path", PAGES)
def test_each_page_is_html_under_the_page_policy(client, path):
    response = client.get(path)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert "<script>" not in response.text  # scripts are served files only


def test_the_dashboard_shows_what_the_control_api_answers(klavi, client):
    consent_id = authorise(klavi)
    pending = klavi.create_consent()["consentId"]
    page = client.get("/__mock/ui").text
    for consent in client.get("/__mock/consents").json():
        assert f'id="consent-{consent["consentId"]}"' in page
        assert f'data-status="{consent["status"]}"' in page
    assert "consent_authorised" in page  # the authorised consent's timeline
    assert client.get("/__mock/clock").json()["now"][:16] in page
    only_pending = client.get("/__mock/ui", params={"status": "AWAITING_AUTHORISATION"}).text
    assert pending in only_pending and consent_id not in only_pending
    by_tax_id = client.get("/__mock/ui", params={"taxId": "529.982.247-25"}).text
    assert pending in by_tax_id and consent_id in by_tax_id
    assert pending not in client.get("/__mock/ui", params={"taxId": "11144477735"}).text


def test_the_dashboard_offers_only_the_moves_the_state_machine_allows(klavi, client):
    consent_id = authorise(klavi)
    page = client.get("/__mock/ui").text
    card = page[page.index(f'id="consent-{consent_id}"') :]
    card = card[: card.index("</article>")]
    assert "<option>EXPIRED</option>" in card and "<option>REJECTED</option>" not in card
    assert 'data-act="approve"' not in card and 'data-act="revoke"' in card


def card_of(page: str, element_id: str) -> str:
    card = page[page.index(f'id="{element_id}"') :]
    return card[: card.index("</article>")]


def test_the_payments_page_shows_what_the_control_api_answers_with_the_levers_it_takes(client):
    payer, autopix = Payer(client), AutoPix(client)
    waiting = payer.created(payment_body("PIX_MANU"))
    paid = payer.created(payment_body())
    assert client.post(f"/__mock/payments/instant/{paid['id']}/force", json={"action": "approve"}).status_code == 200
    consent = autopix.authorised()
    charge = autopix.scheduled(consent["id"])
    page = client.get("/__mock/ui/payments").text
    for state in client.get("/__mock/payments/instant").json():
        assert f'data-status="{state["status"]}"' in card_of(page, f"payment-{state['paymentId']}")
    first = card_of(page, f"payment-{waiting['id']}")
    assert "Klavi" in first and "1333.00" in first and "76109277673" in first
    assert 'data-act="approve"' in first and 'data-act="complete"' not in first
    pending = card_of(page, f"payment-{paid['id']}")
    assert 'data-act="complete"' in pending and 'data-act="approve"' not in pending
    assert "<option>SALDO_INSUFICIENTE</option>" in pending  # the reject lever's reasons
    automatic = card_of(page, f"automatic-{consent['id']}")
    assert "CONSENT_AUTHORIZED" in automatic and 'data-act="revoke"' in automatic and "Loja Exemplo" in automatic
    assert f'id="charge-{charge["id"]}"' in automatic and "PAYMENT_SCHEDULED" in automatic
    assert 'data-persona="payer-refuses"' in page and 'data-persona="automatic-pix-revoked"' in page
    only = client.get("/__mock/ui/payments", params={"status": "CONSENT_AWAITING_AUTHORIZATION"}).text
    assert waiting["id"] in only and paid["id"] not in only
    assert consent["id"] not in client.get("/__mock/ui/payments", params={"consentStatus": "STARTED"}).text
    assert waiting["id"] not in client.get("/__mock/ui/payments", params={"appId": "other-app"}).text


def test_the_journal_page_lists_entries_and_pages_on(klavi, client):
    for _ in range(60):
        client.post(f"{API}/auth", json={"accessKey": "nope", "secretKey": "nope"})
    page = client.get("/__mock/ui/requests").text
    assert page.count('class="entry"') == 50 and "Older requests" in page
    older = client.get("/__mock/ui/requests", params={"cursor": "c11"}).text
    assert older.count('class="entry"') == 10
    assert client.get("/__mock/ui/requests", params={"status": "200"}).text.count('class="entry"') == 0


def test_the_docs_spec_points_try_it_out_at_this_mock(client):
    spec = client.get("/__mock/docs/spec/klavi.yaml").json()
    assert spec["servers"] == [{"url": "http://testserver/data/v1", "description": "this klavi-mock"}]
    assert client.get("/__mock/docs/spec/mock-admin.yaml").json()["servers"][0]["url"] == "http://testserver/__mock"
    missing = client.get("/__mock/docs/spec/nope.yaml")
    assert missing.status_code == 404 and missing.json()["statusCode"] == 404


@pytest.mark.parametrize(
    "asset",
    [
        "/__mock/ui/static/cockpit.js",
        "/__mock/ui/static/cockpit.css",
        "/__mock/docs/assets/swagger-ui-bundle.js",
        "/__mock/docs/assets/swagger-ui.css",
    ],
)
def test_assets_are_served_by_the_mock(client, asset):
    assert client.get(asset).status_code == 200


def test_the_pages_answer_the_control_apis_hosts_only(client):
    response = client.get("/__mock/ui", headers={"Host": "evil.example"})
    assert response.status_code == 403


# -- with an admin token ------------------------------------------------------------------


@pytest.fixture
def protected(settings):
    settings.admin_token = TOKEN
    with in_process(settings, follow_redirects=False) as http:
        yield http


@pytest.mark.parametrize("path", [*PAGES, "/__mock/docs/spec/klavi.yaml"])
def test_without_the_token_a_page_asks_for_it(protected, path):
    response = protected.get(path)
    assert response.status_code == 401 and 'name="token"' in response.text


def test_the_login_form_sets_the_cookie_and_goes_on(protected):
    wrong = protected.post("/__mock/ui/login", data={"token": "wrong", "next": "/__mock/ui/requests"})
    assert wrong.status_code == 401 and "That is not the mock" in wrong.text and COOKIE not in wrong.cookies
    right = protected.post("/__mock/ui/login", data={"token": TOKEN, "next": "/__mock/ui/requests"})
    assert right.status_code == 303 and right.headers["location"] == "/__mock/ui/requests"
    cookie = right.headers["set-cookie"]
    assert f"{COOKIE}={TOKEN}" in cookie and "Path=/__mock" in cookie and "SameSite=strict" in cookie
    assert protected.get("/__mock/ui/requests", cookies={COOKIE: TOKEN}).status_code == 200
    assert protected.get("/__mock/ui", headers={"X-Mock-Admin-Token": TOKEN}).status_code == 200
    assert protected.get("/__mock/ui", cookies={COOKIE: "wrong"}).status_code == 401


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/data/v1/auth"])
def test_login_never_sends_the_browser_elsewhere(protected, target):
    response = protected.post("/__mock/ui/login", data={"token": TOKEN, "next": target})
    assert response.status_code == 303 and response.headers["location"] == "/__mock/ui"


def test_logout_forgets_the_token(protected):
    response = protected.post("/__mock/ui/logout", cookies={COOKIE: TOKEN})
    assert response.status_code == 303 and f'{COOKIE}=""' in response.headers["set-cookie"]


def test_the_cookie_alone_does_not_open_the_control_api(protected):
    """The control API itself still wants the header: a cookie a browser sends on its own
    (a form post from another page) steers nothing."""
    response = protected.post("/__mock/clock/advance", json={"seconds": 1}, cookies={COOKIE: TOKEN})
    assert response.status_code == 401


def test_the_conformance_page_shows_how_the_receiver_met_the_chaos(hooked, client, receiver):
    assert client.put("/__mock/tenants/sandbox-app/chaos", json={"duplicate": 1, "seed": 1}).status_code == 200
    hooked.create_link()

    def verdict():
        tenants = client.get("/__mock/conformance", params={"appId": "sandbox-app"}).json()["tenants"]
        return tenants[0]["webhookChaos"].get("duplicate", {}).get("verdict") == "ok"

    wait_for(verdict, what="the duplicate's verdict")
    page = client.get("/__mock/ui/conformance").text
    assert 'data-chaos="duplicate">ok<' in page


def test_the_conformance_page_shows_the_coverage_of_each_contract_called(klavi, client):
    klavi.create_link()
    Payer(client).created(payment_body())
    contracts = client.get("/__mock/conformance", params={"appId": "sandbox-app"}).json()["tenants"][0]["contracts"]
    page = client.get("/__mock/ui/conformance").text
    for name in ("data", "payments"):
        one = contracts[name]
        assert f'data-contract="{name}">{name} {one["exercised"]} of {one["operations"]}<' in page
    assert contracts["payments"]["exercised"] == 2  # its /auth and the payment
