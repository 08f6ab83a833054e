"""The cockpit's pages (/__mock/ui...), the offline API reference (/__mock/docs) and their
assets. Each page asks the control API (control_client.ControlApi) and renders one
template; the buttons call the control API from the browser (static/cockpit.js)."""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import parse_qsl, urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from klavi_mock.errors import NotFound
from klavi_mock.resources import package_dir, swagger_ui_dir
from klavi_mock.sandbox.sandbox import Sandbox
from klavi_mock.spec.operations import load_spec
from klavi_mock.web.pages.cockpit import views
from klavi_mock.web.pages.cockpit.access import COOKIE, is_allowed, safe_next, token_matches
from klavi_mock.web.pages.cockpit.control_client import ControlApi, items_of
from klavi_mock.web.server.body import read_body
from klavi_mock.web.server.call import request_origin
from klavi_mock.webhooks.signing import encode_body

_templates = Environment(
    loader=FileSystemLoader(package_dir("web", "pages", "cockpit", "templates")),
    autoescape=select_autoescape(default=True),
)
UI = "/__mock/ui"
DOCS = "/__mock/docs"
SPECS = ("klavi.yaml", "klavi-payments.yaml", "mock-admin.yaml")
SHOWN_DELIVERIES = 200  # the newest; the control API has them all
SHOWN_ITEMS = 200  # consents and links on the dashboard, newest first; filters narrow them
TIMELINE_EVENTS = 1000  # the newest event deliveries the consents' timelines are drawn from


