"""Hypothesis strategies: malformed and nasty values, schema-valid values that mean something
to the mock, and tokens a client must not get past with."""

from __future__ import annotations

import base64
import json
from typing import Any

import jwt
from hypothesis import assume
from hypothesis import strategies as st

from klavi_mock.spec.operations import Operation
from klavi_mock.spec.validation import MAX_JSON_DEPTH
from tests.conftest import VALID_CNPJ, VALID_CPF
from tests.fuzz.requests import base_body, json_types, schema_parts
from tests.fuzz.world import LIMIT, OTHER_KEYS, TOKEN_SECRET, bearer
from tests.worlds import SANDBOX_KEYS

# --- strategies ------------------------------------------------------------------------------

NASTY = [
    "\U0001f600",
    "\U0001d11e",
    "\U0010ffff",
    "\ud800",
    "\udfff",
    "\udbff\udfff",
    "\x00",
    "\u202e",
    "\u200f",
    "\u200b",
    "e\u0301",
    "\u0301\u0301",
    "\ufeff",
    "\ufffe",
    "\uffff",
    "\u2028",
    "\x7f",
    "\x1b[31m",
    "İ",
    "ß",
    "<x-injected>",
    "'\"",
    "%00",
    "%ZZ",
    "../",
    "\\",
    "{{7*7}}",
    " ",
]
nasty_text = st.lists(st.one_of(st.sampled_from(NASTY), st.text(max_size=4)), min_size=1, max_size=5).map("".join)
MARKUP = "<x-injected>"  # must never come back unescaped in an HTML page

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8)
)
VALUES_OF = {
    "null": st.none(),
    "boolean": st.booleans(),
    "integer": st.integers(),
    "number": st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not f.is_integer()),
    "string": st.text(max_size=12),
    "array": st.lists(scalars, max_size=3),
    "object": st.dictionaries(st.text(max_size=5), scalars, max_size=3),
}


def values_not_of(types: set[str]) -> st.SearchStrategy:
    admitted = set(types) | ({"integer"} if "number" in types else set())
    return st.one_of([strategy for kind, strategy in VALUES_OF.items() if kind not in admitted])


