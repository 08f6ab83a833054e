"""The fake bank and LGPD pages, walked as a browser would (forms, redirects) and as curl
would (decision in the query), plus the clock-driven end of a consent's life."""

import json
import re

from tests.conftest import PARTNER_RETURN, VALID_CNPJ, query_of


def form_action(html: str) -> str:
    return re.search(r'<form[^>]*method="post"[^>]*action="([^"]+)"', html).group(1)


def open_bank(klavi, **consent):
    created = klavi.create_consent(**consent)
    page = klavi.http.get(created["consentRedirectURL"])
    return created, page


def test_the_bank_page_shows_institution_masked_tax_id_and_permissions(klavi):
    created, page = open_bank(klavi)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "Itaú" in html and "***.982.247-**" in html
    assert html.count('name="permissions"') == 5
    assert 'value="approve"' in html and 'value="deny"' in html
    assert "http://testserver/assets/bank.css" in html and "http://testserver/assets/logos/341.svg" in html
    assert not re.search(r'(src|href)="https?://(?!testserver)', html)  # nothing from elsewhere


def test_approve_then_accept_lands_on_the_partner_with_klavis_parameters(klavi):
    link = klavi.create_link(externalInfo={"myTraceId": "trace-9", "nome": "João"})
    created = klavi.create_consent(link["linkToken"], externalTrackId="order-1")
    bank = klavi.http.get(created["consentRedirectURL"])
    assert klavi.consent(created["consentId"])["status"] == "AWAITING_AUTHORISATION"
    lgpd, left = klavi.follow(
        form_action(bank.text),
        "POST",
        {
            "decision": "approve",
            "permissions": [
                "REGISTRATION_ALL",
                "ACCOUNTS_ALL",
                "CREDIT_CARDS_ALL",
                "CREDIT_OPERATIONS_ALL",
                "INVESTMENTS_ALL",
            ],
        },
    )
    assert left is None and lgpd.status_code == 200 and "LGPD" in lgpd.text
    assert klavi.consent(created["consentId"])["status"] == "AWAITING_LGPD_AUTHORISATION"
    final, left = klavi.follow(form_action(lgpd.text), "POST", {"decision": "accept"})
    assert final.status_code == 302
    assert left.startswith(PARTNER_RETURN + "?")
    query = query_of(left)
    assert query == {
        "link_id": link["linkId"],
        "consent_id": created["consentId"],
        "external_track_id": "order-1",
        "external_info": json.dumps(
            {"myTraceId": "trace-9", "nome": "João"}, separators=(",", ":"), ensure_ascii=False
        ),
    }
    consent = klavi.consent(created["consentId"])
    assert consent["status"] == "AUTHORISED"
    assert consent["permissionsGranted"] == consent["permissionsApply"]


def test_the_user_can_grant_only_some_permissions(klavi):
    created, bank = open_bank(klavi)
    lgpd, _ = klavi.follow(
        form_action(bank.text), "POST", {"decision": "approve", "permissions": ["ACCOUNTS_ALL", "CREDIT_CARDS_ALL"]}
    )
    assert "Dados de contas" in lgpd.text
    klavi.follow(form_action(lgpd.text), "POST", {"decision": "accept"})
    assert klavi.consent(created["consentId"])["permissionsGranted"] == ["ACCOUNTS_ALL", "CREDIT_CARDS_ALL"]


def test_approving_with_no_permission_is_a_refusal(klavi):
    created, bank = open_bank(klavi)
    _, left = klavi.follow(form_action(bank.text), "POST", {"decision": "approve"})
    assert query_of(left)["error"] == "access_denied"
    assert klavi.consent(created["consentId"])["status"] == "REJECTED"


def test_deny_at_the_bank_returns_with_an_error(klavi):
    created, bank = open_bank(klavi)
    _, left = klavi.follow(form_action(bank.text), "POST", {"decision": "deny"})
    query = query_of(left)
    assert query["error"] == "access_denied" and query["error_description"]
    assert query["consent_id"] == created["consentId"]
    assert klavi.consent(created["consentId"])["status"] == "REJECTED"


def test_declining_lgpd_returns_with_an_error(klavi):
    created, bank = open_bank(klavi)
    lgpd, _ = klavi.follow(form_action(bank.text), "POST", {"decision": "approve", "permissions": ["ACCOUNTS_ALL"]})
    _, left = klavi.follow(form_action(lgpd.text), "POST", {"decision": "decline"})
    assert query_of(left)["error"] == "lgpd_declined"
    assert klavi.consent(created["consentId"])["status"] == "REJECTED"


