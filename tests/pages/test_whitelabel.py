"""The hosted (WhiteLabel) journeys as a client drives them over HTTP: the Basic WhiteLabel
URL, the link page (identification, the institutions that serve the customer, the
preselected institution), Klavi's result page, App2App returns, and the web tracking events
the pages record."""

from __future__ import annotations

import json
import re
from html import unescape
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from tests.conftest import API, VALID_CNPJ, VALID_CPF, query_of
from tests.worlds import in_process

PARTNER = "https://partner.example.com/done"
LEGAL_ONLY = ("197", "403", "707")  # Stone, Cora, Daycoval
NATURAL_ONLY = ("121", "280", "318", "536", "623")  # Agibank, Will Bank, BMG, Neon, Pan
DENYING_BANK_CPF = "00000000191"  # persona bank-denies


def basic_link(klavi, app_id: str = "sandbox-app", headers: dict | None = None, **query: str):
    qs = "&".join(f"{k}={quote(v, safe='')}" for k, v in query.items())
    return klavi.http.get(f"{API}/basic-links/{app_id}" + (f"?{qs}" if qs else ""), headers=headers or {})


def institution_codes(page_text: str) -> list[str]:
    return re.findall(r'name="institutionCode" value="([^"]+)"', page_text)


def tracking_of(page_text: str) -> list[dict]:
    found = re.search(r"id=\"klavi-tracking\"[^>]*data-events='([^']*)'", page_text)
    assert found, "the page carries no tracking events"
    return json.loads(unescape(found.group(1)))


def events(client, **filters) -> list[str]:
    response = client.get("/__mock/tracking-events", params=filters)
    assert response.status_code == 200, response.text
    return [e["eventName"] for e in response.json()]


def confirm_page(klavi, link_url: str, code: str = "341"):
    """Pick an institution on the list: Klavi's data confirmation page."""
    chosen = klavi.http.post(link_url, data={"institutionCode": code})
    assert chosen.status_code == 303 and urlsplit(chosen.headers["location"]).path == "/link/confirm", chosen.text
    return klavi.http.get(chosen.headers["location"])


def choose(klavi, link_url: str, code: str = "341"):
    """Pick an institution and Continuar on the data confirmation page: the bank's URL."""
    page = confirm_page(klavi, link_url, code)
    assert page.status_code == 200 and "Continuar" in page.text, page.text
    continued = klavi.http.post(link_url, data={"institutionCode": code, "confirm": "1"})
    assert continued.status_code == 303 and "/bank/authorize?ticket=" in continued.headers["location"], continued.text
    return continued.headers["location"]


def approve_at_bank(klavi, bank_url: str):
    """The bank page's Autorizar (no decision shortcut), then on while the mock redirects."""
    page = klavi.http.get(bank_url)
    assert page.status_code == 200 and "Autorizar" in page.text
    action = re.search(r'form class="card" method="post" action="([^"]+)"', page.text).group(1)
    return klavi.http.post(action, data={"decision": "approve", "permissions": "ACCOUNTS_ALL,REGISTRATION_ALL"})


def accept_lgpd(klavi, lgpd_url: str):
    page = klavi.http.get(lgpd_url)
    assert page.status_code == 200 and "Aceitar" in page.text
    return klavi.http.post(lgpd_url, data={"decision": "accept"})


def result_page(klavi, url: str):
    response, left = klavi.follow(url)
    assert left is None and response.status_code == 200, (response.status_code, left)
    return response


def finish_url(page_text: str) -> str:
    return unescape(re.search(r'href="([^"]+/link/finish\?[^"]+)"', page_text).group(1))


# -- Basic WhiteLabel ---------------------------------------------------------------------


def test_basic_link_creates_a_link_and_opens_its_hosted_page(klavi, client):
    response = basic_link(
        klavi,
        personal_tax_id=VALID_CPF,
        email="ana@example.com",
        phone="+5511999990000",
        redirect_url=PARTNER,
        products_callback_url="https://partner.example.com/reports",
    )
    assert response.status_code == 302
    location = response.headers["location"]
    assert urlsplit(location).path == "/link" and "v" in query_of(location)
    [link] = client.get("/__mock/links").json()
    assert link["appId"] == "sandbox-app" and link["personalTaxId"] == VALID_CPF
    assert link["redirectURL"] == PARTNER and link["productsCallbackURL"] == {
        "all": "https://partner.example.com/reports"
    }
    page = klavi.http.get(location)
    assert page.status_code == 200 and "***.982.247-**" in page.text and "Itaú" in page.text
    log = client.get("/__mock/webhooks", params={"name": "link_created"}).json()
    deliveries = log["items"] if isinstance(log, dict) else log
    assert [d["body"][0]["payload"]["linkId"] for d in deliveries] == [link["linkId"]]


