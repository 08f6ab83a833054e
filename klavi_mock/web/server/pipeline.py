"""The request pipeline: one spec path's operations (picked by method), each request
through these steps in this order, each step a module of this package:

    commit.begin       the unit of work (the Klavi API; elsewhere OneUnitPerRequest holds it)
    1 authenticate     the operation's security scheme names the credential
    2 faults.inject    the Klavi API: a fault rule may answer instead, before anything changes
    3 body             the body, for operations that take one (413 past the limit)
    4 validate         path, query, headers and body against the spec
    5 handle           the handler, by operationId (501 for an operation not served yet)
      errors.answer    a KlaviError from 1-5: Klavi's JSON, or the handler's error page
    6 check_response   strict mode: an answer the spec does not describe raises
    7 commit.finish    commit, or undo a 5xx; a commit the state file refuses answers 503
    8 record           the Klavi API: conformance, fault reactions, journal (the status sent)
      send
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import cast

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from klavi_mock.errors import KlaviError, MethodNotAllowed
from klavi_mock.sandbox.sandbox import Sandbox
from klavi_mock.spec.operations import Operation
from klavi_mock.storage.protocol import StorageError
from klavi_mock.web.server import commit, errors, faults
from klavi_mock.web.server.authenticate import authenticate, token_owner
from klavi_mock.web.server.body import read_body
from klavi_mock.web.server.call import ErrorPage, Handler, Record
from klavi_mock.web.server.check_response import check_response
from klavi_mock.web.server.handle import handle
from klavi_mock.web.server.record import record_exchange
from klavi_mock.web.server.security import with_page_policy
from klavi_mock.web.server.validate import validate

log = logging.getLogger("klavi_mock")


class PathDispatcher:
    """The ASGI app behind one spec path. `klavi_api`: the Klavi API's requests also get
    fault injection, their own unit of work and the record (the control API's do not)."""

    def __init__(
        self,
        operations: list[Operation],
        handlers: Mapping[str, Handler],
        not_served: frozenset[str],
        error_pages: Mapping[str, ErrorPage],
        sandbox: Sandbox,
        klavi_api: bool,
        aliases: Mapping[str, tuple[Operation, str]] | None = None,
    ) -> None:
        self.operations = {op.method: op for op in operations}
        self.aliases = dict(aliases or {})  # method -> (the operation serving it, its note)
        self.handlers = handlers
        self.not_served = not_served
        self.sandbox = sandbox
        self.klavi_api = klavi_api
        served = [*self.operations.values(), *(op for op, _ in self.aliases.values())]
        self.error_pages = {op.method: error_pages[op.operation_id] for op in served if op.operation_id in error_pages}
        # Allow names the documented methods only; an alias-only path names its own.
        self.allow = ", ".join(sorted(self.operations or self.aliases))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started, arrived = time.perf_counter(), time.time()  # arrived: wall clock, for fault reactions
        request = Request(scope, receive)
        record = Record()
        method = scope["method"]
        operation, alias_note = self.operations.get(method), None
        if operation is None and method in self.aliases:
            operation, alias_note = self.aliases[method]
        unit, token = commit.begin() if self.klavi_api else (None, None)
        try:
            refused: list[str] = []
            try:
                response = await self._answer(request, operation, record)
            except KlaviError as error:
                response = errors.answer(request, self.sandbox, error, self.error_pages.get(method))
                refused = errors.violations(error)
            except ClientDisconnect:  # the client hung up mid-body: nobody to answer
                if unit is None:
                    raise  # commit.OneUnitPerRequest says so
                commit.hung_up(scope)
                return
            except StorageError as exc:  # the database (down, or a conflict), not a bug: no traceback
                log.warning("%s answered 503: %s", operation.operation_id if operation else request.url.path, exc)
                response = errors.error_response(errors.internal_error(exc))
            except Exception as exc:  # a bug in the mock: logged with its traceback, never sent
                log.exception("unhandled error in %s", operation.operation_id if operation else request.url.path)
                response = errors.error_response(errors.internal_error(exc))
            if operation is not None and self.sandbox.settings.strict and record.fault is None:
                check_response(operation, response)
            if method in self.error_pages:  # it answers people: its pages get the page policy
                with_page_policy(response)
            if unit is not None and response.status_code:  # 0: a fault hangs up, nothing is sent
                refusal = commit.finish(self.sandbox, unit, response.status_code)
                if refusal is not None:
                    response = errors.error_response(refusal)
                if record.app_id is None:
                    record.app_id = token_owner(request, self.sandbox)
                record_exchange(
                    self.sandbox,
                    request,
                    operation,
                    response.status_code,
                    response,
                    record,
                    refused,
                    alias_note,
                    started,
                    arrived,
                )
            await response(scope, receive, send)
        finally:
            if unit is not None and token is not None:
                commit.end(unit, token)

    async def _answer(self, request: Request, operation: Operation | None, record: Record) -> Response:
        """Steps 1-5: the handler's answer, or a fault's; a KlaviError from any of them."""
        if operation is None:
            raise MethodNotAllowed(
                f"{request.method} is not allowed on {request.url.path}; use {self.allow}",
                headers={"Allow": self.allow},
            )
        sandbox = self.sandbox
        tenant, claims = authenticate(request, operation, sandbox, record)
        if self.klavi_api:
            faulted = await faults.inject(sandbox, record, operation, request.scope)
            if faulted is not None:
                return cast(Response, faulted)  # an ASGI app answering like one; the handler never runs
        body = await read_body(request, sandbox.settings.max_body_bytes) if operation.body_schema is not None else b""
        record.body = body
        valid = validate(request, operation, body, sandbox, record)
        return await handle(request, operation, self.handlers, self.not_served, sandbox, valid, tenant, claims, record)
