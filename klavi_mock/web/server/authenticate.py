"""Step 1: who sends the request. The operation's security scheme names the credential:
the control API's admin token, or a bearer token of the kinds it accepts."""

from __future__ import annotations

import hmac

from starlette.requests import Request

from klavi_mock.domain.tenants import Tenant
from klavi_mock.domain.tokens import TokenClaims
from klavi_mock.errors import Unauthorized
from klavi_mock.sandbox.sandbox import TOKEN_KINDS, Sandbox
from klavi_mock.spec.operations import Operation
from klavi_mock.web.server.call import Record

ADMIN_SCHEME = "adminToken"  # the control API's own scheme (mock-admin.yaml)


def authenticate(
    request: Request, operation: Operation, sandbox: Sandbox, record: Record
) -> tuple[Tenant | None, TokenClaims | None]:
    """The tenant and token claims behind the request (None for operations that take no
    token), noted on the record; Unauthorized when the credential is missing or wrong."""
    if operation.security == (ADMIN_SCHEME,):
        _check_admin_token(request, sandbox.settings.admin_token)
        return None, None
    if operation.security:
        kinds = tuple(TOKEN_KINDS[name] for name in operation.security)
        tenant, claims = sandbox.authenticate(_bearer(request, operation), kinds, operation.label)
        record.app_id, record.claims = tenant.app_id, claims
        return tenant, claims
    if request.path_params.get("appId") in sandbox.tenants:  # Basic WhiteLabel: the partner is in the path
        record.app_id = request.path_params["appId"]
    return None, None


def token_owner(request: Request, sandbox: Sandbox) -> str | None:
    """Whose bearer token a refused request carried, if any: the conformance report files
    the refusal under that tenant."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return sandbox.tokens.tenant_of(token.strip()) if scheme.lower() == "bearer" and token.strip() else None


def _check_admin_token(request: Request, expected: str | None) -> None:
    if expected is None:
        return
    sent = request.headers.get("x-mock-admin-token", "")
    if not hmac.compare_digest(sent.encode(), expected.encode()):
        reason = "missing" if not sent else "wrong"
        raise Unauthorized(f"the control API needs the mock's admin token: X-Mock-Admin-Token is {reason}")


def _bearer(request: Request, operation: Operation) -> str:
    header = request.headers.get("authorization")
    if not header:
        raise Unauthorized(f"missing Authorization header; {_what_to_send(operation)}")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(f"the Authorization header must be 'Bearer <token>'; {_what_to_send(operation)}")
    return token.strip()


def _what_to_send(operation: Operation) -> str:
    name = operation.security[0]
    return f"{operation.label} takes {'an' if name[0] in 'aeiou' else 'a'} {name}: send Authorization: Bearer <{name}>"
