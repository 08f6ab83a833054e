"""Unicode anywhere (body, query, path, headers) is answered cleanly."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.checks import message
from tests.fuzz.requests import JSON, base_body, credentials, json_types, path_params, schema_parts, url_of
from tests.fuzz.strategies import has_lone_surrogate, nasty_text
from tests.fuzz.world import OPERATIONS, fuzz, ids

# --- unicode everywhere ------------------------------------------------------------------------

HEADERS = ["X-Request-Id", "Accept-Language", "User-Agent", "Host", "Origin", "Accept", "If-None-Match"]


@pytest.mark.parametrize("spec, op", OPERATIONS, ids=ids(OPERATIONS))
def test_unicode_anywhere_is_answered_cleanly(mock, spec, op):
    world = mock.world()
    targets = [("header", h) for h in HEADERS + [p.name for p in op.parameters if p.location == "header"]]
    targets += [("query", p.name) for p in op.parameters if p.location == "query"] + [("query", "unknownParam")]
    targets += [("path", name) for name in path_params(op)]
    properties = schema_parts(op.body_schema)[0] if op.body_schema is not None else {}
    if op.body_schema is not None:
        targets += [("body", name) for name in sorted(op.body_fields)] + [("body-key", "")]

    @fuzz(12)
    @given(st.sampled_from(targets), nasty_text)
    def check(target, text):
        where, name = target
        path, query, headers = world.path_values(op), {}, credentials(op, world)
        body = base_body(op) if op.body_schema is not None else None
        if where == "header":
            headers = {**headers, name: text.encode("utf-8", "surrogatepass")}
        elif where == "query":
            query[name] = text
        elif where == "path":
            path = {**path, name: text}
        elif where == "body":  # in the field, or in a key and a value inside it when it takes objects or arrays
            kinds = json_types(properties.get(name, {})) or {"string"}
            body[name] = (
                text
                if "string" in kinds
                else {text: text}
                if "object" in kinds
                else [text]
                if "array" in kinds
                else text
            )
        else:
            body[text] = text
        content = None if body is None else json.dumps(body).encode()  # ASCII: "\ud800" stays an escape
        response = mock.send(
            op.method, url_of(spec, op, path, query), {**headers, **(JSON if body is not None else {})}, content
        )
        if where.startswith("body") and has_lone_surrogate(text):
            assert response.status_code == 400 and "surrogate" in message(response), response.text

    check()
