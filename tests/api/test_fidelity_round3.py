"""Issue 23 (fidelity, round three): each item driven over HTTP the way a production client
does it, reading the bodies by the JSON paths such clients read."""

from __future__ import annotations

from decimal import Decimal

import pytest

from klavi_mock.testing import delivery_log, wait_for
from tests.api.test_fidelity import _spec_nodes, reports
from tests.conftest import API, VALID_CPF, ask, authorise, bearer

# -- 2. pf_credit_risk ------------------------------------------------------------------------


def test_pf_credit_risk_is_a_product_with_label_details(hooked, receiver):
    authorise(hooked)
    authorise(hooked, institutionCode="260")
    got = reports(
        receiver,
        ask(hooked, "/personal/user-data", taxId=VALID_CPF, products=["pf_credit_risk", "pf_checking_account"]),
        2,
    )
    risk = got["pf_credit_risk"]
    assert risk["productVersion"] in ("V1", "V1.1")
    block = risk["creditRisk"]
    assert {a["compeCode"] for a in block["personalInfo"]["accounts"]} == {"341", "260"}
    assert block["personalInfo"]["civilName"] == got["pf_checking_account"]["checkingAccounts"][0]["civilName"]
    labels = {label["labelCode"]: label for label in block["labelDetails"]}
    assert labels["F000007"]["labelName"] == "Longest checking account age" and labels["F000007"]["labelValue"] > 0
    balance = sum(
        Decimal(a["balances"]["availableAmount"]["amount"]) for a in got["pf_checking_account"]["checkingAccounts"]
    )
    assert Decimal(str(labels["F000009"]["labelValue"])) == balance.quantize(Decimal("0.01"))
    for code in ("F000010", "F000011", "F000012", "F000013", "F000014", "F000015"):
        assert labels[code]["labelName"].startswith("Checking account daily average balance last ")
        assert isinstance(labels[code]["labelValue"], float) and labels[code]["labelValue"] >= 0
    # links[] name the checking accounts the labels were computed from
    ids = {a["accountId"] for a in got["pf_checking_account"]["checkingAccounts"]}
    listed = {
        i for link in risk["links"] for c in link["consents"] for i in c["permissions"]["ACCOUNTS_ALL"]["accountIds"]
    }
    assert listed == ids


def test_pf_credit_risk_is_deterministic(hooked, receiver):
    authorise(hooked)
    first = reports(receiver, ask(hooked, "/personal/user-data", taxId=VALID_CPF, products=["pf_credit_risk"]), 1)
    again = reports(receiver, ask(hooked, "/personal/user-data", taxId=VALID_CPF, products=["pf_credit_risk"]), 1)
    assert first["pf_credit_risk"]["creditRisk"] == again["pf_credit_risk"]["creditRisk"]


@pytest.mark.parametrize("path", ["/business/user-data", "/business/institution-data"])
def test_there_is_no_pj_credit_risk(hooked, path):
    response = ask(hooked, path, taxId="11222333000181", institutionCode="341", products=["pf_credit_risk"])
    assert response.status_code == 416 and response.json()["statusCode"] == 4002, response.text
    assert "pf_credit_risk is a personal (pf_) product" in response.json()["message"]


# -- 8. phone numbers: E.164 with +55, or 400 "Invalid phone" ---------------------------------


@pytest.mark.parametrize(
    "phone", ["11999999999", "(11) 99999-9999", "+15551234567", "+55 11 99999-9999", "5511999999999"]
)
def test_a_phone_that_is_not_e164_with_55_is_invalid_phone(klavi, client, phone):
    link = client.post(f"{API}/links", json={"phone": phone}, headers=bearer(klavi.access_token()))
    assert link.status_code == 400, link.text
    assert set(link.json()) == {"statusCode", "error", "message"} and link.json()["statusCode"] == 400
    assert link.json()["message"].startswith("body.phone: Invalid phone: ")
    consent = klavi.consent_request(klavi.create_link()["linkToken"], phone=phone)
    assert consent.status_code == 400 and consent.json()["message"].startswith("body.phone: Invalid phone: ")
    opened = client.get(
        f"{API}/basic-links/sandbox-app", params={"phone": phone}, headers={"Accept": "application/json"}
    )
    assert opened.status_code == 400 and opened.json()["message"].startswith("query.phone: Invalid phone: ")


