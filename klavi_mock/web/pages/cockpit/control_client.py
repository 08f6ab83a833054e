"""The pages' one way to the state: the control API's own handlers, asked in-process with
the same Call they get over HTTP. A page shows exactly what the control API answers."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from klavi_mock.sandbox.sandbox import Sandbox
from klavi_mock.spec.operations import load_spec
from klavi_mock.web.apis.control.handlers import ADMIN_HANDLERS
from klavi_mock.web.server.call import Call, Record


class ControlApi:
    def __init__(self, sandbox: Sandbox, request: Request) -> None:
        self.sandbox = sandbox
        self.request = request
        self.spec = load_spec("mock-admin.yaml")

    async def ask(
        self,
        operation_id: str,
        path: dict[str, Any] | None = None,
        query: dict[str, Any] | None = None,
        body: Any = None,
    ) -> Any:

        query = {k: v for k, v in (query or {}).items() if v not in (None, "")}
        call = Call(
            self.request,
            self.spec.operations[operation_id],
            self.sandbox,
            path or {},
            query,
            body,
            None,
            None,
            Record(),
        )
        response = await ADMIN_HANDLERS[operation_id](call)
        return json.loads(bytes(response.body))


def items_of(answer: Any) -> list[dict]:
    """A list answer's items, bare (today's GET /__mock/webhooks) or in a page object
    ({"items": [...], "nextCursor": ...})."""
    return answer["items"] if isinstance(answer, dict) else answer
