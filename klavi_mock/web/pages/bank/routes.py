"""The mock's fake bank and Klavi's LGPD screen, and the pages' assets. Everything is served
here; nothing comes from a CDN. The hosted link journey (linkURL, Basic WhiteLabel, its
result page) is in `whitelabel/pages.py`.

Non-interactive use (curl, CI): add `decision=approve|deny` (and optionally `lgpd=accept|
decline`, `permissions=A,B`) to the consentRedirectURL, as query parameters or a form post,
and the mock answers with the redirect to the partner straight away.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from klavi_mock.domain import app2app
from klavi_mock.domain.consents import Consent
from klavi_mock.qa.tracking import event
from klavi_mock.sandbox.consents import BankLinkError, BankStep
from klavi_mock.sandbox.sandbox import Sandbox
from klavi_mock.web.pages.bank.forms import one, read_form
from klavi_mock.web.pages.bank.logos import logo_svg
from klavi_mock.web.pages.bank.permissions import permission_items
from klavi_mock.web.rendering import STATIC_DIR, PageRenderer, date_label, leave_for, masked_tax_id

LINK_ERRORS = {
    "unknown": (404, "Link inválido", "Este endereço de autorização não existe ou foi digitado incorretamente."),
    "used": (
        410,
        "Link já utilizado",
        "Este link de autorização só pode ser aberto uma vez. Volte ao aplicativo e comece de novo.",
    ),
    "expired": (
        410,
        "Link expirado",
        "O link de autorização vale por 60 segundos depois de criado. O consentimento foi recusado; volte ao aplicativo e comece de novo.",
    ),
    "finished": (410, "Solicitação encerrada", "Esta solicitação de compartilhamento já foi concluída ou cancelada."),
}


STATUS_LABELS = {
    "AWAITING_AUTHORISATION": "aguardando autorização no banco",
    "AWAITING_LGPD_AUTHORISATION": "aguardando o aceite LGPD na Klavi",
    "AUTHORISED": "autorizado",
    "REJECTED": "recusado",
    "ERROR": "erro na autorização",
    "EXPIRED": "expirado",
    "REVOKED": "revogado",
    "DELETED_BY_USER": "excluído pelo usuário",
}


def _permissions(form: dict[str, list[str]]) -> list[str] | None:
    """`permissions` as repeated fields (checkboxes) or one comma-separated value (curl)."""
    if "permissions" not in form:
        return None
    return [p.strip() for value in form["permissions"] for p in value.split(",") if p.strip()]


class BankPages:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.lifecycle = sandbox.consents
        self.render = PageRenderer(sandbox)

    def _consent_context(self, request: Request, consent: Consent) -> dict:
        label, masked = masked_tax_id(consent)
        return {
            "institution": self.render.institution(request, consent.institution_code),
            "consent": {
                "id": consent.id,
                "tax_id_masked": masked,
                "tax_id_label": label,
                "requested_at": date_label(consent.created_at),
                "expires_label": "Prazo indeterminado"
                if consent.validity_period == 0
                else f"{consent.validity_period} meses",
            },
            "partner_name": self.render.partner_name(consent.tenant_id),
        }

    def _back(self, consent: Consent | None) -> dict:
        """Where an error page sends the user: the hosted journey's result page, or the
        partner's redirectURL; with no consent, the browser's previous page."""
        if consent is None:
            return {}
        if consent.hosted:  # the result page (its redirectURL) needs to know which consent
            return {
                "back_url": app2app.with_query(consent.redirect_url, {"consent_id": consent.id}),
                "back_label": "Voltar à Klavi",
            }
        return {
            "back_url": consent.redirect_url,
            "back_label": f"Voltar para {self.render.partner_name(consent.tenant_id)}",
        }

    def _render_step(self, request: Request, step: BankStep) -> Response:
        consent = step.consent
        if step.return_url is not None:
            return leave_for(step.return_url)  # back to the partner (or Klavi's result page)
        flow = f"{self.render.base(request)}/bank/flow/{consent.flow_token}"
        if step.page == "waiting":
            return self.render.message(
                request,
                200,
                "Aguardando confirmação",
                "Confirme a solicitação no aplicativo do seu banco para continuar.",
                tone="info",
                institution_code=consent.institution_code,
                detail="Se a confirmação não chegar em 60 minutos, a solicitação é cancelada.",
                **self._back(consent),
            )
        if step.page == "lgpd":
            return RedirectResponse(f"{flow}/lgpd", status_code=303)
        persona = self.lifecycle.persona_of(consent)
        offered = persona.granted(consent.permissions_apply)
        permissions = [
            {**item, "checked": item["code"] in offered} for item in permission_items(consent.permissions_apply)
        ]
        return self.render.page(
            "bank_authorise.html",
            request,
            permissions=permissions,
            action_url=f"{flow}/bank",
            **self._consent_context(request, consent),
        )

    def _app2app(self, request: Request, step: BankStep) -> str | None:
        """A hosted journey whose link names an app: leaving the institution, the user goes
        back to the app, which opens Klavi's next page (LGPD, or the result) in its WebView."""
        consent = step.consent
        if not consent.hosted or (step.page != "lgpd" and step.return_url is None):
            return None
        link = self.sandbox.store.get_link(consent.tenant_id, consent.link_id)
        if link is None:
            return None
        next_page = step.return_url or f"{self.render.base(request)}/bank/flow/{consent.flow_token}/lgpd"
        return app2app.app_return_url(link, next_page)

    def _leave_bank(self, request: Request, step: BankStep) -> Response:
        app_url = self._app2app(request, step)
        return RedirectResponse(app_url, status_code=302) if app_url else self._render_step(request, step)

    def _link_error(self, request: Request, error: BankLinkError) -> HTMLResponse:
        status, title, message = LINK_ERRORS[error.reason]
        detail = None
        if error.consent:
            state = error.consent.status
            detail = f"Situação do consentimento: {STATUS_LABELS.get(state, state)} ({state})"
        return self.render.message(
            request,
            status,
            title,
            message,
            detail=detail,
            institution_code=error.consent.institution_code if error.consent else None,
            **self._back(error.consent),
        )

    def _tracking(self, consent: Consent, page: str, events: list[dict]) -> dict:
        """Record the events a page emits, send them to the event webhook, and hand them to
        the page (see qa/tracking.py)."""
        link = self.sandbox.store.get_link(consent.tenant_id, consent.link_id)
        if link is not None:
            self.sandbox.track(link, page, events)
        return {"page": page, "events": events}

    # -- routes -----------------------------------------------------------------------

    async def authorize(self, request: Request) -> Response:
        """consentRedirectURL: the bank's first page (or, with `decision`, the whole journey)."""
        form = await read_form(request, self.sandbox.settings.max_body_bytes)
        try:
            step = self.lifecycle.open_redirect(one(form, "ticket") or "")
            decision = one(form, "decision")
            if step.page == "bank" and decision in ("approve", "deny"):
                assert step.consent.flow_token is not None, "open_redirect started the flow"
                step = self.lifecycle.decide_at_bank(step.consent.flow_token, decision == "approve", _permissions(form))
                if step.page == "lgpd" and self._app2app(request, step) is None:
                    step = self.lifecycle.decide_lgpd(step.consent.flow_token or "", one(form, "lgpd") != "decline")
        except BankLinkError as error:
            return self._link_error(request, error)
        return self._leave_bank(request, step)

    async def bank_decision(self, request: Request) -> Response:
        form = await read_form(request, self.sandbox.settings.max_body_bytes)
        decision = one(form, "decision")
        if decision not in ("approve", "deny"):
            return self.render.invalid_decision(request)
        try:
            step = self.lifecycle.decide_at_bank(
                request.path_params["flow"], decision == "approve", _permissions(form) or []
            )
        except BankLinkError as error:
            return self._link_error(request, error)
        return self._leave_bank(request, step)

    async def lgpd(self, request: Request) -> Response:
        """Klavi's LGPD page, after the institution."""
        flow = request.path_params["flow"]
        try:
            if request.method == "GET":
                consent = self.lifecycle.flow(flow, "AWAITING_LGPD_AUTHORISATION")
                tracking = self._tracking(consent, "lgpd", [event("page_view", page="lgpd")])
                return self.render.page(
                    "lgpd.html",
                    request,
                    action_url=f"{self.render.base(request)}/bank/flow/{flow}/lgpd",
                    permissions=permission_items(consent.permissions_granted),
                    tracking=tracking,
                    **self._consent_context(request, consent),
                )
            decision = one(await read_form(request, self.sandbox.settings.max_body_bytes), "decision")
            if decision not in ("accept", "decline"):
                return self.render.message(
                    request,
                    400,
                    "Escolha inválida",
                    "Escolha Aceitar ou Recusar para continuar.",
                    detail="Send decision=accept or decision=decline.",
                    back_url=f"{self.render.base(request)}/bank/flow/{flow}/lgpd",
                )
            step = self.lifecycle.decide_lgpd(flow, decision == "accept")
        except BankLinkError as error:
            return self._link_error(request, error)
        return self._render_step(request, step)

    async def logo(self, request: Request) -> Response:
        institution = self.sandbox.institutions.get(request.path_params["code"])
        if institution is None:
            return Response("no such institution", status_code=404, media_type="text/plain")
        return Response(
            logo_svg(institution.name, institution.brand_color),
            media_type="image/svg+xml",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    def routes(self) -> list:
        return [
            Route("/bank/authorize", self.authorize, methods=["GET", "POST"]),
            Route("/bank/flow/{flow}/bank", self.bank_decision, methods=["POST"]),
            Route("/bank/flow/{flow}/lgpd", self.lgpd, methods=["GET", "POST"]),
            Route("/assets/logos/{code}.svg", self.logo, methods=["GET"]),
            Mount("/assets", StaticFiles(directory=STATIC_DIR), name="assets"),
        ]
