"""Issue 23, item 6: the Open Data institutions (003, 021, 389) on the hosted journey: listed,
their login and MFA steps as pages over the API-only flow's task, failures with the
documented Open Data codes, and the same end as the API-only flow (the consent, its
webhooks, the result page, the way back to the partner)."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urlsplit

import pytest

from klavi_mock.testing import wait_for
from tests.conftest import API, VALID_CPF, bearer, query_of
from tests.pages.test_whitelabel import PARTNER, confirm_page, institution_codes

LOGIN = {"username": "maria", "password": "s3nha"}


def start(klavi, code: str, **link_fields):
    """Pick an Open Data institution and Continuar: the login page's URL."""
    link = klavi.create_link(personalTaxId=VALID_CPF, **link_fields)
    page = confirm_page(klavi, link["linkURL"], code)
    assert page.status_code == 200, page.text
    continued = klavi.http.post(link["linkURL"], data={"institutionCode": code, "confirm": "1"})
    assert continued.status_code == 303, continued.text
    location = continued.headers["location"]
    assert urlsplit(location).path == "/link/login" and "consent_id" in query_of(location)
    return link, location


def form_of(page_text: str) -> tuple[str, dict[str, str]]:
    action = unescape(re.search(r'<form class="card" method="post" action="([^"]+)"', page_text).group(1))
    mfa_id = re.search(r'name="mfaId" value="(\d+)"', page_text).group(1)
    return action, {"mfaId": mfa_id}


def step(klavi, url: str, **answer):
    """Answer the step the login page asks; the page after it."""
    page = klavi.http.get(url)
    assert page.status_code == 200, page.text
    action, fields = form_of(page.text)
    return klavi.http.post(action, data={**fields, **answer})


def test_the_open_data_institutions_are_listed(klavi):
    link = klavi.create_link(personalTaxId=VALID_CPF)
    codes = institution_codes(klavi.http.get(link["linkURL"]).text)
    assert {"003", "021", "389"} <= set(codes)


@pytest.mark.parametrize(
    ("code", "steps"),
    [
        ("003", []),
        ("021", [("contact", {"code": "123456"})]),
        (
            "389",
            [
                ("multichoice", {"switchVerificationType": "2"}),
                ("contact", {"code": "123456"}),
                ("questions", {"code": "2"}),
            ],
        ),
    ],
)
def test_login_and_mfa_as_pages_end_like_the_api_only_flow(hooked, client, receiver, code, steps):
    link, login = start(hooked, code, redirectURL=PARTNER)
    consent_id = query_of(login)["consent_id"]
    first = hooked.http.get(login)
    assert 'name="password" type="password"' in first.text and "Open Data" in first.text
    after = step(hooked, login, **LOGIN)
    for expected, answer in steps:
        assert after.status_code == 303 and after.headers["location"] == login
        page = hooked.http.get(login)
        if expected == "contact":
            assert "Código enviado para" in page.text
        elif expected == "questions":
            assert "Em qual desses municipios" in page.text
        else:
            assert 'name="switchVerificationType"' in page.text
        after = step(hooked, login, **answer)
    # done: the login page hands over to Klavi's result page
    result_url = hooked.http.get(after.headers["location"]).headers["location"]
    assert urlsplit(result_url).path == "/link/result"
    result = hooked.http.get(result_url)
    assert result.status_code == 200 and "Conta conectada" in result.text
    assert hooked.consent(consent_id)["status"] == "AUTHORISED"
    statuses = client.get(f"{API}/links/institutions/status", headers=bearer(link["linkToken"])).json()
    assert next(s for s in statuses if s["institutionCode"] == code)["status"] == "success"
    authorised = wait_for(
        lambda: [e for e in receiver.events() if e["eventName"] == "consent_authorised"], 10, "consent_authorised"
    )
    assert authorised[0]["payload"]["consents"]["consentId"] == consent_id
    finish = unescape(re.search(r'href="([^"]+)" data-track="authorise_success_finish_click"', result.text).group(1))
    back = hooked.http.get(finish)
    assert back.status_code in (302, 303) and back.headers["location"].startswith(PARTNER)
    assert query_of(back.headers["location"])["consent_id"] == consent_id


@pytest.mark.parametrize(
    ("password", "code", "message"),
    [("wrong-password", 402, "User credential error"), ("blocked", 408, "Account or password blocked")],
)
def test_a_failed_login_ends_with_the_documented_code(hooked, receiver, password, code, message):
    _, login = start(hooked, "003", redirectURL=PARTNER)
    consent_id = query_of(login)["consent_id"]
    after = step(hooked, login, username="maria", password=password)
    result_url = hooked.http.get(after.headers["location"]).headers["location"]
    result = hooked.http.get(result_url)
    assert "Compartilhamento não concluído" in result.text and "Não foi possível entrar na instituição" in result.text
    assert f"Open Data code {code}: {message}" in unescape(result.text)
    assert hooked.consent(consent_id)["status"] == "ERROR"
    error = wait_for(lambda: [e for e in receiver.events() if e["eventName"] == "consent_error"], 10, "consent_error")
    assert error[0]["payload"]["reason"]["code"] == "OPEN_DATA_CONNECTION_FAILED"


def test_a_missing_answer_is_the_form_again_with_its_field_named(klavi):
    _, login = start(klavi, "003")
    refused = step(klavi, login, username="maria")
    assert refused.status_code == 400 and "body.password" in refused.text
    assert 'name="password" type="password"' in refused.text  # the same step, to try again
    bad_id = klavi.http.post(form_of(klavi.http.get(login).text)[0], data={"mfaId": "x", **LOGIN})
    assert bad_id.status_code == 400 and "mfaId is missing" in bad_id.text


def test_a_slow_bank_shows_the_collection_until_the_clock_passes(klavi, client):
    _, login = start(klavi, "003")
    consent_id = query_of(login)["consent_id"]
    after = step(klavi, login, username="maria", password="slow-bank")
    waiting = klavi.http.get(after.headers["location"])
    assert waiting.status_code == 200 and "Coletando seus dados" in waiting.text
    assert client.post("/__mock/clock/advance", json={"seconds": 30}).status_code == 200
    done = klavi.http.get(login)
    assert done.status_code == 303 and urlsplit(done.headers["location"]).path == "/link/result"
    assert klavi.consent(consent_id)["status"] == "AUTHORISED"
