"""Bodies: malformed JSON, wrong types, schema-valid values, the size limit, not JSON."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.checks import message
from tests.fuzz.requests import JSON, base_body, credentials, request_for, typed_fields, url_of
from tests.fuzz.strategies import HINTS, malformed_bodies, nasty_text, values_not_of, values_of
from tests.fuzz.world import BODY_OPS, LIMIT, fuzz, ids

# --- bodies ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec, op", BODY_OPS, ids=ids(BODY_OPS))
def test_malformed_json_is_a_400_naming_the_body(mock, spec, op):
    world = mock.world()
    url = url_of(spec, op, world.path_values(op))

    @fuzz(25)
    @given(malformed_bodies(op))
    def check(case):
        kind, raw, field_name = case
        headers = {**credentials(op, world), **JSON}
        response = mock.send(op.method, url, headers, raw)
        if kind == "duplicate":
            return
        assert response.status_code == 400, f"{kind} {raw[:80]!r}: {response.status_code} {response.text[:200]}"
        assert message(response).startswith("body"), message(response)
        if field_name:
            assert f"body.{field_name}" in message(response), message(response)

    check()


@pytest.mark.parametrize("spec, op", BODY_OPS, ids=ids(BODY_OPS))
def test_a_wrong_type_in_any_field_is_a_400_naming_it(mock, spec, op):
    world = mock.world()
    url = url_of(spec, op, world.path_values(op))
    fields = typed_fields(op)
    assert fields, f"{op.label}: a body schema with no typed field"

    @fuzz(15)
    @given(st.data())
    def check(data):
        name = data.draw(st.sampled_from(sorted(fields)), label="field")
        value = data.draw(values_not_of(fields[name]), label="value")
        response = mock.send(op.method, url, **request_for(op, world, {**base_body(op), name: value}))
        assert response.status_code == 400, f"{name}={value!r}: {response.status_code} {response.text[:200]}"
        assert f"body.{name}" in message(response), message(response)

    check()


@pytest.mark.parametrize("spec, op", BODY_OPS, ids=ids(BODY_OPS))
def test_schema_valid_bodies_are_answered_and_a_refusal_changes_nothing(mock, spec, op):
    """Past validation, into the business rules (416, 404, 409...): a refusal there must not
    leave half a change behind either."""
    world = mock.world()
    url = url_of(spec, op, world.path_values(op))
    hints = {
        **HINTS,
        "consentId": [world.consent_id],
        "linkId": [world.link_id],
        "consentIds": [[world.consent_id]],
        "appId": ["sandbox-app", "other-app"],
        "taxId": HINTS["cpf"] + HINTS["cnpj"],
    }

    @fuzz(15)
    @given(values_of(op.body_schema, hints).filter(op.body_validator.is_valid))
    def check(body):
        mock.send(op.method, url, **request_for(op, world, body))

    check()


@pytest.mark.parametrize("spec, op", BODY_OPS, ids=ids(BODY_OPS))
def test_a_body_over_the_limit_is_a_413(mock, spec, op):
    world = mock.world()
    url = url_of(spec, op, world.path_values(op))
    text = json.dumps(base_body(op)).encode()

    @fuzz(6)
    @given(st.integers(LIMIT + 1, 4 * LIMIT), st.booleans(), st.integers(1, 700))
    def check(size, streamed, chunk):
        body = text + b" " * (size - len(text))  # valid JSON, were it not too big
        content = (body[i : i + chunk] for i in range(0, len(body), chunk)) if streamed else body
        response = mock.send(op.method, url, {**credentials(op, world), **JSON}, content)
        assert response.status_code == 413, (
            f"{size} bytes, streamed={streamed}: {response.status_code} {response.text[:200]}"
        )
        assert str(LIMIT) in message(response)

    check()
    # The limit itself is allowed: the same body, padded to exactly LIMIT bytes, is read.
    for streamed in (False, True):
        body = text + b" " * (LIMIT - len(text))
        content = iter([body[:1000], body[1000:]]) if streamed else body
        response = mock.send(op.method, url, {**credentials(op, world), **JSON}, content)
        assert response.status_code != 413, response.text


@pytest.mark.parametrize("spec, op", BODY_OPS, ids=ids(BODY_OPS))
def test_a_body_that_is_not_json_is_a_415(mock, spec, op):
    world = mock.world()
    url = url_of(spec, op, world.path_values(op))
    media_types = st.one_of(
        st.sampled_from(
            [
                "text/plain",
                "application/xml",
                "text/json",
                "application/x-www-form-urlencoded",
                "multipart/form-data; boundary=x",
                "application/jsonp",
                "application/json-seq",
                "application/octet-stream",
                "*/*",
                "text/html; charset=utf-8",
                "json",
            ]
        ),
        st.from_regex(r"\A[a-z]{1,10}/[a-z.-]{1,10}\Z").filter(
            lambda t: t != "application/json" and not t.endswith("+json")
        ),
        nasty_text.map(lambda t: "x" + t.replace(";", "")).filter(lambda t: not t.lower().strip().endswith("+json")),
    )

    @fuzz(8)
    @given(media_types)
    def check(media_type):
        headers = {**credentials(op, world), "Content-Type": media_type.encode("utf-8", "surrogatepass")}
        response = mock.send(op.method, url, headers, request_for(op, world)["content"])
        assert response.status_code == 415, f"{media_type!r}: {response.status_code} {response.text[:200]}"
        assert "Content-Type: application/json" in message(response)

    check()
    for accepted in ("application/json; charset=utf-8", "APPLICATION/JSON", "application/vnd.klavi+json"):
        response = mock.send(
            op.method, url, {**credentials(op, world), "Content-Type": accepted}, request_for(op, world)["content"]
        )
        assert response.status_code != 415, f"{accepted}: {response.text}"