class CockpitPages:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    # -- plumbing -------------------------------------------------------------------------

    def _render(self, name: str, request: Request, status: int = 200, **context: Any) -> HTMLResponse:
        html = _templates.get_template(name).render(
            ui=UI,
            docs=DOCS,
            static=f"{UI}/static",
            path=request.url.path,
            protected=self.sandbox.settings.admin_token is not None,
            **context,
        )
        return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})

    def _login(self, request: Request, error: str | None = None) -> HTMLResponse:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return self._render("login.html", request, 401, next=target, error=error)

    def _guarded(self, page):
        async def handler(request: Request) -> Response:
            if not is_allowed(request, self.sandbox.settings.admin_token):
                return self._login(request)
            return await page(request, ControlApi(self.sandbox, request))

        return handler

    # -- login ----------------------------------------------------------------------------

    async def login(self, request: Request) -> Response:
        form = dict(parse_qsl((await read_body(request, 16_384)).decode("utf-8", "replace")))
        token = form.get("token", "")
        expected = self.sandbox.settings.admin_token
        target = safe_next(form.get("next"))
        if expected is not None and not token_matches(token, expected):
            return self._render("login.html", request, 401, next=target, error="That is not the mock's admin token.")
        response = RedirectResponse(target, status_code=303)
        if expected is not None:
            response.set_cookie(COOKIE, token, path="/__mock", samesite="strict", httponly=False)
        return response

    async def logout(self, request: Request) -> Response:
        response = RedirectResponse(UI, status_code=303)
        response.delete_cookie(COOKIE, path="/__mock")
        return response

    # -- pages ----------------------------------------------------------------------------

    async def dashboard(self, request: Request, api: ControlApi) -> Response:
        q = request.query_params
        filters = {"appId": q.get("appId", ""), "taxId": q.get("taxId", ""), "status": q.get("status", "")}
        statuses = api.spec.resolved["components"]["schemas"]["ConsentStatus"]["enum"]
        status_filter = filters["status"] if filters["status"] in statuses else None
        tenants = await api.ask("listTenants")
        app_filter = filters["appId"] if filters["appId"] in {t["appId"] for t in tenants} else None
        consents = [
            c
            for c in await api.ask("listConsentStates", query={"appId": app_filter, "status": status_filter})
            if views.matches_tax_id(c, filters["taxId"])
        ]
        links = [
            link
            for link in await api.ask("listLinks", query={"appId": app_filter})
            if views.matches_tax_id(link, filters["taxId"])
        ]
        deliveries = items_of(
            await api.ask(
                "listWebhookDeliveries", query={"appId": app_filter, "kind": "event", "limit": TIMELINE_EVENTS}
            )
        )
        force_schema = api.spec.operations["forceConsentStatus"].body_schema
        assert force_schema is not None, "mock-admin.yaml gives forceConsentStatus a body"
        forceable = force_schema["properties"]["status"]["enum"]
        total = {"consents": len(consents), "links": len(links)}
        schemas = api.spec.resolved["components"]["schemas"]
        reports_body = api.spec.operations["setTenantReports"].body_schema
        assert reports_body is not None, "mock-admin.yaml gives setTenantReports a body"
        products = reports_body["properties"]["activatedProducts"]["oneOf"][0]["items"]["enum"]
        fault_operations = schemas["FaultRuleInput"]["properties"]["operationId"].get("enum", [])
        chaos = {t["appId"]: await api.ask("getWebhookChaos", path={"appId": t["appId"]}) for t in tenants}
        consents, links = consents[:SHOWN_ITEMS], links[:SHOWN_ITEMS]
        return self._render(
            "dashboard.html",
            request,
            clock=await api.ask("getClock"),
            tenants=tenants,
            links=links,
            consents=consents,
            total=total,
            shown=SHOWN_ITEMS,
            personas=await api.ask("listPersonas"),
            timelines=views.timelines(deliveries),
            forceable={c["consentId"]: views.allowed_statuses(c["status"], forceable) for c in consents},
            filters=filters,
            statuses=statuses,
            presets=views.CLOCK_PRESETS,
            units=views.CLOCK_UNITS,
            chaos=chaos,
            chaos_modes=views.CHAOS_MODES,
            products=products,
            faults=await api.ask("listFaults"),
            fault_operations=fault_operations,
        )

    async def payments(self, request: Request, api: ControlApi) -> Response:
        """Instant payments and Automatic Pix consents with their charges, and their levers."""
        q = request.query_params
        filters = {name: q.get(name, "") for name in ("appId", "status", "consentStatus")}
        schemas = api.spec.resolved["components"]["schemas"]
        instant_statuses = schemas["InstantPaymentStatus"]["enum"]
        consent_statuses = schemas["AutomaticConsentStatus"]["enum"]
        tenants = await api.ask("listTenants")
        app_id = filters["appId"] if filters["appId"] in {t["appId"] for t in tenants} else None
        instant = await api.ask(
            "listInstantPaymentStates",
            query={"appId": app_id, "status": filters["status"] if filters["status"] in instant_statuses else None},
        )
        automatic = await api.ask(
            "listAutomaticConsentStates",
            query={
                "appId": app_id,
                "status": filters["consentStatus"] if filters["consentStatus"] in consent_statuses else None,
            },
        )
        return self._render(
            "payments.html",
            request,
            clock=await api.ask("getClock"),
            presets=views.PAYMENT_CLOCK_PRESETS,
            tenants=tenants,
            filters=filters,
            instant_statuses=instant_statuses,
            consent_statuses=consent_statuses,
            instant=instant[:SHOWN_ITEMS],
            automatic=automatic[:SHOWN_ITEMS],
            total={"instant": len(instant), "automatic": len(automatic)},
            shown=SHOWN_ITEMS,
            instant_reasons=views.lever_reasons(api.spec.operations["forceInstantPayment"].body_schema),
            automatic_reasons=views.lever_reasons(api.spec.operations["forceAutomaticPayment"].body_schema),
            personas=views.payment_personas(await api.ask("listPersonas")),
            LEVER_LABELS=views.LEVER_LABELS,
            LEVER_HELP=views.LEVER_HELP,
        )

    async def webhooks(self, request: Request, api: ControlApi) -> Response:
        q = request.query_params
        filters = {"appId": q.get("appId", ""), "status": q.get("status", ""), "kind": q.get("kind", "")}
        query = {
            "appId": filters["appId"] or None,
            "status": filters["status"] if filters["status"] in views.DELIVERY_STATUSES else None,
            "kind": filters["kind"] if filters["kind"] in ("event", "report") else None,
        }
        answer = await api.ask("listWebhookDeliveries", query={**query, "limit": SHOWN_DELIVERIES})
        deliveries = items_of(answer)
        shown = deliveries[:SHOWN_DELIVERIES]
        more = len(deliveries) > len(shown) or bool(isinstance(answer, dict) and answer.get("nextCursor"))
        signatures = {}
        for delivery in shown:
            raw = encode_body(delivery["body"]).decode("utf-8")
            checked = await api.ask(
                "verifyWebhookSignature", body={"appId": delivery["appId"], "body": raw, "signature": ""}
            )
            signatures[delivery["deliveryId"]] = checked["expected"]
        return self._render(
            "webhooks.html",
            request,
            deliveries=shown,
            more=more,
            signatures=signatures,
            counts=views.delivery_counts(answer, deliveries),
            filters=filters,
            statuses=views.DELIVERY_STATUSES,
            tenants=await api.ask("listTenants"),
            reports=await api.ask("listReports", query={"appId": query["appId"]}),
        )

    async def requests(self, request: Request, api: ControlApi) -> Response:
        q = request.query_params
        filters = {name: q.get(name, "") for name in ("appId", "operationId", "method", "status", "pathPrefix")}
        query: dict[str, Any] = {k: v for k, v in filters.items() if v and k != "status" and k != "method"}
        if filters["method"].upper() in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            query["method"] = filters["method"].upper()
        if filters["status"].isdigit() and 100 <= int(filters["status"]) <= 599:
            query["status"] = int(filters["status"])
        cursor = q.get("cursor", "")
        if cursor.startswith("c") and cursor[1:].isdigit():
            query["cursor"] = cursor
        page = await api.ask("listRequests", query={**query, "limit": 50})
        next_url = None
        if page["nextCursor"]:
            next_url = f"{UI}/requests?" + urlencode(
                {**{k: v for k, v in filters.items() if v}, "cursor": page["nextCursor"]}
            )
        return self._render(
            "requests.html",
            request,
            journal=page,
            filters=filters,
            next_url=next_url,
            origin=self.sandbox.settings.public_url or request_origin(request),
            operations=sorted(load_spec("klavi.yaml").operations),
        )

    async def conformance(self, request: Request, api: ControlApi) -> Response:
        report = await api.ask("getConformance")
        for tenant in report["tenants"]:
            tenant["coverage"] = views.coverage(tenant)
        return self._render("conformance.html", request, report=report)

    async def docs(self, request: Request, api: ControlApi) -> Response:
        name = request.query_params.get("spec", SPECS[0])
        if name not in SPECS:
            name = SPECS[0]
        return self._render(
            "docs.html", request, spec_name=name, specs=SPECS, spec_url=f"{DOCS}/spec/{name}", assets=f"{DOCS}/assets"
        )

    async def docs_spec(self, request: Request, api: ControlApi) -> Response:
        """The contract for Swagger UI, with its server set to this mock, so try-it-out
        calls the running mock and not Klavi."""
        name = request.path_params["name"]
        if name not in SPECS:
            raise NotFound(f"no contract {name!r}; the contracts are {', '.join(SPECS)}")
        spec = load_spec(name)
        document = copy.deepcopy(spec.document)
        origin = self.sandbox.settings.public_url or request_origin(request)
        document["servers"] = [{"url": f"{origin}{spec.base_path}", "description": "this klavi-mock"}]
        return JSONResponse(document)

    async def home(self, request: Request) -> Response:
        return RedirectResponse(UI, status_code=307)

    def routes(self) -> list:
        guarded = self._guarded
        return [
            Route("/", self.home, methods=["GET"]),
            Route("/__mock", self.home, methods=["GET"]),
            Route("/__mock/", self.home, methods=["GET"]),
            Route(UI, guarded(self.dashboard), methods=["GET"]),
            Route(f"{UI}/payments", guarded(self.payments), methods=["GET"]),
            Route(f"{UI}/webhooks", guarded(self.webhooks), methods=["GET"]),
            Route(f"{UI}/requests", guarded(self.requests), methods=["GET"]),
            Route(f"{UI}/conformance", guarded(self.conformance), methods=["GET"]),
            Route(f"{UI}/login", self.login, methods=["POST"]),
            Route(f"{UI}/logout", self.logout, methods=["POST"]),
            Mount(
                f"{UI}/static",
                StaticFiles(directory=package_dir("web", "pages", "cockpit", "static")),
                name="cockpit-static",
            ),
            Route(DOCS, guarded(self.docs), methods=["GET"]),
            Route(f"{DOCS}/spec/{{name}}", guarded(self.docs_spec), methods=["GET"]),
            Mount(f"{DOCS}/assets", StaticFiles(directory=swagger_ui_dir()), name="swagger-ui"),
        ]