def test_basic_link_journey_to_the_partner(klavi, client):
    location = basic_link(klavi, personal_tax_id=VALID_CPF, redirect_url=PARTNER).headers["location"]
    bank = choose(klavi, location, "260")
    lgpd = approve_at_bank(klavi, bank).headers["location"]
    result = result_page(klavi, accept_lgpd(klavi, lgpd).headers["location"])
    assert "Conta conectada" in result.text and "Nubank" in result.text
    done = klavi.http.get(finish_url(result.text))
    assert done.status_code == 302
    back = done.headers["location"]
    query = query_of(back)
    [link] = client.get("/__mock/links").json()
    [consent] = client.get("/__mock/consents").json()
    assert (
        back.startswith(PARTNER + "?")
        and query["link_id"] == link["linkId"]
        and query["consent_id"] == consent["consentId"]
    )
    assert json.loads(query["external_info"]) == {} and "error" not in query
    assert consent["status"] == "AUTHORISED" and consent["institutionCode"] == "260"


@pytest.mark.parametrize(
    "query, field",
    [
        ({"personal_tax_id": "123"}, "query.personal_tax_id"),
        ({"business_tax_id": "11222333"}, "query.business_tax_id"),
        ({"redirect_url": "not a url"}, "query.redirect_url"),
        ({"email": "nope"}, "query.email"),
    ],
)
def test_a_bad_query_is_a_portuguese_page_with_the_developer_detail(klavi, query, field):
    response = basic_link(klavi, **query)
    assert response.status_code == 400 and response.headers["content-type"].startswith("text/html")
    assert "Não foi possível abrir o link" in response.text and "Detalhes para o desenvolvedor" in response.text
    assert field in unescape(response.text)
    assert "content-security-policy" in response.headers  # a page like the others
    assert "data-history-back" in response.text or "Voltar ao site de origem" in response.text  # a way back


def test_a_bad_query_offers_the_partners_page_as_the_way_back(klavi):
    response = basic_link(klavi, personal_tax_id="123", redirect_url=PARTNER)
    assert (
        response.status_code == 400
        and f'href="{PARTNER}"' in response.text
        and "Voltar ao site de origem" in response.text
    )
    broken = basic_link(klavi, redirect_url="http://[::1")  # not even parseable: the browser's history, no 500
    assert broken.status_code == 400 and "data-history-back" in broken.text


def test_a_client_asking_for_json_gets_klavis_error(klavi):
    response = basic_link(klavi, headers={"Accept": "application/json"}, personal_tax_id="123")
    assert response.status_code == 400 and response.json()["statusCode"] == 400
    assert "query.personal_tax_id" in response.json()["message"]
    unknown = basic_link(klavi, app_id="nobody", headers={"Accept": "application/json"})
    assert unknown.status_code == 404 and "nobody" in unknown.json()["message"]


def test_unknown_app_and_institution(klavi, client):
    unknown = basic_link(klavi, app_id="nobody")
    assert unknown.status_code == 404 and "não pertence a nenhum parceiro" in unknown.text
    institution = basic_link(klavi, institution_code="999")
    assert institution.status_code == 416 and "instituição que não existe" in institution.text
    assert client.get("/__mock/links").json() == []  # nothing was created


def test_a_refused_basic_link_is_in_the_partners_conformance_report(klavi, client):
    assert basic_link(klavi, personal_tax_id="123").status_code == 400
    [tenant] = [t for t in client.get("/__mock/conformance").json()["tenants"] if t["appId"] == "sandbox-app"]
    assert "query.personal_tax_id" in json.dumps(tenant["violations"]["openBasicLink"])


def test_wrong_check_digits_are_tolerated_as_on_post_links(klavi, client):
    response = basic_link(klavi, personal_tax_id="52998224700")
    assert response.status_code == 302
    report = client.get("/__mock/conformance").json()
    assert "openBasicLink" in json.dumps(report) and "check digits" in json.dumps(report)


# -- the link page ------------------------------------------------------------------------


