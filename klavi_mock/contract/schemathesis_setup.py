"""What schemathesis needs to test a Klavi API, shared by the in-process contract suite
(contract_tests/test_mock_conforms.py) and `klavi-mock check` (check.py):

- `register_formats()`: the spec writes CPF and CNPJ as `format: cpf` / `format: cnpj` (a
  pattern cannot carry check digits); teach the generator to make valid ones, or every
  "valid" example would be refused with 400.
- `klavi_auth(http, prefix, keys, contract=)`: an auth provider class that gets the tokens of
  a contract and gives each operation the token its `security` names: for the data API
  (openapi/klavi.yaml) an accessToken from `POST /auth` and a linkToken from `POST /links` made
  with it; for the payments API (openapi/klavi-payments.yaml) a paymentToken from
  `POST /customer/v1/auth`. `http` is any httpx-style client (a `starlette` TestClient
  in-process, an `httpx.Client` over the network).

Imports schemathesis: only import this from test or check code, never from `serve`'s path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import schemathesis
from hypothesis import strategies as st

from klavi_mock.domain.taxid import make_cnpj, make_cpf

SANDBOX_KEYS = {"accessKey": "sandbox-access-key", "secretKey": "sandbox-secret-key"}


def register_formats() -> None:
    """Valid values for the spec's own formats: CPFs and CNPJs (numeric or alphanumeric), Brazilian
    phones in E.164, redirect URLs (http(s) or a deep link)."""
    schemathesis.openapi.format(
        "cpf", st.from_regex(r"\A[0-9]{9}\Z").filter(lambda base: len(set(base)) > 1).map(make_cpf)
    )
    schemathesis.openapi.format(
        "cnpj", st.from_regex(r"\A[0-9A-Z]{12}\Z").filter(lambda base: len(set(base)) > 1).map(make_cnpj)
    )
    # The mock's own formats (openapi/klavi.yaml): a phone in E.164 with Brazil's +55, and a
    # redirect URL that is an absolute http(s) URL or an app's deep link.
    schemathesis.openapi.format("phone-br", st.from_regex(r"\A\+55[1-9][0-9]{9,10}\Z"))
    schemathesis.openapi.format(
        "redirect-uri",
        st.sampled_from(["https://partner.example.com/return", "http://127.0.0.1:9/return", "myapp://redirect"]),
    )


class TokenError(Exception):
    """POST /auth or POST /links did not hand out a token; the message says what came back."""


def _excerpt(response: Any) -> str:
    text = response.text
    return text if len(text) <= 300 else text[:300] + "..."


def _token(http: Any, url: str, label: str, field: str, **request: Any) -> str:
    """The string `field` of a 2xx answer to POST `url`, or TokenError naming `label`."""
    response = http.post(url, **request)
    try:
        token = response.json()[field]
    except (ValueError, KeyError, TypeError):
        token = None
    if not 200 <= response.status_code < 300 or not isinstance(token, str):
        raise TokenError(f"POST {label} answered {response.status_code} without {_a(field)}: {_excerpt(response)}")
    return token


def _a(field: str) -> str:
    return f"{'an' if field[0] in 'aeiou' else 'a'} {field}"


def fetch_tokens(http: Any, prefix: str, keys: dict[str, str]) -> dict[str, str]:
    """{"accessToken": ..., "linkToken": ...} from `POST {prefix}/auth` then `POST {prefix}/links`."""
    access = _token(http, f"{prefix}/auth", "/auth", "accessToken", json=keys)
    link = _token(
        http, f"{prefix}/links", "/links", "linkToken", json={}, headers={"Authorization": f"Bearer {access}"}
    )
    return {"accessToken": access, "linkToken": link}


def fetch_payment_tokens(http: Any, prefix: str, keys: dict[str, str]) -> dict[str, str]:
    """{"paymentToken": ...} from `POST {prefix}/customer/v1/auth` (the payments API's own token)."""
    return {"paymentToken": _token(http, f"{prefix}/customer/v1/auth", "/customer/v1/auth", "accessToken", json=keys)}


# The tokens of each contract, by the security scheme names its spec uses.
TOKEN_FETCHERS: dict[str, Callable[[Any, str, dict[str, str]], dict[str, str]]] = {
    "data": fetch_tokens,
    "payments": fetch_payment_tokens,
}


def security_schemes(case: Any) -> list[str]:
    """The security scheme names the case's operation takes (its own `security`, else the root's)."""
    security = case.operation.definition.raw.get("security")
    if security is None:
        security = case.operation.schema.raw_schema.get("security") or []
    return [scheme for requirement in security for scheme in requirement]


def set_token(case: Any, tokens: dict[str, str]) -> None:
    """Authorization: Bearer <the token of the operation's first security scheme>, if any."""
    for scheme in security_schemes(case):
        if scheme in tokens:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {tokens[scheme]}"}
            return


def klavi_auth(
    http: Any | Callable[[], Any],
    prefix: str = "",
    keys: dict[str, str] | Callable[[], dict[str, str]] | None = None,
    on_error: Callable[[TokenError], None] | None = None,
    contract: str | Callable[[], str] = "data",
) -> type:
    """An auth provider class for `schema.auth()` / `schemathesis.auth()`.

    `http` is a client with `.post(url, json=, headers=)` returning an httpx-style response
    (a starlette TestClient, an httpx.Client), or a zero-argument callable making a fresh one
    per token fetch (used as a context manager); `prefix` is put before `/auth` and `/links`
    (e.g. "/data/v1" for an in-process app; "/payment" for the payments contract); `contract`
    is "data" or "payments" (TOKEN_FETCHERS: which tokens to get), or a zero-argument callable
    returning it (read at each fetch); `keys` is the accessKey/secretKey body, or a
    zero-argument callable returning it (read at each fetch). Default: the sandbox keys.

    When the tokens cannot be had, `get` raises TokenError (schemathesis reports it as an
    authentication error on every operation); with `on_error`, it calls `on_error(exc)` instead
    and the operations go without a token (a server whose POST /auth breaks the contract then
    gets that reported by the checks on POST /auth, not drowned in auth errors).
    """

    def credentials() -> dict[str, str]:
        return dict(keys() if callable(keys) else (keys or SANDBOX_KEYS))

    def tokens() -> dict[str, str]:
        fetch = TOKEN_FETCHERS[contract() if callable(contract) else contract]
        if hasattr(http, "post"):
            return fetch(http, prefix, credentials())
        with http() as client:
            return fetch(client, prefix, credentials())

    class KlaviAuth:
        """Fresh tokens of the contract; each operation gets the one its security names."""

        def get(self, case, context):
            if on_error is None:
                return tokens()
            try:
                return tokens()
            except TokenError as exc:
                on_error(exc)
                return None

        def set(self, case, tokens, context):
            set_token(case, tokens)

    return KlaviAuth
