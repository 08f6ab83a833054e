"""The hosted link journey (WhiteLabel) in a real browser: headless Chromium (Playwright, sync
API) against the mock under uvicorn, opened as a popup by a tiny local "partner" page on
another origin that listens to the web tracking events the pages post to it.

Skipped when Chromium (/usr/bin/chromium) or the playwright package is missing.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import re
import threading
from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from tests.browsers import TIMEOUT_MS, Browser, Page
from tests.conftest import API, VALID_CPF, bearer
from tests.worlds import SANDBOX_KEYS

# The partner's page: opens the hosted journey in a popup and keeps every message it gets.
OPENER = """<!doctype html><meta charset="utf-8"><title>Parceiro</title>
<script>
window.klaviEvents = [];
window.addEventListener("message", function (e) { window.klaviEvents.push({origin: e.origin, data: e.data}); });
</script>
<button id="open" type="button">Conectar conta</button>
<script>document.getElementById("open").onclick = function () { window.open(%s, "klavi"); };</script>
"""


class _PartnerHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        parts = urlsplit(self.path)
        if parts.path == "/opener":
            target = parse_qs(parts.query)["url"][0]
            body = (OPENER % json.dumps(target)).encode()
        else:
            body = b"<!doctype html><title>Partner</title><p>partner landing</p>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:
        pass


@contextlib.contextmanager
def serve_partner() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _PartnerHandler)
    thread = threading.Thread(target=server.serve_forever, name="partner", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def partner_url() -> Iterator[str]:
    """This module's partner page: it opens the hosted journey in a popup."""
    with serve_partner() as url:
        yield url


def create_link(api: httpx.Client, **body) -> dict:
    token = api.post(f"{API}/auth", json=SANDBOX_KEYS).json()["accessToken"]
    response = api.post(f"{API}/links", json=body, headers=bearer(token))
    assert response.status_code == 200, response.text
    return response.json()


def open_popup(page: Page, partner_url: str, url: str) -> Page:
    page.goto(f"{partner_url}/opener?{urlencode({'url': url})}")
    with page.expect_popup() as popup_info:
        page.click("#open")
    popup = popup_info.value
    popup.wait_for_load_state()
    return popup


def received(page: Page, mock_url: str) -> list[dict]:
    messages = page.evaluate("window.klaviEvents")
    assert all(m["origin"] == mock_url for m in messages), messages
    return [m["data"] for m in messages]


def wait_for_event(page: Page, name: str) -> None:
    page.wait_for_function("name => window.klaviEvents.some(m => m.data && m.data.eventName === name)", arg=name)


def test_basic_whitelabel_journey_posts_tracking_events_to_the_opener(
    page: Page, api: httpx.Client, mock_url: str, partner_url: str
):
    basic = f"{mock_url}{API}/basic-links/sandbox-app?" + urlencode({"redirect_url": f"{partner_url}/klavi/back"})
    popup = open_popup(page, partner_url, basic)

    # No tax id in the URL: the user identifies first, with check digits checked on the page.
    popup.get_by_label("CPF ou CNPJ").fill("529.982.247-00")
    popup.get_by_role("button", name="Continuar").click()
    assert "CPF inválido" in popup.get_by_role("alert").inner_text()
    popup.get_by_label("CPF ou CNPJ").fill("529.982.247-25")
    popup.get_by_role("button", name="Continuar").click()
    popup.get_by_role("heading", name="Escolha sua instituição").wait_for()
    assert "***.982.247-**" in popup.locator("main").inner_text()
    assert popup.locator('button[value="197"]').count() == 0  # Stone serves companies only

    popup.locator('button[name="institutionCode"][value="260"]').click()
    popup.get_by_role("heading", name=re.compile("Confirme o compartilhamento")).wait_for()
    popup.get_by_text("O que é o prazo?").click()
    popup.get_by_role("button", name="Continuar").click()
    popup.get_by_role("button", name="Autorizar").click()
    popup.get_by_role("button", name="Aceitar").click()
    popup.get_by_role("heading", name="Conta conectada").wait_for()
    wait_for_event(page, "authorise_success")
    popup.get_by_role("link", name="Concluir").click()
    popup.wait_for_url(lambda url: url.startswith(f"{partner_url}/klavi/back?"))
    query = parse_qs(urlsplit(popup.url).query)
    assert "link_id" in query and "external_info" in query and "error" not in query
    wait_for_event(page, "authorise_success_finish_click")

    events = received(page, mock_url)
    names = [e["eventName"] for e in events]
    for name in (
        "app_loaded",
        "page_view",
        "landing_continue_click",
        "institution_click",
        "page_duration",
        "data_confirmation_validity_click",
        "data_confirmation_continue_click",
        "authorise_success",
        "authorise_success_finish_click",
    ):
        assert name in names, (name, names)
    assert names[0] == "app_loaded" and names.index("institution_click") < names.index("authorise_success")
    click = next(e for e in events if e["eventName"] == "institution_click")
    assert click["payload"] == {"institutionCode": "260", "institutionName": "Nubank"}
    success = next(e for e in events if e["eventName"] == "authorise_success")
    assert success["payload"] == {"institutionCode": "260", "institutionName": "Nubank", "institutionType": 1}
    duration = next(e for e in events if e["eventName"] == "page_duration")
    assert duration["payload"]["page"] == "landing" and duration["payload"]["durationMs"] >= 0
    # What the server saw, for tests without a browser: the same journey.
    link_id = query["link_id"][0]
    logged = [e["eventName"] for e in api.get("/__mock/tracking-events", params={"linkId": link_id}).json()]
    assert logged[0] == "app_loaded" and "authorise_success_finish_click" in logged
    # the events only the browser sees were posted back by tracking.js (POST /link/events)
    assert "data_confirmation_validity_click" in logged and "page_duration" in logged