def has_lone_surrogate(value: Any) -> bool:
    """What the server sees after the JSON round trip ("\\udbff\\udfff" pairs up)."""
    try:
        json.dumps(json.loads(json.dumps(value)), ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _not_a_json_object(raw: bytes) -> bool:
    try:
        return not isinstance(json.loads(raw), dict)
    except (ValueError, RecursionError):
        return True


@st.composite
def malformed_bodies(draw, op: Operation) -> tuple[str, bytes, str | None]:
    """(kind, body, field): bodies no JSON parser should take; `field` when the fault is in one."""
    base = base_body(op)
    text = json.dumps(base).encode()
    fields = sorted(op.body_fields)
    room = LIMIT - len(text) - 40
    kind = draw(
        st.sampled_from(
            [
                "truncated",
                "garbage",
                "not-utf8",
                "deep",
                "deep-unclosed",
                "deep-field",
                "literal",
                "trailing",
                "not-an-object",
                "duplicate",
                "syntax",
            ]
        )
    )
    if kind == "truncated":
        return kind, text[: draw(st.integers(1, len(text) - 1))], None
    if kind == "garbage":
        raw = draw(st.binary(min_size=1, max_size=200).filter(lambda b: b.strip() and _not_a_json_object(b)))
        return kind, raw, None
    if kind == "not-utf8":
        bad = draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\x80", b"\xf8\x88\x80\x80\x80", b"\xe2\x82", b"\xc0\xaf"]))
        at = text.index(b'"') + 1 if b'"' in text else 1
        return kind, text[:at] + bad + text[at:], None
    if kind == "deep":
        opener, closer = draw(st.sampled_from([(b"[", b"]"), (b'{"a":', b"}")]))
        depth = draw(st.integers(MAX_JSON_DEPTH + 1, (LIMIT - 1) // (len(opener) + 1)))
        return kind, opener * depth + b"1" + closer * depth, None
    if kind == "deep-unclosed":
        return kind, b"[" * draw(st.integers(1, LIMIT - 8)), None
    if kind in ("deep-field", "literal"):
        name = draw(st.sampled_from(fields))
        if kind == "deep-field":
            depth = draw(st.integers(MAX_JSON_DEPTH, max(MAX_JSON_DEPTH, room // 2)))
            literal = b"[" * depth + b"]" * depth
        else:
            literal = draw(st.sampled_from([b"NaN", b"Infinity", b"-Infinity", b"1e999999", b"-1e999999", b"1E400"]))
        raw = json.dumps({**base, name: "__SLOT__"}).encode().replace(b'"__SLOT__"', literal)
        return kind, raw, (None if kind == "deep-field" else name)
    if kind == "trailing":
        return kind, text + draw(st.sampled_from([b" x", b"}", b",", b"{}", b" // comment", b"\x00"])), None
    if kind == "not-an-object":
        return kind, draw(st.sampled_from([b"null", b"1", b"-0.5", b'"text"', b"[]", b"[{}]", b"true"])), None
    if kind == "duplicate":  # legal JSON: the last one wins; answered like any other body
        name = draw(st.sampled_from(fields))
        value = json.dumps(draw(scalars)).encode()
        return kind, text[:-1] + (b", " if base else b"") + json.dumps(name).encode() + b": " + value + b"}", None
    # syntax: JSON's near misses
    raw = draw(
        st.sampled_from(
            [
                text.replace(b'"', b"'"),
                text.replace(b"}", b",}", 1),
                text.replace(b":", b"=", 1),
                b"{" + text[1:].replace(b'"', b"", 2),
                b"{,}",
                b'{"a" 1}',
                b"\xef\xbb\xbf\xef\xbb\xbf{}",
            ]
        )
    )
    assume(not _is_json(raw))  # a near miss of an empty body ({}) can be no miss at all
    return kind, raw, None


def _is_json(raw: bytes) -> bool:
    try:
        json.loads(raw)
    except ValueError:
        return False
    return True


# Schema-valid values that mean something to the mock: personas' tax ids, real institutions
# (Open Finance, Open Data, in outage), product names. URLs point at a closed loopback port.
HINTS = {
    "cpf": [VALID_CPF, "11144477735", "00000000191", "00000000949", "00000000434"],
    "cnpj": [VALID_CNPJ, "12ABC34501DE35", "00000001000136", "00000009000100"],
    "uri": ["http://127.0.0.1:9/unused", "https://partner.example.com/return"],
    "url": ["http://127.0.0.1:9/klavi/events"],  # a receiver check's: nothing listens on port 9
    "redirect-uri": ["http://127.0.0.1:9/unused", "myapp://redirect"],
    "phone-br": ["+5511999999999", "+552133334444"],
    "institutionCode": ["341", "237", "746", "389", "999"],
    "products": [["all"], ["pf_checking_account"], ["pj_checking_account", "all"], ["categorized_transactions"], []],
    "persona": ["bank-denies", "happy-path", "consent-limit", "no-such-persona"],
    "accessKey": [SANDBOX_KEYS["accessKey"], OTHER_KEYS["accessKey"]],
    "secretKey": [SANDBOX_KEYS["secretKey"]],
}


def values_of(schema: dict, hints: dict[str, list]) -> st.SearchStrategy:
    """Values a schema (mostly) admits; the caller filters with the operation's validator."""
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    for key in ("oneOf", "anyOf"):
        if key in schema:
            rest = {k: v for k, v in schema.items() if k != key}
            return st.one_of([values_of({**rest, **branch}, hints) for branch in schema[key]])
    properties, required = schema_parts(schema)
    kinds = json_types(schema) or ({"object"} if properties or required else {"string", "integer", "object", "null"})
    options = []
    for kind in sorted(kinds):
        if kind == "object":
            fields = {name: _field_values(name, properties.get(name, {}), hints) for name in properties}
            options.append(
                st.fixed_dictionaries(
                    {n: fields.get(n, scalars) for n in required},
                    optional={n: s for n, s in fields.items() if n not in required},
                )
            )
        elif kind == "string":
            if schema.get("format") in HINTS:
                options.append(st.sampled_from(HINTS[schema["format"]]))
            elif "pattern" in schema:  # the payments API's ISPBs, account numbers, amounts...
                low, high = schema.get("minLength", 0), schema.get("maxLength", 10_000)
                options.append(
                    st.from_regex(schema["pattern"], fullmatch=True).filter(
                        lambda text, low=low, high=high: low <= len(text) <= high
                    )
                )
            else:
                options.append(
                    st.text(min_size=schema.get("minLength", 0), max_size=min(schema.get("maxLength", 40), 40))
                )
        elif kind == "integer":
            options.append(st.integers(schema.get("minimum"), schema.get("maximum")))
        elif kind == "number":
            options.append(
                st.floats(
                    schema.get("minimum", schema.get("exclusiveMinimum")),
                    schema.get("maximum"),
                    allow_nan=False,
                    allow_infinity=False,
                )
            )
        elif kind == "array":
            options.append(
                st.lists(values_of(schema.get("items", {}), hints), max_size=min(schema.get("maxItems", 3), 3))
            )
        else:
            options.append({"boolean": st.booleans(), "null": st.none()}[kind])
    return st.one_of(options)


def _field_values(name: str, schema: dict, hints: dict[str, list]) -> st.SearchStrategy:
    values = values_of(schema, hints)
    return st.one_of(st.sampled_from(hints[name]), values) if hints.get(name) else values


# --- tokens -------------------------------------------------------------------------------------


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def unsigned_token(claims: dict, alg: str) -> str:
    return f"{_b64({'alg': alg, 'typ': 'JWT'})}.{_b64(claims)}."


@st.composite
def bad_authorizations(draw, wanted: str, valid: str, wrong_kind: str) -> tuple[str, dict]:
    """(kind, headers) with no usable `wanted` token (`valid` is one, `wrong_kind` the other kind)."""
    claims = claims_of(valid)
    kind = draw(
        st.sampled_from(
            [
                "missing",
                "scheme",
                "empty",
                "garbage",
                "other-secret",
                "alg-none",
                "other-alg",
                "tampered",
                "wrong-kind",
                "unknown-tenant",
                "odd-claim",
                "missing-claim",
            ]
        )
    )
    if kind == "missing":
        return kind, draw(st.sampled_from([{}, {"X-Api-Key": valid}, {"Authorization-Token": valid}]))
    if kind == "scheme":
        scheme = draw(st.sampled_from(["Basic", "Token", "JWT", "Bearer:", "Beare", "Bearer-", "", "\u0392earer"]))
        return kind, {"Authorization": f"{scheme}{'' if scheme == '' else ' '}{valid}".encode()}
    if kind == "empty":
        return kind, {"Authorization": draw(st.sampled_from(["Bearer", "Bearer ", "Bearer    ", "bearer\t", ""]))}
    if kind == "garbage":
        token = draw(
            st.one_of(
                nasty_text, st.text(min_size=1), st.binary(min_size=1, max_size=64).map(lambda b: b.decode("latin-1"))
            )
        )
        return kind, {"Authorization": b"Bearer " + token.encode("utf-8", "surrogatepass")}
    if kind == "other-secret":
        secret = draw(
            st.sampled_from(
                ["another-secret-0123456789abcdef-0123456789abcdef", TOKEN_SECRET + "-not-quite", TOKEN_SECRET.upper()]
            )
        )
        return kind, bearer(jwt.encode(claims, secret, algorithm="HS256"))
    if kind == "alg-none":  # PyJWT's own "none", and the spellings some libraries let through
        alg = draw(st.sampled_from(["none", "None", "NONE", "nOnE"]))
        return kind, bearer(
            jwt.encode(claims, None, algorithm="none") if alg == "none" else unsigned_token(claims, alg)
        )
    if kind == "other-alg":
        alg = draw(st.sampled_from(["HS384", "HS512"]))
        return kind, bearer(jwt.encode(claims, TOKEN_SECRET, algorithm=alg))
    if kind == "tampered":
        header, payload, signature = valid.split(".")
        forged = _b64({**claims, "sub": draw(st.sampled_from(["other-app", "ghost-app"]))})
        return kind, bearer(
            draw(
                st.sampled_from(
                    [
                        f"{header}.{forged}.{signature}",
                        f"{header}.{payload}.{signature[::-1]}",
                        f"{header}.{payload}",
                        valid[:-3],
                        valid + "x",
                    ]
                )
            )
        )
    if kind == "wrong-kind":
        return kind, bearer(wrong_kind)
    if kind == "unknown-tenant":
        return kind, bearer(
            jwt.encode(
                {**claims, "sub": draw(st.text(min_size=1).filter(lambda s: s not in ("sandbox-app", "other-app")))},
                TOKEN_SECRET,
                algorithm="HS256",
            )
        )
    if kind == "odd-claim":  # signed with the mock's own secret, with claims it never issues
        name = draw(st.sampled_from(["typ", "exp"] + (["lnk"] if wanted == "linkToken" else [])))
        if name == "exp":  # expired, beyond what a datetime holds, or not an integer
            odd = st.one_of(
                st.integers(max_value=claims["iat"]),
                st.integers(min_value=253_402_300_800),
                st.booleans(),
                st.floats(allow_nan=False, allow_infinity=False),
                st.text(max_size=12),
                st.none(),
            )
        else:
            odd = st.one_of(
                st.text().filter(lambda t: t != claims[name]),
                st.integers(),
                st.none(),
                st.lists(st.just(claims[name]), min_size=1, max_size=2),
                st.just({name: claims[name]}),
            )
        return kind, bearer(jwt.encode({**claims, name: draw(odd)}, TOKEN_SECRET, algorithm="HS256"))
    name = draw(st.sampled_from(["sub", "typ", "exp"]))  # missing-claim
    return kind, bearer(jwt.encode({k: v for k, v in claims.items() if k != name}, TOKEN_SECRET, algorithm="HS256"))
