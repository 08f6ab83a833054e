"""Regressions found by fuzzing: each was a 500 or an off-spec answer."""

from __future__ import annotations

import json
from collections.abc import Iterator

import jwt
import pytest

from klavi_mock.app import create_app
from klavi_mock.spec.validation import MAX_JSON_DEPTH
from tests.fuzz.checks import message
from tests.fuzz.requests import JSON
from tests.fuzz.strategies import claims_of, unsigned_token
from tests.fuzz.world import ADMIN_HEADER, ADMIN_TOKEN, TOKEN_SECRET, Mock, bearer, fuzz_settings
from tests.worlds import SANDBOX_KEYS, in_process

# --- regressions found by fuzzing (each was a 500 or an off-spec answer) --------------------------


@pytest.fixture(scope="module")
def roomy() -> Iterator[Mock]:
    """The default 1 MiB body limit, for bodies the small limit would refuse before parsing."""
    with in_process(fuzz_settings(max_body_bytes=1_048_576), follow_redirects=False) as http:
        yield (mock := Mock(http))
        mock.close()


@pytest.mark.parametrize(
    "raw", [b"[" * 10_000, b"[" * 100_000 + b"]" * 100_000, b'{"externalInfo":' + b'{"a":' * 5000 + b"1" + b"}" * 5001]
)
def test_deep_nesting_is_a_400_not_a_recursion_error(roomy, raw):
    world = roomy.world()
    response = roomy.send("POST", "/data/v1/links", {**bearer(world.access), **JSON}, raw)
    assert response.status_code == 400 and f"deeper than {MAX_JSON_DEPTH} levels" in message(response)


def nested(depth: int) -> dict:
    """`depth` objects, one inside the other."""
    value: dict = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def test_json_nested_to_the_limit_is_read_and_one_more_level_is_not(roomy):
    world = roomy.world()
    deepest = roomy.send(
        "POST",
        "/data/v1/links",
        {**bearer(world.access), **JSON},
        json.dumps({"externalInfo": nested(MAX_JSON_DEPTH - 1)}).encode(),
    )
    assert deepest.status_code == 200, deepest.text
    assert roomy.admin("GET", "/links").json()[0]["externalInfo"] == nested(MAX_JSON_DEPTH - 1)
    deeper = roomy.send(
        "POST",
        "/data/v1/links",
        {**bearer(world.access), **JSON},
        json.dumps({"externalInfo": nested(MAX_JSON_DEPTH)}).encode(),
    )
    assert deeper.status_code == 400 and "from body.externalInfo.a.a..." in message(deeper), deeper.text


@pytest.mark.parametrize(
    "literal, problem",
    [
        (b"1" * 5000, "has an integer of more than 4300 digits"),
        (b"1e999999", "body.externalInfo.n: must be a finite JSON number"),
        (b"NaN", "body.externalInfo.n: must be a finite JSON number (got NaN)"),
        (b"-Infinity", "body.externalInfo.n: must be a finite JSON number"),
        (b'"\\ud800"', "body.externalInfo.n: contains a lone UTF-16 surrogate"),
        (b'"\\udfff\\ud800"', "body.externalInfo.n: contains a lone UTF-16 surrogate"),
    ],
)
def test_values_json_cannot_carry_back_are_refused_naming_the_field(roomy, literal, problem):
    """They used to be stored (and poison GET /__mock/links) or to fail as 500s."""
    world = roomy.world()
    raw = b'{"externalInfo": {"n": ' + literal + b"}}"
    response = roomy.send("POST", "/data/v1/links", {**bearer(world.access), **JSON}, raw)
    assert response.status_code == 400 and problem in message(response), response.text


def test_lone_surrogates_in_field_names_are_refused_and_pairs_are_kept(roomy):
    world = roomy.world()
    key = roomy.send("POST", "/data/v1/links", {**bearer(world.access), **JSON}, b'{"externalInfo": {"\\ud83d": 1}}')
    assert key.status_code == 400 and "body.externalInfo: a field name contains a lone UTF-16 surrogate" in message(key)
    paired = roomy.send(
        "POST", "/data/v1/links", {**bearer(world.access), **JSON}, b'{"externalInfo": {"n": "\\ud83d\\ude00"}}'
    )
    assert paired.status_code == 200 and roomy.admin("GET", "/links").json()[0]["externalInfo"] == {"n": "\U0001f600"}


def test_verifying_a_signature_of_a_lone_surrogate_is_a_400(roomy):
    response = roomy.send(
        "POST",
        "/__mock/webhooks/verify",
        {ADMIN_HEADER: ADMIN_TOKEN, **JSON},
        b'{"body": "\\ud800", "signature": "00"}',
    )
    assert response.status_code == 400 and "body.body: contains a lone UTF-16 surrogate" in message(response)


@pytest.mark.parametrize("host", [b"ex ample", "\u00e9\u202e".encode(), b"a/b?c", b"[::1", b"host:99999x", b"\x00"])
def test_a_garbage_host_header_does_not_make_invalid_urls(roomy, host):
    """The linkURL is built from Host; strict mode checks it is a URI."""
    world = roomy.world()
    response = roomy.send("POST", "/data/v1/links", {**bearer(world.access), "Host": host}, None)
    assert response.status_code == 200 and response.json()["linkURL"].startswith("http://testserver:80/link?v=")


def test_a_non_ascii_content_length_is_not_a_500():
    """'²'.isdigit() is true but int('²') fails: an ASGI server that passes such a header on
    (TestClient does not; hence a raw ASGI call) used to get a 500."""
    import asyncio

    app = create_app(fuzz_settings())
    body = json.dumps(SANDBOX_KEYS).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/data/v1/auth",
        "raw_path": b"/data/v1/auth",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"content-length", "\u00b2".encode("latin-1"))],
        "server": ("testserver", 80),
        "client": ("testclient", 50000),
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict] = []

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 200, sent


def test_token_messages_use_the_right_article(mock):
    world = mock.world()
    response = mock.send("GET", "/data/v1/links/institutions", {})
    assert "takes a linkToken" in message(response)
    response = mock.send("GET", "/data/v1/links/institutions", bearer("not-a-jwt"))
    assert "takes a linkToken" in message(response)
    none = mock.send("GET", "/data/v1/refresh", bearer(unsigned_token(claims_of(world.access), "none")))
    assert "not signed with HS256" in message(none)
    huge = mock.send(
        "GET",
        "/data/v1/refresh",
        bearer(jwt.encode({**claims_of(world.access), "exp": 10**20}, TOKEN_SECRET, algorithm="HS256")),
    )
    assert "not a klavi-mock token" in message(huge)
