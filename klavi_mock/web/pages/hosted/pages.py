"""The hosted journey's pages (WhiteLabel): the link page behind linkURL (identify with a
CPF or CNPJ when the link has none, pick an institution), Klavi's data confirmation page,
then (after the bank and the LGPD step) Klavi's result page and the way back to the
partner. Each page records and emits its tracking events."""

from __future__ import annotations

import json
import re
import uuid
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from klavi_mock.domain import consents as states
from klavi_mock.domain.app2app import with_query
from klavi_mock.domain.consents import Consent, permissions_for
from klavi_mock.domain.links import Link
from klavi_mock.domain.taxid import is_valid_cnpj, is_valid_cpf
from klavi_mock.domain.tenants import Tenant
from klavi_mock.errors import BusinessRuleError, InvalidRequest, KlaviError, TooManyRequests
from klavi_mock.qa.tracking import client_event, event, institution_payload
from klavi_mock.sandbox.consents import REASONS, REDIRECT_ERRORS
from klavi_mock.sandbox.sandbox import Sandbox
from klavi_mock.web.pages.bank.forms import one, read_form
from klavi_mock.web.pages.bank.permissions import permission_items
from klavi_mock.web.pages.hosted.open_data import OpenDataLogin
from klavi_mock.web.rendering import PageRenderer, date_label, leave_for, masked_tax_id
from klavi_mock.web.server.body import read_body

_LARGEST_EVENT = 4096  # bytes: one event from tracking.js is well under it
_PUNCTUATION = re.compile(r"[\s./-]")

# What the user reads when starting the consent fails; the English detail goes below it.
_START_ERRORS = {
    4003: "O limite de compartilhamentos para este documento foi atingido. Encerre um compartilhamento antigo e tente de novo.",
    4004: "Esta instituição não está disponível para você agora. Escolha outra instituição.",
}

_FAILURES = {
    "CUSTOMER_MANUALLY_REJECTED": "O pedido foi recusado na instituição. Nenhum dado foi compartilhado.",
    "LGPD_DECLINED": "Você não autorizou o envio dos dados. Nenhum dado foi compartilhado.",
    "CONSENT_TECHNICAL_ISSUE": "A instituição teve um problema ao autorizar. Tente de novo em alguns minutos.",
    "REDIRECT_URL_EXPIRED": "O tempo para abrir a instituição acabou. Comece de novo.",
    "CONSENT_EXPIRED": "O pedido não foi concluído a tempo. Comece de novo.",
    "OPEN_DATA_CONNECTION_FAILED": "Não foi possível entrar na instituição. Nenhum dado foi compartilhado.",
    "REVOKED_BEFORE_AUTHORISATION": "O pedido foi cancelado antes de ser concluído. Nenhum dado foi compartilhado.",
}


# The journey's outcome: authorised (whatever happened to the consent since), or failed.
_AUTHORISED_ONCE = (states.AUTHORISED, states.EXPIRED, states.REVOKED, states.DELETED_BY_USER)
_FAILED = (states.REJECTED, states.ERROR)


def identify(value: str) -> tuple[str | None, str | None]:
    """What the user typed: ("personal_tax_id" | "business_tax_id", digits), or (None, the
    problem in Portuguese). Check digits are checked: a real bank would not find the user."""
    raw = _PUNCTUATION.sub("", value).upper()
    if len(raw) == 11 and raw.isdigit():
        return ("personal_tax_id", raw) if is_valid_cpf(raw) else (None, "CPF inválido: confira os números digitados.")
    if len(raw) == 14:
        return (
            ("business_tax_id", raw)
            if is_valid_cnpj(raw)
            else (None, "CNPJ inválido: confira os caracteres digitados.")
        )
    return None, "Informe um CPF (11 dígitos) ou um CNPJ (14 caracteres)."


