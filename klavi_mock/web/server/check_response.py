"""Step 6 (strict mode, the test suites): a response the spec does not describe is a bug
in the mock, raised as an AssertionError rather than sent."""

from __future__ import annotations

import json

from starlette.responses import Response

from klavi_mock.spec.operations import Operation
from klavi_mock.spec.validation import problems


def check_response(operation: Operation, response: Response) -> None:
    if response.status_code >= 500:  # the mock's own failure (or 501, not built yet), not the contract's
        return
    if response.status_code not in operation.declared_statuses:
        raise AssertionError(
            f"{operation.operation_id} answered {response.status_code}, which the spec does not declare"
        )
    validator = operation.response_validators.get(response.status_code)
    if validator is None or not response.headers.get("content-type", "").startswith("application/json"):
        return  # not a JSON response (a page for a browser, a redirect)
    found = problems(validator, json.loads(bytes(response.body)), "response")
    if found:
        raise AssertionError(f"{operation.operation_id} answered {response.status_code} off-spec: {'; '.join(found)}")
