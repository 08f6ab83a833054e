"""Report requests end to end with a real receiver: scope, rules, callback URLs, personas,
and every report and event checked against the spec's webhooks section."""

import pytest

from klavi_mock.testing import delivery_log, wait_for
from klavi_mock.webhooks.signing import verify_signature
from tests.conftest import VALID_CNPJ, VALID_CPF, ask, authorise
from tests.contract import assert_conforms

SECRET = "sandbox-secret-key"


def reports_of(receiver, request_id, path="/reports"):
    return [r for r in receiver.at(path) if r.json()["requestId"] == request_id]


def events_of(receiver, request_id):
    return [e for e in receiver.events() if e["payload"].get("requestId") == request_id]


def test_an_institution_report_arrives_signed_and_on_spec(hooked, client, receiver):
    consent_id = authorise(hooked)
    response = ask(
        hooked,
        "/personal/institution-data",
        taxId=VALID_CPF,
        institutionCode="341",
        products=["pf_checking_account", "pf_credit_card"],
        externalInfo={"order": "o-1"},
    )
    assert response.status_code == 200
    request_id = response.json()["requestId"]
    assert response.json()["message"] == "ok"
    received = wait_for(lambda: len(reports_of(receiver, request_id)) == 2 and reports_of(receiver, request_id))
    for request in received:
        assert_conforms(request)
        assert verify_signature(request.body, request.headers["x-klavi-signature"], SECRET)
        report = request.json()
        assert (
            report["code"] == 200 and report["enquiryCpf"] == VALID_CPF and report["externalInfo"] == {"order": "o-1"}
        )
        assert report["links"][0]["consents"][0]["consentId"] == consent_id
    names = wait_for(
        lambda: len(events_of(receiver, request_id)) == 3 and [e["eventName"] for e in events_of(receiver, request_id)]
    )
    assert names == ["product_request_received", "product_generated_success", "product_generated_success"]
    for request in receiver.at("/events"):
        assert_conforms(request)


def test_business_user_level_reports_for_all_products(hooked, receiver):
    authorise(hooked, personalTaxId=None, businessTaxId=VALID_CNPJ)
    response = ask(hooked, "/business/user-data", taxId=VALID_CNPJ, products=["all"])
    request_id = response.json()["requestId"]
    received = wait_for(lambda: len(reports_of(receiver, request_id)) == 6 and reports_of(receiver, request_id))
    assert {r.json()["productName"] for r in received} == {
        "pj_categorized_checking_l2",
        "pj_categorized_savings_l2",
        "pj_categorized_creditcard_l2",
        "pj_categorized_checking_l3",
        "pj_categorized_savings_l3",
        "pj_categorized_creditcard_l3",
    }
    for request in received:
        assert_conforms(request)
        assert request.json()["enquiryCnpj"] == VALID_CNPJ


@pytest.mark.parametrize(
    "path, body, code, fragment",
    [
        ("/personal/institution-data", {"institutionCode": "341", "products": []}, 4005, "at least 1 item"),
        (
            "/personal/institution-data",
            {"institutionCode": "341", "products": ["pf_unknown"]},
            4002,
            "'pf_unknown' is not a product",
        ),
        (
            "/personal/institution-data",
            {"institutionCode": "341", "products": ["pj_loans"]},
            4002,
            "pj_loans is a business (pj_) product",
        ),
        ("/personal/user-data", {"products": ["all", "pf_categorized_checking_l2"]}, 4002, '"all" cannot be combined'),
        (
            "/personal/institution-data",
            {
                "institutionCode": "341",
                "products": ["pf_loans"],
                "productsCallbackURL": {"all": "http://a.example.com", "other": "http://b.example.com"},
            },
            4006,
            "'all' cannot",
        ),
        (
            "/personal/institution-data",
            {
                "institutionCode": "341",
                "products": ["pf_loans"],
                "productsCallbackURL": {"pf_nothing": "http://a.example.com"},
            },
            4006,
            "'pf_nothing' is not a product name",
        ),
        (
            "/personal/institution-data",
            {"institutionCode": "999", "products": ["pf_loans"]},
            4004,
            "'999' is not an institution",
        ),
        (
            "/personal/institution-data",
            {"institutionCode": "260", "products": ["pf_loans"]},
            4001,
            "no AUTHORISED consent for taxId 52998224725 at institution 260",
        ),
        ("/personal/user-data", {"products": ["all"], "consentIds": ["nope"]}, 4001, "consent nope does not exist"),
    ],
)
def test_report_rules_answer_416_with_the_business_code(hooked, receiver, path, body, code, fragment):
    authorise(hooked)
    response = ask(hooked, path, taxId=VALID_CPF, **body)
    assert response.status_code == 416, response.text
    assert response.json()["statusCode"] == code
    assert fragment in response.json()["message"]
    assert not [e for e in receiver.events() if e["eventName"].startswith("product_")]  # nothing sent


