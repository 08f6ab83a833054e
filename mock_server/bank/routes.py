"""The mock's own web pages: the fake bank, Klavi's LGPD screen, the hosted link page, and
their assets. Everything is served here; nothing comes from a CDN.

Non-interactive use (curl, CI): add `decision=approve|deny` (and optionally `lgpd=accept|
decline`, `permissions=A,B`) to the consentRedirectURL, as query parameters or a form post,
and the mock answers with the redirect to the partner straight away.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from urllib.parse import parse_qsl, urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..domain.consents import Consent
from ..domain.taxid import mask_cnpj, mask_cpf
from ..errors import KlaviError
from ..lifecycle import BankLinkError, BankStep
from ..resources import package_dir
from ..routing import read_body, request_origin
from ..sandbox import Sandbox
from .logos import logo_svg
from .permissions import permission_items

_HERE = package_dir("bank")
_templates = Environment(loader=FileSystemLoader(_HERE / "templates"), autoescape=select_autoescape(default=True))

LINK_ERRORS = {
    "unknown": (404, "Link inválido", "Este endereço de autorização não existe ou foi digitado incorretamente."),
    "used": (410, "Link já utilizado", "Este link de autorização só pode ser aberto uma vez. Volte ao aplicativo e comece de novo."),
    "expired": (410, "Link expirado", "O link de autorização vale por 60 segundos depois de criado. O consentimento foi recusado; volte ao aplicativo e comece de novo."),
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


def _date(moment: datetime) -> str:
    return moment.strftime("%d/%m/%Y %H:%M UTC")


async def _form(request: Request, limit: int) -> dict[str, list[str]]:
    """Query parameters and an urlencoded form body, merged (the body wins)."""
    values: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        values.setdefault(key, []).append(value)
    if request.method == "POST":
        body: dict[str, list[str]] = {}
        for key, value in parse_qsl((await read_body(request, limit)).decode("utf-8", "replace"), keep_blank_values=True):
            body.setdefault(key, []).append(value)
        values.update(body)
    return values


def _one(form: dict[str, list[str]], key: str) -> str | None:
    return form[key][-1] if form.get(key) else None


def _permissions(form: dict[str, list[str]]) -> list[str] | None:
    """`permissions` as repeated fields (checkboxes) or one comma-separated value (curl)."""
    if "permissions" not in form:
        return None
    return [p.strip() for value in form["permissions"] for p in value.split(",") if p.strip()]


class BankPages:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.lifecycle = sandbox.consents

    def _base(self, request: Request) -> str:
        return self.sandbox.settings.public_url or request_origin(request)

    def _institution(self, request: Request, code: str) -> dict:
        institution = self.sandbox.institutions.get(code)
        return {"code": code, "name": institution.name, "color": institution.brand_color,
                "logo_url": f"{self._base(request)}/assets/logos/{code}.svg"}

    def _page(self, name: str, request: Request, status: int = 200, **context) -> HTMLResponse:
        html = _templates.get_template(name).render(static_url=f"{self._base(request)}/assets", **context)
        return HTMLResponse(html, status_code=status)

    def _message(self, request: Request, status: int, title: str, message: str, tone: str = "error",
                 consent: Consent | None = None, detail: str | None = None) -> HTMLResponse:
        institution = self._institution(request, consent.institution_code) if consent else None
        return self._page("message.html", request, status, title=title, message=message, tone=tone,
                          detail=detail, institution=institution)

    def _partner_name(self, app_id: str) -> str:
        tenant = self.sandbox.tenants.get(app_id)
        return (tenant.display_name if tenant else None) or app_id

    def _consent_context(self, request: Request, consent: Consent) -> dict:
        company = consent.person == "pj"  # a company's consent may name its representative's CPF too
        masked = mask_cnpj(consent.business_tax_id) if company else mask_cpf(consent.personal_tax_id)
        return {
            "institution": self._institution(request, consent.institution_code),
            "consent": {
                "id": consent.id, "tax_id_masked": masked, "tax_id_label": "CNPJ" if company else "CPF",
                "requested_at": _date(consent.created_at),
                "expires_label": "Prazo indeterminado" if consent.validity_period == 0 else f"{consent.validity_period} meses",
            },
            "partner_name": self._partner_name(consent.tenant_id),
        }

    def _render_step(self, request: Request, step: BankStep) -> Response:
        consent = step.consent
        if step.return_url is not None:
            return RedirectResponse(step.return_url, status_code=302)  # back to the partner
        flow = f"{self._base(request)}/bank/flow/{consent.flow_token}"
        if step.page == "waiting":
            return self._message(request, 200, "Aguardando confirmação",
                                 "Confirme a solicitação no aplicativo do seu banco para continuar.",
                                 tone="info", consent=consent,
                                 detail="Se a confirmação não chegar em 60 minutos, a solicitação é cancelada.")
        if step.page == "lgpd":
            return RedirectResponse(f"{flow}/lgpd", status_code=303)
        persona = self.lifecycle.persona_of(consent)
        offered = persona.granted(consent.permissions_apply)
        permissions = [{**item, "checked": item["code"] in offered} for item in permission_items(consent.permissions_apply)]
        return self._page("bank_authorise.html", request, permissions=permissions, action_url=f"{flow}/bank",
                          **self._consent_context(request, consent))

    def _link_error(self, request: Request, error: BankLinkError) -> HTMLResponse:
        status, title, message = LINK_ERRORS[error.reason]
        detail = None
        if error.consent:
            state = error.consent.status
            detail = f"Situação do consentimento: {STATUS_LABELS.get(state, state)} ({state})"
        return self._message(request, status, title, message, consent=error.consent, detail=detail)

    # -- routes -----------------------------------------------------------------------

    async def authorize(self, request: Request) -> Response:
        """consentRedirectURL: the bank's first page (or, with `decision`, the whole journey)."""
        form = await _form(request, self.sandbox.settings.max_body_bytes)
        try:
            step = self.lifecycle.open_redirect(_one(form, "ticket") or "")
            decision = _one(form, "decision")
            if step.page == "bank" and decision in ("approve", "deny"):
                step = self.lifecycle.decide_at_bank(step.consent.flow_token, decision == "approve", _permissions(form))
                if step.page == "lgpd":
                    step = self.lifecycle.decide_lgpd(step.consent.flow_token, _one(form, "lgpd") != "decline")
        except BankLinkError as error:
            return self._link_error(request, error)
        return self._render_step(request, step)

    async def bank_decision(self, request: Request) -> Response:
        form = await _form(request, self.sandbox.settings.max_body_bytes)
        decision = _one(form, "decision")
        if decision not in ("approve", "deny"):
            return self._message(request, 400, "Escolha inválida", "Envie decision=approve ou decision=deny.")
        try:
            step = self.lifecycle.decide_at_bank(request.path_params["flow"], decision == "approve", _permissions(form) or [])
        except BankLinkError as error:
            return self._link_error(request, error)
        return self._render_step(request, step)

    async def lgpd(self, request: Request) -> Response:
        flow = request.path_params["flow"]
        try:
            if request.method == "GET":
                consent = self.lifecycle.flow(flow, "AWAITING_LGPD_AUTHORISATION")
                return self._page("lgpd.html", request, action_url=f"{self._base(request)}/bank/flow/{flow}/lgpd",
                                  permissions=permission_items(consent.permissions_granted),
                                  **self._consent_context(request, consent))
            decision = _one(await _form(request, self.sandbox.settings.max_body_bytes), "decision")
            if decision not in ("accept", "decline"):
                return self._message(request, 400, "Escolha inválida", "Envie decision=accept ou decision=decline.")
            step = self.lifecycle.decide_lgpd(flow, decision == "accept")
        except BankLinkError as error:
            return self._link_error(request, error)
        return self._render_step(request, step)

    async def hosted_link(self, request: Request) -> Response:
        """The WhiteLabel page behind linkURL: pick an institution, then on to its bank."""
        form = await _form(request, self.sandbox.settings.max_body_bytes)
        token = _one(form, "v") or ""
        try:
            tenant, claims = self.sandbox.authenticate(token, ("link",), "the link page")
        except KlaviError as error:
            return self._message(request, 401, "Link inválido ou expirado", error.message)
        link = self.sandbox.link_of(tenant, claims)
        base = self._base(request)
        if request.method == "POST":
            return self._start_consent(request, tenant, link, _one(form, "institutionCode") or "")
        institutions = [
            {"institutionCode": i.code, "name": i.name, "logo_url": f"{base}/assets/logos/{i.code}.svg",
             "isOutage": i.is_outage, "institutionType": i.institution_type, "isBeta": i.api_fields.get("isBeta", False)}
            for i in self.sandbox.institutions.all() if i.institution_type == 1
        ]
        tax_id = link.personal_tax_id or link.business_tax_id
        masked = (mask_cpf(tax_id) if link.personal_tax_id else mask_cnpj(tax_id)) if tax_id else None
        return self._page("link.html", request, link={"id": link.id, "tax_id_masked": masked, "expires_at": _date(link.expires_at)},
                          institutions=institutions, action_url=f"{base}/link?{urlencode({'v': token})}",
                          partner_name=self._partner_name(tenant.app_id), query=_one(form, "q"))

    def _start_consent(self, request: Request, tenant, link, institution_code: str) -> Response:
        if not (link.personal_tax_id or link.business_tax_id):
            return self._message(request, 400, "CPF ou CNPJ ausente",
                                 "Este link foi criado sem personalTaxId nem businessTaxId; crie o link com um deles para usar a página hospedada.")
        body = {
            "externalTrackId": f"whitelabel-{uuid.uuid4()}",
            "institutionCode": institution_code,
            "redirectURL": link.redirect_url or f"{self._base(request)}/link/done",
            **{name: value for name, value in (("personalTaxId", link.personal_tax_id), ("businessTaxId", link.business_tax_id)) if value},
        }
        try:
            consent = self.lifecycle.create(tenant, link, body)
        except KlaviError as error:
            return self._message(request, 400, "Não foi possível continuar", error.message)
        return RedirectResponse(f"{self._base(request)}/bank/authorize?{urlencode({'ticket': consent.ticket})}", status_code=303)

    async def link_done(self, request: Request) -> Response:
        """Where the hosted flow ends when the link has no redirectURL of its own."""
        error = request.query_params.get("error")
        if error:
            return self._message(request, 200, "Compartilhamento não concluído",
                                 request.query_params.get("error_description", error))
        return self._message(request, 200, "Conta conectada", "Seus dados foram compartilhados com sucesso.", tone="success")

    async def logo(self, request: Request) -> Response:
        institution = self.sandbox.institutions.get(request.path_params["code"])
        if institution is None:
            return Response("no such institution", status_code=404, media_type="text/plain")
        return Response(logo_svg(institution.name, institution.brand_color), media_type="image/svg+xml",
                        headers={"Cache-Control": "public, max-age=86400"})

    def routes(self) -> list:
        return [
            Route("/bank/authorize", self.authorize, methods=["GET", "POST"]),
            Route("/bank/flow/{flow}/bank", self.bank_decision, methods=["POST"]),
            Route("/bank/flow/{flow}/lgpd", self.lgpd, methods=["GET", "POST"]),
            Route("/link", self.hosted_link, methods=["GET", "POST"]),
            Route("/link/done", self.link_done, methods=["GET"]),
            Route("/assets/logos/{code}.svg", self.logo, methods=["GET"]),
            Mount("/assets", StaticFiles(directory=_HERE / "static"), name="assets"),
        ]