def test_a_national_number_gets_a_hint(klavi, client):
    link = client.post(f"{API}/links", json={"phone": "11999999999"}, headers=bearer(klavi.access_token()))
    assert "did you mean +5511999999999?" in link.json()["message"]


@pytest.mark.parametrize("phone", ["+5511999999999", "+551133334444"])
def test_e164_with_55_is_accepted(klavi, client, phone):
    klavi.create_link(phone=phone)
    klavi.create_consent(phone=phone)
    opened = client.get(f"{API}/basic-links/sandbox-app", params={"phone": phone, "personal_tax_id": VALID_CPF})
    assert opened.status_code == 302


# -- 9. a bad URL inside productsCallbackURL: 416/4006 naming the product and the URL ---------


@pytest.mark.parametrize(
    "callbacks, product, url",
    [
        ({"pf_checking_account": "not a url"}, "pf_checking_account", "not a url"),
        ({"pf_credit_card": "https://ok.example.com", "other": "ftp://x.example.com"}, "other", "ftp://x.example.com"),
        ({"all": "/reports"}, "all", "/reports"),
        ("partner/reports", "all", "partner/reports"),
    ],
)
def test_a_bad_callback_url_is_4006_naming_the_product_and_the_url(hooked, receiver, callbacks, product, url):
    authorise(hooked)
    for response in (
        ask(hooked, "/personal/user-data", taxId=VALID_CPF, products=["all"], productsCallbackURL=callbacks),
        ask(hooked, "/personal/user-data", taxId=VALID_CPF, products=["all"], productsCallbackUrl=callbacks),
        hooked.http.post(
            f"{API}/links", json={"productsCallbackURL": callbacks}, headers=bearer(hooked.access_token())
        ),
    ):
        assert response.status_code == 416, response.text
        body = response.json()
        assert body["statusCode"] == 4006 and body["error"] == "Invalid productsCallbackURL"
        assert f"'{product}'" in body["message"] and f'"{url}"' in body["message"]
        assert body["message"].startswith("body.productsCallbackURL")
    assert not [e for e in receiver.events() if e["eventName"].startswith("product_")]  # nothing sent


# -- 11. card limits: pf_credit_card/pj_credit_card send `limit` and `limits` ------------------


@pytest.mark.parametrize(
    "person, tax_field, tax_id", [("pf", "personalTaxId", VALID_CPF), ("pj", "businessTaxId", "11222333000181")]
)
def test_raw_card_products_send_limits_too(hooked, receiver, person, tax_field, tax_id):
    authorise(hooked, **{"personalTaxId": None, tax_field: tax_id})
    path = "/personal/institution-data" if person == "pf" else "/business/institution-data"
    got = reports(
        receiver, ask(hooked, path, taxId=tax_id, institutionCode="341", products=[f"{person}_credit_card"]), 1
    )
    for card in got[f"{person}_credit_card"]["creditCards"]:
        available = float(card["limits"]["availableAmount"]["amount"])  # as the production clients read it
        assert card["limits"] == card["limit"]
        limit, used = float(card["limits"]["limitAmount"]["amount"]), float(card["limits"]["usedAmount"]["amount"])
        assert available == pytest.approx(limit - used) and limit > 0


# -- 10. order across a link: link_created before any event of its consents ----------------------


