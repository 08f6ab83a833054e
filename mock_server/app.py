"""create_app(settings) -> the Starlette app: the Klavi API from openapi/klavi.yaml, the
control API from openapi/mock-admin.yaml, and the mock's own pages."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.requests import Request
from starlette.responses import Response

from .admin import ADMIN_HANDLERS
from .api import ALIASES, HANDLERS, NOT_SERVED
from .bank.routes import BankPages
from .config import Settings
from .errors import InvalidRequest, KlaviError, MethodNotAllowed, NotFound
from .routing import check_handlers, error_response, spec_routes
from .sandbox import Sandbox
from .store import MemoryStore
from .spec import load_spec
from .webhooks.dispatcher import Dispatcher

log = logging.getLogger("klavi_mock")

class CrossOrigin:
    """CORS for browser front ends (they call with the linkToken), and nothing at all for the
    requests without an Origin header: back ends, tests, the bulk of the traffic."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.cors = CORSMiddleware(app, allow_origins=["*"], allow_methods=["*"], allow_headers=["*"])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and any(name == b"origin" for name, _ in scope["headers"]):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)


class CommitBeforeResponding:
    """With a state file: what a request changed is written before its answer goes out, so
    an answer the client has seen survives a restart, kill -9 included."""

    def __init__(self, app: ASGIApp, store: MemoryStore) -> None:
        self.app = app
        self.store = store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_after_commit(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.store.commit()
            await send(message)

        await self.app(scope, receive, send_after_commit)


TICK_SECONDS = 1.0  # how often time-driven changes are looked for when no request comes


async def _tick(sandbox: Sandbox) -> None:
    """Wall-clock time passes too: carry out what falls due even with no request. Also the
    store's slow upkeep (a state file's checkpoint), in a thread, off the event loop."""
    while True:
        await asyncio.sleep(TICK_SECONDS)
        try:
            sandbox.run_due()
            if sandbox.store.durable:
                sandbox.store.commit()
                await asyncio.to_thread(sandbox.store.checkpoint)
        except Exception:  # a bug must not stop the clock
            log.exception("running due work failed")


def create_app(settings: Settings | None = None, sandbox: Sandbox | None = None) -> Starlette:
    settings = settings or Settings()
    sandbox = sandbox or Sandbox(settings)
    klavi, admin = load_spec("klavi.yaml"), load_spec("mock-admin.yaml")
    check_handlers("klavi.yaml", klavi, HANDLERS, NOT_SERVED)
    check_handlers("mock-admin.yaml", admin, ADMIN_HANDLERS, frozenset())
    routes = (
        spec_routes(klavi, HANDLERS, NOT_SERVED, sandbox, record=True, aliases=ALIASES)
        + spec_routes(admin, ADMIN_HANDLERS, frozenset(), sandbox)
        + BankPages(sandbox).routes()
    )
    known_routes = sorted(
        {f"{op.method} {spec.base_path}{op.path}" for spec in (klavi, admin) for op in spec.operations.values()},
        key=lambda r: r.split(" ", 1)[1],
    )

    async def not_found(request: Request, exc: Exception) -> Response:
        in_api = request.url.path.startswith(klavi.base_path + "/")
        listed = [r for r in known_routes if not in_api or klavi.base_path in r]
        error = NotFound(f"no route {request.method} {request.url.path}; the routes are: {', '.join(listed)}")
        if in_api:  # a client calling a path the spec does not have
            sandbox.conformance.record(None, f"{request.method} {request.url.path}", 404,
                                       [f"path: {request.url.path} is not in the spec"])
        return error_response(error)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 405:
            return error_response(MethodNotAllowed(str(exc.detail), headers=exc.headers))
        return error_response(InvalidRequest(str(exc.detail)) if exc.status_code == 400 else KlaviError(str(exc.detail)))

    async def klavi_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, KlaviError)  # raised outside the API's dispatchers (the web pages)
        return error_response(exc)

    async def server_error(request: Request, exc: Exception) -> Response:
        # A bug in the mock: log it with its traceback, never send the traceback.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(KlaviError(f"klavi-mock hit an internal error ({type(exc).__name__}); see its log"))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        dispatcher = Dispatcher(sandbox.clock, sandbox.store,
                                lambda app_id: sandbox.tenants[app_id].secret_key if app_id in sandbox.tenants else None)
        sandbox.wake_dispatcher = dispatcher.wake
        ticker, delivering = asyncio.create_task(_tick(sandbox)), asyncio.create_task(dispatcher.run())
        try:
            yield
        finally:
            sandbox.wake_dispatcher = lambda: None
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            await dispatcher.shutdown(delivering)
            sandbox.close()
            if sandbox.store.outbox:
                kept = (f"kept in {settings.state_file}, sent after the restart" if settings.state_file
                        else "dropped: run with --state-file to keep them")
                log.warning("%d webhook deliveries still pending at shutdown (%s)", len(sandbox.store.outbox), kept)

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(CrossOrigin)]
        + ([Middleware(CommitBeforeResponding, store=sandbox.store)] if sandbox.store.durable else []),
        exception_handlers={404: not_found, HTTPException: http_error, KlaviError: klavi_error, Exception: server_error},
    )
    # An id with a trailing slash (/consents/abc/) is an unknown route, answered 404 in
    # Klavi's shape, not a redirect to somewhere else.
    app.router.redirect_slashes = False
    app.state.sandbox = sandbox
    return app