def test_a_link_without_a_tax_id_asks_for_one_first(klavi, client):
    link = klavi.create_link()
    page = klavi.http.get(link["linkURL"])
    assert page.status_code == 200 and 'name="taxId"' in page.text and institution_codes(page.text) == []
    for typed, problem in (
        ("123", "Informe um CPF (11 dígitos) ou um CNPJ (14 caracteres)."),
        ("529.982.247-00", "CPF inválido"),
        ("11.222.333/0001-00", "CNPJ inválido"),
    ):
        refused = klavi.http.post(link["linkURL"], data={"taxId": typed})
        assert refused.status_code == 400 and problem in refused.text and 'aria-invalid="true"' in refused.text
    # Picking an institution before identifying: the same page, the same question.
    early = klavi.http.post(link["linkURL"], data={"institutionCode": "341"})
    assert early.status_code == 400 and "Informe seu CPF ou CNPJ" in early.text
    accepted = klavi.http.post(link["linkURL"], data={"taxId": "11.222.333/0001-81"})
    assert accepted.status_code == 303
    [stored] = client.get("/__mock/links").json()
    assert stored["businessTaxId"] == VALID_CNPJ and stored["personalTaxId"] == ""
    page = klavi.http.get(link["linkURL"])
    assert "CNPJ" in page.text and "**.222.333/0001-**" in page.text and VALID_CNPJ not in page.text
    codes = institution_codes(page.text)
    assert set(LEGAL_ONLY) <= set(codes) and not set(NATURAL_ONLY) & set(codes)


def test_a_cpf_link_lists_only_banks_for_people(klavi):
    page = klavi.http.get(klavi.create_link(personalTaxId=VALID_CPF)["linkURL"])
    codes = institution_codes(page.text)
    assert set(NATURAL_ONLY) <= set(codes) and not set(LEGAL_ONLY) & set(codes)


def test_the_links_institution_is_preselected(klavi):
    link = klavi.create_link(personalTaxId=VALID_CPF, institutionCode="260")
    page = klavi.http.get(link["linkURL"])
    assert re.search(r'value="260" data-preselected', page.text) and "Continuar com Nubank" in page.text
    assert institution_codes(page.text)[0] == "260"  # offered first, the list below
    business_only = klavi.http.get(klavi.create_link(personalTaxId=VALID_CPF, institutionCode="197")["linkURL"])
    assert (
        "data-preselected" not in business_only.text and "Stone não está disponível para este CPF" in business_only.text
    )


def test_an_institution_that_cannot_take_the_consent_is_a_page_with_a_way_back(klavi):
    link = klavi.create_link(personalTaxId=VALID_CPF)
    for code in ("746", "197"):  # in outage; for companies only (crafted posts: neither is offered)
        refused = confirm_page(klavi, link["linkURL"], code)
        assert refused.status_code == 400 and "Não foi possível continuar" in refused.text
        assert "Esta instituição não está disponível para você agora" in refused.text
        assert "Detalhes para o desenvolvedor" in refused.text and "Escolher outra instituição" in refused.text
        assert unescape(re.search(r'class="btn btn--primary" href="([^"]+)"', refused.text).group(1)) == link["linkURL"]
        # and Continuar posted anyway (a crafted request): the same refusal
        forced = klavi.http.post(link["linkURL"], data={"institutionCode": code, "confirm": "1"})
        assert forced.status_code == 400 and "Esta instituição não está disponível para você agora" in forced.text


def test_a_refusal_at_the_bank_ends_on_the_result_page_with_a_way_back(klavi, client):
    link = klavi.create_link(personalTaxId=DENYING_BANK_CPF, redirectURL=PARTNER)
    bank = choose(klavi, link["linkURL"])
    result = result_page(klavi, bank)
    assert result.status_code == 200 and "Compartilhamento não concluído" in result.text
    assert "recusado na instituição" in result.text and "CUSTOMER_MANUALLY_REJECTED" in result.text
    assert "Tentar outra instituição" in result.text
    back = klavi.http.get(finish_url(result.text)).headers["location"]
    assert (
        back.startswith(PARTNER) and query_of(back)["error"] == "access_denied" and query_of(back)["error_description"]
    )


def test_the_bank_pages_error_pages_lead_back(klavi):
    created = klavi.create_consent(redirectURL=PARTNER)
    klavi.http.get(created["consentRedirectURL"])
    used = klavi.http.get(created["consentRedirectURL"])
    assert used.status_code == 410 and f'href="{PARTNER}"' in used.text  # an API-only consent: the partner
    unknown = klavi.http.get("/bank/authorize?ticket=nope")
    assert unknown.status_code == 404 and "data-history-back" in unknown.text and "/assets/back.js" in unknown.text