def test_link_created_reaches_the_receiver_before_its_consents_events(hooked, client, receiver):
    receiver.scripts["/events"] = [503, 503]  # link_created fails twice: its retries hold the link's line
    link = hooked.create_link()
    authorise(hooked, link["linkToken"])
    authorise(hooked, link["linkToken"], institutionCode="260")
    wait_for(lambda: len(receiver.events(answered=200)) >= 3, 20, "link_created and two consent_authorised")
    accepted = receiver.events(answered=200)
    assert accepted[0]["eventName"] == "link_created" and accepted[0]["payload"]["linkId"] == link["linkId"]
    assert [e["eventName"] for e in receiver.events()][:3] == ["link_created"] * 3  # nothing overtook its retries
    # the log still finds a consent's deliveries by consent:<id>, and the link's own by link:<id>
    consent_id = next(e["payload"]["consents"]["consentId"] for e in accepted if e["eventName"] == "consent_authorised")
    by_consent = delivery_log(client, orderingKey=f"consent:{consent_id}")
    assert by_consent and all(d["orderingKey"] == f"consent:{consent_id}" for d in by_consent)  # shown as before
    by_link = delivery_log(client, orderingKey=f"link:{link['linkId']}")
    assert [d["name"] for d in by_link] == ["link_created"]  # the link's own, as before


# -- 3. productVersion pairs with the CPF encoding: "Plain CPF" V1, "CPF encoded" V1.1 ----------

PAIRED = ["pf_categorized_checking_l3", "pf_categorized_creditcard_l3", "pf_credit_card", "pf_credit_risk"]


@pytest.mark.parametrize("encoded, version", [(False, "V1"), (True, "V1.1")])
def test_product_version_pairs_with_the_cpf_encoding(hooked, client, receiver, encoded, version):
    response = client.put("/__mock/tenants/sandbox-app/reports", json={"encryptSensitiveFields": encoded})
    assert response.status_code == 200, response.text
    authorise(hooked)
    got = reports(receiver, ask(hooked, "/personal/user-data", taxId=VALID_CPF, products=PAIRED), len(PAIRED))
    for name, report in got.items():
        assert report["productVersion"] == version, name
        assert (report["enquiryCpf"] == VALID_CPF) is not encoded, name  # plain CPF, or encoded


# -- 12. the choices the docs leave open are marked (and behave as marked) ----------------------


def test_the_409_on_a_reused_external_track_id_is_a_marked_choice(klavi):
    link = klavi.create_link()["linkToken"]
    assert klavi.consent_request(link, externalTrackId="order-1").status_code == 200
    again = klavi.consent_request(link, externalTrackId="order-1")
    assert again.status_code == 409 and again.json()["statusCode"] == 409
    marked = {"/".join(path) for path, node in _spec_nodes() if node.get("x-mock-choice") is True}
    assert "paths//consents/post/responses/409" in marked


def test_the_year_2300_expiry_for_validity_period_0_is_a_marked_choice(klavi):
    assert klavi.create_consent(validityPeriod=0)["expireAt"] == "2300-01-01T00:00:00.000Z"
    marked = {"/".join(path) for path, node in _spec_nodes() if node.get("x-mock-choice") is True}
    assert "components/schemas/CreatedConsent/properties/expireAt" in marked
    assert "components/schemas/CreateConsentRequest/properties/validityPeriod" in marked
    for pointer in ("RedirectUrl", "Phone", "PfCreditRiskReport", "CreditCard/allOf/1/properties/limits"):
        assert f"components/schemas/{pointer}" in marked, pointer


# -- 12. smaller items ------------------------------------------------------------------------

KYC_CPF = "00000001678"  # persona kyc-needed


@pytest.mark.parametrize(
    ("path", "tax_id", "product", "kind"),
    [
        ("/business/institution-data", "11222333000181", "pf_checking_account", "personal (pf_)"),
        ("/business/user-data", "11222333000181", "pf_categorized_checking_l3", "personal (pf_)"),
        ("/personal/institution-data", VALID_CPF, "pj_checking_account", "business (pj_)"),
        ("/personal/user-data", VALID_CPF, "pj_categorized_creditcard_l3", "business (pj_)"),
    ],
)
def test_a_product_of_the_other_kind_is_4002(hooked, path, tax_id, product, kind):
    response = ask(hooked, path, taxId=tax_id, institutionCode="341", products=[product])
    assert response.status_code == 416 and response.json()["statusCode"] == 4002, response.text
    assert response.json()["message"].startswith(f"body.products: {product} is a {kind} product")


