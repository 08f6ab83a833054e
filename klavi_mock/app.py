"""create_app(settings) -> the Starlette app: the Klavi API from openapi/klavi.yaml, the
control API from openapi/mock-admin.yaml, and the mock's own pages."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from klavi_mock import unit_of_work
from klavi_mock.config import Settings
from klavi_mock.domain.clock import Clock
from klavi_mock.domain.institutions import InstitutionCatalog
from klavi_mock.domain.personas import PersonaCatalog
from klavi_mock.domain.timeline import Timeline
from klavi_mock.domain.tokens import TokenService
from klavi_mock.errors import InvalidRequest, KlaviError, MethodNotAllowed, NotFound, ServiceUnavailable
from klavi_mock.qa.conformance import ConformanceLog
from klavi_mock.qa.faults import FaultBook
from klavi_mock.qa.journal import RequestJournal
from klavi_mock.qa.tracking import TrackingLog
from klavi_mock.resources import fixtures_dir
from klavi_mock.sandbox.consents import ConsentLifecycle
from klavi_mock.sandbox.notifications import Notifications
from klavi_mock.sandbox.reports import ReportService
from klavi_mock.sandbox.sandbox import Sandbox
from klavi_mock.sandbox.tasks import OpenDataTasks
from klavi_mock.sandbox.tenants import Tenants
from klavi_mock.spec.operations import load_spec
from klavi_mock.storage.memory import MemoryStore
from klavi_mock.storage.protocol import StorageError, Store
from klavi_mock.storage.sqlite import SqliteStore
from klavi_mock.web.apis.control.handlers import ADMIN_HANDLERS
from klavi_mock.web.apis.data_v1.handlers import ALIASES, HANDLERS, NOT_SERVED
from klavi_mock.web.pages.bank.routes import BankPages
from klavi_mock.web.pages.cockpit.routes import CockpitPages
from klavi_mock.web.pages.hosted.pages import HostedPages
from klavi_mock.web.server.recording import journal_unrouted
from klavi_mock.web.server.routing import check_handlers, error_response, spec_routes
from klavi_mock.web.server.security import ControlApiGuard, CrossOrigin, PageSecurityHeaders
from klavi_mock.webhooks.dispatcher import Dispatcher
from klavi_mock.webhooks.service import Webhooks
from klavi_mock.webhooks.wakeup import WakeUp

log = logging.getLogger("klavi_mock")


class OneUnitPerRequest:
    """Every request is one unit of work (`unit_of_work.py`). What it changed is committed
    (written to a state file, its webhooks handed to the dispatcher) just before its answer
    goes out, so an answer the client has seen survives a restart, kill -9 included; a
    request that answers 5xx or raises is undone. A commit the state file refuses (a full
    disk) undoes the request too, and the client gets a 503 saying why instead of its answer.

    Due work on the clock runs first, outside the request's unit: a failed request cannot
    undo what time did."""

    def __init__(self, app: ASGIApp, sandbox: Sandbox) -> None:
        self.app = app
        self.sandbox = sandbox

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.sandbox.run_due()
        unit, token = unit_of_work.begin()
        replaced = False

        async def send_committed(message: Message) -> None:
            nonlocal replaced
            if replaced:
                return  # the original answer, swapped for a 503
            if message["type"] == "http.response.start":
                refusal = self._finish(unit, message["status"])
                unit.status = message["status"] if refusal is None else refusal.status
                if refusal is not None:
                    replaced = True
                    await error_response(refusal)(scope, receive, send)
                    return
            await send(message)

        try:
            await self.app(scope, receive, send_committed)
        except ClientDisconnect:  # a normal event: one line, no traceback
            log.info("%s %s: the client hung up before sending its whole request", scope["method"], scope["path"])
        finally:
            if unit.status is None:  # raised, or ended without answering: nothing it did is kept
                unit.rolled_back()
            unit_of_work.end(token)

    def _finish(self, unit: unit_of_work.Unit, status: int) -> ServiceUnavailable | None:
        """Commit the unit, or undo it; the error to answer instead, if the commit failed."""
        if status >= 500:
            unit.rolled_back()
            return None
        try:
            self.sandbox.store.commit()
        except StorageError as exc:
            if not unit.changed_anything:  # the request itself changed nothing: its answer holds
                log.warning("%s; trying again later", exc)
                return None
            unit.rolled_back()
            log.error("%s; the request was answered 503 and nothing it did was kept", exc)
            return ServiceUnavailable(
                f"klavi-mock could not save this change ({exc.__cause__ or exc}); nothing was "
                "changed. Free disk space for the state file and send the request again"
            )
        unit.committed()
        return None


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
        except StorageError as exc:  # kept in memory, written by a later commit
            log.warning("%s; trying again", exc)
        except Exception:  # a bug must not stop the clock
            log.exception("running due work failed")


def create_app(settings: Settings | None = None, sandbox: Sandbox | None = None) -> Starlette:
    settings = settings or Settings()
    sandbox = sandbox or compose(settings)
    klavi, admin = load_spec("klavi.yaml"), load_spec("mock-admin.yaml")
    check_handlers("klavi.yaml", klavi, HANDLERS, NOT_SERVED)
    check_handlers("mock-admin.yaml", admin, ADMIN_HANDLERS, frozenset())
    routes = (
        spec_routes(klavi, HANDLERS, NOT_SERVED, sandbox, record=True, aliases=ALIASES)
        + spec_routes(admin, ADMIN_HANDLERS, frozenset(), sandbox)
        + BankPages(sandbox).routes()
        + HostedPages(sandbox).routes()
        + CockpitPages(sandbox).routes()
    )
    known_routes = sorted(
        {f"{op.method} {spec.base_path}{op.path}" for spec in (klavi, admin) for op in spec.operations.values()},
        key=lambda r: r.split(" ", 1)[1],
    )

    async def not_found(request: Request, exc: Exception) -> Response:
        in_api = request.url.path.startswith(klavi.base_path + "/")
        listed = [r for r in known_routes if not in_api or klavi.base_path in r]
        error = NotFound(f"no route {request.method} {request.url.path}; the routes are: {', '.join(listed)}")
        response = error_response(error)
        if in_api:  # a client calling a path the spec does not have
            sandbox.conformance.record(
                None, f"{request.method} {request.url.path}", 404, [f"path: {request.url.path} is not in the spec"]
            )
            journal_unrouted(sandbox, request, response)
        return response

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 405:
            return error_response(MethodNotAllowed(str(exc.detail), headers=exc.headers))
        return error_response(
            InvalidRequest(str(exc.detail)) if exc.status_code == 400 else KlaviError(str(exc.detail))
        )

    async def klavi_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, KlaviError)  # raised outside the API's dispatchers (the web pages)
        return error_response(exc)

    async def server_error(request: Request, exc: Exception) -> Response:
        # A bug in the mock: log it with its traceback, never send the traceback.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(KlaviError(f"klavi-mock hit an internal error ({type(exc).__name__}); see its log"))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        dispatcher = Dispatcher(sandbox.clock, sandbox.store, sandbox.tenants.secret_key, sandbox.wakeup)
        ticker, delivering = asyncio.create_task(_tick(sandbox)), asyncio.create_task(dispatcher.run())
        try:
            yield
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            await dispatcher.shutdown(delivering)
            sandbox.close()
            if sandbox.store.outbox_size():
                kept = (
                    f"kept in {settings.state_file}, sent after the restart"
                    if settings.state_file
                    else "dropped: run with --state-file to keep them"
                )
                log.warning("%d webhook deliveries still pending at shutdown (%s)", sandbox.store.outbox_size(), kept)

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[
            Middleware(ControlApiGuard, settings=settings),
            Middleware(CrossOrigin),
            Middleware(PageSecurityHeaders),
            Middleware(OneUnitPerRequest, sandbox=sandbox),
        ],
        exception_handlers={
            404: not_found,
            HTTPException: http_error,
            KlaviError: klavi_error,
            Exception: server_error,
        },
    )
    # An id with a trailing slash (/consents/abc/) is an unknown route, answered 404 in
    # Klavi's shape, not a redirect to somewhere else.
    app.router.redirect_slashes = False
    app.state.sandbox = sandbox
    return app


# -- the composition root: every service is built here and given its collaborators ------------


def compose(settings: Settings, clock: Clock | None = None) -> Sandbox:
    """The sandbox for `settings`: the store (a state file's, if any) and the services over
    it, each handed what it calls. Then what the store holds is picked up: the clock's
    offset, tenant settings changed through the control API (`Tenants`), and the jobs the
    stored consents have ahead of them."""
    clock = clock or Clock()
    store = open_store(settings)
    clock.offset = max(clock.offset, _number(store.get_meta("clock_offset")))
    tokens = TokenService(_token_secret(settings, store), clock)
    institutions = InstitutionCatalog.from_file(fixtures_dir() / "institutions.yaml")
    personas = PersonaCatalog.from_file(fixtures_dir() / "personas.yaml")
    timeline = Timeline()
    tenants = Tenants(settings.tenants, store)
    wakeup = WakeUp()
    webhooks = Webhooks(store, clock, tenants, wakeup)
    reports = ReportService(store, clock, institutions, personas, tenants, webhooks)
    notifications = Notifications(store, tenants, webhooks, reports)
    consents = ConsentLifecycle(store, clock, institutions, personas, timeline, notifications)
    tasks = OpenDataTasks(store, institutions, consents)
    for consent in store.list_consents():
        consents.reschedule(consent)
    store.commit()
    return Sandbox(
        settings=settings,
        clock=clock,
        store=store,
        tokens=tokens,
        institutions=institutions,
        personas=personas,
        timeline=timeline,
        tenants=tenants,
        wakeup=wakeup,
        webhooks=webhooks,
        reports=reports,
        notifications=notifications,
        consents=consents,
        tasks=tasks,
        conformance=ConformanceLog(),
        tracking=TrackingLog(),
        faults=FaultBook(settings.faults),
        journal=RequestJournal(settings.journal_size),
    )


def open_store(settings: Settings) -> Store:
    webhooks = {"webhook_concurrency": settings.webhook_concurrency, "webhook_retention": settings.webhook_retention}
    if settings.state_file is None:
        return MemoryStore(**webhooks)
    return SqliteStore(settings.state_file, **webhooks)


def _token_secret(settings: Settings, store: Store) -> str:
    """The configured secret, else the state file's (so its tokens stay valid), else a new one."""
    if settings.token_secret:
        return settings.token_secret
    kept = store.get_meta("token_secret")
    secret = kept if isinstance(kept, str) and kept else secrets.token_urlsafe(32)
    store.set_meta("token_secret", secret)
    return secret


def _number(value: object) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0
