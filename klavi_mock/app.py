"""create_app(settings) -> the Starlette app: the Klavi APIs from openapi/klavi.yaml (data)
and openapi/klavi-payments.yaml (payments), the control API from openapi/mock-admin.yaml, and
the mock's own pages.

The Klavi APIs' mounts come first: their requests meet no other route and no middleware (the
pipeline holds the unit of work, CORS and the page policy of the data API's one page itself:
web/server/pipeline.py). Everything else (the control API, the cockpit, the bank and the
hosted pages) is behind the control API's guard, the page policy and a unit of work per
request."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import secrets
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.routing import Mount, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from klavi_mock.config import ConfigError, Settings
from klavi_mock.domain.clock import Clock
from klavi_mock.domain.institutions import InstitutionCatalog
from klavi_mock.domain.personas import PersonaCatalog
from klavi_mock.domain.timeline import Timeline
from klavi_mock.domain.tokens import TokenService
from klavi_mock.qa.conformance import ConformanceLog
from klavi_mock.qa.faults import FaultBook
from klavi_mock.qa.journal import RequestJournal
from klavi_mock.qa.tracking import TrackingLog
from klavi_mock.resources import fixtures_dir
from klavi_mock.sandbox.automatic_pix import AutomaticPix
from klavi_mock.sandbox.consents import ConsentLifecycle
from klavi_mock.sandbox.notifications import Notifications
from klavi_mock.sandbox.payments import InstantPayments
from klavi_mock.sandbox.report_builder import ProcessBuilder, ThreadBuilder
from klavi_mock.sandbox.reports import ReportService
from klavi_mock.sandbox.sandbox import Sandbox
from klavi_mock.sandbox.tasks import OpenDataTasks
from klavi_mock.sandbox.tenants import Tenants
from klavi_mock.spec.operations import load_spec
from klavi_mock.storage.memory import MemoryStore
from klavi_mock.storage.protocol import Store
from klavi_mock.storage.sqlite import SqliteStore
from klavi_mock.web.apis.control.handlers import ADMIN_HANDLERS
from klavi_mock.web.apis.data_v1.handlers import ALIASES, ERROR_PAGES, HANDLERS, NOT_SERVED
from klavi_mock.web.apis.payments import handlers as payments_api
from klavi_mock.web.pages.bank.routes import BankPages
from klavi_mock.web.pages.cockpit.routes import CockpitPages
from klavi_mock.web.pages.hosted.pages import HostedPages
from klavi_mock.web.pages.payments.automatic import AutomaticPixPages
from klavi_mock.web.pages.payments.instant import PaymentPages
from klavi_mock.web.server.commit import OneUnitPerRequest
from klavi_mock.web.server.errors import AppErrors
from klavi_mock.web.server.lifespan import lifespan
from klavi_mock.web.server.routing import KlaviApi, check_handlers, dispatchers, spec_routes
from klavi_mock.web.server.security import ControlApiGuard, PageSecurityHeaders
from klavi_mock.webhooks.dispatcher import Dispatcher
from klavi_mock.webhooks.service import Webhooks
from klavi_mock.webhooks.wakeup import WakeUp

log = logging.getLogger("klavi_mock")

# /data, not /data/v1: the report paths real clients send without /v1 are aliases (ALIASES).
API_PREFIX = "/data"
PAYMENTS_PREFIX = "/payment"
REPORTS_GRACE = 5.0  # seconds the report builds under way get when the mock stops


def _webhook_delivery(settings: Settings, sandbox: Sandbox) -> contextlib.AbstractAsyncContextManager[None]:
    """The webhook dispatcher, running while the app serves, and the report builds: the
    builder starts (`serve`'s process: before the first wave of requests), those a stop left
    owed start with it; those under way get a grace before it stops (what is still unbuilt
    then stays owed in a state file)."""

    @contextlib.asynccontextmanager
    async def running() -> AsyncIterator[None]:
        dispatcher = Dispatcher(sandbox.clock, sandbox.store, sandbox.tenants.secret_key, sandbox.wakeup)
        delivering = asyncio.create_task(dispatcher.run())
        await sandbox.reports.builder.start()
        sandbox.reports.resume()
        try:
            yield
        finally:
            await sandbox.reports.settle(REPORTS_GRACE)
            await sandbox.reports.builder.close()
            await dispatcher.shutdown(delivering)
            if sandbox.store.outbox_size():
                kept = (
                    "kept in the database, sent by another instance or after the restart"
                    if settings.database_url
                    else f"kept in {settings.state_file}, sent after the restart"
                    if settings.state_file
                    else "dropped: run with --state-file to keep them"
                )
                log.warning("%d webhook deliveries still pending at shutdown (%s)", sandbox.store.outbox_size(), kept)

    return running()


class MockApp(Starlette):
    """Starlette, with the Klavi APIs' requests handed straight to their mount's app: they
    skip the router and Starlette's exception middleware (the APIs' pipeline answers its
    own errors); only the last-resort 500 stays, as for every request."""

    def __init__(self, api: ASGIApp, api_prefixes: tuple[str, ...], errors: AppErrors, **options: Any) -> None:
        super().__init__(exception_handlers=errors.handlers(), **options)  # type: ignore[arg-type]
        self.api_prefixes = api_prefixes
        self.api = ServerErrorMiddleware(api, handler=errors.server_error)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(self.api_prefixes):
            scope["app"] = self
            await self.api(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


def create_app(settings: Settings | None = None, sandbox: Sandbox | None = None) -> Starlette:
    settings = settings or Settings()
    sandbox = sandbox or compose(settings)
    klavi, payments, admin = load_spec("klavi.yaml"), load_spec("klavi-payments.yaml"), load_spec("mock-admin.yaml")
    check_handlers("klavi.yaml", klavi, HANDLERS, NOT_SERVED)
    check_handlers("klavi-payments.yaml", payments, payments_api.HANDLERS, payments_api.NOT_SERVED)
    check_handlers("mock-admin.yaml", admin, ADMIN_HANDLERS, frozenset())
    all_routes = sorted(
        {
            f"{op.method} {spec.base_path}{op.path}"
            for spec in (klavi, payments, admin)
            for op in spec.operations.values()
        },
        key=lambda r: r.split(" ", 1)[1],
    )
    api = KlaviApi(
        {
            **dispatchers(
                klavi, HANDLERS, NOT_SERVED, sandbox, klavi_api=True, error_pages=ERROR_PAGES, aliases=ALIASES
            ),
            **dispatchers(
                payments,
                payments_api.HANDLERS,
                payments_api.NOT_SERVED,
                sandbox,
                klavi_api=True,
                error_pages=payments_api.ERROR_PAGES,
            ),
        },
        sandbox,
        api_prefixes=(klavi.base_path, payments.base_path),
        # by prefix: "/payment" is also in the control API's /__mock/payments/... paths
        api_routes=[
            r for r in all_routes if r.split(" ", 1)[1].startswith((f"{klavi.base_path}/", f"{payments.base_path}/"))
        ],
        all_routes=all_routes,
    )
    rest = (
        spec_routes(dispatchers(admin, ADMIN_HANDLERS, frozenset(), sandbox, klavi_api=False))
        + BankPages(sandbox).routes()
        + HostedPages(sandbox).routes()
        + CockpitPages(sandbox).routes()
        # -- instant payments --
        + PaymentPages(sandbox).routes()
        + AutomaticPixPages(sandbox).routes()  # -- automatic pix --
    )
    errors = AppErrors(all_routes)
    app = MockApp(
        api,
        (API_PREFIX + "/", PAYMENTS_PREFIX + "/"),
        errors,
        routes=[
            # First; MockApp sends the APIs' requests to them directly.
            Mount(API_PREFIX, app=api),
            Mount(PAYMENTS_PREFIX, app=api),
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
    builder = ProcessBuilder() if settings.report_process else ThreadBuilder()
    reports = ReportService(store, clock, institutions, personas, tenants, webhooks, builder)
    notifications = Notifications(store, tenants, webhooks, reports)
    consents = ConsentLifecycle(store, clock, institutions, personas, timeline, notifications)
    tasks = OpenDataTasks(store, institutions, consents)
    for consent in store.list_consents():
        consents.reschedule(consent)
    # -- instant payments --
    public_url = settings.public_url or f"http://{settings.host}:{settings.port}"
    instant = InstantPayments(
        store, clock, institutions, personas, webhooks, public_url, strict_tax_ids=settings.strict_tax_ids
    )
    for payment in store.list_instant_payments():
        instant.reschedule(payment)
    automatic_pix = AutomaticPix(store, clock, personas, webhooks, settings.strict_tax_ids)  # -- automatic pix --
    automatic_pix.reschedule()
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
        # -- instant payments --
        instant=instant,
        automatic_pix=automatic_pix,  # -- automatic pix --
    )


def open_store(settings: Settings) -> Store:
    webhooks = {"webhook_concurrency": settings.webhook_concurrency, "webhook_retention": settings.webhook_retention}
    if settings.database_url:
        return _postgres_store(settings.database_url, webhooks)
    if settings.state_file is None:
        return MemoryStore(**webhooks)
    return SqliteStore(settings.state_file, **webhooks)


def _postgres() -> Any:
    """The PostgreSQL backend's module, imported only when a database URL is given: psycopg
    is an optional extra (klavi-mock[postgres]) and the default install never loads it. By
    importlib, not an import statement: the module is a plug-in chosen by the settings, not
    a dependency of the app (tests/unit/test_layers.py forbids hidden import statements)."""
    try:
        return importlib.import_module("klavi_mock.storage.postgres")
    except ImportError as exc:
        raise ConfigError(
            f"--database-url needs the PostgreSQL driver ({exc.name} is not installed): "
            "pip install 'klavi-mock[postgres]'"
        ) from None


def _postgres_store(url: str, webhooks: dict[str, int]) -> Store:
    store: Store = _postgres().PostgresStore(url, **webhooks)
    return store


def migrate_database(url: str) -> tuple[int, int]:
    """`klavi-mock migrate`: the database's schema brought up to date: (version before, now)."""
    before, now = _postgres().migrate(url)
    return int(before), int(now)


def database_name(url: str) -> str:
    """The database a URL names, without its password."""
    return str(_postgres().where(url))


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
