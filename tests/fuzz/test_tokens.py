"""Tokens: missing, forged, expired and other tenants' tokens; the control API's admin token."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.checks import message
from tests.fuzz.requests import path_params, request_for, url_of
from tests.fuzz.strategies import bad_authorizations, nasty_text
from tests.fuzz.world import (
    ADMIN_HEADER,
    ADMIN_OPS,
    ADMIN_TOKEN,
    BEARER_OPS,
    WRONG_KIND,
    Mock,
    bearer,
    fuzz,
    fuzz_settings,
    ids,
)
from tests.worlds import in_process

# How a refusal names the token wanted: its scheme's name, or what the payments API calls it.
TOKEN_WORDS = {"paymentToken": ("paymentToken", "payments accessToken")}


@pytest.mark.parametrize("spec, op", BEARER_OPS, ids=ids(BEARER_OPS))
def test_missing_or_forged_tokens_are_a_401(mock, spec, op):
    world = mock.world()
    url = url_of(spec, op, world.path_values(op))
    body = request_for(op, world)

    wanted = op.security[0]
    wrong_kind = WRONG_KIND[wanted]

    @fuzz(15)
    @given(bad_authorizations(wanted, world.token(wanted), world.token(wrong_kind)))
    def check(case):
        kind, auth = case
        headers = {**{k: v for k, v in body["headers"].items() if k != "Authorization"}, **auth}
        response = mock.send(op.method, url, headers, body["content"])
        assert response.status_code == 401, f"{kind} {auth}: {response.status_code} {response.text[:200]}"
        if kind in ("missing", "scheme", "empty", "wrong-kind"):
            words = TOKEN_WORDS.get(wanted, (wanted,))
            assert any(word in message(response) for word in words), message(response)

    check()


@pytest.mark.parametrize("spec, op", BEARER_OPS, ids=ids(BEARER_OPS))
def test_another_tenants_token_sees_nothing_of_ours(mock, spec, op):
    world = mock.world()
    request = request_for(op, world)
    headers = {**request["headers"], **bearer(world.token(op.security[0], other=True))}
    response = mock.send(op.method, url_of(spec, op, world.path_values(op)), headers, request["content"])
    if path_params(op):  # our consent, task or payment asked for by id, or our application's list: 404
        assert response.status_code == 404, response.text
        return
    for ours in (world.consent_id, world.link_id, world.task_id):
        assert ours not in response.text, f"{op.label} showed another tenant our {ours}: {response.text[:300]}"


def test_an_expired_token_is_a_401_saying_so():
    with in_process(fuzz_settings(), follow_redirects=False) as http:
        mock = Mock(http)
        world = mock.world()
        assert mock.admin("POST", "/clock/advance", json={"seconds": 1801}).status_code == 200  # past 1800 s
        mock.last = mock.snapshot()
        for spec, op in BEARER_OPS:
            response = mock.send(op.method, url_of(spec, op, world.path_values(op)), **request_for(op, world))
            assert response.status_code == 401 and "expired" in message(response), f"{op.label}: {response.text}"
        mock.close()


# --- the control API's token ---------------------------------------------------------------------


@pytest.mark.parametrize("spec, op", ADMIN_OPS, ids=ids(ADMIN_OPS))
def test_the_control_api_refuses_a_missing_or_wrong_admin_token(mock, spec, op):
    world = mock.world()
    url = url_of(spec, op, world.path_values(op))
    request = request_for(op, world)
    wrong_tokens = st.one_of(
        st.none(),
        st.just(b""),
        st.sampled_from(
            [
                ADMIN_TOKEN[:-1],
                ADMIN_TOKEN + "x",
                ADMIN_TOKEN.upper(),
                ADMIN_TOKEN[::-1],
                ADMIN_TOKEN + "\x00",
                "Bearer " + ADMIN_TOKEN,
            ]
        ).map(str.encode),
        nasty_text.map(lambda t: t.encode("utf-8", "surrogatepass")),
        st.binary(min_size=1, max_size=40).filter(lambda b: b != ADMIN_TOKEN.encode()),
    )

    @fuzz(6)
    @given(wrong_tokens, st.booleans())
    def check(token, as_bearer):
        headers = {k: v for k, v in request["headers"].items() if k != ADMIN_HEADER}
        if as_bearer:  # the right token, in the wrong header
            headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
        if token is not None:
            headers[ADMIN_HEADER] = token
        response = mock.send(op.method, url, headers, request["content"])
        assert response.status_code == 401 and ADMIN_HEADER in message(response), f"{token!r}: {response.text[:200]}"

    check()
