"""GET /links/institutions and its status twin."""

from collections import Counter

from tests.conftest import API, bearer

REQUIRED_FIELDS = {
    "institutionCode",
    "name",
    "avatar",
    "isBeta",
    "isOutage",
    "institutionType",
    "businessType",
    "availableResources",
    "parentOrganizationName",
    "parentOrganizationId",
    "organizationName",
    "organizationId",
}


def institutions(klavi, client):
    response = client.get(f"{API}/links/institutions", headers=bearer(klavi.create_link()["linkToken"]))
    assert response.status_code == 200
    return response.json()


def test_the_list_has_real_brazilian_institutions(klavi, client):
    listed = {i["institutionCode"]: i["name"] for i in institutions(klavi, client)}
    assert len(listed) >= 20
    for code in ("341", "260", "001", "237", "033", "104", "077", "336", "323"):
        assert code in listed, code
    assert "Nubank" in listed["260"] and "Ita" in listed["341"]


def test_every_institution_has_exactly_the_documented_fields(klavi, client):
    for institution in institutions(klavi, client):
        assert set(institution) == REQUIRED_FIELDS, institution["institutionCode"]  # no mock-only field leaks


def test_the_list_covers_every_type_business_type_and_an_outage(klavi, client):
    listed = institutions(klavi, client)
    assert Counter(i["institutionType"] for i in listed).keys() == {1, 2}
    assert {i["businessType"] for i in listed if i["institutionType"] == 1} == {"NATURAL", "LEGAL", "BOTH"}
    assert any(i["isOutage"] for i in listed)


def test_logos_are_served_by_the_mock_itself(klavi, client):
    for institution in institutions(klavi, client):
        assert institution["avatar"] == f"http://testserver/assets/logos/{institution['institutionCode']}.svg"


def test_logo_urls_follow_the_address_the_client_used(klavi, client):
    link_token = klavi.create_link()["linkToken"]
    response = client.get(f"{API}/links/institutions", headers={**bearer(link_token), "Host": "mock.internal:9000"})
    assert response.json()[0]["avatar"].startswith("http://mock.internal:9000/assets/logos/")


def test_status_of_a_link_without_consents_is_empty(klavi, client):
    response = client.get(f"{API}/links/institutions/status", headers=bearer(klavi.create_link()["linkToken"]))
    assert response.status_code == 200
    assert response.json() == []