def test_curl_can_finish_the_journey_with_a_query_parameter(klavi):
    created = klavi.create_consent()
    response, left = klavi.follow(
        created["consentRedirectURL"] + "&decision=approve&permissions=ACCOUNTS_ALL,REGISTRATION_ALL"
    )
    assert response.status_code == 302 and "error" not in query_of(left)
    consent = klavi.consent(created["consentId"])
    assert consent["status"] == "AUTHORISED" and consent["permissionsGranted"] == ["REGISTRATION_ALL", "ACCOUNTS_ALL"]


def test_curl_can_post_the_decision_as_a_form(klavi):
    created = klavi.create_consent()
    _, left = klavi.follow(created["consentRedirectURL"], "POST", {"decision": "approve", "lgpd": "decline"})
    assert query_of(left)["error"] == "lgpd_declined"
    assert klavi.consent(created["consentId"])["status"] == "REJECTED"


def test_the_redirect_url_works_once(klavi):
    created, first = open_bank(klavi)
    second = klavi.http.get(created["consentRedirectURL"])
    assert second.status_code == 410 and "Link já utilizado" in second.text
    # The journey started by the first opening goes on.
    assert klavi.consent(created["consentId"])["status"] == "AWAITING_AUTHORISATION"
    _, left = klavi.follow(
        form_action(first.text), "POST", {"decision": "approve", "permissions": ["ACCOUNTS_ALL"], "lgpd": "accept"}
    )
    assert left is None  # the LGPD page comes next


def test_the_redirect_url_expires_after_60_seconds_and_the_consent_says_why(klavi, client):
    created = klavi.create_consent()
    klavi.advance(61)
    page = klavi.http.get(created["consentRedirectURL"])
    assert page.status_code == 410 and "Link expirado" in page.text
    assert klavi.consent(created["consentId"])["status"] == "REJECTED"
    state = client.get(f"/__mock/consents/{created['consentId']}").json()
    assert state["statusReason"]["code"] == "REDIRECT_URL_EXPIRED"


def test_an_unknown_ticket_is_a_404_page(klavi):
    page = klavi.http.get("/bank/authorize?ticket=nope")
    assert page.status_code == 404 and "Link inválido" in page.text


def test_a_consent_not_completed_in_60_minutes_is_rejected(klavi, client):
    created, _ = open_bank(klavi)
    klavi.advance(3599)
    assert klavi.consent(created["consentId"])["status"] == "AWAITING_AUTHORISATION"
    klavi.advance(1)
    assert klavi.consent(created["consentId"])["status"] == "REJECTED"
    assert client.get(f"/__mock/consents/{created['consentId']}").json()["statusReason"]["code"] == "CONSENT_EXPIRED"


def test_a_bank_page_left_open_past_the_window_cannot_authorise(klavi):
    created, bank = open_bank(klavi)
    klavi.advance(3600)
    late = klavi.http.post(form_action(bank.text), data={"decision": "approve", "permissions": ["ACCOUNTS_ALL"]})
    assert late.status_code == 410 and "REJECTED" in late.text


def test_an_authorised_consent_expires_at_expire_at(klavi):
    created = klavi.create_consent()
    klavi.follow(created["consentRedirectURL"] + "&decision=approve")
    klavi.advance(366 * 86400)
    assert klavi.consent(created["consentId"])["status"] == "EXPIRED"


def test_an_open_ended_consent_does_not_expire(klavi):
    created = klavi.create_consent(validityPeriod=0)
    klavi.follow(created["consentRedirectURL"] + "&decision=approve")
    klavi.advance(5 * 366 * 86400)
    assert klavi.consent(created["consentId"])["status"] == "AUTHORISED"


def test_final_states_stay_final(klavi, client):
    created = klavi.create_consent()
    klavi.follow(created["consentRedirectURL"] + "&decision=deny")
    klavi.advance(3600)
    assert klavi.consent(created["consentId"])["status"] == "REJECTED"
    forced = client.post(f"/__mock/consents/{created['consentId']}/force", json={"status": "AUTHORISED"})
    assert forced.status_code == 409
    assert (
        forced.json()["message"] == f"consent {created['consentId']} is REJECTED (final); it cannot become AUTHORISED"
    )


def test_business_consents_walk_the_same_journey(klavi):
    created = klavi.create_consent(personalTaxId=None, businessTaxId=VALID_CNPJ)
    bank = klavi.http.get(created["consentRedirectURL"])
    assert "CNPJ" in bank.text and "**.222.333/0001-**" in bank.text and "11222333000181" not in bank.text
    klavi.follow(
        form_action(bank.text), "POST", {"decision": "approve", "permissions": ["ACCOUNTS_ALL"], "lgpd": "accept"}
    )


def test_bad_decisions_are_a_clear_400_page(klavi):
    _, bank = open_bank(klavi)
    response = klavi.http.post(form_action(bank.text), data={"decision": "maybe"})
    assert response.status_code == 400 and "decision=approve" in response.text
