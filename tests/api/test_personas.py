"""Every persona end to end over HTTP, personal and business, following the redirects as a
client would (the curl style: decision=approve, then wherever the mock sends us)."""

import json

import pytest
import yaml

from klavi_mock.resources import fixtures_dir
from klavi_mock.testing import delivery_log
from tests.conftest import API, bearer, query_of

PERSONAS = yaml.safe_load((fixtures_dir() / "personas.yaml").read_text())["personas"]
# The data API's scripted personas (the payments API's are tested in tests/payments/).
SCRIPTED = [p for p in PERSONAS if not p.get("default") and not {"payment", "automaticPix"} & p.keys()]
VARIANTS = [(p["id"], field, p[field]) for p in SCRIPTED for field in ("personalTaxId", "businessTaxId")]
ALL = ["REGISTRATION_ALL", "ACCOUNTS_ALL", "CREDIT_CARDS_ALL", "CREDIT_OPERATIONS_ALL", "INVESTMENTS_ALL"]


def run_journey(klavi, field, tax_id):
    """Create a consent for the tax id at Itaú (serves both) and approve as curl would."""
    body = {"personalTaxId": None, field: tax_id}
    response = klavi.consent_request(klavi.create_link()["linkToken"], **body)
    if response.status_code != 200:
        return response, None, None
    created = response.json()
    page, left = klavi.follow(created["consentRedirectURL"] + "&decision=approve&lgpd=accept")
    return created, page, left


def test_the_catalogue_is_served_and_has_every_required_persona(client):
    listed = client.get("/__mock/personas").json()
    ids = {p["id"] for p in listed}
    assert ids >= {
        "happy-path",
        "bank-denies",
        "lgpd-declined",
        "bank-error",
        "never-completes",
        "expires-soon",
        "revoked-after-authorisation",
        "partial-permissions",
        "deleted-by-user",
        "consent-limit",
    }
    assert [p["id"] for p in listed if p["default"]] == ["happy-path"]
    for persona in listed:
        if not persona["default"]:
            assert persona["personalTaxId"] and persona["businessTaxId"], persona["id"]


@pytest.mark.parametrize("field, tax_id", [("personalTaxId", "52998224725"), ("businessTaxId", "11222333000181")])
def test_happy_path_for_any_unlisted_tax_id(klavi, field, tax_id):
    created, _, left = run_journey(klavi, field, tax_id)
    assert "error" not in query_of(left)
    consent = klavi.consent(created["consentId"])
    assert consent["status"] == "AUTHORISED" and consent["permissionsGranted"] == ALL


@pytest.mark.parametrize("persona, field, tax_id", VARIANTS)
def test_every_persona_end_to_end(klavi, client, persona, field, tax_id):
    outcome = PERSONA_CHECKS[persona]
    outcome(klavi, client, *run_journey(klavi, field, tax_id))


def check_bank_denies(klavi, client, created, page, left):
    assert query_of(left)["error"] == "access_denied"
    assert klavi.consent(created["consentId"])["status"] == "REJECTED"


def check_lgpd_declined(klavi, client, created, page, left):
    assert query_of(left)["error"] == "lgpd_declined"
    assert klavi.consent(created["consentId"])["status"] == "REJECTED"


def check_bank_error(klavi, client, created, page, left):
    assert query_of(left)["error"] == "consent_error"
    assert klavi.consent(created["consentId"])["status"] == "ERROR"


def check_never_completes(klavi, client, created, page, left):
    assert left is None and page.status_code == 200 and "Aguardando confirmação" in page.text
    klavi.advance(3599)
    assert klavi.consent(created["consentId"])["status"] == "AWAITING_AUTHORISATION"
    klavi.advance(1)
    assert klavi.consent(created["consentId"])["status"] == "REJECTED"


def check_expires_soon(klavi, client, created, page, left):
    assert "error" not in query_of(left)
    consent = klavi.consent(created["consentId"])
    assert consent["status"] == "AUTHORISED"
    klavi.advance(299)
    assert klavi.consent(created["consentId"])["status"] == "AUTHORISED"
    klavi.advance(1)
    assert klavi.consent(created["consentId"])["status"] == "EXPIRED"


def check_revoked(klavi, client, created, page, left):
    assert klavi.consent(created["consentId"])["status"] == "AUTHORISED"
    klavi.advance(120)
    assert klavi.consent(created["consentId"])["status"] == "REVOKED"


def check_partial(klavi, client, created, page, left):
    consent = klavi.consent(created["consentId"])
    assert consent["status"] == "AUTHORISED"
    assert consent["permissionsGranted"] == ["REGISTRATION_ALL", "ACCOUNTS_ALL"]
    assert set(consent["permissionsGranted"]) < set(consent["permissionsApply"])


def check_deleted(klavi, client, created, page, left):
    klavi.advance(120)
    assert klavi.consent(created["consentId"])["status"] == "DELETED_BY_USER"


def check_limit(klavi, client, response, page, left):
    assert response.status_code == 416
    assert response.json()["statusCode"] == 4003 and "exceeds the limit" in response.json()["message"]


def requested_reports(klavi, client, created):
    """Authorised as usual; then one report request, whose report the delivery log shows."""
    consent = klavi.consent(created["consentId"])
    assert consent["status"] == "AUTHORISED"
    person, tax_id = (
        ("personal", consent["personalTaxId"]) if consent["personalTaxId"] else ("business", consent["businessTaxId"])
    )
    prefix = "pf" if person == "personal" else "pj"
    response = client.post(
        f"{API}/{person}/institution-data",
        headers=bearer(klavi.access_token()),
        json={"taxId": tax_id, "institutionCode": "341", "products": [f"{prefix}_loans"]},
    )
    assert response.status_code == 200, response.text
    return delivery_log(client, requestId=response.json()["requestId"])


