"""Issue 23, item 1: deep-link redirects. Klavi's demo apps (KlaviLinkDemoRN,
KlaviLinkDemoFlutter) open `.../basic-links/<appId>?redirect_url=<scheme>://redirect` in a
WebView and catch the navigation to their scheme; API clients pass the same as redirectURL.
Schemes a browser would run (javascript:, data:...) are refused with a 400 naming the field."""

from __future__ import annotations

from html import unescape
from urllib.parse import urlsplit

import pytest

from tests.conftest import API, VALID_CPF, bearer, query_of
from tests.pages.test_whitelabel import (
    DENYING_BANK_CPF,
    accept_lgpd,
    approve_at_bank,
    basic_link,
    choose,
    finish_url,
    result_page,
)

DEEP = "myapp://redirect"


def assert_leaves_for_the_app(response, scheme: str = "myapp") -> dict[str, str]:
    """A 302 a WebView catches, whose body is a page with a link a desktop browser can use."""
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert urlsplit(location).scheme == scheme
    assert response.headers["content-type"].startswith("text/html")
    assert f'href="{location}"' in unescape(response.text).replace("&amp;", "&") or location in unescape(response.text)
    return query_of(location)


@pytest.mark.parametrize("name", ["redirect_url", "redirectURL"])
def test_the_demo_apps_basic_link_ends_at_their_scheme(klavi, client, name):
    opened = basic_link(klavi, personal_tax_id=VALID_CPF, **{name: DEEP})
    assert opened.status_code == 302, opened.text
    [link] = client.get("/__mock/links").json()
    assert link["redirectURL"] == DEEP
    bank = choose(klavi, opened.headers["location"], "260")
    lgpd = approve_at_bank(klavi, bank).headers["location"]
    result = result_page(klavi, accept_lgpd(klavi, lgpd).headers["location"])
    query = assert_leaves_for_the_app(klavi.http.get(finish_url(result.text)))
    [consent] = client.get("/__mock/consents").json()
    assert query["link_id"] == link["linkId"] and query["consent_id"] == consent["consentId"]
    assert "error" not in query


def test_a_failed_journey_reaches_the_app_with_error(klavi):
    link = klavi.create_link(personalTaxId=DENYING_BANK_CPF, redirectURL="com.partner.app:/klavi/done")
    result = result_page(klavi, choose(klavi, link["linkURL"]))
    query = assert_leaves_for_the_app(klavi.http.get(finish_url(result.text)), scheme="com.partner.app")
    assert query["error"] == "access_denied" and query["link_id"] == link["linkId"] and query["consent_id"]


def test_leaving_the_link_page_reaches_the_app(klavi):
    link = klavi.create_link(personalTaxId=VALID_CPF, redirectURL=DEEP)
    left = klavi.http.get(f"/link/finish?v={link['linkToken']}&action=exit")
    assert assert_leaves_for_the_app(left)["error"] == "user_cancelled"


def test_an_api_only_consent_returns_to_the_app_from_the_bank(klavi):
    created = klavi.create_consent(redirectURL="myapp://klavi/return?from=bank")
    response, left = klavi.follow(created["consentRedirectURL"] + "&decision=approve")
    assert left is not None and left.startswith("myapp://klavi/return?from=bank&link_id=")
    assert_leaves_for_the_app(response)
    assert query_of(left)["consent_id"] == created["consentId"]


def test_http_redirects_stay_plain(klavi):
    created = klavi.create_consent()
    response, left = klavi.follow(created["consentRedirectURL"] + "&decision=approve")
    assert left.startswith("https://partner.example.com/return?") and not response.text


DANGEROUS = [
    "javascript:alert(1)",
    "JavaScript://x%0aalert(1)",
    "data:text/html,hi",
    "vbscript:msgbox",
    "file:///etc/passwd",
]


@pytest.mark.parametrize("url", DANGEROUS)
def test_schemes_a_browser_runs_are_refused_everywhere(klavi, url):
    scheme = url.split(":")[0].lower()
    link = klavi.http.post(f"{API}/links", json={"redirectURL": url}, headers=bearer(klavi.access_token()))
    assert link.status_code == 400 and link.json()["statusCode"] == 400
    assert link.json()["message"].startswith(f"body.redirectURL: the {scheme}: scheme is refused")
    consent = klavi.consent_request(klavi.create_link()["linkToken"], redirectURL=url)
    assert (
        consent.status_code == 400 and f"body.redirectURL: the {scheme}: scheme is refused" in consent.json()["message"]
    )
    for name in ("redirect_url", "redirectURL"):
        page = basic_link(klavi, headers={"Accept": "application/json"}, **{name: url})
        assert page.status_code == 400 and f"query.{name}: the {scheme}: scheme is refused" in page.json()["message"]
        html = basic_link(klavi, **{name: url})
        assert html.status_code == 400 and url not in unescape(html.text).split("Detalhes")[0]  # no link to it


def test_deep_links_are_accepted_by_post_links_and_post_consents(klavi, client):
    link = klavi.create_link(redirectURL=DEEP)
    assert client.get("/__mock/links").json()[0]["redirectURL"] == DEEP
    consent = klavi.create_consent(link["linkToken"], redirectURL="myapp://done")
    assert consent["consentId"]
