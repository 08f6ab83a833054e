"""Issue 12: behave as the real Klavi does, as its docs and production clients show it.

Each test drives the mock over HTTP the way a production client does, and reads reports by
the JSON paths such clients read (report["creditCards"][0]["limits"]["availableAmount"]...).
"""

from __future__ import annotations

from datetime import datetime, timezone

import httpx
import pytest

from klavi_mock.config import Settings, parse_config, settings_from_environment
from klavi_mock.domain.reports import PRODUCTS, ReportConsent, ReportLink, build_report
from klavi_mock.domain.taxid import make_cnpj, make_cpf
from klavi_mock.testing import wait_for
from tests.conftest import API, VALID_CNPJ, VALID_CPF, Klavi, ask, authorise, bearer
from tests.contract import assert_conforms
from tests.servers import serve_process
from tests.worlds import SANDBOX_KEYS, in_process

KLAVI_EXAMPLE_CPF = "16109277673"  # docs.klavi.ai get-consent-list: its check digits are wrong
CHECK_DIGITS = "check digits invalid: a real bank will not find this customer"
CREDIT = ("loans", "financing", "unarranged_account_overdraft", "invoice_financing")
INVESTMENTS = ("bank_fixed_incomes", "credit_fixed_incomes", "variable_incomes", "treasure_titles", "funds")


def reports(receiver, response, count):
    """The `count` report bodies of a report request, each checked against the spec."""
    assert response.status_code == 200, response.text
    request_id = response.json()["requestId"]

    def mine():
        return [r for r in receiver.at("/reports") if r.json()["requestId"] == request_id]

    received = wait_for(lambda: len(mine()) == count and mine())
    for request in received:
        assert_conforms(request)
    return {r.json()["productName"]: r.json() for r in received}


def tolerated(client, operation):
    """operation -> [problem, ...] of the tolerated deviations in the conformance report."""
    [tenant] = client.get("/__mock/conformance", params={"appId": "sandbox-app"}).json()["tenants"]
    return {
        item["problem"]: item["count"]
        for items in tenant["violations"].get(operation, {}).values()
        for item in items
        if item["tolerated"]
    }


# -- 1. report shapes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "person, tax_field, tax_id", [("pf", "personalTaxId", VALID_CPF), ("pj", "businessTaxId", VALID_CNPJ)]
)
def test_categorized_cards_limits_is_an_object(hooked, receiver, person, tax_field, tax_id):
    authorise(hooked, **{"personalTaxId": None, tax_field: tax_id})
    path = "/personal/user-data" if person == "pf" else "/business/user-data"
    got = reports(
        receiver,
        ask(
            hooked,
            path,
            taxId=tax_id,
            products=[f"{person}_categorized_creditcard_l2", f"{person}_categorized_creditcard_l3"],
        ),
        2,
    )
    for report in got.values():
        limits = report["creditCards"][0]["limits"]
        available = float(limits["availableAmount"]["amount"])
        limit, used = float(limits["limitAmount"]["amount"]), float(limits["usedAmount"]["amount"])
        assert available == pytest.approx(limit - used) and limit > 0
        assert isinstance(limits["isLimitFlexible"], bool) and limits["limitAmount"]["limitAmountReason"] == ""


def test_credit_and_investment_items_are_under_the_products_own_key(hooked, receiver):
    authorise(hooked, personalTaxId=None, businessTaxId=VALID_CNPJ)
    got = reports(
        receiver,
        ask(
            hooked,
            "/business/institution-data",
            taxId=VALID_CNPJ,
            institutionCode="341",
            products=[f"pj_{suffix}" for suffix in CREDIT + INVESTMENTS],
        ),
        9,
    )
    readable = 0
    for suffix in CREDIT:
        report, name = got[f"pj_{suffix}"], f"pj_{suffix}"
        detail = report[PRODUCTS[name].data_key]  # the Open Finance Brasil detail stays beside
        assert [c["contractId"] for c in report[name]] == [c["contractId"] for c in detail]
        for contract in report[name]:
            assert contract["productName"] and contract["contractId"]
            assert contract["outstandingBalance"] == contract["balances"]["outstandingBalance"]
            assert float(contract["balances"]["outstandingBalance"]["amount"]) > 0
            readable += 1
    for suffix in INVESTMENTS:
        report, name = got[f"pj_{suffix}"], f"pj_{suffix}"
        assert [i["investmentId"] for i in report[name]] == [i["investmentId"] for i in report[PRODUCTS[name].data_key]]
        for investment in report[name]:
            assert investment["productName"] and investment["productType"] and investment["subProductType"]
            assert float(investment["balance"]["amount"]) > 0 and float(investment["amount"]["amount"]) > 0
            assert float(investment["quantity"]) > 0 and "dueDate" in investment
            readable += 1
    assert readable >= 9


