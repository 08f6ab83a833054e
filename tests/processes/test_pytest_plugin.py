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


# -- issue 22: what a correct client meets is not a violation; a violation reads short ----------

CLIENT = '''
import httpx


class PartnerClient:
    """A partner's client as written in the wild: it caches its accessToken and signs in
    again on a 401; it retries once on a 429 or 5xx."""

    def __init__(self, mock):
        self.mock, self.token, self.sign_ins = mock, None, 0

    def sign_in(self):
        self.sign_ins += 1
        self.token = httpx.post(f"{self.mock.api_url}/auth", json={"accessKey": self.mock.access_key,
                                "secretKey": self.mock.secret_key}).json()["accessToken"]

    def call(self, method, path, **kwargs):
        if self.token is None:
            self.sign_in()
        for _ in range(3):
            response = httpx.request(method, f"{self.mock.api_url}{path}",
                                     headers={"Authorization": f"Bearer {self.token}"}, **kwargs)
            if response.status_code == 401:
                self.sign_in()
            elif response.status_code == 429 or response.status_code >= 500:
                continue
            else:
                return response
        return response

    def consent(self, tax_id="52998224725", track="t-1"):
        link = self.call("POST", "/links", json={"personalTaxId": tax_id}).json()
        return httpx.post(f"{self.mock.api_url}/consents", headers={"Authorization": f"Bearer {link['linkToken']}"},
                          json={"externalTrackId": track, "personalTaxId": tax_id, "institutionCode": "341",
                                "redirectURL": "https://partner.example.com/back"}).json()
'''

RECOVERY_TESTS = (
    CLIENT
    + """
import pytest


def test_an_expired_token_is_met_and_recovered_from(klavi_mock):
    client = PartnerClient(klavi_mock)
    assert client.call("POST", "/links", json={}).status_code == 200
    klavi_mock.advance(3601)  # the cached accessToken expires
    assert client.call("POST", "/links", json={}).status_code == 200
    assert client.sign_ins == 2
    assert klavi_mock.violations() == []


def test_a_fault_rules_429_and_500_are_met_and_retried(klavi_mock):
    client = PartnerClient(klavi_mock)
    client.sign_in()
    klavi_mock.add_fault(operationId="createLink", status=429, times=1)
    with klavi_mock.fault(operationId="createLink", status=500, times=1):
        assert client.call("POST", "/links", json={}).status_code == 200


def test_a_real_violation(klavi_mock):
    PartnerClient(klavi_mock).call("POST", "/links", json={"personalTaxId": "123"})
"""
)


def run(pytester, *args):
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", *args)


def test_runtime_conditions_pass_and_a_violation_fails_with_the_report_alone(pytester):
    pytester.makepyfile(test_partner=RECOVERY_TESTS)
    result = run(pytester)
    result.assert_outcomes(passed=2, failed=1)
    output = result.stdout.str()
    failure = output[output.index("_ test_a_real_violation _") : output.index("short test summary")]
    assert "KlaviContractViolation" in failure and "✗ createLink: body.personalTaxId" in failure
    assert "is not 11 digits" in failure
    # the report alone: no framework traceback, no pluggy or pytest internals
    for noise in ("pluggy", "_pytest", "Traceback", "def pytest_runtest_call", "force_exception"):
        assert noise not in failure, noise
    assert len(failure.splitlines()) < 40, failure


RESET_TESTS = (
    CLIENT
    + """
def test_one_sets_everything(klavi_mock):
    klavi_mock.receiver.scripts["/events"] = [500] * 10
    klavi_mock.receiver.hang_seconds = 0.3
    klavi_mock.chaos(duplicate=1, seed=3)
    klavi_mock.report_delivery("automatic", ["pf_balance"])
    klavi_mock.add_fault(operationId="createLink", status=503)
    klavi_mock.advance(7200)


def test_two_finds_none_of_it(klavi_mock):
    import httpx
    assert klavi_mock.receiver.scripts == {} and klavi_mock.receiver.hang_seconds == 0
    assert klavi_mock.receiver.received == []
    chaos = httpx.get(f"{klavi_mock.base_url}/__mock/tenants/{klavi_mock.app_id}/chaos").json()
    assert chaos["duplicate"] == 0
    [tenant] = [t for t in httpx.get(f"{klavi_mock.base_url}/__mock/tenants").json() if t["appId"] == klavi_mock.app_id]
    assert (tenant["reportDelivery"], tenant["activatedProducts"]) == ("on-request", None)
    client = PartnerClient(klavi_mock)
    link = client.call("POST", "/links", json={}).json()
    event = klavi_mock.wait_for_event("link_created", link_id=link["linkId"])
    assert klavi_mock.receiver.at("/events")[0].status == 200 and len(klavi_mock.events()) == 1
"""
)