def test_4008_no_open_finance_consent_for_an_eco_product(hooked):
    response = ask(hooked, "/personal/user-data", taxId=VALID_CPF, products=["pf_credit_risk"])
    assert response.status_code == 416 and response.json()["statusCode"] == 4008, response.text
    assert response.json()["error"] == "Insufficient authorization info"
    assert "no Open Finance consent available" in response.json()["message"]
    plain = ask(hooked, "/personal/user-data", taxId=VALID_CPF, products=["pf_checking_account"])
    assert plain.status_code == 416 and plain.json()["statusCode"] == 4001  # not an eco product: as before
    authorise(hooked)
    served = ask(hooked, "/personal/user-data", taxId=VALID_CPF, products=["pf_credit_risk"])
    assert served.status_code == 200, served.text


def test_4009_kyc_needed_for_the_persona_and_an_eco_product(hooked, receiver):
    authorise(hooked, personalTaxId=KYC_CPF)
    refused = ask(hooked, "/personal/user-data", taxId=KYC_CPF, products=["pf_credit_risk", "pf_checking_account"])
    assert refused.status_code == 416 and refused.json()["statusCode"] == 4009, refused.text
    assert "KYC" in refused.json()["message"] and "pf_credit_risk" in refused.json()["message"]
    served = ask(hooked, "/personal/user-data", taxId=KYC_CPF, products=["pf_checking_account"])
    assert served.status_code == 200, served.text
    wait_for(lambda: receiver.at("/reports"), 10, "the checking account report")


def test_revoking_a_consent_still_at_the_institution_rejects_it(hooked, client, receiver):
    created = hooked.create_consent()
    revoked = client.delete(f"{API}/consents/{created['consentId']}/revoke", headers=bearer(hooked.access_token()))
    assert revoked.status_code == 200 and revoked.json() == {"message": "ok"}
    consent = hooked.consent(created["consentId"])
    assert consent["status"] == "REJECTED"
    event = wait_for(lambda: [e for e in receiver.events() if e["eventName"] == "consent_rejected"], 10, "rejected")[0]
    assert event["payload"]["reason"]["code"] == "REVOKED_BEFORE_AUTHORISATION"
    assert not [e for e in receiver.events() if e["eventName"] == "consent_revoked"]
    # its consentRedirectURL no longer opens the bank
    page, left = hooked.follow(created["consentRedirectURL"])
    assert left is None and page.status_code >= 400 and "Autorizar" not in page.text


def _open_data(klavi, code: str = "003"):
    link = klavi.create_link()
    created = klavi.consent_request(link["linkToken"], institutionCode=code).json()
    return link, created


def _task(klavi, link, task_id):
    return klavi.http.get(f"{API}/tasks/{task_id}/status", headers=bearer(link["linkToken"])).json()


def _login(klavi, link, task_id, password):
    mfa = _task(klavi, link, task_id)["mfaInfo"]["mfaId"]
    return klavi.http.post(
        f"{API}/tasks/{task_id}/mfa",
        headers=bearer(link["linkToken"]),
        json={"mfaId": mfa, "username": "maria", "password": password},
    )


def test_a_slow_bank_task_is_pending_until_the_clock_passes(hooked, client, receiver):
    link, created = _open_data(hooked)
    assert _login(hooked, link, created["taskId"], "slow-bank").status_code == 200
    assert _task(hooked, link, created["taskId"]) == {"code": 200, "message": "ok", "status": "pending"}
    assert hooked.consent(created["consentId"])["status"] == "AWAITING_AUTHORISATION"
    moved = client.post("/__mock/clock/advance", json={"seconds": 29}).json()
    assert _task(hooked, link, created["taskId"])["status"] == "pending" and not [
        f for f in moved["fellDue"] if f["kind"] == "crawl"
    ]
    moved = client.post("/__mock/clock/advance", json={"seconds": 1}).json()
    assert [f["consentId"] for f in moved["fellDue"] if f["kind"] == "crawl"] == [created["consentId"]]
    assert _task(hooked, link, created["taskId"]) == {"code": 200, "message": "ok", "status": "success"}
    assert hooked.consent(created["consentId"])["status"] == "AUTHORISED"
    wait_for(lambda: [e for e in receiver.events() if e["eventName"] == "consent_authorised"], 10, "authorised")


