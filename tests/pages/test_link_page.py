"""The hosted link page behind linkURL (WhiteLabel): pick an institution, then its bank."""

import re

from tests.conftest import VALID_CPF, query_of


def test_the_link_page_lists_open_finance_and_open_data_institutions(klavi):
    link = klavi.create_link(personalTaxId=VALID_CPF)
    page = klavi.http.get(link["linkURL"])
    assert page.status_code == 200
    assert "Itaú" in page.text and "Nubank" in page.text
    assert "***.982.247-**" in page.text
    assert "Mercantil" in page.text  # Open Data institutions too (issue 23: their login as pages)
    assert re.search(r'value="746"[^>]*disabled', page.text)  # the outage can't be picked


def test_search_works_without_javascript(klavi):
    link = klavi.create_link(personalTaxId=VALID_CPF)
    page = klavi.http.get(link["linkURL"] + "&q=nubank")
    assert "Nubank" in page.text and 'value="341"' not in page.text
    token = query_of(link["linkURL"])["v"]
    # The GET search form replaces the query: it carries the token, and so does "ver todas".
    assert f'<input type="hidden" name="v" value="{token}">' in page.text
    assert klavi.http.get("/link", params={"v": token, "q": "itau"}).status_code == 200
    assert re.search(r'href="\?v=[^"]+">ver todas', page.text)


def test_picking_an_institution_starts_the_consent_and_the_bank(klavi, client):
    link = klavi.create_link(personalTaxId=VALID_CPF, redirectURL="https://partner.example.com/done")
    picked = klavi.http.post(link["linkURL"], data={"institutionCode": "260"})
    assert picked.status_code == 303 and "/link/confirm?" in picked.headers["location"]  # Klavi's data confirmation
    assert "Confirme o compartilhamento" in klavi.http.get(picked.headers["location"]).text
    chosen = klavi.http.post(link["linkURL"], data={"institutionCode": "260", "confirm": "1"})
    assert chosen.status_code == 303 and "/bank/authorize?ticket=" in chosen.headers["location"]
    result, left = klavi.follow(chosen.headers["location"] + "&decision=approve")
    assert left is None and "Conta conectada" in result.text  # Klavi's result page, then Concluir
    finish = re.search(r'href="([^"]+/link/finish\?[^"]+)"', result.text).group(1).replace("&amp;", "&")
    left = klavi.http.get(finish).headers["location"]
    query = query_of(left)
    assert left.startswith("https://partner.example.com/done?") and query["link_id"] == link["linkId"]
    [consent] = client.get("/__mock/consents").json()
    assert consent["status"] == "AUTHORISED" and consent["institutionCode"] == "260"


def test_without_a_redirect_url_the_journey_ends_on_the_mocks_page(klavi):
    link = klavi.create_link(personalTaxId=VALID_CPF)
    chosen = klavi.http.post(link["linkURL"], data={"institutionCode": "341", "confirm": "1"})
    response, left = klavi.follow(chosen.headers["location"] + "&decision=approve")
    assert left is None and response.status_code == 200 and "Conta conectada" in response.text


def test_an_expired_or_forged_link_is_refused(klavi):
    link = klavi.create_link(personalTaxId=VALID_CPF)
    assert klavi.http.get("/link?v=forged").status_code == 401
    klavi.advance(1800)
    page = klavi.http.get(link["linkURL"])
    assert page.status_code == 401 and "expired" in page.text


def test_a_link_without_a_tax_id_asks_for_it(klavi):
    link = klavi.create_link()
    response = klavi.http.post(link["linkURL"], data={"institutionCode": "341"})
    assert (
        response.status_code == 400 and "Informe seu CPF ou CNPJ" in response.text and 'name="taxId"' in response.text
    )


def test_logos_and_css_are_served(klavi):
    logo = klavi.http.get("/assets/logos/341.svg")
    assert logo.status_code == 200 and logo.headers["content-type"] == "image/svg+xml" and "<svg" in logo.text
    assert klavi.http.get("/assets/logos/999.svg").status_code == 404
    assert klavi.http.get("/assets/bank.css").status_code == 200