def test_reset_clears_everything_a_test_can_set_the_receiver_included(pytester):
    pytester.makepyfile(test_partner=RESET_TESTS)
    run(pytester).assert_outcomes(passed=2)


HELPER_TESTS = (
    CLIENT
    + """
import time

import pytest


def test_a_personas_tax_id_by_name(klavi_mock):
    assert klavi_mock.tax_id("lgpd-declined") == "00000000272"
    with pytest.raises(AssertionError, match="no persona 'nobody'"):
        klavi_mock.tax_id("nobody")


def test_approve_at_the_bank_and_decline_at_the_lgpd_step_without_a_browser(klavi_mock):
    client = PartnerClient(klavi_mock)
    first, second = client.consent(track="a"), client.consent(track="b")
    answer = klavi_mock.answer_at_bank(first["consentId"], "approve", lgpd="decline")
    assert answer["consent"]["statusReason"]["code"] == "LGPD_DECLINED"
    back = klavi_mock.approve(second["consentRedirectURL"], lgpd="decline")
    assert klavi_mock.consent(second["consentId"])["statusReason"]["code"] == "LGPD_DECLINED", back
    third = client.consent(track="c")
    assert klavi_mock.answer_at_bank(third["consentId"], "deny")["consent"]["status"] == "REJECTED"


def test_wait_for_this_consents_event_and_delivery(klavi_mock):
    client = PartnerClient(klavi_mock)
    first, second = client.consent(track="a"), client.consent(track="b")
    klavi_mock.answer_at_bank(second["consentId"])
    klavi_mock.answer_at_bank(first["consentId"])
    event = klavi_mock.wait_for_event("consent_authorised", consent_id=first["consentId"])
    assert event["payload"]["consents"]["consentId"] == first["consentId"]
    delivery = klavi_mock.wait_for_delivery("consent_authorised", consent_id=second["consentId"])
    assert delivery["orderingKey"] == f"consent:{second['consentId']}" and delivery["status"] == "delivered"


def test_settle_drives_a_retry_chain_to_its_end(klavi_mock):
    klavi_mock.receiver.scripts["/events"] = [500] * 5  # six attempts: the last is answered 200
    link = PartnerClient(klavi_mock).call("POST", "/links", json={}).json()
    klavi_mock.wait_for_delivery(link_id=link["linkId"], status="pending")
    klavi_mock.settle()  # returns once the chain has ended (its own backoff would take 7.75 s)
    [delivery] = klavi_mock.deliveries(link_id=link["linkId"])
    assert delivery["status"] == "delivered" and len(delivery["attempts"]) == 6


def test_settle_after_a_chain_that_fails_to_the_end(klavi_mock):
    klavi_mock.receiver.scripts["/events"] = [500] * 6
    link = PartnerClient(klavi_mock).call("POST", "/links", json={}).json()
    klavi_mock.settle(1)
    failed = klavi_mock.wait_for_delivery(link_id=link["linkId"], status="failed")
    assert len(failed["attempts"]) == 6
    assert klavi_mock.redeliver(status="failed") == {"redelivered": 1, "undeliverable": 0}
    klavi_mock.wait_for_delivery(link_id=link["linkId"], status="delivered")
    assert klavi_mock.redeliver(failed["deliveryId"])["deliveryId"] == failed["deliveryId"]


def test_chaos_and_report_delivery(klavi_mock):
    klavi_mock.chaos(duplicate=1, seed=1)
    klavi_mock.report_delivery("automatic", ["pf_balance"])
    client = PartnerClient(klavi_mock)
    consent = client.consent()
    klavi_mock.answer_at_bank(consent["consentId"])
    klavi_mock.wait_for_report("pf_balance")
    events = klavi_mock.wait_for_event("consent_authorised", consent_id=consent["consentId"])
    assert len(klavi_mock.events("consent_authorised", consent_id=consent["consentId"])) == 2  # duplicated
    assert klavi_mock.chaos()["duplicate"] == 0
"""
)