def test_pf_reports_have_their_data_under_the_product_key_too(hooked, receiver):
    authorise(hooked)
    got = reports(
        receiver,
        ask(
            hooked,
            "/personal/institution-data",
            taxId=VALID_CPF,
            institutionCode="341",
            products=["pf_loans", "pf_funds"],
        ),
        2,
    )
    assert got["pf_loans"]["pf_loans"][0]["contractId"] == got["pf_loans"]["loans"][0]["contractId"]
    assert got["pf_funds"]["pf_funds"][0]["dueDate"] is None  # a fund has no due date
    assert got["pf_funds"]["pf_funds"][0]["productType"] == "FUNDO_INVESTIMENTO"


def read_checking(report: dict) -> list[tuple]:
    """A parser written against pf_categorized_checking_l2, the way production clients read it."""
    rows = []
    for account in report["checkingAccounts"]:
        for txn in account["transactionDetails"]:
            rows.append(
                (
                    report["enquiryCpf"],
                    account["civilName"],
                    account["compeCode"],
                    account["balances"]["availableAmount"]["amount"],
                    txn["transactionAmount"]["amount"],
                    txn["creditDebitType"],
                    txn["category"],
                    txn["subcategory"],
                )
            )
    return rows


def test_one_parser_reads_pf_and_pj_reports(hooked, receiver):
    authorise(hooked, personalTaxId=VALID_CPF, businessTaxId=VALID_CNPJ)  # a company and its representative
    got = reports(
        receiver, ask(hooked, "/business/user-data", taxId=VALID_CNPJ, products=["pj_categorized_checking_l2"]), 1
    )
    report = got["pj_categorized_checking_l2"]
    assert read_checking(report) and report["enquiryCpf"] == VALID_CPF and report["enquiryCnpj"] == VALID_CNPJ


def _key_paths(node, prefix="") -> set[str]:
    paths = set()
    if isinstance(node, dict):
        for key, value in node.items():
            paths |= {f"{prefix}.{key}"} | _key_paths(value, f"{prefix}.{key}")
    elif isinstance(node, list):
        for value in node:
            paths |= _key_paths(value, f"{prefix}[]")
    return paths


@pytest.mark.parametrize("suffix", sorted({p.suffix for p in PRODUCTS.values() if f"pj_{p.suffix}" in PRODUCTS}))
def test_pj_reports_have_every_key_the_pf_report_always_has(suffix):
    every = ["REGISTRATION_ALL", "ACCOUNTS_ALL", "CREDIT_CARDS_ALL", "CREDIT_OPERATIONS_ALL", "INVESTMENTS_ALL"]
    links = [ReportLink("link-1", "341", "Itaú", [ReportConsent("c-1", every)])]
    now = datetime(2026, 6, 15, 12, tzinfo=timezone.utc)

    def paths(name, tax_id):
        return {
            p.replace(name, "<product>")
            for p in _key_paths(
                build_report(name, request_id="r", tax_id=tax_id, now=now, links=links, external_info=None)
            )
        }

    pf_always = set.intersection(*(paths(f"pf_{suffix}", make_cpf(f"{123456780 + i:09d}")) for i in range(5)))
    pj_any = set.union(*(paths(f"pj_{suffix}", make_cnpj(f"{12345670 + i:08d}0001")) for i in range(5)))
    assert pf_always - pj_any == set()


def test_savings_l3_transactions_carry_the_brand(hooked, receiver):
    authorise(hooked)
    got = reports(
        receiver, ask(hooked, "/personal/user-data", taxId=VALID_CPF, products=["pf_categorized_savings_l3"]), 1
    )
    transactions = got["pf_categorized_savings_l3"]["savingsAccounts"][0]["transactionDetails"]
    assert transactions and all(isinstance(t["brand"], str) for t in transactions)


def test_product_versions_are_the_published_pages_ones(hooked, receiver):
    authorise(hooked)
    got = reports(
        receiver,
        ask(
            hooked,
            "/personal/user-data",
            taxId=VALID_CPF,
            products=["pf_categorized_checking_l3", "pf_categorized_creditcard_l3"],
        ),
        2,
    )
    # Issue 23: the pages pair "Plain CPF" with V1 (and "CPF encoded" with V1.1), cards too.
    assert got["pf_categorized_checking_l3"]["productVersion"] == "V1"
    assert got["pf_categorized_creditcard_l3"]["productVersion"] == "V1"