def test_the_result_page_is_only_for_the_links_own_consents(klavi):
    link = klavi.create_link(personalTaxId=VALID_CPF)
    other = klavi.create_consent()
    token = query_of(link["linkURL"])["v"]
    missing = klavi.http.get(f"/link/result?v={token}&consent_id={other['consentId']}")
    assert (
        missing.status_code == 404 and "Resultado não encontrado" in missing.text and "Voltar à lista" in missing.text
    )


def test_without_a_redirect_url_the_journey_ends_on_klavis_page(klavi):
    link = klavi.create_link(personalTaxId=VALID_CPF)
    result = result_page(klavi, choose(klavi, link["linkURL"]) + "&decision=approve")
    done = klavi.http.get(finish_url(result.text))
    assert done.status_code == 200 and "Pronto" in done.text


# -- App2App ----------------------------------------------------------------------------


def test_app_link_takes_the_user_back_to_the_app_after_the_bank(klavi, client):
    link = klavi.create_link(
        personalTaxId=VALID_CPF,
        redirectURL=PARTNER,
        appLink="https://app.partner.example.com/klavi",
        appRedirectURLKey="next",
    )
    left = approve_at_bank(klavi, choose(klavi, link["linkURL"]))
    assert left.status_code == 302
    app = left.headers["location"]
    assert app.startswith("https://app.partner.example.com/klavi?next=")
    webview = parse_qs(urlsplit(app).query)["next"][0]
    assert re.fullmatch(r"http://testserver/bank/flow/[^/]+/lgpd", webview)
    [consent] = client.get("/__mock/consents").json()
    assert consent["status"] == "AWAITING_LGPD_AUTHORISATION"
    lgpd = klavi.http.get(webview)  # the app's WebView opens Klavi's next page
    assert lgpd.status_code == 200 and "Aceitar" in lgpd.text
    result = result_page(klavi, klavi.http.post(webview, data={"decision": "accept"}).headers["location"])
    assert "Conta conectada" in result.text
    assert klavi.http.get(finish_url(result.text)).headers["location"].startswith(PARTNER + "?")


def test_application_link_gets_link_callback_url(klavi):
    link = klavi.create_link(personalTaxId=VALID_CPF, applicationLink="myapp://klavi/return?from=bank")
    left = klavi.http.get(choose(klavi, link["linkURL"]) + "&decision=approve")  # the curl shortcut stops at the app
    app = left.headers["location"]
    assert left.status_code == 302 and app.startswith("myapp://klavi/return?from=bank&link_callback_url=")
    assert parse_qs(urlsplit(app).query)["link_callback_url"][0].endswith("/lgpd")


def test_a_refusal_at_the_bank_goes_back_to_the_app_with_the_result_page(klavi):
    link = klavi.create_link(
        personalTaxId=DENYING_BANK_CPF, appLink="https://app.partner.example.com/k", appRedirectURLKey="klaviUrl"
    )
    left = klavi.http.get(choose(klavi, link["linkURL"]))
    webview = parse_qs(urlsplit(left.headers["location"]).query)["klaviUrl"][0]
    assert urlsplit(webview).path == "/link/result"
    assert "Compartilhamento não concluído" in klavi.http.get(webview).text


def test_api_only_consents_ignore_the_app_link(klavi):
    link = klavi.create_link(appLink="https://app.partner.example.com/k", appRedirectURLKey="next")
    created = klavi.create_consent(link["linkToken"], redirectURL=PARTNER)
    _, left = klavi.follow(created["consentRedirectURL"] + "&decision=approve")
    assert left.startswith(PARTNER + "?")


# -- web tracking events ----------------------------------------------------------------


