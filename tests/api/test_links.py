"""POST /links: the link, its token and its URL, and the link's lifetime."""

import uuid
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest

from tests.conftest import API, VALID_CNPJ, VALID_CPF, bearer


def test_a_link_has_a_uuid_a_link_token_and_a_url_to_the_mocks_own_page(klavi, client):
    link = klavi.create_link(personalTaxId=VALID_CPF)
    assert uuid.UUID(link["linkId"])
    assert link["expireIn"] == 1800
    url = urlsplit(link["linkURL"])
    assert (url.scheme, url.netloc, url.path) == ("http", "testserver", "/link")
    assert parse_qs(url.query) == {"v": [link["linkToken"]]}
    token = jwt.decode(link["linkToken"], options={"verify_signature": False})
    assert token["typ"] == "link" and token["lnk"] == link["linkId"] and token["exp"] - token["iat"] == 1800


def test_the_body_is_optional(klavi, client):
    response = client.post(f"{API}/links", headers=bearer(klavi.access_token()))
    assert response.status_code == 200


def test_the_link_keeps_what_the_partner_sent(klavi, client):
    link = klavi.create_link(
        personalTaxId=VALID_CPF,
        businessTaxId=VALID_CNPJ,
        institutionCode="341",
        redirectURL="https://partner.example.com/return",
        externalInfo={"myTraceId": "t-1"},
        productsCallbackURL="https://partner.example.com/reports",
    )
    [state] = [x for x in client.get("/__mock/links").json() if x["linkId"] == link["linkId"]]
    assert state["personalTaxId"] == VALID_CPF and state["businessTaxId"] == VALID_CNPJ
    assert state["institutionCode"] == "341"
    assert state["externalInfo"] == {"myTraceId": "t-1"}
    # A plain URL string is taken as {"all": url}.
    assert state["productsCallbackURL"] == {"all": "https://partner.example.com/reports"}


def test_the_alphanumeric_cnpj_is_accepted(klavi):
    klavi.create_link(businessTaxId="12ABC34501DE35")


@pytest.mark.parametrize(
    "body, status, message",
    [
        ({"personalTaxId": "5299822472"}, 400, 'body.personalTaxId: "5299822472" is not 11 digits, no punctuation'),
        ({"personalTaxId": "529.982.247-25"}, 400, "body.personalTaxId"),
        ({"personalTaxId": "5299822472a"}, 400, "body.personalTaxId"),
        ({"businessTaxId": "1122233300018"}, 400, 'body.businessTaxId: "1122233300018" is not 14 characters'),
        ({"redirectURL": "partner/return"}, 400, 'body.redirectURL: "partner/return" is not an absolute URL'),
        ({"redirectURL": "javascript:alert(1)"}, 400, "body.redirectURL: the javascript: scheme is refused"),
        ({"externalInfo": "trace-1"}, 400, "body.externalInfo: must be an object, not string"),
        ({"appLink": "myapp://back"}, 400, "body.appRedirectURLKey: is required when appLink is present"),
        ({"institutionCode": "999"}, 416, "institutionCode '999' is not an institution of GET /links/institutions"),
        (
            {"productsCallbackURL": {"all": "https://a.example.com", "other": "https://b.example.com"}},
            416,
            "body.productsCallbackURL: 'all' cannot be combined with other keys (other)",
        ),
        (
            {"productsCallbackURL": {"pf_checking_account": "not a url"}},
            416,
            "body.productsCallbackURL.pf_checking_account: the URL for 'pf_checking_account' (\"not a url\")",
        ),
    ],
)
def test_bad_links_are_refused_naming_the_field(klavi, client, body, status, message):
    response = client.post(f"{API}/links", json=body, headers=bearer(klavi.access_token()))
    assert response.status_code == status, response.text
    assert message in response.json()["message"]
    assert client.get("/__mock/links").json() == []  # nothing half-created


def test_business_errors_carry_the_business_code(klavi, client):
    response = client.post(f"{API}/links", json={"institutionCode": "999"}, headers=bearer(klavi.access_token()))
    assert response.json()["statusCode"] == 4004
    assert response.json()["error"] == "Invalid institution"


def test_the_link_token_dies_with_the_link_after_1800_seconds(klavi, client):
    link_token = klavi.create_link()["linkToken"]
    klavi.advance(1790)  # 10 s of wall-clock margin on a loaded machine
    assert client.get(f"{API}/links/institutions", headers=bearer(link_token)).status_code == 200
    klavi.advance(10)
    response = client.get(f"{API}/links/institutions", headers=bearer(link_token))
    assert response.status_code == 401
    assert "linkToken expired" in response.json()["message"] and "POST /links" in response.json()["message"]
    [state] = client.get("/__mock/links").json()
    assert state["expired"] is True


def test_reset_forgets_links_and_their_tokens(klavi, client):
    link_token = klavi.create_link()["linkToken"]
    assert client.post("/__mock/reset").json() == {"message": "ok"}
    assert client.get("/__mock/links").json() == []
    response = client.get(f"{API}/links/institutions", headers=bearer(link_token))
    assert response.status_code == 401
    assert "no longer exists" in response.json()["message"]


def test_an_access_token_outlives_a_reset(klavi, client):
    """A reset forgets the verified tokens it kept (memory): a token seen before is checked
    again, and still accepted."""
    access = klavi.access_token()
    assert client.post(f"{API}/links", json={"personalTaxId": VALID_CPF}, headers=bearer(access)).status_code == 200
    assert client.post("/__mock/reset").json() == {"message": "ok"}
    again = client.post(f"{API}/links", json={"personalTaxId": VALID_CPF}, headers=bearer(access))
    assert again.status_code == 200, again.text


def test_links_are_listed_per_tenant(klavi, client):
    mine = klavi.create_link()["linkId"]
    theirs = klavi.create_link(klavi.access_token({"accessKey": "other-access-key", "secretKey": "other-secret-key"}))[
        "linkId"
    ]
    assert [x["linkId"] for x in client.get("/__mock/links", params={"appId": "sandbox-app"}).json()] == [mine]
    assert [x["linkId"] for x in client.get("/__mock/links", params={"appId": "other-app"}).json()] == [theirs]
