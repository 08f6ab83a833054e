"""POST /consents, GET /consents, GET /consents/{id}, DELETE /consents/{id}/revoke."""

import uuid
from datetime import datetime, timezone

import pytest

from tests.conftest import API, PARTNER_RETURN, VALID_CNPJ, VALID_CPF, bearer


def test_a_consent_has_an_id_a_redirect_url_in_both_spellings_and_an_expiry(klavi, client):
    consent = klavi.create_consent()
    assert uuid.UUID(consent["consentId"]) and len(consent["consentId"]) == 36
    assert consent["consentRedirectURL"] == consent["consentRedirectUrl"]
    assert consent["consentRedirectURL"].startswith("http://testserver/bank/authorize?ticket=")
    today = datetime.now(timezone.utc)
    expected_day = today.replace(year=today.year + 1) if not (today.month == 2 and today.day == 29) else None
    if expected_day:
        assert consent["expireAt"] == expected_day.strftime("%Y-%m-%dT23:59:59.999Z")


def test_validity_period_zero_gives_the_open_ended_sentinel(klavi):
    assert klavi.create_consent(validityPeriod=0)["expireAt"] == "2300-01-01T00:00:00.000Z"


def test_validity_period_defaults_to_twelve_months(klavi):
    assert klavi.create_consent(validityPeriod=None)["expireAt"] == klavi.create_consent(validityPeriod=12)["expireAt"]


def test_the_consent_object_is_the_documented_one(klavi):
    created = klavi.create_consent(externalTrackId="order-77", institutionCode="260")
    consent = klavi.consent(created["consentId"])
    assert consent["status"] == "AWAITING_AUTHORISATION"
    assert consent["externalTrackId"] == "order-77" and consent["institutionCode"] == "260"
    assert consent["personalTaxId"] == VALID_CPF and consent["businessTaxId"] == ""
    assert consent["permissionsApply"] and consent["permissionsGranted"] == []
    assert consent["expireAt"] == created["expireAt"]


def test_permissions_asked_follow_what_the_institution_offers(klavi):
    # Nubank (260) offers fewer resources than Itaú (341) in the fixture.
    nubank = klavi.consent(klavi.create_consent(institutionCode="260")["consentId"])["permissionsApply"]
    itau = klavi.consent(klavi.create_consent(institutionCode="341")["consentId"])["permissionsApply"]
    assert set(nubank) <= set(itau)
    assert itau == ["REGISTRATION_ALL", "ACCOUNTS_ALL", "CREDIT_CARDS_ALL", "CREDIT_OPERATIONS_ALL", "INVESTMENTS_ALL"]


def test_business_consents_take_a_cnpj_numeric_or_alphanumeric(klavi):
    for cnpj in (VALID_CNPJ, "12ABC34501DE35"):
        consent = klavi.consent(klavi.create_consent(businessTaxId=cnpj)["consentId"])
        assert consent["businessTaxId"] == cnpj and consent["personalTaxId"] == ""


@pytest.mark.parametrize(
    "body, status, fragment",
    [
        ({"personalTaxId": "5299822472"}, 400, 'body.personalTaxId: "5299822472" is not 11 digits, no punctuation'),
        ({"personalTaxId": "529.982.247-25"}, 400, "body.personalTaxId"),
        ({"businessTaxId": "1122233300018A"}, 400, "body.businessTaxId"),
        ({"validityPeriod": 6}, 400, "body.validityPeriod: must be one of 0, 12; got 6"),
        ({"redirectURL": "/return"}, 400, 'body.redirectURL: "/return" is not an absolute URL'),
        ({"externalTrackId": ""}, 400, "body.externalTrackId: must not be empty"),
        ({"institutionCode": None}, 400, "body.institutionCode: is required"),
        ({"institutionCode": "999"}, 416, "institutionCode '999' is not an institution"),
        ({"institutionCode": "746"}, 416, "is in outage"),
        ({"institutionCode": "197"}, 416, "serves companies (businessType LEGAL) only"),
        (
            {"institutionCode": "121", "personalTaxId": None, "businessTaxId": VALID_CNPJ},
            416,
            "serves people (businessType NATURAL) only",
        ),
    ],
)
def test_bad_consents_are_refused_naming_the_problem(klavi, client, body, status, fragment):
    response = klavi.consent_request(klavi.create_link()["linkToken"], **body)
    assert response.status_code == status, response.text
    assert fragment in response.json()["message"]
    if status == 416:
        assert response.json()["statusCode"] == 4004
    assert client.get("/__mock/consents").json() == []  # nothing half-created


def test_the_body_needs_one_tax_id(klavi):
    link_token = klavi.create_link()["linkToken"]
    response = klavi.http.post(
        f"{API}/consents",
        headers=bearer(link_token),
        json={"externalTrackId": "x", "institutionCode": "341", "redirectURL": PARTNER_RETURN},
    )
    assert response.status_code == 400
    assert response.json()["message"] == (
        "body: send personalTaxId (a CPF), businessTaxId (a CNPJ), or both for a company and its representative"
    )


