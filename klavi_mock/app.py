"""create_app(settings) -> the Starlette app: the Klavi API from openapi/klavi.yaml, the
control API from openapi/mock-admin.yaml, and the mock's own pages.

Two mounts, the Klavi API first: its requests meet no other route and no middleware (its
pipeline holds the unit of work, CORS and the page policy of its one page itself:
web/server/pipeline.py). Everything else (the control API, the cockpit, the bank and the
hosted pages) is behind the control API's guard, the page policy and a unit of work per
request."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.routing import Mount, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from klavi_mock.config import Settings
from klavi_mock.sandbox.sandbox import Sandbox
from klavi_mock.spec.operations import load_spec
from klavi_mock.web.apis.control.handlers import ADMIN_HANDLERS
from klavi_mock.web.apis.data_v1.handlers import ALIASES, ERROR_PAGES, HANDLERS, NOT_SERVED
from klavi_mock.web.pages.bank.routes import BankPages
from klavi_mock.web.pages.cockpit.routes import CockpitPages
from klavi_mock.web.pages.hosted.pages import HostedPages
from klavi_mock.web.server.commit import OneUnitPerRequest
from klavi_mock.web.server.errors import AppErrors
from klavi_mock.web.server.lifespan import lifespan
from klavi_mock.web.server.routing import KlaviApi, check_handlers, dispatchers, spec_routes
from klavi_mock.web.server.security import ControlApiGuard, PageSecurityHeaders
from klavi_mock.webhooks.dispatcher import Dispatcher

log = logging.getLogger("klavi_mock")

# /data, not /data/v1: the report paths real clients send without /v1 are aliases (ALIASES).
API_PREFIX = "/data"


def _webhook_delivery(settings: Settings, sandbox: Sandbox) -> contextlib.AbstractAsyncContextManager[None]:
    """The webhook dispatcher, running while the app serves."""

    @contextlib.asynccontextmanager
    async def running() -> AsyncIterator[None]:
        dispatcher = Dispatcher(
            sandbox.clock,
            sandbox.store,
            lambda app_id: sandbox.tenants[app_id].secret_key if app_id in sandbox.tenants else None,
        )
        sandbox.wake_dispatcher = dispatcher.wake
        delivering = asyncio.create_task(dispatcher.run())
        try:
            yield
        finally:
            sandbox.wake_dispatcher = lambda: None
            await dispatcher.shutdown(delivering)
            if sandbox.store.outbox:
                kept = (
                    f"kept in {settings.state_file}, sent after the restart"
                    if settings.state_file
                    else "dropped: run with --state-file to keep them"
                )
                log.warning("%d webhook deliveries still pending at shutdown (%s)", len(sandbox.store.outbox), kept)

    return running()


class MockApp(Starlette):
    """Starlette, with the Klavi API's requests handed straight to its mount's app: they
    skip the router and Starlette's exception middleware (the API's pipeline answers its
    own errors); only the last-resort 500 stays, as for every request."""

    def __init__(self, api: ASGIApp, api_prefix: str, errors: AppErrors, **options: Any) -> None:
        super().__init__(exception_handlers=errors.handlers(), **options)  # type: ignore[arg-type]
        self.api_prefix = api_prefix
        self.api = ServerErrorMiddleware(api, handler=errors.server_error)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(self.api_prefix):
            scope["app"] = self
            await self.api(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


def create_app(settings: Settings | None = None, sandbox: Sandbox | None = None) -> Starlette:
    settings = settings or Settings()
    sandbox = sandbox or Sandbox(settings)
    klavi, admin = load_spec("klavi.yaml"), load_spec("mock-admin.yaml")
    check_handlers("klavi.yaml", klavi, HANDLERS, NOT_SERVED)
    check_handlers("mock-admin.yaml", admin, ADMIN_HANDLERS, frozenset())
    all_routes = sorted(
        {f"{op.method} {spec.base_path}{op.path}" for spec in (klavi, admin) for op in spec.operations.values()},
        key=lambda r: r.split(" ", 1)[1],
    )
    api = KlaviApi(
        dispatchers(klavi, HANDLERS, NOT_SERVED, sandbox, klavi_api=True, error_pages=ERROR_PAGES, aliases=ALIASES),
        sandbox,
        api_prefix=klavi.base_path,
        api_routes=[r for r in all_routes if klavi.base_path in r],
        all_routes=all_routes,
    )
    rest = (
        spec_routes(dispatchers(admin, ADMIN_HANDLERS, frozenset(), sandbox, klavi_api=False))
        + BankPages(sandbox).routes()
        + HostedPages(sandbox).routes()
        + CockpitPages(sandbox).routes()
    )
    errors = AppErrors(all_routes)
    app = MockApp(
        api,
        API_PREFIX + "/",
        errors,
        routes=[
            Mount(API_PREFIX, app=api),  # first; MockApp sends the API's requests to it directly
            Mount(
                "",
                # An id with a trailing slash (/consents/abc/) is an unknown route, answered
                # 404 in Klavi's shape, not a redirect to somewhere else.
                app=Router(rest, redirect_slashes=False),
                middleware=[
                    Middleware(ControlApiGuard, settings=settings),
                    Middleware(PageSecurityHeaders),
                    Middleware(OneUnitPerRequest, sandbox=sandbox),
                ],
            ),
        ],
        lifespan=lifespan(sandbox, lambda: _webhook_delivery(settings, sandbox)),
    )
    app.router.redirect_slashes = False
    app.state.sandbox = sandbox
    return app