def test_helpers(pytester):
    pytester.makepyfile(test_partner=HELPER_TESTS)
    result = run(pytester)
    result.assert_outcomes(passed=6)


ASYNC_TESTS = (
    CLIENT
    + """
import httpx
import pytest


@pytest.mark.anyio
async def test_an_async_suite(klavi_mock_async):
    mock = klavi_mock_async
    async with httpx.AsyncClient() as http:
        token = (await http.post(f"{mock.api_url}/auth", json={"accessKey": mock.access_key,
                                 "secretKey": mock.secret_key})).json()["accessToken"]
        tax_id = await mock.tax_id("bank-error")
        tax_id = "52998224725"  # the default persona (any valid CPF)
        link = (await http.post(f"{mock.api_url}/links", json={"personalTaxId": tax_id},
                                headers={"Authorization": f"Bearer {token}"})).json()
        consent = (await http.post(f"{mock.api_url}/consents", headers={"Authorization": f"Bearer {link['linkToken']}"},
                   json={"externalTrackId": "x", "personalTaxId": tax_id, "institutionCode": "341",
                         "redirectURL": "https://partner.example.com/back"})).json()
    await mock.answer_at_bank(consent["consentId"], "approve")
    event = await mock.wait_for_event("consent_authorised", consent_id=consent["consentId"])
    assert event["payload"]["consents"]["consentId"] == consent["consentId"]
    assert (await mock.wait_for_delivery(consent_id=consent["consentId"]))["status"] == "delivered"
    async with mock.fault(operationId="createLink", status=500) as rule:
        assert rule["faultId"]
    await mock.add_fault(operationId="createLink", status=503)
    assert (await mock.report_delivery("manual"))["reportDelivery"] == "manual"
    assert [e["status"] for e in await mock.requests(operationId="createConsent")] == [200]
    assert len(mock.events("consent_authorised", consent_id=consent["consentId"])) == 1
    await mock.settle(10)
    assert await mock.violations() == []
    await mock.assert_conforms()
    assert (await mock.consent(consent["consentId"]))["status"] == "AUTHORISED"
    async with httpx.AsyncClient() as http:  # a second consent, walked through the bank pages
        second = (await http.post(f"{mock.api_url}/consents", headers={"Authorization": f"Bearer {link['linkToken']}"},
                  json={"externalTrackId": "y", "personalTaxId": tax_id, "institutionCode": "341",
                        "redirectURL": "https://partner.example.com/back"})).json()
        third = (await http.post(f"{mock.api_url}/consents", headers={"Authorization": f"Bearer {link['linkToken']}"},
                 json={"externalTrackId": "z", "personalTaxId": tax_id, "institutionCode": "341",
                       "redirectURL": "https://partner.example.com/back"})).json()
    back = await mock.approve(second["consentRedirectURL"])
    assert back.startswith("https://partner.example.com/back")
    assert (await mock.consent(second["consentId"]))["status"] == "AUTHORISED"
    await mock.deny(third["consentRedirectURL"])
    assert (await mock.consent(third["consentId"]))["status"] == "REJECTED"
    assert await mock.tracking_events(link_id=link["linkId"]) == []  # no hosted page was opened
    async with httpx.AsyncClient() as http:  # the 503 rule above answers both; the client retried
        for _ in range(2):
            await http.post(f"{mock.api_url}/links", json={"personalTaxId": tax_id},
                            headers={"Authorization": f"Bearer {token}"})
    first, second = await mock.fault_reactions()
    assert first["reaction"]["retried"] is True and second["status"] == 503
    assert mock.basic_link_url().endswith(f"/basic-links/{mock.app_id}")


@pytest.fixture
def anyio_backend():
    return "asyncio"
"""
)


def test_async_variants(pytester):
    pytester.makepyfile(test_partner=ASYNC_TESTS)
    run(pytester).assert_outcomes(passed=1)


CONFIG_FILE = """
tenants:
  - appId: acme
    accessKey: acme-key
    secretKey: acme-secret
"""

