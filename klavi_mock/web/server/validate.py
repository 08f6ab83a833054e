"""Step 4: the request against the spec (path, query, headers, body); what it tolerated
goes on the record."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from klavi_mock.sandbox.sandbox import Sandbox
from klavi_mock.spec.operations import Operation
from klavi_mock.spec.validation import ValidRequest, validate_request
from klavi_mock.web.server.call import Record


def validate(request: Request, operation: Operation, body: bytes, sandbox: Sandbox, record: Record) -> ValidRequest:
    query: Any = request.query_params if request.scope.get("query_string") else {}  # parsing nothing costs too
    valid = validate_request(
        operation,
        request.path_params,
        query,
        request.headers,
        body,
        refuse_bad_check_digits=sandbox.settings.strict_tax_ids,
    )
    record.tolerated = valid.tolerated
    return valid