# -- 2. requests real clients send ---------------------------------------------------------


def test_a_company_consent_with_the_representatives_cpf_is_found_by_both_filters(klavi, client):
    created = klavi.create_consent(personalTaxId=VALID_CPF, businessTaxId=VALID_CNPJ)
    token = bearer(klavi.access_token())
    both = client.get(
        f"{API}/consents", params={"personalTaxId": VALID_CPF, "businessTaxId": VALID_CNPJ}, headers=token
    )
    assert [c["consentId"] for c in both.json()] == [created["consentId"]]
    assert both.json()[0]["personalTaxId"] == VALID_CPF and both.json()[0]["businessTaxId"] == VALID_CNPJ
    other_company = client.get(
        f"{API}/consents", params={"personalTaxId": VALID_CPF, "businessTaxId": "12ABC34501DE35"}, headers=token
    )
    assert other_company.json() == []


def test_a_company_consent_serves_the_company_not_the_representative(hooked, receiver):
    authorise(hooked, personalTaxId=VALID_CPF, businessTaxId=VALID_CNPJ)
    person = ask(hooked, "/personal/user-data", taxId=VALID_CPF, products=["all"])
    assert person.status_code == 416 and person.json()["statusCode"] == 4001  # the data is the company's
    got = reports(
        receiver,
        ask(
            hooked,
            "/business/institution-data",
            taxId=VALID_CNPJ,
            institutionCode="341",
            products=["pj_checking_account"],
        ),
        1,
    )
    assert got["pj_checking_account"]["enquiryCnpj"] == VALID_CNPJ


@pytest.mark.parametrize(
    "path, tax_field, tax_id, products",
    [
        (
            "/business/institution-data",
            "businessTaxId",
            VALID_CNPJ,
            ["pj_categorized_checking_l3", "pj_categorized_creditcard_l3"],
        ),
        ("/personal/institution-data", "personalTaxId", VALID_CPF, ["pf_categorized_checking_l2"]),
        ("/personal/user-data", "personalTaxId", VALID_CPF, ["pf_loans", "pf_checking_account"]),
    ],
)
def test_every_product_is_accepted_at_both_levels(hooked, receiver, path, tax_field, tax_id, products):
    authorise(hooked, **{"personalTaxId": None, tax_field: tax_id})
    body = {"institutionCode": "341"} if "institution" in path else {}
    got = reports(receiver, ask(hooked, path, taxId=tax_id, products=products, **body), len(products))
    assert set(got) == set(products) and all(r["code"] == 200 for r in got.values())


def test_delete_without_revoke_revokes_and_is_one_tolerated_deviation(klavi, client):
    token = bearer(klavi.access_token())
    first, second = authorise(klavi), authorise(klavi)
    for consent_id in (first, second):
        response = client.delete(f"{API}/consents/{consent_id}", headers=token)
        assert response.status_code == 200 and response.json() == {"message": "ok"}
        assert klavi.consent(consent_id)["status"] == "REVOKED"
    assert client.delete(f"{API}/consents/{first}", headers=token).json()["statusCode"] == 4001  # as /revoke
    notes = tolerated(client, "revokeConsent")
    assert notes == {"DELETE /consents/{consentId}: not in the spec; served as DELETE /consents/{consentId}/revoke": 3}
    for method in ("POST", "PUT", "PATCH"):  # other methods still get 405, naming the documented ones
        refused = client.request(method, f"{API}/consents/{first}", headers=token)
        assert refused.status_code == 405 and refused.headers["allow"] == "GET"


@pytest.mark.parametrize(
    "person, level",
    [("personal", "institution"), ("personal", "user"), ("business", "institution"), ("business", "user")],
)
def test_report_paths_without_v1_are_served_and_tolerated(hooked, client, receiver, person, level):
    tax_field, tax_id = ("personalTaxId", VALID_CPF) if person == "personal" else ("businessTaxId", VALID_CNPJ)
    authorise(hooked, **{"personalTaxId": None, tax_field: tax_id})
    product = f"{'pf' if person == 'personal' else 'pj'}_balance"
    response = client.post(
        f"/data/{person}/{level}-data",
        headers=bearer(hooked.access_token()),
        json={"taxId": tax_id, "institutionCode": "341", "products": [product]},
    )
    assert reports(receiver, response, 1)[product]["code"] == 200
    operation = f"request{person.capitalize()}{level.capitalize()}Report"
    assert tolerated(client, operation) == {
        f"POST /data/{person}/{level}-data: not in the spec (the seed guide's curl has no /v1); "
        f"served as POST /data/v1/{person}/{level}-data": 1
    }