def test_search_and_preselection_in_the_browser(page: Page, api: httpx.Client, mock_url: str, partner_url: str):
    link = create_link(api, businessTaxId="11222333000181", institutionCode="197")
    popup = open_popup(page, partner_url, link["linkURL"])
    assert "**.222.333/0001-**" in popup.locator("main").inner_text()  # masked like the CPF
    assert popup.get_by_role("button", name="Continuar com Stone").is_visible()
    popup.get_by_label("Buscar instituição").fill("cora")
    popup.get_by_role("button", name="Buscar").click()
    wait_for_event(page, "institution_list_search")
    search = next(e for e in received(page, mock_url) if e["eventName"] == "institution_list_search")
    assert search["payload"] == {"key": "cora"}


def test_an_error_page_leads_back_to_the_list(page: Page, api: httpx.Client, partner_url: str):
    link = create_link(api, personalTaxId=VALID_CPF)
    popup = open_popup(page, partner_url, link["linkURL"])
    # Banco Modal is in outage: its button is disabled; a crafted post gets a page with a way back.
    assert popup.locator('button[value="746"]').is_disabled()
    popup.evaluate(
        """() => { const b = document.querySelector('button[value="746"]'); b.disabled = false; b.click(); }"""
    )
    popup.get_by_role("heading", name="Não foi possível continuar").wait_for()
    assert "Detalhes para o desenvolvedor" in popup.locator("main").inner_text()
    popup.get_by_role("link", name="Escolher outra instituição").click()
    popup.get_by_role("heading", name="Escolha sua instituição").wait_for()


def test_app2app_returns_to_the_app_which_opens_the_rest_in_its_webview(
    page: Page, api: httpx.Client, partner_url: str
):
    link = create_link(
        api,
        personalTaxId=VALID_CPF,
        redirectURL=f"{partner_url}/klavi/back",
        appLink=f"{partner_url}/app",
        appRedirectURLKey="klaviUrl",
    )
    page.goto(link["linkURL"])
    page.locator('button[name="institutionCode"][value="341"]').click()
    page.get_by_role("button", name="Continuar").click()
    page.get_by_role("button", name="Autorizar").click()
    page.wait_for_url(lambda url: url.startswith(f"{partner_url}/app?"))
    webview_url = parse_qs(urlsplit(page.url).query)["klaviUrl"][0]
    page.goto(webview_url)  # what the app does: open Klavi's next page in its WebView
    page.get_by_role("button", name="Aceitar").click()
    page.get_by_role("heading", name="Conta conectada").wait_for()
    page.get_by_role("link", name="Concluir").click()
    page.wait_for_url(lambda url: url.startswith(f"{partner_url}/klavi/back?"))


def test_a_react_native_webview_gets_the_events_as_json_strings(browser: Browser, api: httpx.Client):
    context = browser.new_context(locale="pt-BR")
    context.set_default_timeout(TIMEOUT_MS)
    # What react-native-webview injects: a bridge object whose postMessage takes a string.
    context.add_init_script(
        "window.ReactNativeWebView = {postMessage: function (m) {"
        " (window.__bridge = window.__bridge || []).push(m); }};"
    )
    try:
        page = context.new_page()
        page.goto(create_link(api, personalTaxId=VALID_CPF)["linkURL"])
        page.wait_for_function("() => (window.__bridge || []).length >= 2")
        sent = [json.loads(m) for m in page.evaluate("window.__bridge")]
        assert sent[:2] == [
            {"eventName": "app_loaded", "payload": {}},
            {"eventName": "page_view", "payload": {"page": "institution_list"}},
        ]
    finally:
        context.close()