def test_a_consent_that_is_not_authorised_is_4001(hooked):
    created = hooked.create_consent()
    response = ask(hooked, "/personal/user-data", taxId=VALID_CPF, products=["all"], consentIds=[created["consentId"]])
    assert response.json()["statusCode"] == 4001
    assert "is AWAITING_AUTHORISATION, not AUTHORISED" in response.json()["message"]


def test_a_bad_tax_id_is_a_400(hooked):
    response = ask(hooked, "/personal/user-data", taxId="1234567890", products=["all"])
    assert response.status_code == 400 and "body.taxId" in response.json()["message"]


def test_institution_reports_use_the_most_recent_consent_by_default(hooked, receiver):
    older = authorise(hooked)
    newer = authorise(hooked)
    request_id = ask(
        hooked, "/personal/institution-data", taxId=VALID_CPF, institutionCode="341", products=["pf_balance"]
    ).json()["requestId"]
    [report] = wait_for(lambda: reports_of(receiver, request_id))
    assert [c["consentId"] for link in report.json()["links"] for c in link["consents"]] == [newer]
    request_id = ask(
        hooked,
        "/personal/institution-data",
        taxId=VALID_CPF,
        institutionCode="341",
        products=["pf_balance"],
        consentIds=[older],
    ).json()["requestId"]
    [report] = wait_for(lambda: reports_of(receiver, request_id))
    assert [c["consentId"] for link in report.json()["links"] for c in link["consents"]] == [older]


def test_user_reports_cover_every_consent_and_link_scope_narrows(hooked, receiver):
    first_link = hooked.create_link()
    a = authorise(hooked, first_link["linkToken"], institutionCode="341")
    b = authorise(hooked, institutionCode="260")
    request_id = ask(hooked, "/personal/user-data", taxId=VALID_CPF, products=["pf_categorized_checking_l2"]).json()[
        "requestId"
    ]
    [report] = wait_for(lambda: reports_of(receiver, request_id))
    assert {c["consentId"] for link in report.json()["links"] for c in link["consents"]} == {a, b}
    assert {link["institutionCode"] for link in report.json()["links"]} == {"341", "260"}
    request_id = ask(
        hooked,
        "/personal/user-data",
        taxId=VALID_CPF,
        products=["pf_categorized_checking_l2"],
        linkId=first_link["linkId"],
    ).json()["requestId"]
    [report] = wait_for(lambda: reports_of(receiver, request_id))
    assert [c["consentId"] for link in report.json()["links"] for c in link["consents"]] == [a]


def test_reports_hold_only_what_the_consent_granted(hooked, receiver):
    authorise(hooked, personalTaxId="00000000787")  # partial-permissions: registration and accounts only
    request_id = ask(
        hooked,
        "/personal/institution-data",
        taxId="00000000787",
        institutionCode="341",
        products=["pf_checking_account", "pf_credit_card"],
    ).json()["requestId"]
    reports = {
        r.json()["productName"]: r.json()
        for r in wait_for(lambda: len(reports_of(receiver, request_id)) == 2 and reports_of(receiver, request_id))
    }
    assert reports["pf_checking_account"]["code"] == 200 and reports["pf_checking_account"]["checkingAccounts"]
    assert reports["pf_credit_card"]["code"] == 204 and reports["pf_credit_card"]["creditCards"] == []
    permissions = reports["pf_credit_card"]["links"][0]["consents"][0]["permissions"]
    assert (
        permissions["CREDIT_CARDS_ALL"]["permissionsGranted"] is False
        and permissions["ACCOUNTS_ALL"]["permissionsGranted"] is True
    )