class HostedPages:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.render = PageRenderer(sandbox)

    # -- helpers ---------------------------------------------------------------------

    def _open(self, request: Request, token: str) -> tuple[Tenant, Link] | Response:
        try:
            tenant, claims = self.sandbox.authenticate(token, ("link",), "the link page")
        except KlaviError as error:
            return self.render.message(
                request,
                401,
                "Link inválido ou expirado",
                "Este link de conexão não é válido ou já expirou. Volte ao site ou aplicativo "
                "de onde você veio e comece de novo.",
                detail=error.message,
            )
        return tenant, self.sandbox.link_of(tenant, claims)

    def _here(self, request: Request, token: str, path: str = "/link", **extra: str) -> str:
        return f"{self.render.base(request)}{path}?{urlencode({'v': token, **extra})}"

    def _tracking(self, link: Link, page: str, events: list[dict], beacon: str | None = None) -> dict:
        """Record and send `events`; what the page's tracking.js needs (`beacon`: where it
        posts the events only the browser sees)."""
        self.sandbox.track(link, page, events)
        return {"page": page, "events": events, "beacon": beacon}

    def _consent_of(self, request: Request, tenant: Tenant, link: Link, token: str) -> Consent | Response:
        consent = self.sandbox.store.get_consent(tenant.app_id, request.query_params.get("consent_id", ""))
        if consent is None or consent.link_id != link.id:
            return self.render.message(
                request,
                404,
                "Resultado não encontrado",
                "Não encontramos este compartilhamento. Volte à lista de instituições.",
                detail="consent_id is missing or is not a consent of this link",
                back_url=self._here(request, token),
                back_label="Voltar à lista de instituições",
            )
        return consent

    # -- the link page ---------------------------------------------------------------

    async def hosted_link(self, request: Request) -> Response:
        """linkURL: identify (when the link has no tax id), then pick an institution."""
        form = await read_form(request, self.sandbox.settings.max_body_bytes)
        token = one(form, "v") or ""
        opened = self._open(request, token)
        if isinstance(opened, Response):
            return opened
        tenant, link = opened
        if request.method == "POST" and "taxId" in form:
            return self._identify(request, link, token, one(form, "taxId") or "")
        if request.method == "POST" and one(form, "confirm"):
            return self._start_consent(request, tenant, link, token, one(form, "institutionCode") or "")
        if request.method == "POST":
            return self._pick(request, link, token, one(form, "institutionCode") or "")
        back_from = one(form, "back")  # "Voltar" on the data confirmation page
        if back_from and (institution := self.sandbox.institutions.get(back_from)) is not None:
            self._tracking(
                link, "data_confirmation", [event("data_confirmation_back_click", **institution_payload(institution))]
            )
        landing = one(form, "view") == "landing"
        if landing:  # "Voltar" on the institution list
            self._tracking(link, "institution_list", [event("institution_list_back_click")])
        elif one(form, "from") == "landing":  # "Continuar" on a landing page that asked for nothing
            self._tracking(link, "landing", [event("landing_continue_click")])
        return self._link_page(request, link, token, query=one(form, "q"), landing=landing)

    def _link_page(
        self,
        request: Request,
        link: Link,
        token: str,
        query: str | None = None,
        tax_error: str | None = None,
        tax_value: str = "",
        status: int = 200,
        landing: bool = False,
    ) -> Response:
        """The landing page (identification when the link has no tax id; asked for with
        view=landing, Klavi's intro before the list), or the institution list."""
        base = self.render.base(request)
        needs_tax_id = not (link.personal_tax_id or link.business_tax_id)
        landing = landing or needs_tax_id
        page = "landing" if landing else "institution_list"
        events = [event("app_loaded")] if self.sandbox.tracking.first_visit(link.id) else []
        events.append(event("page_view", page=page))
        institutions, preselected, preselect_note, label, masked = [], None, None, None, None
        if not needs_tax_id:
            if query:
                events.append(event("institution_list_search", key=query))
            label, masked = masked_tax_id(link)
            person = "pj" if link.business_tax_id else "pf"
            usable = [i for i in self.sandbox.institutions.all() if i.serves(person)]  # Open Data ones too
            institutions = [
                {
                    "institutionCode": i.code,
                    "name": i.name,
                    "logo_url": f"{base}/assets/logos/{i.code}.svg",
                    "isOutage": i.is_outage,
                    "institutionType": i.institution_type,
                    "isBeta": i.api_fields.get("isBeta", False),
                }
                for i in usable
            ]
            if link.institution_code:
                chosen = next((i for i in institutions if i["institutionCode"] == link.institution_code), None)
                if chosen and not chosen["isOutage"]:
                    preselected = chosen
                else:
                    named = self.sandbox.institutions.get(link.institution_code)
                    preselect_note = (
                        f"{named.name if named else link.institution_code} não está disponível para este "
                        f"{label} agora. Escolha outra instituição."
                    )
        return self.render.page(
            "link.html",
            request,
            status,
            link={
                "id": link.id,
                "tax_id_masked": masked,
                "tax_id_label": label,
                "expires_at": date_label(link.expires_at),
                "needs_tax_id": needs_tax_id,
                "landing": landing,
            },
            list_url=self._here(request, token, **{"from": "landing"}),
            back_url=self._here(request, token, view="landing"),
            institutions=institutions,
            preselected=preselected,
            preselect_note=preselect_note,
            tax_error=tax_error,
            tax_value=tax_value,
            action_url=self._here(request, token),
            partner_name=self.render.partner_name(link.tenant_id),
            query=query,
            token=token,
            exit_url=self._here(request, token, "/link/finish", action="exit", page=page),
            tracking=self._tracking(link, page, events, self._here(request, token, "/link/events")),
        )

    def _identify(self, request: Request, link: Link, token: str, typed: str) -> Response:
        if link.personal_tax_id or link.business_tax_id:  # already known: nothing to change
            return RedirectResponse(self._here(request, token), status_code=303)
        field, value = identify(typed)
        if field is None:
            return self._link_page(request, link, token, tax_error=value, tax_value=typed[:32], status=400)
        with self.sandbox.store.updating(link):
            setattr(link, field, value)
        self._tracking(link, "landing", [event("landing_continue_click")])
        return RedirectResponse(self._here(request, token), status_code=303)

    def _pick(self, request: Request, link: Link, token: str, code: str) -> Response:
        """An institution picked on the list: on to the data confirmation page."""
        if not (link.personal_tax_id or link.business_tax_id):
            return self._link_page(
                request, link, token, tax_error="Informe seu CPF ou CNPJ para continuar.", status=400
            )
        institution = self.sandbox.institutions.get(code)
        if institution is not None:
            self._tracking(link, "institution_list", [event("institution_click", **institution_payload(institution))])
        return RedirectResponse(self._here(request, token, "/link/confirm", institutionCode=code), status_code=303)

    async def confirm(self, request: Request) -> Response:
        """Klavi's data confirmation page: the institution, the data asked for and for how
        long, before the user goes to the institution (Continuar) or back to the list."""
        token = request.query_params.get("v", "")
        opened = self._open(request, token)
        if isinstance(opened, Response):
            return opened
        tenant, link = opened
        code = request.query_params.get("institutionCode", "")
        institution = self.sandbox.institutions.get(code)
        person = "pj" if link.business_tax_id else "pf"
        problem = None
        if not (link.personal_tax_id or link.business_tax_id):
            return RedirectResponse(self._here(request, token), status_code=303)
        if institution is None:
            problem = f"institutionCode {code!r} is not an institution of GET /links/institutions"
        elif not institution.serves(person) or institution.is_outage:
            problem = (
                f"{institution.name} ({code}) cannot take this consent: institutionType {institution.institution_type}, "
                f"businessType {institution.business_type}, isOutage {str(institution.is_outage).lower()}"
            )
        if problem:
            return self.render.message(
                request,
                400,
                "Não foi possível continuar",
                _START_ERRORS[4004],
                detail=problem,
                back_url=self._here(request, token),
                back_label="Escolher outra instituição",
            )
        assert institution is not None, "refused above when unknown"
        label, masked = masked_tax_id(link)
        payload = institution_payload(institution)
        tracking = self._tracking(
            link,
            "data_confirmation",
            [event("page_view", page="data_confirmation")],
            self._here(request, token, "/link/events"),
        )
        return self.render.page(
            "confirm.html",
            request,
            institution=self.render.institution(request, code),
            tax_id_label=label,
            tax_id_masked=masked,
            partner_name=self.render.partner_name(link.tenant_id),
            permissions=permission_items(permissions_for(institution.available_resources)),
            validity="12 meses",
            action_url=self._here(request, token),
            back_url=self._here(request, token, back=code),
            exit_url=self._here(request, token, "/link/finish", action="exit", page="data_confirmation"),
            tracking=tracking,
            tracking_payload=payload,
        )

    def _start_consent(self, request: Request, tenant: Tenant, link: Link, token: str, code: str) -> Response:
        """Continuar on the data confirmation page: the consent, then the institution."""
        if not (link.personal_tax_id or link.business_tax_id):
            return self._link_page(
                request, link, token, tax_error="Informe seu CPF ou CNPJ para continuar.", status=400
            )
        institution = self.sandbox.institutions.get(code)
        if institution is not None:
            self._tracking(
                link,
                "data_confirmation",
                [event("data_confirmation_continue_click", **institution_payload(institution))],
            )
        body = {
            "externalTrackId": f"whitelabel-{uuid.uuid4()}",
            "institutionCode": code,
            "redirectURL": self._here(request, token, "/link/result"),  # Klavi's result page first
            **{
                name: value
                for name, value in (("personalTaxId", link.personal_tax_id), ("businessTaxId", link.business_tax_id))
                if value
            },
        }
        open_data = institution is not None and institution.institution_type == 2
        try:
            if open_data:  # the API-only flow's consent and login task; the steps as pages
                consent = self.sandbox.tasks.create_consent(tenant, link, body, hosted=True)
            else:
                consent = self.sandbox.consents.create(tenant, link, body, hosted=True)
        except KlaviError as error:
            if isinstance(error, TooManyRequests):
                message = "Muitas tentativas seguidas. Aguarde alguns segundos e tente de novo."
            elif isinstance(error, BusinessRuleError):
                message = _START_ERRORS.get(error.code, "Não foi possível iniciar o compartilhamento.")
            else:
                message = "Não foi possível iniciar o compartilhamento."
            return self.render.message(
                request,
                400,
                "Não foi possível continuar",
                message,
                detail=error.message,
                back_url=self._here(request, token),
                back_label="Escolher outra instituição",
            )
        if open_data:
            return RedirectResponse(self._here(request, token, "/link/login", consent_id=consent.id), status_code=303)
        return RedirectResponse(
            f"{self.render.base(request)}/bank/authorize?{urlencode({'ticket': consent.ticket})}", status_code=303
        )

    # -- after the bank --------------------------------------------------------------

    async def result(self, request: Request) -> Response:
        """Klavi's result page: the consent's outcome, then back to the partner."""
        token = request.query_params.get("v", "")
        opened = self._open(request, token)
        if isinstance(opened, Response):
            return opened
        tenant, link = opened
        consent = self._consent_of(request, tenant, link, token)
        if isinstance(consent, Response):
            return consent
        institution = self.sandbox.institutions.get(consent.institution_code)
        finish_url = self._here(request, token, "/link/finish", consent_id=consent.id)
        if consent.status not in _AUTHORISED_ONCE + _FAILED:
            return self.render.message(
                request,
                200,
                "Aguardando a instituição",
                "O compartilhamento ainda não foi concluído na instituição.",
                tone="info",
                detail=f"consent status {consent.status}",
                back_url=self._here(request, token),
                back_label="Voltar à lista de instituições",
            )
        success = consent.status in _AUTHORISED_ONCE
        payload = institution_payload(institution, with_type=True)
        if not success:
            reason = consent.status_reason or ""
            payload |= {
                "error": REDIRECT_ERRORS.get(reason, "consent_rejected"),
                "errorDescription": REASONS.get(reason, ""),
            }
        tracking = self._tracking(
            link,
            "result",
            [event("page_view", page="result"), event("authorise_success" if success else "authorise_fail", **payload)],
            self._here(request, token, "/link/events"),
        )
        return self.render.page(
            "result.html",
            request,
            success=success,
            tracking=tracking,
            institution=self.render.institution(request, consent.institution_code),
            partner_name=self.render.partner_name(link.tenant_id),
            message=None
            if success
            else _FAILURES.get(consent.status_reason or "", "O compartilhamento não foi concluído."),
            detail=None if success else self._failure_detail(consent),
            finish_url=finish_url,
            more_url=self._here(request, token, "/link/finish", consent_id=consent.id, action="more"),
            list_url=self._here(request, token),
            tracking_payload=institution_payload(institution),
        )

    def _failure_detail(self, consent: Consent) -> str:
        """The developer's detail of a failure; an Open Data task's code and message with it."""
        detail = f"{consent.status} ({consent.status_reason}): {REASONS.get(consent.status_reason or '', '')}"
        task = self.sandbox.store.get_task(consent.task_id) if consent.task_id else None
        if task is not None:
            detail += f" Open Data code {task.code}: {task.message} (task {task.id})"
        return detail

    async def finish(self, request: Request) -> Response:
        """The result page's buttons: back to the partner's redirectURL (link-level
        parameters: link_id, external_info, and error, error_description on failure), or
        another institution."""
        token = request.query_params.get("v", "")
        opened = self._open(request, token)
        if isinstance(opened, Response):
            return opened
        tenant, link = opened
        if request.query_params.get("action") == "exit":
            return self._exit(request, link, token)
        consent = self._consent_of(request, tenant, link, token)
        if isinstance(consent, Response):
            return consent
        if consent.status not in _AUTHORISED_ONCE + _FAILED:  # still at the institution: its result page says so
            return RedirectResponse(self._here(request, token, "/link/result", consent_id=consent.id), status_code=303)
        success = consent.status in _AUTHORISED_ONCE
        institution = institution_payload(self.sandbox.institutions.get(consent.institution_code))
        if request.query_params.get("action") == "more":
            if success:
                self._tracking(link, "result", [event("authorise_success_connect_more_click", **institution)])
            return RedirectResponse(self._here(request, token), status_code=303)
        if success:
            self._tracking(link, "result", [event("authorise_success_finish_click", **institution)])
        reason = None if success else (consent.status_reason or "FORCED")
        if link.redirect_url:
            return leave_for(self.sandbox.consents.return_url(consent, reason, to=link.redirect_url))
        if success:
            return self.render.message(
                request,
                200,
                "Pronto",
                "Seus dados foram compartilhados. Você já pode voltar ao aplicativo.",
                tone="success",
            )
        return self.render.message(
            request,
            200,
            "Compartilhamento não concluído",
            "Nenhum dado foi compartilhado.",
            tone="info",
            back_url=self._here(request, token),
            back_label="Tentar outra instituição",
        )

    def _exit(self, request: Request, link: Link, token: str) -> Response:
        """ "Sair" on the link page: back to the partner before choosing an institution, with
        the link-level failure parameters. **Mock choice**: `error=user_cancelled`."""
        page = "landing" if not (link.personal_tax_id or link.business_tax_id) else "institution_list"
        if request.query_params.get("page") in ("landing", "data_confirmation"):
            page = request.query_params["page"]
        self._tracking(link, page, [event(f"{page}_exit_click")])
        if not link.redirect_url:
            return self.render.message(
                request,
                200,
                "Você saiu",
                "Nenhum dado foi compartilhado. Você já pode fechar esta janela.",
                tone="info",
                back_url=self._here(request, token),
                back_label="Voltar e conectar uma conta",
            )
        params = {
            "link_id": link.id,
            "external_info": json.dumps(link.external_info, separators=(",", ":"), ensure_ascii=False),
            "error": "user_cancelled",
            "error_description": "The user left the journey without choosing an institution.",
        }
        return leave_for(with_query(link.redirect_url, params))

    async def page_event(self, request: Request) -> Response:
        """What a page's script posts back (tracking.js): an event only the browser sees,
        recorded and sent to the event webhook like the others. 204; a bad link token 401, a
        bad event 400, in Klavi's error shape."""
        try:
            tenant, claims = self.sandbox.authenticate(request.query_params.get("v", ""), ("link",), "the page events")
            raw = await read_body(request, _LARGEST_EVENT)
            try:
                body = json.loads(raw)
            except (ValueError, RecursionError):
                raise InvalidRequest("body: must be JSON {page, eventName, payload}") from None
            page, item = client_event(body, self.sandbox.institutions)
        except KlaviError as error:
            return JSONResponse(error.body(), status_code=error.status, headers=error.headers)
        self.sandbox.track(self.sandbox.link_of(tenant, claims), page, [item])
        return Response(status_code=204)

    def routes(self) -> list:
        login = OpenDataLogin(self)
        return [
            Route("/link/login", login.login, methods=["GET", "POST"]),
            Route("/link/events", self.page_event, methods=["POST"]),
            Route("/link", self.hosted_link, methods=["GET", "POST"]),
            Route("/link/confirm", self.confirm, methods=["GET"]),
            Route("/link/result", self.result, methods=["GET"]),
            Route("/link/finish", self.finish, methods=["GET"]),
        ]
