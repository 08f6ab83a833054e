"""Routes built from a spec: one pipeline (pipeline.PathDispatcher) per path, one handler
per operationId, checked against each other at start-up.

The Klavi API is one ASGI app (`KlaviApi`, mounted first under /data): its paths are
compiled once into a table (a dict for the fixed paths, the templated ones by regular
expression), it answers its own 404s (recorded, like any API request) and sends requests
with an Origin header through CORS. The control API's paths are ordinary Starlette routes.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from starlette.requests import Request
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from klavi_mock.sandbox.sandbox import Sandbox
from klavi_mock.spec.operations import Operation, Spec
from klavi_mock.web.server.call import ErrorPage, Handler
from klavi_mock.web.server.errors import error_response, no_route
from klavi_mock.web.server.pipeline import PathDispatcher
from klavi_mock.web.server.record import record_unrouted
from klavi_mock.web.server.security import cross_origin, header


@dataclass(frozen=True)
class Alias:
    """A request real clients send that the spec does not have (e.g. DELETE
    /consents/{consentId} without /revoke), served as one of the spec's operations and
    reported as a tolerated deviation: one entry per alias, whatever the ids in the path."""

    method: str
    path: str  # the whole path template, e.g. /data/v1/consents/{consentId}
    operation_id: str  # the operation that serves it
    note: str  # what the conformance report says


class SpecMismatch(Exception):
    """The spec and the handlers disagree; raised at start-up."""


def check_handlers(spec_name: str, spec: Spec, handlers: Mapping[str, Handler], not_served: frozenset[str]) -> None:
    operations = set(spec.operations)
    missing = sorted(operations - set(handlers) - not_served)
    orphans = sorted((set(handlers) | not_served) - operations)
    both = sorted(set(handlers) & not_served)
    trouble = []
    if missing:
        trouble.append("operations with no handler: " + ", ".join(f"{o} ({spec.operations[o].label})" for o in missing))
    if orphans:
        trouble.append("handlers with no operation in the spec: " + ", ".join(orphans))
    if both:
        trouble.append("operations both handled and listed as not served: " + ", ".join(both))
    if trouble:
        raise SpecMismatch(f"openapi/{spec_name} and the handlers disagree: " + "; ".join(trouble))


def dispatchers(
    spec: Spec,
    handlers: Mapping[str, Handler],
    not_served: frozenset[str],
    sandbox: Sandbox,
    *,
    klavi_api: bool,
    error_pages: Mapping[str, ErrorPage] | None = None,
    aliases: tuple[Alias, ...] = (),
) -> dict[str, PathDispatcher]:
    """Path template (the whole path) -> its pipeline."""
    by_path: dict[str, list[Operation]] = {}
    for operation in spec.operations.values():
        by_path.setdefault(spec.base_path + operation.path, []).append(operation)
    aliased: dict[str, dict[str, tuple[Operation, str]]] = {}
    for alias in aliases:
        if alias.operation_id not in spec.operations:
            raise SpecMismatch(
                f"alias {alias.method} {alias.path} names {alias.operation_id}, which the spec does not have"
            )
        aliased.setdefault(alias.path, {})[alias.method] = (spec.operations[alias.operation_id], alias.note)
    pages = error_pages or {}
    return {
        path: PathDispatcher(by_path.get(path, []), handlers, not_served, pages, sandbox, klavi_api, aliased.get(path))
        for path in {**by_path, **aliased}
    }


def spec_routes(paths: Mapping[str, PathDispatcher]) -> list[Route]:
    """Starlette routes for the control API."""
    return [Route(path, dispatcher) for path, dispatcher in paths.items()]


_PARAMETER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _template(path: str) -> re.Pattern[str]:
    """/consents/{consentId} -> a regular expression with one named group per parameter
    (a parameter is one path segment, as Starlette's default convertor has it)."""
    pattern, at = "", 0
    for match in _PARAMETER.finditer(path):
        pattern += re.escape(path[at : match.start()]) + f"(?P<{match.group(1)}>[^/]+)"
        at = match.end()
    return re.compile(pattern + re.escape(path[at:]))


class KlaviApi:
    """The Klavi APIs' ASGI app (the data API and the payments API): routes compiled once,
    then one pipeline per request."""

    def __init__(
        self,
        paths: Mapping[str, PathDispatcher],
        sandbox: Sandbox,
        api_prefixes: Sequence[str],
        api_routes: Sequence[str],
        all_routes: Sequence[str],
    ) -> None:
        self.sandbox = sandbox
        self.fixed = {path: d for path, d in paths.items() if "{" not in path}
        self.templated = [(_template(path), d) for path, d in paths.items() if "{" in path]
        # Their unknown paths are recorded and list the APIs' routes only.
        self.api_prefixes = tuple(prefix + "/" for prefix in api_prefixes)
        self.api_routes = api_routes
        self.all_routes = all_routes
        self.cors = cross_origin(self.route)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.sandbox.run_due()  # due work on the clock first, outside the request's unit
        if header(scope, b"origin") is not None:  # a browser front end
            await self.cors(scope, receive, send)
        else:
            await self.route(scope, receive, send)

    async def route(self, scope: Scope, receive: Receive, send: Send) -> None:
        path, root = scope["path"], scope.get("app_root_path", "")
        if root and path.startswith(root):  # served under a root path (a proxy's prefix)
            path = path[len(root) :]
        dispatcher = self.fixed.get(path)
        if dispatcher is None:
            for pattern, candidate in self.templated:
                match = pattern.fullmatch(path)
                if match is not None:
                    scope["path_params"] = match.groupdict()
                    dispatcher = candidate
                    break
            else:
                await self.not_found(scope, receive, send)
                return
        await dispatcher(scope, receive, send)

    async def not_found(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        request = Request(scope, receive)
        path = request.url.path
        if path.startswith(self.api_prefixes):  # a client calling a path the spec does not have
            response = error_response(no_route(request.method, path, self.api_routes))
            record_unrouted(self.sandbox, request, response, started)
        else:
            response = error_response(no_route(request.method, path, self.all_routes))
        await response(scope, receive, send)
