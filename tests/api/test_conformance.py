"""The client conformance report: coverage, refused and tolerated deviations, webhooks."""

from klavi_mock.qa.conformance import render_text
from klavi_mock.testing import Receiver, wait_for
from tests.conftest import API, VALID_CPF, bearer


def report(client, app_id="sandbox-app"):
    [tenant] = client.get("/__mock/conformance", params={"appId": app_id}).json()["tenants"]
    return tenant


def test_coverage_lists_operations_and_statuses_exercised(klavi, client):
    token = klavi.access_token()
    client.post(f"{API}/links", json={"personalTaxId": "123"}, headers=bearer(token))
    klavi.create_link()
    tenant = report(client)
    assert tenant["operations"]["createAccessToken"] == {"calls": 2, "statuses": {"200": 2}}
    assert tenant["operations"]["createLink"] == {"calls": 2, "statuses": {"200": 1, "400": 1}}
    assert "createConsent" in tenant["notExercised"] and "createLink" not in tenant["notExercised"]


def test_refused_deviations_are_grouped_by_operation_and_field(klavi, client):
    token = klavi.access_token()
    for _ in range(2):
        client.post(f"{API}/links", json={"personalTaxId": "123", "email": 5}, headers=bearer(token))
    tenant = report(client)
    fields = tenant["violations"]["createLink"]
    assert fields["body.personalTaxId"][0]["count"] == 2 and fields["body.personalTaxId"][0]["tolerated"] is False
    assert "is not 11 digits" in fields["body.personalTaxId"][0]["problem"]
    assert "body.email" in fields
    assert tenant["violationCount"] == 4


def test_an_expired_tokens_401_is_recoverable_not_a_violation(klavi, client):
    token = klavi.access_token()
    client.post("/__mock/clock/advance", json={"seconds": 3601})
    assert client.post(f"{API}/links", json={}, headers=bearer(token)).status_code == 401
    assert client.post(f"{API}/links", json={}, headers=bearer(klavi.access_token())).status_code == 200
    new = klavi.access_token()
    client.post(f"{API}/links", json={"personalTaxId": "123"}, headers=bearer(new))  # a real violation
    tenant = report(client)
    items = [item for group in tenant["violations"]["createLink"].values() for item in group]
    expired = [item for item in items if "expired at" in item["problem"]]
    assert [(item["recoverable"], item["tolerated"], item["count"]) for item in expired] == [(True, False, 1)]
    assert [item["recoverable"] for item in items if "11 digits" in item["problem"]] == [False]
    assert tenant["violationCount"] == 1 and tenant["recoverableCount"] == 1
    assert "↻ header.Authorization: the accessToken expired at" in render_text({"tenants": [tenant]})


def test_tolerated_deviations_are_recorded_but_not_counted(klavi, client):
    token = klavi.access_token()
    response = client.post(
        f"{API}/links", headers=bearer(token), json={"productsCallbackUrl": "https://p.example.com/r", "colour": "blue"}
    )
    assert response.status_code == 200
    client.get(f"{API}/consents", params={"page": "2"}, headers=bearer(token))
    tenant = report(client)
    link_fields = tenant["violations"]["createLink"]
    assert link_fields["body.productsCallbackUrl"] == [
        {
            "problem": "body.productsCallbackUrl: accepted as body.productsCallbackURL (the spec's spelling)",
            "tolerated": True,
            "recoverable": False,
            "count": 1,
        }
    ]
    assert link_fields["body.colour"][0]["problem"] == "body.colour: not in the spec (ignored)"
    assert tenant["violations"]["listConsents"]["query.page"][0]["tolerated"] is True
    assert tenant["violationCount"] == 0


def test_token_mistakes_are_attributed_to_the_tenant(klavi, client):
    link_token = klavi.create_link()["linkToken"]
    client.post(f"{API}/links", json={}, headers=bearer(link_token))  # a linkToken where an accessToken goes
    tenant = report(client)
    [problem] = tenant["violations"]["createLink"]["header.Authorization"]
    assert "takes the accessToken" in problem["problem"]


def test_requests_without_a_tenant_and_unknown_paths_are_kept_apart(client):
    client.get(f"{API}/links/institutions")
    client.get(f"{API}/institutions")
    tenant = report(client, "(unauthenticated)")
    assert tenant["violations"]["listInstitutions"]["header.Authorization"][0]["count"] == 1
    assert (
        tenant["violations"]["GET /data/v1/institutions"]["path"][0]["problem"]
        == "path: /data/v1/institutions is not in the spec"
    )


def test_webhooks_delivered_and_acknowledged_are_counted(klavi, client):
    receiver = Receiver()
    try:
        receiver.scripts["/events"] = [500]
        client.put("/__mock/tenants/sandbox-app/webhooks", json={"eventsUrl": receiver.url("/events")})
        klavi.create_link()
        wait_for(lambda: report(client)["webhooks"].get("link_created", {}).get("acknowledged") == 1)
        assert report(client)["webhooks"]["link_created"] == {
            "sent": 1,
            "acknowledged": 1,
            "failed": 0,
            "pending": 0,
            "undeliverable": 0,
        }
    finally:
        receiver.stop()


def test_tenants_are_reported_apart_and_reset_clears_the_report(klavi, client):
    klavi.access_token({"accessKey": "other-access-key", "secretKey": "other-secret-key"})
    klavi.access_token()
    assert report(client, "other-app")["operations"]["createAccessToken"]["calls"] == 1
    assert client.post("/__mock/conformance/reset").json() == {"message": "ok"}
    assert report(client)["requests"] == 0


def test_the_text_report_reads_well(klavi, client):
    client.post(f"{API}/links", json={"personalTaxId": "123"}, headers=bearer(klavi.access_token()))
    text = render_text(client.get("/__mock/conformance").json())
    assert "tenant sandbox-app: 2 requests, 1 violations of the spec" in text
    assert "✗ body.personalTaxId:" in text and "createLink" in text
    assert render_text({"tenants": []}) == "no requests recorded yet"


def test_a_conforming_client_has_no_violations(klavi, client):
    created = klavi.create_consent(personalTaxId=VALID_CPF)
    klavi.consent(created["consentId"])
    assert report(client)["violationCount"] == 0


def test_a_fuzzer_cannot_grow_the_report_without_bound(monkeypatch, client):
    from klavi_mock.qa import conformance

    monkeypatch.setattr(conformance, "MAX_DISTINCT", 20)
    for n in range(60):  # 60 unknown paths: 60 distinct operations and deviations
        assert client.get(f"{API}/nothing-{n}").status_code == 404
    [tenant] = client.get("/__mock/conformance").json()["tenants"]
    assert tenant["requests"] == 60
    assert len(tenant["operations"]) == 21 and tenant["operations"]["(more)"]["calls"] == 40
    kept = [item for fields in tenant["violations"].values() for items in fields.values() for item in items]
    assert len(kept) == 21 and sum(item["count"] for item in kept) == tenant["violationCount"] == 60
    [overflow] = tenant["violations"]["(more)"]["(more)"]
    assert overflow["count"] == 40 and "only the first 20 are kept" in overflow["problem"]
