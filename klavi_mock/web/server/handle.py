"""Step 5: the operation's handler (by operationId), given a validated Call."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import Response

from klavi_mock.domain.tenants import Tenant
from klavi_mock.domain.tokens import TokenClaims
from klavi_mock.errors import NotImplementedYet
from klavi_mock.sandbox.sandbox import Sandbox
from klavi_mock.spec.operations import Operation
from klavi_mock.spec.validation import ValidRequest
from klavi_mock.web.server.call import Call, Handler, Record


async def handle(
    request: Request,
    operation: Operation,
    handlers: Mapping[str, Handler],
    not_served: frozenset[str],
    sandbox: Sandbox,
    valid: ValidRequest,
    tenant: Tenant | None,
    claims: TokenClaims | None,
    record: Record,
) -> Response:
    if operation.operation_id in not_served:
        raise NotImplementedYet(
            f"{operation.operation_id} ({operation.label}) is in the spec but this version of klavi-mock does not serve it yet"
        )
    call = Call(request, operation, sandbox, valid.path, valid.query, valid.body, tenant, claims, record)
    return await handlers[operation.operation_id](call)