def check_report_fails(klavi, client, created, page, left):
    log = {d["name"]: d for d in requested_reports(klavi, client, created)}
    assert log[next(n for n in log if n.endswith("_loans"))]["body"]["code"] == 5001
    assert "product_generated_failed" in log


def check_partial_data(klavi, client, created, page, left):
    log = {d["name"]: d for d in requested_reports(klavi, client, created)}
    assert log[next(n for n in log if n.endswith("_loans"))]["body"]["code"] == 204


def check_slow_report(klavi, client, created, page, left):
    log = {d["name"]: d for d in requested_reports(klavi, client, created)}
    report = log[next(n for n in log if n.endswith("_loans"))]
    assert report["nextAttemptAt"] > log["product_request_received"]["nextAttemptAt"]
    assert log["product_generated_success"]["nextAttemptAt"] == report["nextAttemptAt"]


def check_rate_limited(klavi, client, response, page, left):
    assert response.status_code == 429 and response.headers["retry-after"] == "2"
    assert response.json()["statusCode"] == 429 and "retry after 2 s" in response.json()["message"]
    sent = json.loads(response.request.content)
    field = "businessTaxId" if "businessTaxId" in sent else "personalTaxId"
    tax_id = sent[field]
    link_token = klavi.create_link()["linkToken"]
    assert klavi.consent_request(link_token, **{"personalTaxId": None, field: tax_id}).status_code == 429  # too early
    klavi.advance(2)  # the client waits Retry-After seconds
    assert klavi.consent_request(link_token, **{"personalTaxId": None, field: tax_id}).status_code == 200


def report_request(klavi, client, created):
    consent = klavi.consent(created["consentId"])
    assert consent["status"] == "AUTHORISED"
    person, tax_id = (
        ("personal", consent["personalTaxId"]) if consent["personalTaxId"] else ("business", consent["businessTaxId"])
    )
    prefix = "pf" if person == "personal" else "pj"
    return client.post(
        f"{API}/{person}/institution-data",
        headers=bearer(klavi.access_token()),
        json={"taxId": tax_id, "institutionCode": "341", "products": [f"{prefix}_loans"]},
    )


def check_report_forbidden(klavi, client, created, page, left):
    response = report_request(klavi, client, created)
    assert response.status_code == 403 and response.json()["statusCode"] == 403
    assert "no permission" in response.json()["message"]


def check_product_request_fails(klavi, client, created, page, left):
    response = report_request(klavi, client, created)
    assert response.status_code == 416 and response.json()["statusCode"] == 4007
    assert response.json()["error"] == "Product request failed"
    assert not [d for d in delivery_log(client) if d["name"].endswith("_loans")]  # nothing sent


def check_kyc_needed(klavi, client, created, page, left):
    consent = klavi.consent(created["consentId"])
    assert report_request(klavi, client, created).status_code == 200  # not an eco product: served
    if consent["personalTaxId"]:
        response = client.post(
            f"{API}/personal/user-data",
            headers=bearer(klavi.access_token()),
            json={"taxId": consent["personalTaxId"], "products": ["pf_credit_risk"]},
        )
        assert response.status_code == 416 and response.json()["statusCode"] == 4009, response.text


PERSONA_CHECKS = {
    "kyc-needed": check_kyc_needed,
    "rate-limited": check_rate_limited,
    "report-forbidden": check_report_forbidden,
    "product-request-fails": check_product_request_fails,
    "report-fails": check_report_fails,
    "partial-data": check_partial_data,
    "slow-report": check_slow_report,
    "bank-denies": check_bank_denies,
    "lgpd-declined": check_lgpd_declined,
    "bank-error": check_bank_error,
    "never-completes": check_never_completes,
    "expires-soon": check_expires_soon,
    "revoked-after-authorisation": check_revoked,
    "partial-permissions": check_partial,
    "deleted-by-user": check_deleted,
    "consent-limit": check_limit,
}


def test_every_scripted_persona_is_checked():
    assert set(PERSONA_CHECKS) == {p["id"] for p in SCRIPTED}


def test_a_persona_can_be_put_on_one_consent(klavi, client):
    created = klavi.create_consent()  # an ordinary CPF: happy path by default
    response = client.post(f"/__mock/consents/{created['consentId']}/persona", json={"persona": "bank-error"})
    assert response.status_code == 200 and response.json()["persona"] == "bank-error"
    _, left = klavi.follow(created["consentRedirectURL"] + "&decision=approve")
    assert query_of(left)["error"] == "consent_error"


def test_an_unknown_persona_is_a_404(klavi, client):
    created = klavi.create_consent()
    response = client.post(f"/__mock/consents/{created['consentId']}/persona", json={"persona": "nobody"})
    assert response.status_code == 404
    assert "persona 'nobody' does not exist" in response.json()["message"]
    assert client.get(f"/__mock/consents/{created['consentId']}").json()["persona"] == "happy-path"


def test_the_persona_is_recorded_on_the_consent(klavi, client):
    created = klavi.create_consent(personalTaxId="00000000515")
    assert client.get(f"/__mock/consents/{created['consentId']}").json()["persona"] == "expires-soon"
    revoked = client.delete(f"{API}/consents/{created['consentId']}/revoke", headers=bearer(klavi.access_token()))
    assert revoked.status_code == 200
