"""The klavi_mock fixture, as a partner's test suite uses it (run by pytest's own pytester)."""

pytest_plugins = ["pytester"]

PARTNER_TESTS = """
import httpx
import pytest


def login(mock):
    return httpx.post(f"{mock.api_url}/auth", json={"accessKey": mock.access_key, "secretKey": mock.secret_key}).json()["accessToken"]


def test_a_conforming_client(klavi_mock):
    access = login(klavi_mock)
    link = httpx.post(f"{klavi_mock.api_url}/links", json={"personalTaxId": "52998224725"},
                      headers={"Authorization": f"Bearer {access}"}).json()
    consent = httpx.post(f"{klavi_mock.api_url}/consents", headers={"Authorization": f"Bearer {link['linkToken']}"}, json={
        "externalTrackId": "t-1", "personalTaxId": "52998224725", "institutionCode": "341",
        "redirectURL": "https://partner.example.com/back"}).json()
    back = klavi_mock.approve(consent["consentRedirectURL"])
    assert back.startswith("https://partner.example.com/back?")
    sent = klavi_mock.requests(operationId="createConsent")
    assert [(e["status"], e["requestBody"]["externalTrackId"]) for e in sent] == [(200, "t-1")]
    event = klavi_mock.wait_for_event("consent_authorised")
    assert event["payload"]["consents"]["consentId"] == consent["consentId"]
    klavi_mock.advance(366 * 86400)
    assert klavi_mock.consent(consent["consentId"])["status"] == "EXPIRED"


def test_a_hosted_journey_and_its_tracking_events(klavi_mock):
    opened = httpx.get(klavi_mock.basic_link_url(personal_tax_id="52998224725"), follow_redirects=True)
    assert opened.status_code == 200 and "Escolha sua instituição" in opened.text
    [first, view] = klavi_mock.tracking_events()
    assert (first["eventName"], view["eventName"]) == ("app_loaded", "page_view")
    assert klavi_mock.tracking_events(link_id=first["linkId"], name="page_view") == [view]


def test_a_client_sending_a_bad_cpf(klavi_mock):
    access = login(klavi_mock)
    httpx.post(f"{klavi_mock.api_url}/links", json={"personalTaxId": "123"}, headers={"Authorization": f"Bearer {access}"})


@pytest.mark.klavi_mock_allow_violations
def test_meant_to_send_a_bad_cpf(klavi_mock):
    access = login(klavi_mock)
    response = httpx.post(f"{klavi_mock.api_url}/links", json={"personalTaxId": "123"}, headers={"Authorization": f"Bearer {access}"})
    assert response.status_code == 400


def test_state_is_clean_for_each_test(klavi_mock):
    assert klavi_mock.conformance()["tenants"] == [] and klavi_mock.events() == []


def test_the_clock_is_back_on_the_wall_clock_after_a_test_advanced_it(klavi_mock):
    from datetime import datetime, timezone

    mock_now = datetime.fromisoformat(klavi_mock.now().replace("Z", "+00:00"))
    assert abs((mock_now - datetime.now(timezone.utc)).total_seconds()) < 60, mock_now


def test_received_headers_read_as_the_readme_shows(klavi_mock):
    from klavi_mock.webhooks.signing import verify_signature

    access = login(klavi_mock)
    httpx.post(f"{klavi_mock.api_url}/links", json={}, headers={"Authorization": f"Bearer {access}"})
    klavi_mock.wait_for_event("link_created")
    received = klavi_mock.receiver.at("/events")[0]
    assert verify_signature(received.body, received.headers["X-Klavi-Signature"], klavi_mock.secret_key)
    assert received.headers["x-klavi-signature"] == received.headers["X-Klavi-Signature"]
"""


def test_the_fixture_serves_the_mock_and_fails_tests_that_break_the_contract(pytester):
    pytester.makepyfile(test_partner=PARTNER_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=6, failed=1)
    output = result.stdout.str()
    assert "test_a_client_sending_a_bad_cpf" in output and "KlaviContractViolation" in output
    assert "broke the Klavi API contract" in output
    assert "body.personalTaxId" in output and "is not 11 digits" in output


FAULT_TESTS = """
import httpx
import pytest


def login(mock):
    return httpx.post(f"{mock.api_url}/auth", json={"accessKey": mock.access_key, "secretKey": mock.secret_key}).json()["accessToken"]


def create_link(mock, access):
    return httpx.post(f"{mock.api_url}/links", json={"personalTaxId": "52998224725"},
                      headers={"Authorization": f"Bearer {access}"})


def test_a_fault_for_the_length_of_a_block(klavi_mock):
    access = login(klavi_mock)
    with klavi_mock.fault(operationId="createLink", status=429, retryAfterSeconds=30) as rule:
        response = create_link(klavi_mock, access)
        assert response.status_code == 429 and response.headers["Retry-After"] == "30"
        assert rule["faultId"] in response.json()["message"]
    assert create_link(klavi_mock, access).status_code == 200  # the rule ended with the block: the retry
    [fault] = klavi_mock.fault_reactions()
    assert fault["reaction"]["retried"] is True and fault["reaction"]["honouredRetryAfter"] is False


def test_the_plugins_server_can_drop_a_connection(klavi_mock):
    access = login(klavi_mock)
    with klavi_mock.fault(operationId="createLink", fault="drop"):
        with pytest.raises(httpx.RemoteProtocolError):
            create_link(klavi_mock, access)


def test_rules_end_with_the_test(klavi_mock):
    httpx.post(f"{klavi_mock.base_url}/__mock/faults", json={"status": 500})


@pytest.mark.klavi_mock_fault(operationId="createLink", status=503, retryAfterSeconds=4)
def test_a_fault_for_the_whole_test(klavi_mock):
    response = create_link(klavi_mock, login(klavi_mock))
    assert response.status_code == 503 and response.headers["Retry-After"] == "4"


def test_so_the_next_test_has_none(klavi_mock):
    assert httpx.get(f"{klavi_mock.base_url}/__mock/faults").json() == []
    assert klavi_mock.fault_reactions() == []
"""


def test_the_fixture_injects_faults(pytester):
    pytester.makepyfile(test_partner_faults=FAULT_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=5)