def test_klavis_own_example_cpf_is_accepted_and_flagged(klavi, client):
    created = klavi.create_consent(personalTaxId=KLAVI_EXAMPLE_CPF)
    listed = client.get(
        f"{API}/consents", params={"personalTaxId": KLAVI_EXAMPLE_CPF}, headers=bearer(klavi.access_token())
    )
    assert [c["consentId"] for c in listed.json()] == [created["consentId"]]
    assert tolerated(client, "createConsent") == {f"body.personalTaxId: {CHECK_DIGITS}": 1}
    assert tolerated(client, "listConsents") == {f"query.personalTaxId: {CHECK_DIGITS}": 1}
    [tenant] = client.get("/__mock/conformance", params={"appId": "sandbox-app"}).json()["tenants"]
    assert tenant["violationCount"] == 0  # tolerated, not refused


def test_a_malformed_tax_id_is_still_refused(klavi):
    response = klavi.consent_request(klavi.create_link()["linkToken"], personalTaxId="1610927767")
    assert response.status_code == 400 and response.json()["message"].startswith("body.personalTaxId:")


@pytest.fixture
def strict_tax_ids():
    settings = Settings(strict=True, strict_tax_ids=True, token_secret="test-token-secret-32-characters!")
    with in_process(settings, follow_redirects=False) as http:
        yield Klavi(http)


def test_strict_tax_ids_refuse_wrong_check_digits_naming_the_field(strict_tax_ids):
    link_token = strict_tax_ids.create_link()["linkToken"]
    response = strict_tax_ids.consent_request(link_token, personalTaxId=KLAVI_EXAMPLE_CPF)
    assert response.status_code == 400
    assert (
        response.json()["message"]
        == f"body.personalTaxId: {CHECK_DIGITS} (klavi-mock is set to refuse them: strictTaxIds)"
    )
    response = strict_tax_ids.http.post(
        f"{API}/personal/user-data",
        headers=bearer(strict_tax_ids.access_token()),
        json={"taxId": "00000000000", "products": ["all"]},
    )
    assert response.status_code == 400 and response.json()["message"].startswith("body.taxId: check digits invalid")
    assert strict_tax_ids.consent_request(link_token, personalTaxId=VALID_CPF).status_code == 200


def test_strict_tax_ids_from_the_config_file_and_the_environment(tmp_path):
    assert parse_config({"strictTaxIds": True}, "test")["strict_tax_ids"] is True
    assert settings_from_environment({"KLAVI_MOCK_STRICT_TAX_IDS": "true"}).strict_tax_ids is True
    assert settings_from_environment({}).strict_tax_ids is False
    config = tmp_path / "mock.yaml"
    config.write_text("strictTaxIds: true\n")
    assert settings_from_environment({"KLAVI_MOCK_CONFIG": str(config)}).strict_tax_ids is True


def test_strict_tax_ids_flag_of_serve():
    with serve_process("--strict-tax-ids") as (base, _):
        token = httpx.post(f"{base}{API}/auth", json=SANDBOX_KEYS).json()["accessToken"]
        response = httpx.post(f"{base}{API}/links", json={"personalTaxId": KLAVI_EXAMPLE_CPF}, headers=bearer(token))
        assert response.status_code == 400 and CHECK_DIGITS in response.json()["message"]


# -- 3. what clients read on consents ----------------------------------------------------


def test_consent_items_carry_what_clients_read(klavi, client):
    created = klavi.create_consent(institutionCode="341")
    token = bearer(klavi.access_token())
    [pending] = client.get(
        f"{API}/consents", params={"linkId": klavi.consent(created["consentId"])["linkId"]}, headers=token
    ).json()
    assert pending["institutionName"] == "Itaú"
    assert pending["consentRedirectUrl"] == pending["consentRedirectURL"] == created["consentRedirectURL"]
    assert pending["createdAt"] == pending["updatedAt"] and pending["products"] == []
    logo = client.get(pending["institutionLogo"])
    assert logo.status_code == 200 and logo.headers["content-type"].startswith("image/svg+xml")

    klavi.follow(created["consentRedirectURL"] + "&decision=approve")
    authorised = klavi.consent(created["consentId"])
    assert "consentRedirectUrl" not in authorised and "consentRedirectURL" not in authorised  # used: no longer usable
    assert authorised["updatedAt"] > authorised["createdAt"] or authorised["status"] == "AUTHORISED"
    assert {"ACCOUNTS_ALL", "CREDIT_CARDS_ALL", "CREDIT_OPERATIONS_LOANS", "INVESTMENTS_FUNDS"} <= set(
        authorised["products"]
    )