@pytest.mark.parametrize(
    ("password", "code", "message", "report_code"),
    [
        ("extra-authorization", 201, "Extra authorization required", 200),
        ("partial-transactions", 202, "Partial transaction missing", 204),  # partial data
        ("cpf-missing", 203, "CPF missing", 200),
    ],
)
def test_open_data_codes_201_to_203_are_success_not_failure(hooked, receiver, password, code, message, report_code):
    link, created = _open_data(hooked)
    assert _login(hooked, link, created["taskId"], password).status_code == 200
    assert _task(hooked, link, created["taskId"]) == {"code": code, "message": message, "status": "success"}
    assert hooked.consent(created["consentId"])["status"] == "AUTHORISED"
    served = ask(
        hooked, "/personal/institution-data", taxId=VALID_CPF, institutionCode="003", products=["pf_checking_account"]
    )
    assert served.status_code == 200, served.text
    [report] = [r.json() for r in wait_for(lambda: receiver.at("/reports"), 20, "the report")]
    assert report["code"] == report_code and report["checkingAccounts"], report["code"]
    if report_code == 204:
        assert "202" in report["message"]


# -- 4. encrypted fields in the shape of the docs' example ------------------------------------

DOCS_EXAMPLE = "cly0AXWVPlVJMk-3P1qFQ5i3UgY-t0mIkn3xNPAWxW4DusQWC6wKP6WKTKunzSqy2oVpKd2p7_liKxGXpV7wQ3a62M4g"
URL_SAFE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@pytest.mark.parametrize(
    ("path", "tax", "fields"),
    [
        ("/personal/institution-data", {"personalTaxId": VALID_CPF}, ["enquiryCpf"]),
        ("/business/institution-data", {"businessTaxId": "11222333000181"}, ["enquiryCnpj"]),
        (
            "/business/institution-data",
            {"businessTaxId": "11222333000181", "personalTaxId": VALID_CPF},
            ["enquiryCnpj", "enquiryCpf"],
        ),
    ],
)
def test_encrypted_fields_have_the_docs_examples_shape_and_decrypt(hooked, client, receiver, path, tax, fields):
    from klavi_mock.domain.encryption import decrypt_field

    assert client.put("/__mock/tenants/sandbox-app/reports", json={"encryptSensitiveFields": True}).status_code == 200
    authorise(hooked, **tax)
    tax_id = tax.get("businessTaxId") or tax["personalTaxId"]
    product = "pj_checking_account" if "business" in path else "pf_checking_account"
    asked = ask(hooked, path, taxId=tax_id, institutionCode="341", products=[product])
    assert asked.status_code == 200, asked.text
    [report] = [r.json() for r in wait_for(lambda: receiver.at("/reports"), 20, "the report")]
    for field in fields:
        token = report[field]
        assert len(token) == len(DOCS_EXAMPLE) == 92 and set(token) <= URL_SAFE and token[0] == DOCS_EXAMPLE[0]
        plain = decrypt_field(token, "sandbox-secret-key")
        assert plain == (tax_id if field == "enquiryCnpj" else VALID_CPF)
        with pytest.raises(ValueError):
            decrypt_field(token, "another-secret")
        with pytest.raises(ValueError):
            decrypt_field(token[:-2] + ("AA" if token[-2:] != "AA" else "BA"), "sandbox-secret-key")
    assert report["productVersion"] == "V1.1"
    # the same request again gives the same bytes (deterministic reports)
    assert client.get(f"/__mock/reports/{report['productReportId']}").json() == report


def test_the_docs_example_has_the_layout_the_mock_follows():
    import base64

    raw = base64.urlsafe_b64decode(DOCS_EXAMPLE + "=" * (-len(DOCS_EXAMPLE) % 4))
    assert len(raw) == 69 == 1 + 4 + 16 + 16 + 32
    assert raw[0] == 0x72  # the version byte the mock writes