def test_callback_urls_follow_klavis_priority(hooked, client, receiver):
    link = hooked.create_link(
        productsCallbackURL={"pf_balance": receiver.url("/link-balance"), "other": receiver.url("/link-other")}
    )
    authorise(hooked, link["linkToken"])
    request_id = ask(
        hooked,
        "/personal/institution-data",
        taxId=VALID_CPF,
        institutionCode="341",
        products=["pf_balance", "pf_loans", "pf_funds"],
        productsCallbackURL={"pf_funds": receiver.url("/request-funds")},
    ).json()["requestId"]
    wait_for(lambda: len(delivery_log(client, requestId=request_id, kind="report", status="delivered")) == 3)
    assert [r.json()["productName"] for r in reports_of(receiver, request_id, "/request-funds")] == [
        "pf_funds"
    ]  # the request's own
    assert [r.json()["productName"] for r in reports_of(receiver, request_id, "/link-balance")] == [
        "pf_balance"
    ]  # the link's, by name
    assert [r.json()["productName"] for r in reports_of(receiver, request_id, "/link-other")] == [
        "pf_loans"
    ]  # the link's other
    assert not reports_of(receiver, request_id)  # the tenant default was not needed


def test_a_plain_string_and_the_url_spelling_are_accepted(hooked, receiver):
    authorise(hooked)
    request_id = ask(
        hooked,
        "/personal/institution-data",
        taxId=VALID_CPF,
        institutionCode="341",
        products=["pf_loans"],
        productsCallbackUrl=receiver.url("/spelt"),
    ).json()["requestId"]
    wait_for(lambda: reports_of(receiver, request_id, "/spelt"))


def test_report_fails_persona(hooked, receiver):
    authorise(hooked, personalTaxId="00000001082")
    request_id = ask(
        hooked,
        "/personal/institution-data",
        taxId="00000001082",
        institutionCode="341",
        products=["pf_checking_account"],
    ).json()["requestId"]
    [report] = wait_for(lambda: reports_of(receiver, request_id))
    assert_conforms(report)
    assert report.json()["code"] == 5001 and report.json()["checkingAccounts"] == []
    failed = wait_for(
        lambda: [e for e in events_of(receiver, request_id) if e["eventName"] == "product_generated_failed"]
    )[0]
    assert failed["payload"] == {
        "requestId": request_id,
        "productName": "pf_checking_account",
        "code": 5001,
        "message": "Failed to fetch data from the institution",
    }


def test_partial_data_persona(hooked, receiver):
    authorise(hooked, personalTaxId=None, businessTaxId="00000011000171")
    request_id = ask(
        hooked,
        "/business/institution-data",
        taxId="00000011000171",
        institutionCode="341",
        products=["pj_checking_account"],
    ).json()["requestId"]
    [report] = wait_for(lambda: reports_of(receiver, request_id))
    assert report.json()["code"] == 204 and report.json()["checkingAccounts"]
    success = wait_for(
        lambda: [e for e in events_of(receiver, request_id) if e["eventName"] == "product_generated_success"]
    )[0]
    assert success["payload"]["code"] == 204


def test_slow_report_persona_waits_for_the_clock(hooked, client, receiver):
    authorise(hooked, personalTaxId="00000001244")
    request_id = ask(
        hooked, "/personal/institution-data", taxId="00000001244", institutionCode="341", products=["pf_loans"]
    ).json()["requestId"]
    wait_for(lambda: events_of(receiver, request_id), what="product_request_received")
    pending = delivery_log(client, requestId=request_id, kind="report")
    assert pending[0]["status"] == "pending" and not reports_of(receiver, request_id)
    hooked.advance(600)
    wait_for(lambda: reports_of(receiver, request_id), timeout=3, what="the slow report once the clock moved")
    wait_for(
        lambda: [e for e in events_of(receiver, request_id) if e["eventName"] == "product_generated_success"], timeout=3
    )


def test_reports_with_nowhere_to_go_are_kept_for_redelivery(klavi, client, receiver):
    authorise(klavi)
    request_id = ask(
        klavi, "/personal/institution-data", taxId=VALID_CPF, institutionCode="341", products=["pf_loans"]
    ).json()["requestId"]
    [report] = delivery_log(client, requestId=request_id, kind="report")
    assert report["status"] == "undeliverable"
    client.put("/__mock/tenants/sandbox-app/webhooks", json={"productsCallbackURL": receiver.url("/late")})
    client.post(f"/__mock/webhooks/{report['deliveryId']}/redeliver")
    wait_for(lambda: reports_of(receiver, request_id, "/late"))