def test_the_redirect_url_is_listed_only_within_its_60_seconds(klavi):
    created = klavi.create_consent()
    klavi.advance(61)
    assert "consentRedirectUrl" not in klavi.consent(created["consentId"])


def test_products_follow_what_was_granted(klavi):
    created = klavi.create_consent(personalTaxId="00000000787")  # partial-permissions: registration and accounts
    klavi.follow(created["consentRedirectURL"] + "&decision=approve")
    assert klavi.consent(created["consentId"])["products"] == ["REGISTRATION_ALL", "ACCOUNTS_ALL"]


# -- 4. documented errors are reachable ------------------------------------------------------


def test_report_requests_of_the_rate_limited_persona_honour_retry_after(hooked, receiver):
    klavi = hooked
    token = bearer(klavi.access_token())
    first = klavi.http.post(
        f"{API}/consents",
        headers=bearer(klavi.create_link()["linkToken"]),
        json={
            "externalTrackId": "rl-1",
            "personalTaxId": "00000001325",
            "institutionCode": "341",
            "redirectURL": "https://partner.example.com/return",
        },
    )
    assert first.status_code == 429 and int(first.headers["Retry-After"]) == 2
    klavi.advance(int(first.headers["Retry-After"]))
    consent_id = authorise(klavi, personalTaxId="00000001325")
    body = {"taxId": "00000001325", "institutionCode": "341", "products": ["pf_balance"]}
    refused = klavi.http.post(f"{API}/personal/institution-data", json=body, headers=token)
    assert refused.status_code == 429 and refused.json()["statusCode"] == 429 and refused.headers["Retry-After"] == "2"
    klavi.advance(2)
    got = reports(receiver, klavi.http.post(f"{API}/personal/institution-data", json=body, headers=token), 1)
    assert got["pf_balance"]["links"][0]["consents"][0]["consentId"] == consent_id


# -- 5. mock choices are marked, and the docs list them ------------------------------------


def _spec_nodes():
    import yaml

    from klavi_mock.resources import openapi_dir

    document = yaml.safe_load((openapi_dir() / "klavi.yaml").read_text())
    stack = [((), document)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, dict):
            yield path, node
            stack.extend(((*path, str(k)), v) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend(((*path, str(i)), v) for i, v in enumerate(node))


def test_every_mock_choice_in_the_spec_is_marked():
    unmarked = [
        "/".join(path)
        for path, node in _spec_nodes()
        if path != ("info",)
        and "mock choice" in str(node.get("description", "")).lower()
        and node.get("x-mock-choice") is not True
    ]
    assert unmarked == []


def test_the_choices_the_issue_names_are_marked():
    marked = {"/".join(path) for path, node in _spec_nodes() if node.get("x-mock-choice") is True}
    for pointer in (
        "components/schemas/ProductRequestReceivedPayload",
        "components/schemas/ProductGeneratedSuccessPayload",
        "components/schemas/ProductGeneratedFailedPayload",
        "components/schemas/ConsentEventPayload/properties/reason",
        "components/schemas/LinkActionStatusPayload/properties/actionStatus",
        "paths//personal/institution-data/post",
        "paths//business/institution-data/post",
        "components/schemas/PfLoansReport",
        "components/schemas/PjFundsReport",
        "components/schemas/CreditContract",
    ):
        assert pointer in marked, pointer


def test_the_docs_list_every_marked_operation_and_schema():
    from pathlib import Path

    from klavi_mock.spec.operations import load_spec

    explanation = Path(__file__).resolve().parents[2] / "docs" / "explanation"
    listed = (explanation / "mock-choices.md").read_text() + (explanation / "fidelity-round-3.md").read_text()
    operations = {(op.path, op.method.lower()): op.operation_id for op in load_spec("klavi.yaml").operations.values()}
    missing = []
    for path, node in _spec_nodes():
        if node.get("x-mock-choice") is not True:
            continue
        if path[0] == "paths":
            name = operations[(path[1], path[2])]
        else:
            name = path[2]
            twin = "Pf" + name[2:] if name.startswith("Pj") and name.endswith("Report") else None
            if twin and (twin in listed or "Pj…Report" in listed):
                continue
        if f"`{name}`" not in listed and name not in listed:
            missing.append(name)
    assert sorted(set(missing)) == []
