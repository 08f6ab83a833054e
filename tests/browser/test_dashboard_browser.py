"""The QA cockpit in a real browser: headless Chromium (Playwright) against the mock under
uvicorn. Every action is clicked and its effect checked through the control API; the page
refreshes itself; the admin token protects it; nothing is fetched from beyond loopback.

Skipped when Chromium (/usr/bin/chromium) or the playwright package is missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from klavi_mock.config import Settings
from klavi_mock.testing import Receiver, wait_for
from tests.browsers import TIMEOUT_MS, Browser, BrowserContext, Page, expect
from tests.cockpit_scenario import API, access_token, answer_at_bank, create_consent, populate, populate_payments
from tests.conftest import bearer
from tests.payments.autopix import AutoPix
from tests.payments.instant import Payer
from tests.payments.instant import body as instant_body
from tests.worlds import in_thread

ADMIN_TOKEN = "cockpit-test-admin-token"
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


@pytest.fixture(scope="module")
def mock_url() -> Iterator[str]:
    with in_thread(Settings(strict=True)) as url:
        yield url


@pytest.fixture(scope="module")
def api(mock_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=mock_url, timeout=10) as client:
        yield client


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def fresh(api: httpx.Client) -> None:
    assert api.post("/__mock/reset", json={"rewindClock": True}).status_code == 200
    api.put("/__mock/tenants/sandbox-app/webhooks", json={"eventsUrl": None, "productsCallbackURL": None})


class Offsite:
    """Every request the browser makes to a host that is not loopback (refused)."""

    def __init__(self, context: BrowserContext) -> None:
        self.urls: list[str] = []
        context.route("**/*", self._check)

    def _check(self, route) -> None:
        host = urlsplit(route.request.url).hostname or ""
        if route.request.url.startswith(("data:", "blob:")) or host in LOOPBACK:
            route.continue_()
        else:
            self.urls.append(route.request.url)
            route.abort()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    context.offsite = Offsite(context)  # type: ignore[attr-defined]
    try:
        yield context
        assert context.offsite.urls == []  # type: ignore[attr-defined]
    finally:
        context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    page = context.new_page()
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda error: page.errors.append(str(error)))  # type: ignore[attr-defined]
    return page


def state(api: httpx.Client, consent_id: str) -> dict:
    response = api.get(f"/__mock/consents/{consent_id}")
    assert response.status_code == 200, response.text
    return response.json()


def open_dashboard(page: Page, mock_url: str) -> None:
    response = page.goto(f"{mock_url}/__mock/ui")
    assert response is not None and response.status == 200
    expect(page.locator("#clock-now")).to_be_visible()


def result_says(page: Page, text: str) -> None:
    expect(page.locator("#result")).to_be_visible()
    expect(page.locator("#result-title")).to_contain_text(text)


# -- consents ---------------------------------------------------------------------------


def test_root_leads_to_the_dashboard(page: Page, mock_url: str):
    page.goto(mock_url + "/")
    assert urlsplit(page.url).path == "/__mock/ui"
    expect(page.get_by_role("heading", name="Clock")).to_be_visible()


def test_approve_at_the_bank(page: Page, api: httpx.Client, mock_url: str):
    consent_id = create_consent(api)["consentId"]
    open_dashboard(page, mock_url)
    page.locator(f"#consent-{consent_id} [data-act=approve]").click()
    result_says(page, "→ 200")
    assert state(api, consent_id)["status"] == "AUTHORISED"
    expect(page.locator(f"#consent-{consent_id} [data-field=status]")).to_have_text("AUTHORISED")
    assert page.errors == []  # type: ignore[attr-defined]


def test_deny_at_the_bank(page: Page, api: httpx.Client, mock_url: str):
    consent_id = create_consent(api)["consentId"]
    open_dashboard(page, mock_url)
    page.locator(f"#consent-{consent_id} [data-act=deny]").click()
    result_says(page, "→ 200")
    consent = state(api, consent_id)
    assert consent["status"] == "REJECTED" and consent["statusReason"]["code"] == "CUSTOMER_MANUALLY_REJECTED"
    expect(page.locator(f"#consent-{consent_id} .why")).to_contain_text("CUSTOMER_MANUALLY_REJECTED")


def test_force_a_status(page: Page, api: httpx.Client, mock_url: str):
    consent_id = create_consent(api)["consentId"]
    open_dashboard(page, mock_url)
    card = page.locator(f"#consent-{consent_id}")
    card.locator("select[name=status]").select_option("ERROR")
    card.locator("[data-act=force]").click()
    result_says(page, "/force → 200")
    assert state(api, consent_id)["status"] == "ERROR"


def test_a_refused_move_shows_the_control_apis_message(page: Page, api: httpx.Client, mock_url: str):
    consent_id = create_consent(api)["consentId"]
    open_dashboard(page, mock_url)
    api.post(f"/__mock/consents/{consent_id}/force", json={"status": "REJECTED"})  # behind the page's back
    page.locator(f"#consent-{consent_id} [data-act=approve]").click()
    result_says(page, "→ 409")
    expect(page.locator("#result-list")).to_contain_text("REJECTED")


def test_apply_a_persona(page: Page, api: httpx.Client, mock_url: str):
    consent_id = create_consent(api)["consentId"]
    open_dashboard(page, mock_url)
    card = page.locator(f"#consent-{consent_id}")
    card.locator("select[name=persona]").select_option("bank-denies")
    card.locator("[data-act=persona]").click()
    result_says(page, "/persona → 200")
    assert state(api, consent_id)["persona"] == "bank-denies"


def test_apply_persona_is_offered_only_where_it_applies(page: Page, api: httpx.Client, mock_url: str):
    waiting = create_consent(api)["consentId"]
    denied = create_consent(api)["consentId"]
    answer_at_bank(api, denied, "deny")
    assert state(api, denied)["status"] == "REJECTED"
    open_dashboard(page, mock_url)
    expect(page.locator(f"#consent-{waiting} [data-act=persona]")).to_have_count(1)
    expect(page.locator(f"#consent-{denied} [data-act=persona]")).to_have_count(0)  # final: nothing to script


def test_the_persona_catalogue_shows_titles_descriptions_and_tax_ids(page: Page, api: httpx.Client, mock_url: str):
    personas = {p["id"]: p for p in api.get("/__mock/personas").json()}
    open_dashboard(page, mock_url)
    row = page.locator("#personas tr[data-persona=lgpd-declined]")
    expect(row).to_contain_text(personas["lgpd-declined"]["title"])
    expect(row).to_contain_text(personas["lgpd-declined"]["description"])
    expect(row.locator("[data-field=cpf]")).to_have_text("00000000272")
    expect(row.locator("[data-field=cnpj]")).to_have_text("00000002000180")
    expect(page.locator("#personas tbody tr")).to_have_count(len(personas))


def test_start_a_journey_for_a_persona(page: Page, context: BrowserContext, api: httpx.Client, mock_url: str):
    open_dashboard(page, mock_url)
    form = page.locator("#journey")
    form.locator("select[name=persona]").select_option("lgpd-declined")
    form.locator("select[name=kind]").select_option("business")
    form.locator("input[name=redirectUrl]").fill("https://partner.example/back")
    form.locator("[data-act=journey]").click()
    url = page.locator("#journey-url").inner_text()
    assert url == (
        f"{mock_url}/data/v1/basic-links/sandbox-app?business_tax_id=00000002000180"
        "&redirect_url=https%3A%2F%2Fpartner.example%2Fback"
    )
    expect(form.locator("input[name=taxId]")).to_have_value("00000002000180")
    page.locator("#journey-copy").click()
    expect(page.locator("#journey-copy")).not_to_have_text("Copy")
    with context.expect_page() as opened:
        page.locator("#journey-open").click()
    hosted = opened.value
    hosted.wait_for_load_state()
    assert "/link?" in hosted.url
    [link] = api.get("/__mock/links").json()
    assert (link["appId"], link["businessTaxId"]) == ("sandbox-app", "00000002000180")


def test_start_a_journey_with_a_typed_cpf(page: Page, api: httpx.Client, mock_url: str):
    open_dashboard(page, mock_url)
    form = page.locator("#journey")
    form.locator("input[name=taxId]").fill("529.982.247-25")
    form.locator("[data-act=journey]").click()
    url = page.locator("#journey-url").inner_text()
    assert url == f"{mock_url}/data/v1/basic-links/sandbox-app?personal_tax_id=52998224725"
    page.goto(url)
    [link] = api.get("/__mock/links").json()
    assert link["personalTaxId"] == "52998224725"


def tenant(api: httpx.Client, app_id: str = "sandbox-app") -> dict:
    return next(t for t in api.get("/__mock/tenants").json() if t["appId"] == app_id)


def open_settings(page: Page, mock_url: str):
    open_dashboard(page, mock_url)
    settings = page.locator("#settings-sandbox-app")
    settings.locator("summary").click()
    return settings


def test_edit_a_tenants_webhook_urls(page: Page, api: httpx.Client, mock_url: str):
    settings = open_settings(page, mock_url)
    form = settings.locator("[data-form=webhooks]")
    form.locator("input[name=eventsUrl]").fill("https://partner.example/events")
    form.locator("input[name=productsCallbackURL]").fill("https://partner.example/reports")
    form.locator("select[name=trackingEvents]").select_option("false")
    form.locator("[data-act=webhooks]").click()
    result_says(page, "/webhooks → 200")
    saved = tenant(api)
    assert saved["eventsUrl"] == "https://partner.example/events"
    assert saved["productsCallbackURL"] == {"all": "https://partner.example/reports"}
    assert saved["trackingEvents"] is False
    form.locator("input[name=eventsUrl]").fill("")
    form.locator("[data-act=webhooks]").click()
    expect(page.locator("#result-title")).to_contain_text("→ 200")
    wait_for(lambda: tenant(api)["eventsUrl"] is None, what="eventsUrl cleared")


def test_edit_a_tenants_report_delivery_and_products(page: Page, api: httpx.Client, mock_url: str):
    settings = open_settings(page, mock_url)
    form = settings.locator("[data-form=reports]")
    form.locator("select[name=reportDelivery]").select_option("automatic")
    form.locator("select[name=encryptSensitiveFields]").select_option("true")
    form.locator("select[name=activatedProducts]").select_option(["pf_balance", "pf_credit_card"])
    form.locator("[data-act=reports]").click()
    result_says(page, "/reports → 200")
    saved = tenant(api)
    assert (saved["reportDelivery"], saved["encryptSensitiveFields"]) == ("automatic", True)
    assert sorted(saved["activatedProducts"]) == ["pf_balance", "pf_credit_card"]
    form.locator("select[name=activatedProducts]").select_option([])
    form.locator("[data-act=reports]").click()
    wait_for(lambda: tenant(api)["activatedProducts"] is None, what="every product activated again")


def test_set_and_clear_webhook_chaos(page: Page, api: httpx.Client, mock_url: str):
    settings = open_settings(page, mock_url)
    form = settings.locator("[data-form=chaos]")
    form.locator("input[name=duplicate]").fill("1")
    form.locator("input[name=badSignature]").fill("0.25")
    form.locator("input[name=seed]").fill("7")
    form.locator("[data-act=chaos]").click()
    result_says(page, "/chaos → 200")
    chaos = api.get("/__mock/tenants/sandbox-app/chaos").json()
    assert (chaos["duplicate"], chaos["badSignature"], chaos["seed"]) == (1, 0.25, 7)
    settings.locator("[data-act=clear-chaos]").click()
    wait_for(lambda: api.get("/__mock/tenants/sandbox-app/chaos").json()["duplicate"] == 0, what="chaos cleared")


def test_add_and_remove_a_fault_rule_with_the_form(page: Page, api: httpx.Client, mock_url: str):
    open_dashboard(page, mock_url)
    form = page.locator("#fault-form")
    form.locator("select[name=operationId]").select_option("createLink")
    form.locator("input[name=status]").fill("429")
    form.locator("input[name=retryAfterSeconds]").fill("5")
    form.locator("input[name=times]").fill("2")
    form.locator("[data-act=add-fault]").click()
    result_says(page, "/faults → 200")
    [rule] = api.get("/__mock/faults").json()
    assert (rule["operationId"], rule["status"], rule["retryAfterSeconds"], rule["remaining"]) == (
        "createLink",
        429,
        5,
        2,
    )
    row = page.locator(f"#fault-rules tr[data-fault={rule['faultId']}]")
    expect(row).to_be_visible()  # the list refreshed in place
    row.locator("[data-act=delete-fault]").click()
    wait_for(lambda: api.get("/__mock/faults").json() == [], what="the rule removed")
    expect(page.locator("#faults-live")).to_contain_text("No fault rules")


def test_reset_and_back_to_the_wall_clock(page: Page, api: httpx.Client, mock_url: str):
    consent_id = create_consent(api)["consentId"]
    api.post("/__mock/clock/advance", json={"seconds": 365 * 86400})
    open_dashboard(page, mock_url)
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("[data-act=reset-rewind]").click()
    result_says(page, "/reset → 200")
    assert offset(api) == 0
    assert api.get(f"/__mock/consents/{consent_id}").status_code == 404
    expect(page.locator(f"#consent-{consent_id}")).to_have_count(0)  # the page refreshed itself


def test_reset_keeping_the_clock(page: Page, api: httpx.Client, mock_url: str):
    consent_id = create_consent(api)["consentId"]
    api.post("/__mock/clock/advance", json={"seconds": 3600})
    open_dashboard(page, mock_url)
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("[data-act=reset]").click()
    result_says(page, "/reset → 200")
    assert offset(api) == pytest.approx(3600)
    assert api.get(f"/__mock/consents/{consent_id}").status_code == 404


def test_revoke(page: Page, api: httpx.Client, mock_url: str):
    consent_id = create_consent(api)["consentId"]
    answer_at_bank(api, consent_id)
    open_dashboard(page, mock_url)
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(f"#consent-{consent_id} [data-act=revoke]").click()
    result_says(page, "→ 200")
    assert state(api, consent_id)["status"] == "REVOKED"


def test_filter_by_tax_id_and_status(page: Page, api: httpx.Client, mock_url: str):
    ids = populate(api)
    page.goto(f"{mock_url}/__mock/ui?taxId=111.444.777-35")
    expect(page.locator(".consent")).to_have_count(1)
    expect(page.locator(f"#consent-{ids['denied']}")).to_be_visible()
    page.goto(f"{mock_url}/__mock/ui?status=AUTHORISED")
    expect(page.locator(".consent")).to_have_count(1)
    expect(page.locator(f"#consent-{ids['authorised']}")).to_be_visible()
    page.locator(f"#timeline-{ids['authorised']} summary").click()
    expect(page.locator(f"#timeline-{ids['authorised']}")).to_contain_text("consent_authorised")


# -- the clock ----------------------------------------------------------------------------


def offset(api: httpx.Client) -> float:
    return api.get("/__mock/clock").json()["offsetSeconds"]


def test_advance_the_clock_by_a_preset(page: Page, api: httpx.Client, mock_url: str):
    pending = create_consent(api)["consentId"]
    open_dashboard(page, mock_url)
    before = offset(api)
    page.locator("[data-preset='1 day']").click()
    result_says(page, "/clock/advance → 200")
    assert offset(api) - before == pytest.approx(86_400)
    expect(page.locator("#fell-due-list")).to_contain_text(pending)  # its 60-minute window closed
    assert state(api, pending)["status"] == "REJECTED"
    expect(page.locator("#clock-offset")).to_have_text("86400.0")


def test_advance_the_clock_by_any_amount(page: Page, api: httpx.Client, mock_url: str):
    open_dashboard(page, mock_url)
    before = offset(api)
    form = page.locator("#clock-custom")
    form.locator("input[name=amount]").fill("2")
    form.locator("select[name=unit]").select_option(label="hours")
    form.get_by_role("button", name="Advance").click()
    result_says(page, "/clock/advance → 200")
    assert offset(api) - before == pytest.approx(7200)
    expect(page.locator("#fell-due-list")).to_contain_text("nothing fell due")


# -- webhooks, reports ------------------------------------------------------------------


def test_redeliver_a_webhook(page: Page, api: httpx.Client, mock_url: str, receiver: Receiver):
    ids = populate(api, receiver.url("/events"))
    deliveries = wait_for(
        lambda: [
            d
            for d in api.get("/__mock/webhooks", params={"name": "link_created"}).json()["items"]
            if d["status"] == "delivered"
        ],
        what="a delivered link_created",
    )
    delivery_id = deliveries[0]["deliveryId"]
    before = len(deliveries[0]["attempts"])
    page.goto(f"{mock_url}/__mock/ui/webhooks")
    card = page.locator(f"#delivery-{delivery_id}")
    card.locator("[data-act=redeliver]").click()
    result_says(page, "/redeliver → 200")
    wait_for(
        lambda: len(api.get(f"/__mock/webhooks/{delivery_id}").json()["attempts"]) == before + 1, what="the redelivery"
    )
    expect(card.locator("[data-field=attempts]")).to_have_text(str(before + 1))  # live
    expect(page.locator(f"#report-{ids['requestId']}")).to_contain_text("pf_credit_card")
    expect(page.locator("[data-count=delivered] strong")).not_to_have_text("0")
    card.locator("details summary").click()
    signature = card.locator("[data-field=signature]").inner_text()
    raw = api.get(f"/__mock/webhooks/{delivery_id}").json()["body"]
    from klavi_mock.webhooks.signing import encode_body, verify_signature

    assert verify_signature(encode_body(raw), signature, "sandbox-secret-key")


# -- the request journal -------------------------------------------------------------------


def test_replay_a_request(page: Page, api: httpx.Client, mock_url: str):
    create_consent(api)
    original = api.get("/__mock/requests", params={"operationId": "createLink"}).json()["items"][0]
    page.goto(f"{mock_url}/__mock/ui/requests")
    page.locator(f"#entry-{original['journalId']} [data-act=replay]").click()
    result_says(page, "/replay → 200")
    replays = [e for e in api.get("/__mock/requests").json()["items"] if e["replayOf"] == original["journalId"]]
    assert len(replays) == 1 and replays[0]["status"] == 200
    expect(page.locator(f"#entry-{replays[0]['journalId']}")).to_be_visible()  # live


def test_the_journal_fits_a_1366_px_screen_and_a_phone(page: Page, api: httpx.Client, mock_url: str):
    populate(api)
    long_path = "/data/v1/consents/" + "x" * 300  # a long path, and a long query
    api.get(long_path, params={"q": "y" * 300}, headers=bearer(access_token(api)))
    for width, height in ((1366, 768), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{mock_url}/__mock/ui/requests")
        replay = page.locator("[data-act=replay]").first
        expect(replay).to_be_visible()
        box, card = (
            replay.bounding_box(),
            page.locator("table.journal").locator("xpath=ancestor::section").bounding_box(),
        )
        assert box is not None and card is not None
        assert box["x"] + box["width"] <= card["x"] + card["width"] + 1, (width, box, card)
        page_width = page.evaluate("document.documentElement.scrollWidth")
        assert page_width <= width, (width, page_width)  # nothing pushes the page sideways
    replay.click()
    result_says(page, "/replay → ")


@pytest.mark.parametrize("path", ["", "/payments", "/webhooks", "/requests", "/conformance"])
@pytest.mark.parametrize("width,height", [(1366, 768), (390, 844)])
def test_every_page_fits_the_screen(page: Page, api: httpx.Client, mock_url: str, path: str, width: int, height: int):
    populate(api)
    if path == "/payments":
        populate_payments(api)
    page.set_viewport_size({"width": width, "height": height})
    assert page.goto(f"{mock_url}/__mock/ui{path}").status == 200
    page.locator("details").evaluate_all("(all) => all.forEach((d) => { d.open = true; })")
    overflow = page.evaluate(
        """() => {
             // inside a box that scrolls sideways (a wide table on a phone) is fine
             const scrolls = (e) => { for (let p = e.parentElement; p && p.tagName !== 'MAIN'; p = p.parentElement) {
               if (['auto', 'scroll'].includes(getComputedStyle(p).overflowX)) return true; } return false; };
             return Array.from(document.querySelectorAll('main *'))
             .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1
                        && !scrolls(e))
             .slice(0, 5).map((e) => e.tagName + '.' + e.className + ' ' + (e.id || '') + ' ' + Math.round(e.getBoundingClientRect().right)); }"""
    )
    assert overflow == [], overflow
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_copy_as_curl(page: Page, context: BrowserContext, api: httpx.Client, mock_url: str):
    create_consent(api)
    entry = api.get("/__mock/requests", params={"operationId": "createConsent"}).json()["items"][0]
    page.goto(f"{mock_url}/__mock/ui/requests")
    page.locator(f"#entry-{entry['journalId']} [data-curl]").click()
    command = page.locator("#curl-output").input_value()
    assert command.startswith(f"curl -X POST '{mock_url}{API}/consents'")
    assert '"authorization: Bearer $TOKEN"' in command and "--data '" in command and "cockpit-" in command


def test_journal_filters(page: Page, api: httpx.Client, mock_url: str):
    populate(api)
    page.goto(f"{mock_url}/__mock/ui/requests?status=401")
    expect(page.locator("tbody.entry")).to_have_count(1)
    expect(page.locator("tbody.entry")).to_contain_text("createLink")


# -- conformance, live, protection, offline ------------------------------------------------


def test_conformance_page(page: Page, api: httpx.Client, mock_url: str):
    populate(api)
    page.goto(f"{mock_url}/__mock/ui/conformance")
    tenant = page.locator("#tenant-sandbox-app")
    expect(tenant).to_contain_text("createConsent")
    expect(page.locator("#tenant-\\(unauthenticated\\) [data-field=violations]")).to_have_text("1")


def test_the_page_updates_without_a_reload(page: Page, api: httpx.Client, mock_url: str):
    open_dashboard(page, mock_url)
    page.evaluate("window.__notReloaded = true")
    consent_id = create_consent(api)["consentId"]
    expect(page.locator(f"#consent-{consent_id}")).to_be_visible()
    api.post(f"/__mock/consents/{consent_id}/force", json={"status": "AUTHORISED"})
    expect(page.locator(f"#consent-{consent_id} [data-field=status]")).to_have_text("AUTHORISED")
    api.post("/__mock/clock/advance", json={"seconds": 60})
    expect(page.locator("#clock-offset")).to_have_text("60.0")
    assert page.evaluate("window.__notReloaded") is True


def test_everything_is_served_by_the_mock(page: Page, context: BrowserContext, api: httpx.Client, mock_url: str):
    populate(api)
    seen: list[str] = []
    page.on("request", lambda request: seen.append(request.url))
    for path in ("/__mock/ui", "/__mock/ui/webhooks", "/__mock/ui/requests", "/__mock/ui/conformance"):
        assert page.goto(mock_url + path).status == 200
    page.goto(f"{mock_url}/__mock/docs?spec=klavi.yaml")
    expect(page.locator(".opblock").first).to_be_visible()
    expect(page.locator(".servers")).to_contain_text(mock_url + API)
    assert page.errors == []  # type: ignore[attr-defined]
    assert context.offsite.urls == []  # type: ignore[attr-defined]
    assert all(urlsplit(url).hostname in LOOPBACK for url in seen if not url.startswith("data:"))


def test_try_it_out_calls_the_running_mock(page: Page, api: httpx.Client, mock_url: str):
    page.goto(f"{mock_url}/__mock/docs?spec=mock-admin.yaml")
    block = page.locator("#operations-default-getClock")
    block.locator(".opblock-summary").click()
    block.get_by_role("button", name="Execute").click()
    expect(block.locator(".live-responses-table tr.response .response-col_status").first).to_contain_text("200")
    expect(block.locator(".live-responses-table")).to_contain_text("offsetSeconds")


# -- with an admin token ------------------------------------------------------------------


@pytest.fixture(scope="module")
def protected_url() -> Iterator[str]:
    with in_thread(Settings(strict=True, admin_token=ADMIN_TOKEN)) as url:
        yield url


def test_the_admin_token_protects_the_cockpit(page: Page, protected_url: str):
    with httpx.Client(base_url=protected_url, timeout=10) as api:
        for path in ("/__mock/ui", "/__mock/ui/requests", "/__mock/docs", "/__mock/docs/spec/klavi.yaml"):
            response = api.get(path)
            assert response.status_code == 401 and "admin token" in response.text
        headers = {"X-Mock-Admin-Token": ADMIN_TOKEN}
        consent_id = create_consent(api)["consentId"]
        page.goto(f"{protected_url}/__mock/ui")
        page.get_by_label("Admin token").fill("wrong")
        page.get_by_role("button", name="Open the cockpit").click()
        expect(page.get_by_role("alert")).to_contain_text("not the mock's admin token")
        page.get_by_label("Admin token").fill(ADMIN_TOKEN)
        page.get_by_role("button", name="Open the cockpit").click()
        expect(page.locator(f"#consent-{consent_id}")).to_be_visible()
        page.locator(f"#consent-{consent_id} [data-act=approve]").click()  # the script sends the token
        result_says(page, "→ 200")
        assert api.get(f"/__mock/consents/{consent_id}", headers=headers).json()["status"] == "AUTHORISED"
        later = create_consent(api)["consentId"]  # the live refresh carries the token too
        expect(page.locator(f"#consent-{later}")).to_be_visible()
        page.goto(f"{protected_url}/__mock/docs?spec=mock-admin.yaml")
        expect(page.locator(".opblock").first).to_be_visible()
        page.goto(f"{protected_url}/__mock/ui")
        page.get_by_role("button", name="Log out").click()
        expect(page.get_by_label("Admin token")).to_be_visible()
        assert page.goto(f"{protected_url}/__mock/ui").status == 401


# -- payments (the payments page) -----------------------------------------------------------


def open_payments(page: Page, mock_url: str) -> None:
    response = page.goto(f"{mock_url}/__mock/ui/payments")
    assert response is not None and response.status == 200
    expect(page.get_by_role("heading", name="Instant payments")).to_be_visible()


def test_an_instant_payment_is_approved_then_completed_with_the_buttons(page: Page, api: httpx.Client, mock_url: str):
    payer = Payer(api)
    created = payer.created(instant_body("PIX_MANU"))
    open_payments(page, mock_url)
    card = page.locator(f"#payment-{created['id']}")
    expect(card).to_contain_text("BRL 1333.00")
    expect(card.locator("[data-field=creditor]")).to_have_text("Klavi")
    card.locator("[data-act=approve]").click()
    result_says(page, "/force → 200")
    expect(page.locator("#result-list")).to_contain_text("is PAYMENT_PENDING")
    assert payer.status(created["id"]) == "PAYMENT_PENDING"
    expect(card.locator("[data-field=status]")).to_have_text("PAYMENT_PENDING")  # refreshed in place
    card.locator("[data-act=complete]").click()
    expect(card.locator("[data-field=status]")).to_have_text("PAYMENT_COMPLETED")
    assert payer.status(created["id"]) == "PAYMENT_COMPLETED"
    card.locator("summary").click()
    expect(card.locator(".timeline li")).to_have_count(6)
    expect(card.locator("[data-act]")).to_have_count(0)  # final: no levers left
    assert page.errors == []  # type: ignore[attr-defined]


def test_reject_an_instant_payment_with_a_reason(page: Page, api: httpx.Client, mock_url: str):
    payer = Payer(api)
    created = payer.created(instant_body())
    api.post(f"/__mock/payments/instant/{created['id']}/force", json={"action": "approve"})
    open_payments(page, mock_url)
    card = page.locator(f"#payment-{created['id']}")
    card.locator("select[name=reason]").select_option("SALDO_INSUFICIENTE")
    card.locator("[data-act=reject]").click()
    result_says(page, "/force → 200")
    assert payer.get(created["id"])["statusReason"]["code"] == "SALDO_INSUFICIENTE"
    expect(card.locator(".why")).to_contain_text("SALDO_INSUFICIENTE")


def test_a_lever_pulled_too_late_shows_the_409(page: Page, api: httpx.Client, mock_url: str):
    payer = Payer(api)
    created = payer.created(instant_body())
    open_payments(page, mock_url)
    api.post(f"/__mock/payments/instant/{created['id']}/force", json={"action": "refuse"})  # behind its back
    page.locator(f"#payment-{created['id']} [data-act=approve]").click()
    result_says(page, "→ 409")
    expect(page.locator("#result-list")).to_contain_text("CONSENT_REJECTED")


def test_an_automatic_pix_consent_and_its_charges(page: Page, api: httpx.Client, mock_url: str):
    autopix = AutoPix(api)  # type: ignore[arg-type]
    consent = autopix.create()
    open_payments(page, mock_url)
    card = page.locator(f"#automatic-{consent['id']}")
    expect(card.locator("[data-field=creditor]")).to_have_text("Loja Exemplo")
    card.locator("[data-act=approve]").click()
    expect(card.locator("[data-field=status]").first).to_have_text("CONSENT_AUTHORIZED")
    charge = autopix.scheduled(consent["id"])
    row = page.locator(f"#charge-{charge['id']}")
    expect(row.locator("[data-field=status]")).to_have_text("PAYMENT_SCHEDULED")  # the refresh brings it
    row.locator("select[name=reason]").select_option("SALDO_INSUFICIENTE")
    row.locator("[data-act=reject]").click()
    expect(row.locator("[data-field=status]")).to_have_text("PAYMENT_REJECTED")
    assert autopix.payment(consent["id"], charge["id"])["statusReason"]["code"] == "SALDO_INSUFICIENTE"
    page.once("dialog", lambda dialog: dialog.accept())
    card.locator("[data-act=revoke]").click()
    expect(card.locator("header [data-field=status]")).to_have_text("CONSENT_REVOKED")
    assert autopix.consent(consent["id"])["status"] == "CONSENT_REVOKED"
    assert page.errors == []  # type: ignore[attr-defined]


def test_the_payments_page_clock_shows_what_fell_due(page: Page, api: httpx.Client, mock_url: str):
    payer = Payer(api)
    created = payer.created(instant_body())
    api.post(f"/__mock/payments/instant/{created['id']}/force", json={"action": "approve"})
    open_payments(page, mock_url)
    page.locator("[data-preset='1 min']").click()
    expect(page.locator("#fell-due-list")).to_contain_text(
        "instant payment PAYMENT_SETTLEMENT_DEBTOR_ACCOUNT → PAYMENT_COMPLETED"
    )
    expect(page.locator(f"#payment-{created['id']} [data-field=status]")).to_have_text("PAYMENT_COMPLETED")