CONFIG_TESTS = """
import httpx


def test_configured(klavi_mock):
    assert (klavi_mock.app_id, klavi_mock.access_key) == ("acme", "acme-key")
    token = httpx.post(f"{klavi_mock.api_url}/auth", json={"accessKey": "acme-key", "secretKey": "acme-secret"}).json()["accessToken"]
    answer = httpx.post(f"{klavi_mock.api_url}/links", json={"personalTaxId": "52998224726"},
                        headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == (400 if STRICT else 200)
"""


def config_suite(pytester, strict):
    pytester.makefile(".yaml", klavi=CONFIG_FILE)
    pytester.makepyfile(test_partner=f"STRICT = {strict}\n" + CONFIG_TESTS)


def test_configured_by_ini_options(pytester):
    config_suite(pytester, strict=True)
    pytester.makeini("[pytest]\nklavi_mock_config = klavi.yaml\nklavi_mock_strict_tax_ids = true\n")
    # a strict mock refuses the bad CPF (a violation): allowed here, the point is the 400
    pytester.makeconftest(
        "import pytest\n@pytest.fixture(autouse=True)\ndef _allow(klavi_mock):\n    klavi_mock.allow_violations = True\n"
    )
    run(pytester).assert_outcomes(passed=1)


def test_configured_by_command_line_options(pytester):
    config_suite(pytester, strict=False)
    run(pytester, "--klavi-mock-config", "klavi.yaml").assert_outcomes(passed=1)


def test_configured_by_klavi_mock_variables(pytester, monkeypatch):
    config_suite(pytester, strict=True)
    monkeypatch.setenv("KLAVI_MOCK_CONFIG", str(pytester.path / "klavi.yaml"))
    monkeypatch.setenv("KLAVI_MOCK_STRICT_TAX_IDS", "true")
    result = run(pytester)
    result.assert_outcomes(failed=1)  # the strict mock's 400 is a violation, and this suite does not allow it
    output = result.stdout.str()
    assert "✗ createLink: body.personalTaxId" in output and "assert" not in output.split("_ test_configured _")[1]


def test_configured_by_overriding_the_settings_fixture(pytester):
    config_suite(pytester, strict=False)
    pytester.makeconftest(
        "import pytest\n"
        "from klavi_mock.config import Settings\n"
        "from klavi_mock.domain.tenants import Tenant\n"
        "@pytest.fixture(scope='session')\n"
        "def klavi_mock_settings():\n"
        "    return Settings(tenants=[Tenant(app_id='acme', access_key='acme-key', secret_key='acme-secret')],\n"
        "                    faults=({'operationId': 'listInstitutions', 'status': 503},))\n"
    )
    pytester.makepyfile(
        test_faults="import httpx\n"
        "def test_the_settings_fault_rule_stays_through_resets(klavi_mock):\n"
        "    [rule] = httpx.get(f'{klavi_mock.base_url}/__mock/faults').json()\n"
        "    assert (rule['operationId'], rule['status']) == ('listInstitutions', 503)\n"
    )
    run(pytester).assert_outcomes(passed=2)


EXTERNAL_TESTS = (
    RESET_TESTS
    + """

def test_the_mock_is_the_one_given(klavi_mock):
    import os
    assert klavi_mock.external and klavi_mock.base_url == os.environ["EXPECTED_URL"]
"""
)


def test_external_mode_runs_the_same_tests_against_a_running_mock(pytester, monkeypatch):
    from klavi_mock.app import create_app
    from klavi_mock.config import Settings
    from klavi_mock.testing import serve_in_thread

    pytester.makepyfile(test_partner=EXTERNAL_TESTS)
    with serve_in_thread(create_app(Settings())) as url:
        monkeypatch.setenv("EXPECTED_URL", url)
        run(pytester, "--klavi-mock-url", url).assert_outcomes(passed=3)
        monkeypatch.setenv("KLAVI_MOCK_URL", url)
        run(pytester).assert_outcomes(passed=3)
        tenants = __import__("httpx").get(f"{url}/__mock/tenants").json()
        assert tenants[0]["eventsUrl"].startswith("http://127.0.0.1:")  # the suite's receiver was set on it
        # a mock in a container reaches the receiver by another name, on another address
        extra = ("--klavi-mock-receiver-host", "0.0.0.0", "--klavi-mock-receiver-public-host", "localhost")
        run(pytester, *extra).assert_outcomes(passed=3)
        tenants = __import__("httpx").get(f"{url}/__mock/tenants").json()
        assert tenants[0]["eventsUrl"].startswith("http://localhost:")