def test_the_journey_records_its_tracking_events(klavi, client):
    link = klavi.create_link(personalTaxId=VALID_CPF, redirectURL=PARTNER)
    first = klavi.http.get(link["linkURL"])
    assert tracking_of(first.text) == [
        {"eventName": "app_loaded", "payload": {}},
        {"eventName": "page_view", "payload": {"page": "institution_list"}},
    ]
    again = klavi.http.get(link["linkURL"] + "&q=nubank")
    assert [e["eventName"] for e in tracking_of(again.text)] == ["page_view", "institution_list_search"]
    assert tracking_of(again.text)[1]["payload"] == {"key": "nubank"}
    assert "/assets/tracking.js" in first.text and klavi.http.get("/assets/tracking.js").status_code == 200

    bank = choose(klavi, link["linkURL"], "260")
    lgpd_url = approve_at_bank(klavi, bank).headers["location"]
    lgpd = klavi.http.get(lgpd_url)
    assert tracking_of(lgpd.text) == [{"eventName": "page_view", "payload": {"page": "lgpd"}}]
    result = result_page(klavi, klavi.http.post(lgpd_url, data={"decision": "accept"}).headers["location"])
    assert tracking_of(result.text)[1] == {
        "eventName": "authorise_success",
        "payload": {"institutionCode": "260", "institutionName": "Nubank", "institutionType": 1},
    }
    klavi.http.get(finish_url(result.text))

    assert events(client, linkId=link["linkId"]) == [
        "app_loaded",
        "page_view",
        "page_view",
        "institution_list_search",
        "institution_click",
        "page_view",
        "data_confirmation_continue_click",
        "page_view",
        "page_view",
        "authorise_success",
        "authorise_success_finish_click",
    ]
    pages = [
        e["payload"].get("page") for e in client.get("/__mock/tracking-events").json() if e["eventName"] == "page_view"
    ]
    assert pages == ["institution_list", "institution_list", "data_confirmation", "lgpd", "result"]
    # postMessage goes to any opener ("*"): the events carry no tax id
    assert VALID_CPF not in json.dumps(client.get("/__mock/tracking-events").json())
    assert "982" not in json.dumps([tracking_of(p.text) for p in (first, again, lgpd, result)])
    [click] = client.get("/__mock/tracking-events", params={"eventName": "institution_click"}).json()
    assert click["payload"] == {"institutionCode": "260", "institutionName": "Nubank"}
    assert click["appId"] == "sandbox-app" and click["page"] == "institution_list" and click["recordedAt"].endswith("Z")
    assert events(client, appId="other-app") == []
    assert client.post("/__mock/reset", json={}).status_code == 200
    assert events(client) == []


def test_a_failed_authorisation_emits_authorise_fail(klavi, client):
    link = klavi.create_link(personalTaxId=DENYING_BANK_CPF)
    result = result_page(klavi, choose(klavi, link["linkURL"], "341"))
    fail = tracking_of(result.text)[1]
    assert fail["eventName"] == "authorise_fail"
    assert fail["payload"]["institutionCode"] == "341" and fail["payload"]["institutionType"] == 1
    assert fail["payload"]["error"] == "access_denied"
    assert "authorise_fail" in events(client, linkId=link["linkId"])


def test_identification_and_connect_more_are_tracked(klavi, client):
    link = klavi.create_link()
    assert tracking_of(klavi.http.get(link["linkURL"]).text)[1]["payload"] == {"page": "landing"}
    klavi.http.post(link["linkURL"], data={"taxId": VALID_CPF})
    result = result_page(klavi, choose(klavi, link["linkURL"]) + "&decision=approve")
    more = unescape(re.search(r'href="([^"]+action=more[^"]*)"', result.text).group(1))
    assert klavi.http.get(more).headers["location"] == link["linkURL"]  # the list again
    names = events(client, linkId=link["linkId"])
    assert names[:3] == ["app_loaded", "page_view", "landing_continue_click"]
    assert names[-1] == "authorise_success_connect_more_click"


def test_the_control_api_validates_its_filters(client):
    response = client.get("/__mock/tracking-events", params={"eventName": "x" * 65})
    assert response.status_code == 400 and "eventName" in response.json()["message"]


def test_leaving_without_choosing_goes_back_to_the_partner(klavi, client):
    link = klavi.create_link(personalTaxId=VALID_CPF, redirectURL=PARTNER, externalInfo={"order": "7"})
    page = klavi.http.get(link["linkURL"])
    exit_url = unescape(
        re.search(r'href="([^"]+action=exit[^"]*)" data-track="institution_list_exit_click"', page.text).group(1)
    )
    back = klavi.http.get(exit_url)
    assert back.status_code == 302 and back.headers["location"].startswith(PARTNER + "?")
    query = query_of(back.headers["location"])
    assert query["link_id"] == link["linkId"] and json.loads(query["external_info"]) == {"order": "7"}
    assert query["error"] == "user_cancelled" and query["error_description"]
    assert events(client, linkId=link["linkId"])[-1] == "institution_list_exit_click"
    without = klavi.create_link()  # no redirectURL, no tax id: the landing's exit, a last page with a way back
    landing = klavi.http.get(without["linkURL"])
    exit_url = unescape(
        re.search(r'href="([^"]+action=exit[^"]*)" data-track="landing_exit_click"', landing.text).group(1)
    )
    last = klavi.http.get(exit_url)
    assert last.status_code == 200 and "Você saiu" in last.text and "Voltar e conectar uma conta" in last.text