def test_external_track_ids_are_unique_per_tenant(klavi):
    link_token = klavi.create_link()["linkToken"]
    assert klavi.consent_request(link_token, externalTrackId="same").status_code == 200
    again = klavi.consent_request(link_token, externalTrackId="same")
    assert again.status_code == 409
    assert "body.externalTrackId: 'same' is already used" in again.json()["message"]
    other_tenant = klavi.access_token({"accessKey": "other-access-key", "secretKey": "other-secret-key"})
    assert (
        klavi.consent_request(klavi.create_link(other_tenant)["linkToken"], externalTrackId="same").status_code == 200
    )


def test_the_consent_limit_persona_gets_4003(klavi, client):
    response = klavi.consent_request(klavi.create_link()["linkToken"], personalTaxId="00000000949")
    assert response.status_code == 416
    assert response.json()["statusCode"] == 4003
    assert "exceeds the limit" in response.json()["message"]
    assert client.get("/__mock/consents").json() == []


def test_an_access_token_cannot_create_consents(klavi):
    response = klavi.consent_request(klavi.access_token())
    assert response.status_code == 401
    assert "takes the linkToken" in response.json()["message"]


def test_list_filters_by_tax_id_and_link_newest_first(klavi, client):
    first_link, second_link = klavi.create_link()["linkToken"], klavi.create_link()
    a = klavi.create_consent(first_link)["consentId"]
    b = klavi.create_consent(second_link["linkToken"])["consentId"]
    c = klavi.create_consent(second_link["linkToken"], personalTaxId=None, businessTaxId=VALID_CNPJ)["consentId"]
    token = klavi.access_token()

    def listed(**params):
        response = client.get(f"{API}/consents", params=params, headers=bearer(token))
        assert response.status_code == 200
        return [x["consentId"] for x in response.json()]

    assert listed() == [c, b, a]
    assert listed(personalTaxId=VALID_CPF) == [b, a]
    assert listed(businessTaxId=VALID_CNPJ) == [c]
    assert listed(linkId=second_link["linkId"]) == [c, b]
    assert listed(personalTaxId="11144477735") == []


def test_another_tenants_consent_is_404(klavi, client):
    consent_id = klavi.create_consent()["consentId"]
    other = klavi.access_token({"accessKey": "other-access-key", "secretKey": "other-secret-key"})
    response = client.get(f"{API}/consents/{consent_id}", headers=bearer(other))
    assert response.status_code == 404
    assert response.json()["message"] == f"consent {consent_id} not found"
    assert client.get(f"{API}/consents", headers=bearer(other)).json() == []
    assert client.delete(f"{API}/consents/{consent_id}/revoke", headers=bearer(other)).status_code == 404


def test_revoke_makes_an_authorised_consent_revoked(klavi, client):
    consent_id = klavi.create_consent()["consentId"]
    klavi.http.post(f"/__mock/consents/{consent_id}/force", json={"status": "AUTHORISED"})
    response = client.delete(f"{API}/consents/{consent_id}/revoke", headers=bearer(klavi.access_token()))
    assert response.status_code == 200 and response.json() == {"message": "ok"}
    assert klavi.consent(consent_id)["status"] == "REVOKED"


def test_revoking_a_final_consent_is_a_clear_416(klavi, client):
    consent_id = klavi.create_consent()["consentId"]
    token = klavi.access_token()
    assert client.delete(f"{API}/consents/{consent_id}/revoke", headers=bearer(token)).status_code == 200
    again = client.delete(f"{API}/consents/{consent_id}/revoke", headers=bearer(token))
    assert again.status_code == 416
    assert again.json()["statusCode"] == 4001
    assert "already REJECTED" in again.json()["message"]  # a pending consent revoked is REJECTED


def test_the_institution_status_of_a_link_shows_its_newest_consent_per_institution(klavi, client):
    link = klavi.create_link()
    older = klavi.create_consent(link["linkToken"], institutionCode="341")["consentId"]
    klavi.http.post(f"/__mock/consents/{older}/force", json={"status": "REJECTED"})
    klavi.create_consent(link["linkToken"], institutionCode="341")
    klavi.create_consent(link["linkToken"], institutionCode="260")
    response = client.get(f"{API}/links/institutions/status", headers=bearer(link["linkToken"]))
    assert sorted((x["institutionCode"], x["status"]) for x in response.json()) == [
        ("260", "AWAITING_AUTHORISATION"),
        ("341", "AWAITING_AUTHORISATION"),
    ]
    assert {x["name"] for x in response.json()} == {"Itaú", "Nubank"}


def test_an_empty_tax_id_filter_means_no_filter(klavi, client):
    consent_id = klavi.create_consent()["consentId"]
    token = klavi.access_token()
    response = client.get(
        f"{API}/consents", params={"personalTaxId": VALID_CPF, "businessTaxId": ""}, headers=bearer(token)
    )
    assert response.status_code == 200 and [c["consentId"] for c in response.json()] == [consent_id]
    bad = client.get(f"{API}/consents", params={"businessTaxId": "123"}, headers=bearer(token))
    assert bad.status_code == 400
    assert (
        bad.json()["message"]
        == "query.businessTaxId: must be a CNPJ (14 characters, digits or A-Z in the first 12, then 2 digits) or empty"
    )