def test_the_typed_tax_id_and_the_hosted_consent_survive_a_restart(settings, tmp_path):

    from tests.conftest import Klavi

    settings.state_file = str(tmp_path / "state.sqlite")
    with in_process(settings, follow_redirects=False) as http:
        klavi = Klavi(http)
        link = klavi.create_link(appLink="https://app.partner.example.com/k", appRedirectURLKey="next")
        assert klavi.http.post(link["linkURL"], data={"taxId": VALID_CNPJ}).status_code == 303
        bank = choose(klavi, link["linkURL"])
    with in_process(settings, follow_redirects=False) as http:
        klavi = Klavi(http)
        [stored] = http.get("/__mock/links").json()
        assert stored["businessTaxId"] == VALID_CNPJ
        left = klavi.http.get(bank + "&decision=approve")  # still a hosted consent: App2App applies
        assert left.status_code == 302 and left.headers["location"].startswith(
            "https://app.partner.example.com/k?next="
        )


def test_the_data_confirmation_page_shows_what_is_asked_and_leads_back(klavi, client):
    link = klavi.create_link(personalTaxId=VALID_CPF, redirectURL=PARTNER)
    page = confirm_page(klavi, link["linkURL"], "260")
    assert "Confirme o compartilhamento" in page.text and "Nubank" in page.text and "12 meses" in page.text
    assert "Dados cadastrais" in page.text and "***.982.247-**" in page.text
    assert tracking_of(page.text) == [{"eventName": "page_view", "payload": {"page": "data_confirmation"}}]
    back = unescape(re.search(r'href="([^"]+)" data-track="data_confirmation_back_click"', page.text).group(1))
    assert "Escolha sua instituição" in klavi.http.get(back).text
    exit_url = unescape(re.search(r'href="([^"]+)" data-track="data_confirmation_exit_click"', page.text).group(1))
    assert query_of(klavi.http.get(exit_url).headers["location"])["error"] == "user_cancelled"
    assert events(client, linkId=link["linkId"])[-3:] == [
        "data_confirmation_back_click",
        "page_view",
        "data_confirmation_exit_click",
    ]
    assert client.get("/__mock/consents").json() == []  # no consent until Continuar


def test_waiting_for_the_bank_app_leads_back_to_klavi(klavi):
    link = klavi.create_link(personalTaxId="00000000434")  # persona never-completes
    waiting = klavi.http.get(choose(klavi, link["linkURL"]))
    assert waiting.status_code == 200 and "Aguardando confirmação" in waiting.text and "Voltar à Klavi" in waiting.text
    back = unescape(re.search(r'class="btn btn--primary" href="([^"]+)"', waiting.text).group(1))
    pending = klavi.http.get(back)
    assert urlsplit(back).path == "/link/result" and "Aguardando a instituição" in pending.text
    assert "Voltar à lista de instituições" in pending.text


def test_a_used_bank_link_of_a_hosted_journey_leads_back_to_klavis_result_page(klavi):
    link = klavi.create_link(personalTaxId=VALID_CPF)
    bank = choose(klavi, link["linkURL"])
    klavi.http.get(bank + "&decision=approve")
    used = klavi.http.get(bank)
    assert used.status_code == 410 and "Voltar à Klavi" in used.text
    back = unescape(re.search(r'class="btn btn--primary" href="([^"]+)"', used.text).group(1))
    assert "Conta conectada" in klavi.http.get(back).text


def test_finishing_while_the_bank_waits_shows_the_wait_and_a_later_revocation_stays_a_success(klavi, client):
    link = klavi.create_link(personalTaxId="00000000434", redirectURL=PARTNER)  # never-completes
    klavi.http.get(choose(klavi, link["linkURL"]))
    [consent] = client.get("/__mock/consents").json()
    token = query_of(link["linkURL"])["v"]
    early = klavi.http.get(f"/link/finish?v={token}&consent_id={consent['consentId']}")
    assert early.status_code == 303 and urlsplit(early.headers["location"]).path == "/link/result"
    assert (
        client.post(f"/__mock/consents/{consent['consentId']}/force", json={"status": "AUTHORISED"}).status_code == 200
    )
    assert client.post(f"/__mock/consents/{consent['consentId']}/force", json={"status": "REVOKED"}).status_code == 200
    result = klavi.http.get(early.headers["location"])
    assert "Conta conectada" in result.text  # the journey's outcome: the user did connect
